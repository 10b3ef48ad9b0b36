package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// streamOf is one caller's stream, run in its own goroutine: its answers
// come out of frames unbuffered, so that while the test writes the stream
// waits on its send, as it does for a slow agent, and its next answer
// spans the changes since.
type streamOf struct {
	frames chan Changes
	done   chan error
	cancel context.CancelFunc
}

func openStream(t *testing.T, s *Service, c Caller, after int64) *streamOf {
	t.Helper()
	st, err := s.OpenStream(context.Background(), StreamInput{Caller: c, AfterRevision: after, Heartbeat: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := &streamOf{frames: make(chan Changes), done: make(chan error, 1), cancel: cancel}
	go func() {
		o.done <- st.Run(ctx, func(ch Changes) error {
			select {
			case o.frames <- ch:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-o.done })
	return o
}

// TestStreamsConverge is TestHostScopedStreamsConverge on streams: after
// random changes, each host's agent, which holds its scoped snapshot plus
// every frame of its stream since, holds exactly the scoped snapshot at
// the same revision once its frames reach that revision; no frame carries
// a record the agent holds already or deletes one it lacks; heartbeats
// carry nothing; and the operator's stream rebuilds the whole cloud. One
// run keeps a short history, another a small byte budget: a stream that
// falls behind it sends Resync and ends, and the agent starts over from a
// snapshot.
func TestStreamsConverge(t *testing.T) {
	for _, tc := range []struct {
		seed    uint64
		history int
		bytes   int64
	}{{11, 0, 0}, {12, 0, 0}, {13, 6, 0}, {14, 0, 8 << 10}} {
		t.Run(fmt.Sprintf("seed%d-history%d-bytes%d", tc.seed, tc.history, tc.bytes), func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(":memory:")
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			s := New(st)
			if tc.history > 0 {
				s.InMemory().SetHistoryLimit(tc.history)
			}
			if tc.bytes > 0 {
				s.InMemory().SetHistoryBytes(tc.bytes)
			}
			w, res := newWorld(tc.seed)
			if _, err := s.Import(ctx, "cn-hangzhou", res); err != nil {
				t.Fatal(err)
			}
			op := Caller{Account: legacyFirstUID, Operator: true}
			callers := map[string]Caller{"operator": op}
			for _, h := range testHosts {
				callers[h] = Caller{Host: h}
			}
			copies, streams := map[string]*agentCopy{}, map[string]*streamOf{}
			start := func(name string) {
				snap, err := s.GetSnapshot(ctx, callers[name])
				if err != nil {
					t.Fatal(err)
				}
				copies[name] = copyOf(snap)
				streams[name] = openStream(t, s, callers[name], snap.Revision)
			}
			for name := range callers {
				start(name)
			}
			rng := rand.New(rand.NewPCG(tc.seed, 7))
			sent, resyncs, heartbeats := 0, 0, 0
			for step := range 60 {
				for range 1 + rng.IntN(3) {
					if _, err := st.Update(ctx, func(tx store.Tx) error {
						for range 1 + rng.IntN(3) {
							if err := w.mutate(rng, tx); err != nil {
								return err
							}
						}
						return nil
					}); err != nil {
						t.Fatal(err)
					}
				}
				if rng.IntN(3) == 0 && step < 59 {
					continue // the agents read later: changes pile up
				}
				full, err := s.GetSnapshot(ctx, op)
				if err != nil {
					t.Fatal(err)
				}
				for _, name := range slices.Sorted(maps.Keys(callers)) {
					c := callers[name]
					for copies[name].rev < full.Revision {
						a := copies[name]
						var ch Changes
						select {
						case ch = <-streams[name].frames:
						case err := <-streams[name].done:
							t.Fatalf("step %d %s: the stream ended: %v", step, name, err)
						case <-time.After(10 * time.Second):
							t.Fatalf("step %d %s: no frame in 10 s at revision %d of %d", step, name, a.rev, full.Revision)
						}
						if ch.Resync {
							resyncs++
							if err := <-streams[name].done; err != nil {
								t.Fatalf("step %d %s: the stream ended after Resync with %v", step, name, err)
							}
							streams[name].done <- nil // for the cleanup
							start(name)
							continue
						}
						switch {
						case ch.Revision < a.rev || ch.Revision == a.rev && !ch.Empty():
							t.Fatalf("step %d %s: a frame at revision %d after %d", step, name, ch.Revision, a.rev)
						case ch.Empty() && ch.Revision > a.rev:
							heartbeats++
						}
						if c.Host != "" {
							for _, g := range ch.Groups {
								if a.held(g.ID, g) {
									t.Errorf("step %d %s: sent %s, which it holds already", step, name, g.ID)
								}
							}
							for _, in := range ch.Instances {
								if a.held(in.ID, in) {
									t.Errorf("step %d %s: sent %s, which it holds already", step, name, in.ID)
								}
							}
							for _, d := range ch.Deleted {
								if a.groups[d.Id] == nil && a.instances[d.Id] == nil && a.enis[d.Id] == nil && a.pls[d.Id] == nil && a.prls[d.Id] == nil {
									t.Errorf("step %d %s: deleted %s, which it does not hold", step, name, d.Id)
								}
							}
						}
						sent += len(ch.Groups) + len(ch.Instances) + len(ch.ENIs) + len(ch.Deleted)
						a.put(ch.snapshot())
						for _, d := range ch.Deleted {
							delete(a.groups, d.Id)
							delete(a.instances, d.Id)
							delete(a.enis, d.Id)
							delete(a.pls, d.Id)
							delete(a.prls, d.Id)
						}
						a.rev = ch.Revision
					}
					a := copies[name]
					want, err := s.GetSnapshot(ctx, c)
					if err != nil {
						t.Fatal(err)
					}
					if a.rev != want.Revision {
						t.Fatalf("step %d %s: at revision %d, snapshot at %d", step, name, a.rev, want.Revision)
					}
					// Record by record: an empty list is nil in the copy.
					if d := diffOf(a.snapshot(), want); d != "" {
						t.Fatalf("step %d %s: the stream rebuilt another state than the snapshot's:\n%s", step, name, d)
					}
					if c.Host != "" {
						if got, want := ruleset(a.snapshot(), c.Host), ruleset(full, c.Host); !reflect.DeepEqual(got, want) {
							t.Fatalf("step %d %s: the scoped records compile to\n%+v\nthe whole cloud to\n%+v", step, name, got, want)
						}
					}
				}
			}
			if (tc.history > 0 || tc.bytes > 0) && resyncs == 0 {
				t.Error("no stream fell behind the short history")
			}
			if heartbeats == 0 {
				t.Error("no heartbeat moved a host's revision on")
			}
			t.Logf("%d records sent, %d resyncs, %d heartbeats", sent, resyncs, heartbeats)
		})
	}
}

// TestOpenStreamRefuses: a stream is refused before it starts to a tenant,
// to a host key naming another host, and for a bad revision or heartbeat.
func TestOpenStreamRefuses(t *testing.T) {
	st, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(st)
	for _, tc := range []struct {
		name string
		in   StreamInput
		code string
	}{
		{"tenant", StreamInput{Caller: Caller{Account: legacyFirstUID}}, "Forbidden.Operator"},
		{"another host", StreamInput{Caller: Caller{Host: "h0"}, Progress: HostProgress{HostName: "h1"}}, "Forbidden.HostMismatch"},
		{"negative revision", StreamInput{Caller: Caller{Host: "h0"}, AfterRevision: -1}, "InvalidParameter"},
		{"heartbeat too long", StreamInput{Caller: Caller{Host: "h0"}, Heartbeat: 2 * MaxHeartbeat}, "InvalidParameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.OpenStream(context.Background(), tc.in)
			var e *ecserr.Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Errorf("got %v, want %s", err, tc.code)
			}
		})
	}
}

// diffOf lists the records two snapshots hold differently.
func diffOf(got, want Snapshot) string {
	index := func(s Snapshot) map[string]string {
		m := map[string]string{}
		for _, g := range s.Groups {
			m[g.ID] = jsonOf(g)
		}
		for _, in := range s.Instances {
			m[in.ID] = jsonOf(in)
		}
		for _, n := range s.ENIs {
			m[n.ID] = jsonOf(n)
		}
		for _, p := range s.PrefixLists {
			m[p.ID] = jsonOf(p)
		}
		for _, l := range s.PortRangeLists {
			m[l.ID] = jsonOf(l)
		}
		return m
	}
	g, w := index(got), index(want)
	var out strings.Builder
	for _, id := range slices.Sorted(maps.Keys(w)) {
		if g[id] != w[id] {
			fmt.Fprintf(&out, "%s: got %s\n  want %s\n", id, g[id], w[id])
		}
	}
	for _, id := range slices.Sorted(maps.Keys(g)) {
		if _, ok := w[id]; !ok {
			fmt.Fprintf(&out, "%s: got %s, want none\n", id, g[id])
		}
	}
	return out.String()
}

// TestDeregisterForgetsUnderStream: a host deregistered while a stream of
// its is open stays forgotten. The stream took the deregistration's
// revision, which has nothing for the host, as the host's progress and
// noted the host again (applied at that revision, seen just now), before
// its next frame found the key gone: its instances read as enforced, and
// the metrics counted its agent, after the deregistration. (KeyID unset:
// the stream runs on, as one signed with a key whose deletion it has not
// seen yet.)
func TestDeregisterForgetsUnderStream(t *testing.T) {
	e := newEnv(t)
	_, err := e.s.RegisterHost(e.ctx, e.op, "h1")
	wantCode(t, err, "")
	rev, err := e.s.Store.Revision(e.ctx)
	wantCode(t, err, "")
	host := Caller{Host: "h1"}
	wantCode(t, e.s.ReportHostStatus(e.ctx, ReportInput{Caller: host, Progress: HostProgress{HostName: "h1", AppliedRevision: rev}}), "")
	st, err := e.s.OpenStream(e.ctx, StreamInput{Caller: host, AfterRevision: rev, Heartbeat: 20 * time.Millisecond,
		Progress: HostProgress{HostName: "h1", AppliedRevision: rev}})
	wantCode(t, err, "")
	ctx, cancel := context.WithCancel(e.ctx)
	frames := make(chan Changes)
	done := make(chan error, 1)
	go func() {
		done <- st.Run(ctx, func(c Changes) error {
			select {
			case frames <- c:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	defer func() { cancel(); <-done }()
	frame := func() Changes {
		t.Helper()
		select {
		case c := <-frames:
			return c
		case err := <-done:
			t.Fatalf("the stream ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("no frame from the stream")
		}
		return Changes{}
	}
	frame()
	wantCode(t, e.s.DeregisterHost(e.ctx, e.op, "h1"), "")
	after, err := e.s.Store.Revision(e.ctx)
	wantCode(t, err, "")
	for frame().Revision < after { // the stream has passed the deregistration
	}
	if got := e.s.AppliedRevision("h1"); got != 0 {
		t.Errorf("after the deregistration, h1 reads as applied at %d, want 0 (forgotten)", got)
	}
	if hs := e.s.HostStates(); len(hs) != 0 {
		t.Errorf("after the deregistration, hosts heard from: %+v, want none", hs)
	}
}
