package peers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

// TestGather: a part that parses is kept; one that does not (refused,
// another server's, malformed) names its server, is counted as missed
// once, and holds the listing open unless refused for good; a throttling
// peer fails the whole query; a server done in the token is asked again
// only where the listing counts every server; an unreadable list of
// servers is named "*".
func TestGather(t *testing.T) {
	const key = "LTAIcaller"
	answer := func(status int, body string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			w.WriteHeader(status)
			w.Write([]byte(strings.ReplaceAll(body, "$ID", r.PostForm.Get(ServerParam))))
		}))
		t.Cleanup(s.Close)
		return s
	}
	good := answer(http.StatusOK, `{"N":[1,2],"PalisadeServerId":"$ID"}`)
	wrong := answer(http.StatusOK, `{"N":[3],"PalisadeServerId":"someone"}`)
	bad := answer(http.StatusOK, `{"N":"three","PalisadeServerId":"$ID"}`)
	forbidden := answer(http.StatusForbidden, `{"Code":"Forbidden.RAM"}`)
	unavailable := answer(http.StatusServiceUnavailable, `{"Code":"ServiceUnavailable"}`)
	throttles := answer(http.StatusBadRequest, `{"Code":"Throttling.User","Message":"slow down"}`)
	parse := func(a Answer) (Part[int], error) {
		var r struct {
			N                []int
			PalisadeServerId string
		}
		err := Decode(a, &r, &r.PalisadeServerId)
		return Part[int]{Server: a.Server, Items: r.N}, err
	}
	for _, tc := range []struct {
		name               string
		servers            map[string]string // ID → URL
		listErr            error
		tok                Token
		all                bool
		parts, named, held []string
		throttled          bool
	}{
		{name: "all answer", servers: map[string]string{"a": good.URL, "b": good.URL}, parts: []string{"a", "b"}},
		{name: "one is unavailable", servers: map[string]string{"a": good.URL, "b": unavailable.URL},
			parts: []string{"a"}, named: []string{"b"}, held: []string{"b"}},
		{name: "one is another server", servers: map[string]string{"a": wrong.URL, "b": good.URL}, parts: []string{"b"}, named: []string{"a"}},
		{name: "one answers malformed", servers: map[string]string{"a": bad.URL, "b": good.URL},
			parts: []string{"b"}, named: []string{"a"}, held: []string{"a"}},
		{name: "one refuses", servers: map[string]string{"a": forbidden.URL}, named: []string{"a"}},
		{name: "one throttles", servers: map[string]string{"a": good.URL, "b": throttles.URL}, throttled: true},
		{name: "one is done", servers: map[string]string{"a": good.URL, "b": good.URL}, tok: Token{"b": {After: "x", Done: true}},
			parts: []string{"a"}},
		{name: "one is done, all counted", servers: map[string]string{"a": good.URL, "b": good.URL}, tok: Token{"b": {After: "x", Done: true}},
			all: true, parts: []string{"a", "b"}},
		{name: "no list", listErr: errors.New("etcd is down"), named: []string{"*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var missed int
			f := &Fanin{Self: "me", Timeout: 2 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Missed: func(string) { missed++ },
				Secret: func(id string) (string, bool) { return "secret", id == key },
				List: func(context.Context) ([]Peer, error) {
					ps := []Peer{{ID: "me", URL: "http://127.0.0.1:1"}}
					for id, u := range tc.servers {
						ps = append(ps, Peer{ID: id, URL: u})
					}
					slices.SortFunc(ps, func(a, b Peer) int { return strings.Compare(a.ID, b.ID) })
					return ps, tc.listErr
				}}
			req := &rpc.Request{Version: "2020-07-06", Action: "LookupEvents", AccessKeyID: key, Params: rpc.Params{}}
			parts, named, held, err := Gather(context.Background(), f, req, tc.tok, tc.all, parse)
			if (err != nil) != tc.throttled {
				t.Fatalf("err %v, want throttled %v", err, tc.throttled)
			}
			var got []string
			for _, p := range parts {
				got = append(got, p.Server)
				if len(p.Items) != 2 {
					t.Errorf("part of %s: %v, want [1 2]", p.Server, p.Items)
				}
			}
			if !slices.Equal(got, tc.parts) || !slices.Equal(named, tc.named) || !slices.Equal(held, tc.held) {
				t.Errorf("parts %v named %v held %v; want %v %v %v", got, named, held, tc.parts, tc.named, tc.held)
			}
			want := len(slices.DeleteFunc(slices.Clone(tc.named), func(id string) bool { return id == "*" })) // "*" is no server
			if tc.throttled {
				want = 1
			}
			if missed != want {
				t.Errorf("%d servers counted as missed, want %d", missed, want)
			}
		})
	}
}
