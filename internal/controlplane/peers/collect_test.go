package peers

import (
	"errors"
	"slices"
	"testing"
)

// TestCollect: a part that parses is kept; one that does not names its
// server, and holds the listing open unless refused for good; a
// throttling peer fails the whole query.
func TestCollect(t *testing.T) {
	transient := errors.New("timed out")
	for _, tc := range []struct {
		name               string
		answers            []Answer
		parts, named, held []string
		throttled          bool
	}{
		{"all answer", []Answer{{Server: "a"}, {Server: "b"}}, []string{"a", "b"}, nil, nil, false},
		{"one times out", []Answer{{Server: "a"}, {Server: "b", Err: transient}}, []string{"a"}, []string{"b"}, []string{"b"}, false},
		{"one is the wrong server", []Answer{{Server: "a", Err: ErrWrongServer}, {Server: "b"}}, []string{"b"}, []string{"a"}, nil, false},
		{"one refuses", []Answer{{Server: "a", Err: &Refusal{Status: 403, Code: "Forbidden"}}}, nil, []string{"a"}, nil, false},
		{"one throttles", []Answer{{Server: "a"}, {Server: "b", Err: &Refusal{Status: 400, Code: "Throttling.User"}}}, nil, nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts, named, held, err := Collect(tc.answers, func(a Answer) (Part[int], error) { return Part[int]{Server: a.Server}, a.Err })
			if (err != nil) != tc.throttled {
				t.Fatalf("err %v, want throttled %v", err, tc.throttled)
			}
			var got []string
			for _, p := range parts {
				got = append(got, p.Server)
			}
			if !slices.Equal(got, tc.parts) || !slices.Equal(named, tc.named) || !slices.Equal(held, tc.held) {
				t.Errorf("parts %v named %v held %v; want %v %v %v", got, named, held, tc.parts, tc.named, tc.held)
			}
		})
	}
}
