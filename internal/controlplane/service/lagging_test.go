package service

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// heldStore is a store shared by several servers as this server sees it
// (on etcd): it does not tell its revision without a query, so the view
// follows it a little behind, and while held, the view's follower does not
// learn of new revisions at all (another server's writes it has not seen).
type heldStore struct {
	store.Store
	mu     sync.Mutex
	held   chan struct{} // closed when the hold is lifted; nil: not held
	silent bool          // the store does not answer (etcd without quorum)
}

func (h *heldStore) Revision(ctx context.Context) (int64, error) {
	h.mu.Lock()
	silent := h.silent
	h.mu.Unlock()
	if silent {
		return 0, context.DeadlineExceeded
	}
	return h.Store.Revision(ctx)
}

func (h *heldStore) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held == nil {
		h.held = make(chan struct{})
	}
}

func (h *heldStore) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held != nil {
		close(h.held)
		h.held = nil
	}
}

// WaitRevision is the view follower's only way to learn of a write; held,
// it waits for the release first.
func (h *heldStore) WaitRevision(ctx context.Context, after int64) (int64, error) {
	h.mu.Lock()
	ch := h.held
	h.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return h.Store.WaitRevision(ctx, after)
}

// TestSnapshotOfLaggingView: a host's snapshot on a server whose view is
// behind the shared store, and cannot catch up in time, is refused with
// 503 ServiceUnavailable (the agent asks another server), never answered
// from the older view (a rule revoked since would come back on the host)
// nor with a 500; once the view catches up, the snapshot is the store's.
func TestSnapshotOfLaggingView(t *testing.T) {
	long := maxCatchUp
	defer func() { maxCatchUp = long }()
	maxCatchUp = 200 * time.Millisecond
	e := newEnv(t)
	vpc := e.vpc()
	sg := e.group(CreateGroupInput{VpcID: vpc})
	inst := e.instance(vpc, sg)
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: inst, HostName: "h1", Interface: "pi-a"}), "")

	// Held from the start: the follower's first wait for a new revision
	// is held too.
	held := &heldStore{Store: e.s.Store}
	held.hold()
	e.s.Store = held
	e.s.view = view.New(held, Kinds, Indexes...)
	t.Cleanup(func() { held.release(); e.s.view.Close() })
	if e.s.view.Linearizable() {
		t.Fatal("the wrapped store still reports its revision: the view would not lag")
	}
	h1 := Caller{Host: "h1"}
	before, err := e.s.GetSnapshot(e.ctx, h1)
	wantCode(t, err, "")
	if len(before.Groups) != 1 || len(before.Groups[0].Rules) != 0 {
		t.Fatalf("h1's first snapshot: %+v", before.Groups)
	}

	// Another server adds a rule to h1's group: the store moves on, this
	// server's view does not.
	g := *e.load(sg)
	g.Rules = append(g.Rules, modeltest.Rule("sgr-lagging", "in accept 1 TCP 22/22 10.0.0.0/8"))
	e.put(KindGroup, sg, g)
	rev, err := e.s.Store.Revision(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rev <= before.Revision || e.s.view.Revision() != before.Revision {
		t.Fatalf("store at %d, view at %d: the view should hold %d, behind the store", rev, e.s.view.Revision(), before.Revision)
	}

	for _, tc := range []struct {
		name    string
		release bool
		status  int   // of the error; 0: success
		rev     int64 // of the snapshot, on success
		rules   int
	}{
		{"the view cannot catch up", false, http.StatusServiceUnavailable, 0, 0},
		{"the store does not answer", false, http.StatusServiceUnavailable, 0, 0},
		{"the view caught up", true, 0, rev, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held.mu.Lock()
			held.silent = tc.name == "the store does not answer"
			held.mu.Unlock()
			if tc.release {
				// The usual bound again: on a loaded machine the view
				// may take longer than the short one to catch up.
				maxCatchUp = long
				held.release()
			}
			snap, err := e.s.GetSnapshot(e.ctx, h1)
			if tc.status != 0 {
				if err == nil {
					t.Fatalf("answered a snapshot at revision %d (the store is at %d), want %d", snap.Revision, rev, tc.status)
				}
				if ee, ok := err.(*ecserr.Error); !ok || ee.Status != tc.status || ee.Code != "ServiceUnavailable" {
					t.Fatalf("got %#v, want %d ServiceUnavailable", err, tc.status)
				}
				if snap.Revision != 0 || len(snap.Groups) != 0 || len(snap.Instances) != 0 {
					t.Fatalf("a refusal with data: revision %d, %d groups", snap.Revision, len(snap.Groups))
				}
				if held.silent {
					// A watch from the agent's newer revision: not a resync,
					// which sends it to this server's older snapshot.
					w, err := e.s.WatchChanges(e.ctx, WatchInput{Caller: h1, AfterRevision: rev})
					if ee, ok := err.(*ecserr.Error); !ok || ee.Status != http.StatusServiceUnavailable {
						t.Fatalf("a watch from %d with the store silent: %+v, %v; want 503", rev, w, err)
					}
				}
				return
			}
			wantCode(t, err, "")
			if snap.Revision != tc.rev || len(snap.Groups) != 1 || len(snap.Groups[0].Rules) != tc.rules {
				t.Fatalf("snapshot at %d with %+v, want revision %d with %d rules", snap.Revision, snap.Groups, tc.rev, tc.rules)
			}
		})
	}
}

// TestWatchFromZeroAfterLateLoad: a view that loaded after the first writes
// keeps no history back to revision 0, yet a host watching from 0 gets its
// whole scope (nothing existed at 0), not a Resync; other hosts get none
// of it.
func TestWatchFromZeroAfterLateLoad(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	sg := e.group(CreateGroupInput{VpcID: vpc})
	inst := e.instance(vpc, sg)
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: inst, HostName: "h1", Interface: "pi-a"}), "")
	e.s.view = view.New(e.s.Store, Kinds, Indexes...)
	t.Cleanup(e.s.view.Close)
	snap, err := e.s.view.Snapshot(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.HistoryBase() == 0 {
		t.Fatal("the view's history reaches revision 0: the case is not made")
	}
	for _, tc := range []struct {
		host   string
		groups int
	}{{"h1", 1}, {"h2", 0}} {
		ch, err := e.s.WatchChanges(e.ctx, WatchInput{Caller: Caller{Account: e.op.Account, Host: tc.host}, AfterRevision: 0})
		if err != nil {
			t.Fatal(err)
		}
		if ch.Resync || len(ch.Groups) != tc.groups || tc.groups == 1 && ch.Groups[0].ID != sg {
			t.Errorf("%s from revision 0: Resync %v, %d groups; want %d (%s)", tc.host, ch.Resync, len(ch.Groups), tc.groups, sg)
		}
	}
}
