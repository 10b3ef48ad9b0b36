package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/controlplane/store/storetest"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"go.etcd.io/etcd/server/v3/embed"
)

// external starts Debian's etcd binary on loopback ports in a temporary
// directory, killed when the test ends; it skips when there is none.
func external(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("no etcd binary in PATH: install Debian's etcd-server (apt-get install etcd-server) to run the external-etcd tests")
	}
	cu := fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t))
	pu := fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t))
	dir := t.TempDir()
	cmd := exec.Command(bin, "--name", "test", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", cu, "--advertise-client-urls", cu,
		"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
		"--initial-cluster", "test="+pu, "--log-level", "error")
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	// Ready when a store opens.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := Dial(ctx, []string{cu}, "/ready/")
		cancel()
		if err == nil {
			s.Close()
			return cu
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("external etcd not ready after 30s: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// opener opens stores on the etcd at url, each under a new prefix: an
// empty store per call, as storetest.Run wants, on one etcd.
func opener(url string) func(t testing.TB) *Store {
	var n atomic.Int64
	return func(t testing.TB) *Store {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := Dial(ctx, []string{url}, fmt.Sprintf("/palisade-test/%d/", n.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestConformanceEmbedded(t *testing.T) {
	open := opener(etcdtest.Embedded(t))
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func TestConformanceExternal(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	open := opener(external(t))
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

type child struct {
	N int `json:"n"`
}

// TestQuotaRaceAcrossServers: two Store values ("servers") on one etcd race
// to add children under a quota of 200; exactly 200 land, whichever way the
// write reads what it checks (a List inside the transaction, or a count
// read outside it and stated as a precondition with Expect).
func TestQuotaRaceAcrossServers(t *testing.T) {
	const quota, workers, attempts = 200, 4, 80 // 2*4*80 = 640 tries for 200 places
	errQuota := errors.New("quota exceeded")
	url := etcdtest.Embedded(t)
	cases := []struct {
		name string
		add  func(s *Store, id string) error
	}{
		{"list in transaction", func(s *Store, id string) error {
			_, err := s.Update(context.Background(), func(tx store.Tx) error {
				rs, err := tx.List("rule", store.Query{Account: "a"})
				if err != nil {
					return err
				}
				if len(rs) >= quota {
					return errQuota
				}
				return tx.Put(store.Record{Kind: "rule", ID: id, Account: "a", Data: []byte(`{}`)})
			})
			return err
		}},
		{"count read outside, Expect", func(s *Store, id string) error {
			var c child
			var rev int64
			err := s.View(context.Background(), func(tx store.ReadTx) error {
				var err error
				r, ok, err := tx.Get("count", "a")
				if ok {
					rev = r.Revision
					c, _, err = store.GetAs[child](tx, "count", "a")
				}
				return err
			})
			if err != nil {
				return err
			}
			if c.N >= quota {
				return errQuota
			}
			_, err = s.Update(context.Background(), func(tx store.Tx) error {
				if err := tx.Expect("count", "a", rev); err != nil {
					return err
				}
				c.N++
				if err := store.PutAs(tx, "count", "a", "a", "", c); err != nil {
					return err
				}
				return tx.Put(store.Record{Kind: "rule", ID: id, Account: "a", Data: []byte(`{}`)})
			})
			return err
		}},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := fmt.Sprintf("/quota/%d/", ci)
			var servers []*Store
			for range 2 {
				s, err := Dial(context.Background(), []string{url}, prefix)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				servers = append(servers, s)
			}
			var wg sync.WaitGroup
			var landed, conflicts atomic.Int64
			errc := make(chan error, len(servers)*workers)
			for si, s := range servers {
				for w := range workers {
					wg.Go(func() {
						for i := range attempts {
							id := fmt.Sprintf("r-%d-%d-%d", si, w, i)
							for try := 0; ; try++ {
								err := tc.add(s, id)
								if errors.Is(err, store.ErrConflict) && try < 1000 {
									conflicts.Add(1)
									continue
								}
								if err == nil {
									landed.Add(1)
								} else if !errors.Is(err, errQuota) {
									errc <- err
									return
								}
								break
							}
						}
					})
				}
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Fatal(err)
			}
			var n int
			servers[1].View(context.Background(), func(tx store.ReadTx) error {
				rs, err := tx.List("rule", store.Query{})
				n = len(rs)
				return err
			})
			if n != quota || landed.Load() != quota {
				t.Fatalf("%d rules stored, %d writes acknowledged; want exactly %d", n, landed.Load(), quota)
			}
			// The change log of both servers is the same, contiguous.
			cs, err := servers[0].Changes(context.Background(), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			last := int64(0)
			for _, c := range cs {
				if c.Revision != last && c.Revision != last+1 {
					t.Fatalf("change log skips from revision %d to %d", last, c.Revision)
				}
				last = c.Revision
			}
			t.Logf("%d conflicts retried", conflicts.Load())
		})
	}
}

// TestAcrossServers: what one server writes, another sees and is woken by;
// a ClientToken taken on one server cannot be taken again on another.
func TestAcrossServers(t *testing.T) {
	url := etcdtest.Embedded(t)
	ctx := context.Background()
	a, err := Dial(ctx, []string{url}, "/x/")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Dial(ctx, []string{url}, "/x/")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	woke := make(chan int64, 1)
	go func() {
		rev, _ := b.WaitRevision(ctx, 0)
		woke <- rev
	}()
	rev, err := a.Update(ctx, func(tx store.Tx) error {
		return tx.Put(store.Record{Kind: "vpc", ID: "v", Data: []byte(`{}`)})
	})
	if err != nil || rev != 1 {
		t.Fatalf("Update = %d, %v", rev, err)
	}
	select {
	case got := <-woke:
		if got != rev {
			t.Errorf("other server woke at %d, want %d", got, rev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write on one server did not wake WaitRevision on the other")
	}

	// Both servers read the token as absent, then both write it: one wins.
	take := func(s *Store, ready, proceed chan struct{}) error {
		_, err := s.Update(ctx, func(tx store.Tx) error {
			if _, ok, err := tx.Token("acct", "tok"); err != nil || ok {
				return fmt.Errorf("token already taken (%v)", err)
			}
			close(ready)
			<-proceed
			if err := tx.PutToken(store.Token{Account: "acct", Token: "tok", Action: "CreateVpc"}); err != nil {
				return err
			}
			return tx.Put(store.Record{Kind: "vpc", ID: "from-token", Data: []byte(`{}`)})
		})
		return err
	}
	readyA, readyB, proceed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	errs := make(chan error, 2)
	go func() { errs <- take(a, readyA, proceed) }()
	go func() { errs <- take(b, readyB, proceed) }()
	<-readyA
	<-readyB
	close(proceed)
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("token race: errors %v and %v, want exactly one success", e1, e2)
	}
	if !errors.Is(e1, store.ErrConflict) && !errors.Is(e2, store.ErrConflict) {
		t.Errorf("the losing server's error is not ErrConflict: %v / %v", e1, e2)
	}
}

// BenchmarkUpdate compares Update throughput (one record per Update) of
// an embedded single-member etcd and SQLite, one writer and eight.
func BenchmarkUpdate(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"sqlite", func(b *testing.B) store.Store {
			s, err := sqlite.Open(filepath.Join(b.TempDir(), "p.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
		{"etcd-embedded", func(b *testing.B) store.Store { return opener(etcdtest.Embedded(b))(b) }},
	}
	for _, be := range backends {
		for _, par := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/writers=%d", be.name, par), func(b *testing.B) {
				s := be.open(b)
				var n atomic.Int64
				b.SetParallelism(par)
				b.ResetTimer()
				run := func() {
					id := fmt.Sprintf("r%d", n.Add(1))
					if _, err := s.Update(context.Background(), func(tx store.Tx) error {
						return tx.Put(store.Record{Kind: "rule", ID: id, Account: "a", Region: "r", Data: []byte(`{"x":1}`)})
					}); err != nil {
						b.Error(err)
					}
				}
				if par == 1 {
					for b.Loop() {
						run()
					}
					return
				}
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						run()
					}
				})
			})
		}
	}
}

// TestGroupCommitIsolation: Updates committed together keep their own
// outcome: a failed one writes nothing, the others each get their own
// revision, holding exactly their writes.
func TestGroupCommitIsolation(t *testing.T) {
	s := opener(etcdtest.Embedded(t))(t)
	const n = 48
	boom := errors.New("boom")
	type result struct {
		rev int64
		err error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rev, err := s.Update(context.Background(), func(tx store.Tx) error {
				if err := tx.Put(store.Record{Kind: "rule", ID: fmt.Sprintf("r%02d", i), Data: []byte(`{}`)}); err != nil {
					return err
				}
				if i%3 == 0 {
					return boom
				}
				return nil
			})
			results[i] = result{rev, err}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i, r := range results {
		id := fmt.Sprintf("r%02d", i)
		var rec store.Record
		var ok bool
		s.View(context.Background(), func(tx store.ReadTx) error {
			var err error
			rec, ok, err = tx.Get("rule", id)
			return err
		})
		if i%3 == 0 {
			if !errors.Is(r.err, boom) || ok {
				t.Errorf("%s: failed Update returned %v, record stored %v", id, r.err, ok)
			}
			continue
		}
		if r.err != nil || !ok || rec.Revision != r.rev || seen[r.rev] {
			t.Errorf("%s: Update = %d, %v; stored %v at %d (revision already used: %v)", id, r.rev, r.err, ok, rec.Revision, seen[r.rev])
		}
		seen[r.rev] = true
		cs, err := s.Changes(context.Background(), r.rev-1, 1)
		if err != nil || len(cs) != 1 || cs[0].ID != id || cs[0].Revision != r.rev {
			t.Errorf("%s: change log at %d = %v, %v", id, r.rev, cs, err)
		}
	}
	t.Logf("%d Updates committed in %d etcd transactions", len(seen), s.commits.Load())
	if rev, _ := s.Revision(context.Background()); rev != int64(len(seen)) {
		t.Errorf("revision = %d, want %d (one per successful Update)", rev, len(seen))
	}
}

// TestRecent: a Store hands over its own commits with the objects as
// written, and stops once another server has committed (the follower must
// then read the change log).
func TestRecent(t *testing.T) {
	url := etcdtest.Embedded(t)
	ctx := context.Background()
	a, err := Dial(ctx, []string{url}, "/recent/")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Dial(ctx, []string{url}, "/recent/")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	obj := &child{N: 7}
	put := func(s *Store, id string) int64 {
		t.Helper()
		rev, err := s.Update(ctx, func(tx store.Tx) error {
			return tx.Put(store.Record{Kind: "c", ID: id, Data: []byte(`{"n":7}`), Object: obj})
		})
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	r1 := put(a, "x")
	r2 := put(a, "y")
	ws, rev, ok := a.Recent(r1 - 1)
	if !ok || rev != r2 || len(ws) != 2 || ws[0].ID != "x" || ws[1].Revision != r2 || ws[1].Record.Object != obj {
		t.Fatalf("Recent(%d) = %+v, %d, %v; want x and y up to %d, with the object", r1-1, ws, rev, ok, r2)
	}
	r3 := put(b, "z")
	if _, err := a.WaitRevision(ctx, r3-1); err != nil {
		t.Fatal(err)
	}
	if ws, rev, ok := a.Recent(r2); ok {
		t.Fatalf("Recent after another server's write = %+v, %d, true; want ok false", ws, rev)
	}
}

// TestViewFollowsOtherServers: the in-memory view of one server holds what
// another server writes (through the change log), and its own writes
// (through Recent), with the same objects either way.
func TestViewFollowsOtherServers(t *testing.T) {
	url := etcdtest.Embedded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var servers []*Store
	for range 2 {
		s, err := Dial(ctx, []string{url}, "/view/")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		servers = append(servers, s)
	}
	view.VerifyObjects = true
	defer func() { view.VerifyObjects = false }()
	v := view.New(servers[0], map[store.Kind]view.Decoder{"c": view.Decode[child]})
	defer v.Close()
	for i := range 20 {
		s := servers[i%2]
		n := child{N: i}
		rev, err := s.Update(ctx, func(tx store.Tx) error {
			if err := store.PutAs(tx, "c", fmt.Sprint(i%5), "a", "r", n); err != nil {
				return err
			}
			return tx.Delete("c", fmt.Sprint((i+2)%5))
		})
		if err != nil {
			t.Fatal(err)
		}
		snap, err := v.Wait(ctx, rev)
		if err != nil {
			t.Fatalf("view did not reach revision %d: %v", rev, err)
		}
		// The view at rev equals the store at rev.
		var want []store.Record
		servers[1].View(ctx, func(tx store.ReadTx) error {
			var err error
			want, err = tx.List("c", store.Query{})
			return err
		})
		got, _ := snap.List("c", store.Query{})
		if snap.Revision() == rev && len(got) != len(want) {
			t.Fatalf("at %d the view lists %d records, the store %d", rev, len(got), len(want))
		}
		for j := range min(len(got), len(want)) {
			if got[j].ID != want[j].ID || got[j].Revision != want[j].Revision || *got[j].Object.(*child) != mustChild(t, want[j].Data) {
				t.Fatalf("at %d the view has %+v, the store %+v", rev, got[j], want[j])
			}
		}
	}
}

func mustChild(t *testing.T, b []byte) child {
	t.Helper()
	var c child
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLargeReadSet: an Update that reads more records than one etcd
// transaction may compare (--max-txn-ops, 128 by default) still commits,
// and still fails when another server changed one of them meanwhile.
func TestLargeReadSet(t *testing.T) {
	url := etcdtest.Embedded(t)
	ctx := context.Background()
	cases := []struct {
		name      string
		otherKind store.Kind // what the other server writes meanwhile
		wantErr   error
	}{
		{"nothing read changed", "other", nil},
		{"a record read changed", "rule", store.ErrConflict},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := fmt.Sprintf("/large/%d/", ci)
			a, err := Dial(ctx, []string{url}, prefix)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := Dial(ctx, []string{url}, prefix)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			const n = 300
			for i := 0; i < n; i += 100 {
				if _, err := a.Update(ctx, func(tx store.Tx) error {
					for j := i; j < i+100; j++ {
						if err := tx.Put(store.Record{Kind: "rule", ID: fmt.Sprintf("r%03d", j), Data: []byte(`{}`)}); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			_, err = a.Update(ctx, func(tx store.Tx) error {
				for j := range n {
					if _, ok, err := tx.Get("rule", fmt.Sprintf("r%03d", j)); err != nil || !ok {
						return fmt.Errorf("Get r%03d = %v, %v", j, ok, err)
					}
				}
				if _, err := b.Update(ctx, func(tx store.Tx) error {
					return tx.Put(store.Record{Kind: tc.otherKind, ID: "r150", Data: []byte(`{"v":2}`)})
				}); err != nil {
					return err
				}
				return tx.Put(store.Record{Kind: "summary", ID: "s", Data: []byte(`{}`)})
			})
			if !errors.Is(err, tc.wantErr) && !(tc.wantErr == nil && err == nil) {
				t.Fatalf("Update = %v, want %v", err, tc.wantErr)
			}
			var written bool
			a.View(ctx, func(tx store.ReadTx) error { _, written, err = tx.Get("summary", "s"); return err })
			if written != (tc.wantErr == nil) {
				t.Fatalf("summary written = %v, want %v", written, tc.wantErr == nil)
			}
		})
	}
}

// inOneBatch runs fns as concurrent Updates queued, in order, behind the
// held writer, so that one batch could take them all, and returns their
// errors.
func inOneBatch(s *Store, fns ...func(store.Tx) error) []error {
	s.wmu.Lock()
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { _, errs[i] = s.Update(context.Background(), fn) })
		for {
			s.qmu.Lock()
			n := len(s.queue)
			s.qmu.Unlock()
			if n == i+1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	s.wmu.Unlock()
	wg.Wait()
	return errs
}

// TestGroupCommitSize: concurrent Updates whose records each fit etcd's
// --max-request-bytes (1.5 MiB by default) but together do not (security
// groups of a few hundred rules, written at once) all commit: a batch
// stops before its transaction nears the limit, as it does for ops.
func TestGroupCommitSize(t *testing.T) {
	url := etcdtest.Embedded(t)
	cases := []struct {
		name  string
		sizes []int // of the record each queued Update writes
	}{
		{"small records, one batch", []int{1 << 10, 1 << 10, 1 << 10, 1 << 10}},
		{"records of 300 KiB, 2.4 MiB in all", []int{300 << 10, 300 << 10, 300 << 10, 300 << 10, 300 << 10, 300 << 10, 300 << 10, 300 << 10}},
		{"records of 1 MiB", []int{1 << 20, 1 << 20, 1 << 20}},
		{"a small record, then one of 1.2 MiB", []int{10 << 10, 1200 << 10}},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Dial(ctx, []string{url}, fmt.Sprintf("/size/%d/", ci))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var fns []func(store.Tx) error
			for i, size := range tc.sizes {
				data := []byte(`"` + strings.Repeat("x", size) + `"`)
				fns = append(fns, func(tx store.Tx) error {
					return tx.Put(store.Record{Kind: "securitygroup", ID: fmt.Sprintf("sg-%d", i), Data: data})
				})
			}
			for i, err := range inOneBatch(s, fns...) {
				if err != nil {
					t.Errorf("Update %d: %v", i, err)
				}
			}
			if rev, err := s.Revision(ctx); err != nil || rev != int64(len(tc.sizes)) {
				t.Errorf("revision = %d, %v; want %d", rev, err, len(tc.sizes))
			}
		})
	}
}

// TestGroupCommitOps: an Update that would take its batch's transaction
// over etcd's --max-txn-ops (128 by default) although it fits alone (a
// RunInstances of 50) does not fail the Updates batched before it: it
// alone is refused as a conflict, which the service runs again, and
// commits then.
func TestGroupCommitOps(t *testing.T) {
	url := etcdtest.Embedded(t)
	raised := etcdtest.Embedded(t, func(c *embed.Config) { c.MaxTxnOps = 512 })
	cases := []struct {
		name  string
		url   string
		sizes []int // records written by each queued Update
	}{
		{"fit together", url, []int{40, 40}},
		{"second over the ops of one transaction", url, []int{80, 50}},
		{"middle one over", url, []int{20, 20, 90, 1}},
		// One Update over the default needs the limit raised, and then
		// commits in its batch as it did.
		{"over the default alone, limit raised", raised, []int{20, 150}},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Dial(ctx, []string{tc.url}, fmt.Sprintf("/ops/%d/", ci))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			write := func(u, n int) func(store.Tx) error {
				return func(tx store.Tx) error {
					for j := range n {
						if err := tx.Put(store.Record{Kind: "instance", ID: fmt.Sprintf("i-%d-%03d", u, j), Data: []byte(`{}`)}); err != nil {
							return err
						}
					}
					return nil
				}
			}
			var fns []func(store.Tx) error
			for u, n := range tc.sizes {
				fns = append(fns, write(u, n))
			}
			for u, err := range inOneBatch(s, fns...) {
				if tc.url == raised && err != nil {
					t.Errorf("Update %d refused (%v); with the limit raised it fits its batch", u, err)
				}
				if errors.Is(err, store.ErrConflict) { // as the service does
					_, err = s.Update(ctx, write(u, tc.sizes[u]))
				}
				if err != nil {
					t.Errorf("Update %d (%d records): %v", u, tc.sizes[u], err)
				}
			}
			var got int
			s.View(ctx, func(tx store.ReadTx) error {
				rs, err := tx.List("instance", store.Query{})
				got = len(rs)
				return err
			})
			want := 0
			for _, n := range tc.sizes {
				want += n
			}
			if got != want {
				t.Errorf("%d records stored, want %d", got, want)
			}
		})
	}
}

// TestUpdateTooLarge: a write over etcd's limits fails as the store
// contract says (revision 0, nothing written) and says what to raise.
func TestUpdateTooLarge(t *testing.T) {
	url := etcdtest.Embedded(t)
	cases := []struct {
		name    string
		records int
		size    int
		want    string
	}{
		{"a record over --max-request-bytes", 1, 2 << 20, "--max-request-bytes"},
		{"records over --max-txn-ops", 200, 10, "--max-txn-ops"},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Dial(ctx, []string{url}, fmt.Sprintf("/toolarge/%d/", ci))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			data := []byte(`"` + strings.Repeat("x", tc.size) + `"`)
			rev, err := s.Update(ctx, func(tx store.Tx) error {
				for i := range tc.records {
					if err := tx.Put(store.Record{Kind: "securitygroup", ID: fmt.Sprintf("sg-%d", i), Data: data}); err != nil {
						return err
					}
				}
				return nil
			})
			if err == nil || rev != 0 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Update = %d, %v; want 0 and an error naming %s", rev, err, tc.want)
			}
			if cur, err := s.Revision(ctx); err != nil || cur != 0 {
				t.Errorf("revision = %d, %v; want 0", cur, err)
			}
		})
	}
}
