package service

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

func manyIDs(distinct, repeats int) []string {
	var ids []string
	for i := range distinct {
		ids = append(ids, fmt.Sprintf("sg-%020d", i))
	}
	for i := range repeats {
		ids = append(ids, ids[i%distinct])
	}
	return ids
}

// TestResourceIDsRepeatsAndBound: ResourceId.N counts each ID once, keeps
// the first order, and names how many distinct IDs came when there are too
// many, however many the request holds (a form holds up to 10,000).
func TestResourceIDsRepeatsAndBound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		given   []string
		want    int    // IDs kept
		wantErr string // in the message
	}{
		{"limit with repeats", manyIDs(MaxTagResourceIDs, 5000), MaxTagResourceIDs, ""},
		{"one over", manyIDs(MaxTagResourceIDs+1, 0), 0, fmt.Sprintf("; %d were given", MaxTagResourceIDs+1)},
		{"a full form", manyIDs(10000, 0), 0, "; 10000 were given"},
		{"a full form of repeats", manyIDs(3, 9997), 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := resourceIDs(tc.given, true)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(ecserr.As(err).Message, tc.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != tc.want || !slices.Equal(ids, tc.given[:tc.want]) {
				t.Errorf("kept %d IDs, want the first %d in order", len(ids), tc.want)
			}
		})
	}
}

// BenchmarkResourceIDs: a form of 10,000 ResourceId.N costs about 100
// times one of 100 (their ratio), not 10,000 times: the repeats are found
// in a set, not by a scan of those kept for each.
func BenchmarkResourceIDs(b *testing.B) {
	for _, n := range []int{100, 10000} {
		ids := manyIDs(n, 0)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				resourceIDs(ids, true)
			}
		})
	}
}
