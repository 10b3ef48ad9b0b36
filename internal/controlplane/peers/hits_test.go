package peers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// TestFlowHitParts: each other server is asked for its own hits
// (service.FlowHitsAction, LocalParam) with the caller's key and filter;
// a well-formed answer is its part; a malformed one, one that is not a
// server's own part, and a refusal name the server as missing and are
// counted; without a caller's key in ctx, no server is asked.
func TestFlowHitParts(t *testing.T) {
	const key, secret = "LTAIcaller", "caller-secret"
	var (
		mu  sync.Mutex
		got []url.Values
	)
	serve := func(body string, status int) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			mu.Lock()
			got = append(got, r.PostForm)
			mu.Unlock()
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
		t.Cleanup(s.Close)
		return s
	}
	good := serve(`{"RequestId":"x","Hits":[{"Entry":"sg-1/sgr-1","Flows":2,"Packets":4,"Bytes":120,"LastHitTime":"2026-01-02T15:04:05Z"}],`+
		`"CompleteSinceTime":"2026-01-01T00:00:00Z","PalisadeServerId":"good"}`, http.StatusOK)
	bad := serve(`{"Hits":[{"Entry":"sg-1/sgr-1","Flows":1,"LastHitTime":"later"}],"PalisadeServerId":"bad"}`, http.StatusOK)
	merged := serve(`{"Hits":[],"PalisadeMissingServers":["z"],"PalisadeServerId":"merged"}`, http.StatusOK)
	refuses := serve(`{"Code":"Forbidden"}`, http.StatusForbidden)
	list := []Peer{{ID: "me", URL: "http://127.0.0.1:1"}, {ID: "good", URL: good.URL}, {ID: "bad", URL: bad.URL},
		{ID: "merged", URL: merged.URL}, {ID: "refuses", URL: refuses.URL}}
	var missed []string
	f := &Fanin{Self: "me", Timeout: time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Missed: func(a string) { missed = append(missed, a) },
		Secret: func(id string) (string, bool) { return secret, id == key },
		List:   func(context.Context) ([]Peer, error) { return list, nil }}
	since := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	filter := service.HitsFilter{ENI: "eni-web", Since: since}

	parts, missing := f.FlowHitParts(rpc.WithAccessKeyID(context.Background(), key), filter)
	slices.Sort(missing)
	want := service.HitsPart{Server: "good", Hits: map[string]service.RuleHit{"sg-1/sgr-1": {Flows: 2, Packets: 4, Bytes: 120,
		LastHit: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC).Unix()}}, CompleteSince: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if len(parts) != 1 || parts[0].Server != want.Server || parts[0].Hits["sg-1/sgr-1"] != want.Hits["sg-1/sgr-1"] ||
		!parts[0].CompleteSince.Equal(want.CompleteSince) || !slices.Equal(missing, []string{"bad", "merged", "refuses"}) {
		t.Errorf("parts %+v, missing %v; want [%+v], missing [bad merged refuses]", parts, missing, want)
	}
	if len(missed) != 3 {
		t.Errorf("%d servers counted as missed, want 3", len(missed))
	}
	if len(got) != 4 {
		t.Errorf("%d servers asked, want 4 (not this one)", len(got))
	}
	for _, p := range got {
		if p.Get("Action") != service.FlowHitsAction || p.Get(LocalParam) != "true" || p.Get("AccessKeyId") != key ||
			p.Get("NetworkInterfaceId") != "eni-web" || p.Get("StartTime") != "2026-01-01T12:00:00Z" {
			t.Errorf("a server got %v", p)
		}
	}

	got, missed = nil, nil
	parts, missing = f.FlowHitParts(context.Background(), service.HitsFilter{})
	if len(parts) != 0 || len(missing) != 4 || len(got) != 0 || len(missed) != 4 {
		t.Errorf("without a caller's key: parts %+v, missing %v (%d counted), %d asked; want none, 4 missing and counted, none asked", parts, missing, len(missed), len(got))
	}
}
