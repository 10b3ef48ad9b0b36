package service

import (
	"context"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// guardedHosts is SharedHosts as etcd's keeps it, for the service alone:
// a host is recorded while its guard key is one of live.
type guardedHosts struct {
	live     []string
	recorded map[string]int64
}

func (g *guardedHosts) PutHostsApplied(_ context.Context, applied map[string]store.HostApplied) ([]string, error) {
	var unguarded []string
	for host, a := range applied {
		if a.Kind != "" && !slices.Contains(g.live, a.ID) {
			unguarded = append(unguarded, host)
			continue
		}
		g.recorded[host] = max(g.recorded[host], a.Rev)
	}
	return unguarded, nil
}

func (g *guardedHosts) DeleteHostApplied(_ context.Context, host string) error {
	delete(g.recorded, host)
	return nil
}

// TestSharedHostUnguarded: a host's revision written under the key this
// server's view named, gone meanwhile (the host registered again through
// another server), is not taken as shared: it is written again at the
// next write, under the key the view names then. Taken as shared, the
// host's later reports at that revision were not queued, and the other
// servers never heard it.
func TestSharedHostUnguarded(t *testing.T) {
	e := newEnv(t)
	_, op, _ := boot(t, e)
	k1, err := e.s.RegisterHost(e.ctx, op, "h1")
	if err != nil {
		t.Fatal(err)
	}
	shared := &guardedHosts{recorded: map[string]int64{}} // k1 already replaced where etcd is
	e.s.SharedHosts = shared
	hc, err := e.s.KeyCaller(e.ctx, k1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.ReportHostStatus(e.ctx, ReportInput{Caller: hc, Progress: HostProgress{HostName: "h1", AppliedRevision: 2}}); err != nil {
		t.Fatal(err)
	}
	e.s.writeShared(e.ctx)
	if _, ok := shared.recorded["h1"]; ok {
		t.Fatal("recorded under a key that is gone")
	}
	if h := e.s.hosts.hosts["h1"]; h == nil || h.shared.Load() != 0 {
		t.Fatal("taken as shared though not recorded")
	}
	k2, err := e.s.RegisterHost(e.ctx, op, "h1") // the view catches up
	if err != nil {
		t.Fatal(err)
	}
	shared.live = []string{k2.ID}
	e.s.writeShared(e.ctx)
	if got := shared.recorded["h1"]; got != 2 {
		t.Errorf("h1 recorded at %d after its key was replaced, want 2 (the report queued again)", got)
	}
}
