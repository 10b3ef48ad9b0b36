package console

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// keyPeers is a service.PeerHits that reports the key it was asked with.
type keyPeers chan string

func (k keyPeers) FlowHitParts(ctx context.Context, _ service.HitsFilter) ([]service.HitsPart, []string) {
	select {
	case k <- rpc.AccessKeyID(ctx):
	default:
	}
	return nil, nil
}

// TestSignInPrefetchAsksPeersWithKey: the audit computed at sign-in asks
// the other servers for rule hits with the key signed in (without one no
// server can be asked, and the audit cached would miss them all).
func TestSignInPrefetchAsksPeersWithKey(t *testing.T) {
	srv, svc, key, _ := consoleServer(t)
	asked := make(keyPeers, 4)
	svc.PeerHits = asked
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.PostForm(srv.URL+Prefix+"signin", url.Values{"AccessKeyId": {key.ID}, "AccessKeySecret": {key.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	select {
	case got := <-asked:
		if got != key.ID {
			t.Errorf("the sign-in audit asked the peers with key %q, want %q", got, key.ID)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the sign-in audit never asked the peers")
	}
}
