package view

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
)

type doc struct {
	N    int      `json:"n"`
	Tags []string `json:"tags,omitempty"`
}

func init() { VerifyObjects = true }

var kinds = map[store.Kind]Decoder{"a": Decode[doc], "b": Decode[doc]}

// byTag indexes kind a by its tags; byTagSame is the same index telling
// when a record keeps its tags.
var (
	byTag     = Index{Kind: "a", Name: "tag", Keys: func(o any) []string { return o.(*doc).Tags }}
	byTagSame = Index{Kind: "a", Name: "tagsame", Keys: byTag.Keys,
		Same: func(old, next any) bool { return slices.Equal(old.(*doc).Tags, next.(*doc).Tags) }}
)

func open(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func put(tx store.Tx, kind store.Kind, id, account, region string, d doc) error {
	b, _ := json.Marshal(d)
	return tx.Put(store.Record{Kind: kind, ID: id, Account: account, Region: region, Data: b})
}

// dump is a snapshot's content, comparable across snapshots.
func dump(s *Snapshot) map[string]string {
	out := map[string]string{}
	for kind, t := range s.tables {
		for id, r := range t.byID {
			b, _ := json.Marshal(r.Object)
			out[fmt.Sprintf("%s/%s", kind, id)] = fmt.Sprintf("%s %s %d %s", r.Account, r.Region, r.Revision, b)
		}
		for sc, ids := range t.idx {
			out[fmt.Sprintf("idx %s %v", kind, sc)] = fmt.Sprint(ids)
		}
		for name, m := range t.sec {
			for k, ids := range m {
				out[fmt.Sprintf("sec %s %s %s", kind, name, k)] = fmt.Sprint(ids)
			}
		}
	}
	return out
}

// logOnly hides a store's Recent (and CurrentRevision): the view follows
// it by the change log, as it does a store written by another process or a
// view lagging more than the store keeps in memory.
type logOnly struct{ store.Store }

// TestFollowEqualsRebuild applies a random sequence of changes (puts,
// moves between scopes, deletes, several records per revision) and checks
// that the view that followed them equals one loaded from the store anew,
// whether it followed the records handed over in memory or the change log.
func TestFollowEqualsRebuild(t *testing.T) {
	ctx := context.Background()
	feeds := []struct {
		name   string
		follow func(*sqlite.Store) store.Store
	}{
		{"in memory", func(st *sqlite.Store) store.Store { return st }},
		{"change log", func(st *sqlite.Store) store.Store { return logOnly{st} }},
	}
	for _, feed := range feeds {
		for seed := range uint64(5) {
			t.Run(fmt.Sprint(feed.name, "/", seed), func(t *testing.T) { followEqualsRebuild(t, ctx, seed, feed.follow) })
		}
	}
}

func followEqualsRebuild(t *testing.T, ctx context.Context, seed uint64, follow func(*sqlite.Store) store.Store) {
	rng := rand.New(rand.NewPCG(seed, 1))
	st := open(t)
	v := New(follow(st), kinds, byTag, byTagSame)
	defer v.Close()
	var rev int64
	for range 200 {
		var err error
		rev, err = st.Update(ctx, func(tx store.Tx) error {
			for range 1 + rng.IntN(4) {
				kind := store.Kind([]string{"a", "b", "other"}[rng.IntN(3)])
				id := fmt.Sprint("r", rng.IntN(30))
				if rng.IntN(4) == 0 {
					if err := tx.Delete(kind, id); err != nil {
						return err
					}
					continue
				}
				acct, region := fmt.Sprint("acct", rng.IntN(3)), fmt.Sprint("reg", rng.IntN(2))
				var tags []string
				for range rng.IntN(4) {
					tags = append(tags, fmt.Sprint("t", rng.IntN(5)))
				}
				if r := live(tx, kind, id); r != nil && rng.IntN(2) == 0 {
					tags = r.Tags // kept: byTagSame's Same says so
				}
				d := doc{N: rng.IntN(1000), Tags: tags}
				// Half with the decoded value handed over (what
				// the view applies from memory), half JSON only.
				write := put
				if rng.IntN(2) == 0 {
					write = func(tx store.Tx, kind store.Kind, id, account, region string, d doc) error {
						return store.PutAs(tx, kind, id, account, region, &d)
					}
				}
				if err := write(tx, kind, id, acct, region, d); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	live, err := v.Wait(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	fresh := New(st, kinds, byTag, byTagSame)
	defer fresh.Close()
	rebuilt, err := fresh.Wait(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	if live.rev != rebuilt.rev {
		t.Fatalf("revisions %d and %d", live.rev, rebuilt.rev)
	}
	if a, b := dump(live), dump(rebuilt); !reflect.DeepEqual(a, b) {
		t.Errorf("followed view differs from a rebuilt one:\nfollowed %v\nrebuilt  %v", a, b)
	}
	// And the view answers as the store does.
	st.View(ctx, func(tx store.ReadTx) error {
		for _, q := range []store.Query{{}, {Account: "acct1"}, {Region: "reg0"}, {Account: "acct2", Region: "reg1"}} {
			want, _ := tx.List("a", q)
			got, _ := live.List("a", q)
			if len(want) != len(got) {
				t.Errorf("List %v: %d records, store has %d", q, len(got), len(want))
				continue
			}
			for i := range want {
				if want[i].ID != got[i].ID || want[i].Revision != got[i].Revision {
					t.Errorf("List %v [%d]: %s@%d, store has %s@%d", q, i, got[i].ID, got[i].Revision, want[i].ID, want[i].Revision)
				}
			}
		}
		return nil
	})
}

// live is the doc a write sees at kind/id, nil if none.
func live(tx store.ReadTx, kind store.Kind, id string) *doc {
	r, ok, err := tx.Get(kind, id)
	if err != nil || !ok {
		return nil
	}
	var d doc
	if json.Unmarshal(r.Data, &d) != nil {
		return nil
	}
	return &d
}

// TestVerifyObjectsCatchesWrongSame: an index whose Same says a record
// kept its keys when they changed would leave the index stale; with
// VerifyObjects the view stops instead, naming the index.
func TestVerifyObjectsCatchesWrongSame(t *testing.T) {
	ctx := context.Background()
	for _, feed := range []struct {
		name   string
		follow func(*sqlite.Store) store.Store
	}{
		{"in memory", func(st *sqlite.Store) store.Store { return st }},
		{"change log", func(st *sqlite.Store) store.Store { return logOnly{st} }},
	} {
		t.Run(feed.name, func(t *testing.T) {
			st := open(t)
			wrong := Index{Kind: "a", Name: "wrong", Keys: byTag.Keys, Same: func(old, next any) bool { return true }}
			v := New(feed.follow(st), kinds, wrong)
			defer v.Close()
			var rev int64
			for _, tag := range []string{"t1", "t2"} {
				var err error
				if rev, err = st.Update(ctx, func(tx store.Tx) error { return put(tx, "a", "r1", "acct", "reg", doc{Tags: []string{tag}}) }); err != nil {
					t.Fatal(err)
				}
				if tag == "t1" {
					if _, err := v.Wait(ctx, rev); err != nil {
						t.Fatal(err)
					}
				}
			}
			if s, err := v.Wait(ctx, rev); !errors.Is(err, errSameKeys) {
				t.Fatalf("view took a wrong Same: snapshot %v, err %v", s, err)
			}
		})
	}
}

// TestVerifyObjectsCatchesAModifiedValue: a writer that modifies the value
// it handed to Put would leave the in-memory view unlike the store; with
// VerifyObjects the view stops instead, naming the record.
func TestVerifyObjectsCatchesAModifiedValue(t *testing.T) {
	ctx := context.Background()
	for _, modify := range []bool{false, true} {
		t.Run(fmt.Sprint("modify=", modify), func(t *testing.T) {
			st := open(t)
			v := New(st, kinds)
			defer v.Close()
			if _, err := v.Wait(ctx, 0); err != nil {
				t.Fatal(err)
			}
			d := &doc{N: 1}
			rev, err := st.Update(ctx, func(tx store.Tx) error {
				if err := store.PutAs(tx, "a", "r1", "acct", "reg", d); err != nil {
					return err
				}
				if modify {
					d.N = 2 // after Put: a bug
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			s, err := v.Wait(ctx, rev)
			if modify {
				if !errors.Is(err, errModified) {
					t.Fatalf("view took a value modified after Put: snapshot %v, err %v", s, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := Object[doc](s, "a", "r1"); got != d {
				t.Errorf("view holds %p, want the value handed over %p", got, d)
			}
		})
	}
}

// TestVerifyObjectsCatchesAnInPlaceChange: a writer that changes a value
// the view published (what a read returned) instead of a copy changes what
// every reader sees, whether or not its write then commits; with
// VerifyObjects the view stops at the record's next write, and
// CheckObjects finds it before one.
func TestVerifyObjectsCatchesAnInPlaceChange(t *testing.T) {
	ctx := context.Background()
	type testCase struct {
		name         string
		inPlace      bool
		writeAgain   bool
		wantStop     bool
		wantCheckErr bool
		loaded       bool // the record was in the store when the view loaded it
	}
	var cases []testCase
	for _, loaded := range []bool{false, true} {
		for _, tc := range []testCase{
			{"a copy changed, written", false, true, false, false, loaded},
			{"changed in place, written", true, true, true, false, loaded},
			{"changed in place, not written (a refused write)", true, false, false, true, loaded},
		} {
			tc.name = fmt.Sprintf("%s, loaded=%v", tc.name, loaded)
			cases = append(cases, tc)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			verify := VerifyObjects
			VerifyObjects = true
			defer func() { VerifyObjects = verify }()
			st := open(t)
			var v *View
			if !tc.loaded {
				v = New(st, kinds)
				defer v.Close()
				if _, err := v.Wait(ctx, 0); err != nil {
					t.Fatal(err)
				}
			}
			rev, err := st.Update(ctx, func(tx store.Tx) error { return store.PutAs(tx, "a", "r1", "acct", "reg", &doc{N: 1}) })
			if err != nil {
				t.Fatal(err)
			}
			if tc.loaded {
				v = New(st, kinds)
				defer v.Close()
			}
			s, err := v.Wait(ctx, rev)
			if err != nil {
				t.Fatal(err)
			}
			d := Object[doc](s, "a", "r1")
			if !tc.inPlace {
				cp := *d
				d = &cp
			}
			d.N = 2
			if tc.writeAgain {
				if rev, err = st.Update(ctx, func(tx store.Tx) error { return store.PutAs(tx, "a", "r1", "acct", "reg", d) }); err != nil {
					t.Fatal(err)
				}
				if _, err := v.Wait(ctx, rev); errors.Is(err, errPublishedModified) != tc.wantStop {
					t.Fatalf("view after the write: %v, want it stopped: %v", err, tc.wantStop)
				}
			}
			if err := v.CheckObjects(); (err != nil) != tc.wantCheckErr {
				t.Errorf("CheckObjects: %v, want an error: %v", err, tc.wantCheckErr)
			}
		})
	}
}

// TestNoTornReads moves a total between records in multi-record writes
// while readers check that every snapshot holds the whole total. The
// readers race the follower; the view's decoder, which the follower calls
// between the records of a batch it applies, checks the published snapshot
// at each of those moments, so a view that published part of a batch fails
// every run, whichever way it follows the store.
func TestNoTornReads(t *testing.T) {
	for _, feed := range []struct {
		name   string
		follow func(*sqlite.Store) store.Store
	}{
		{"in memory", func(st *sqlite.Store) store.Store { return st }},
		{"change log", func(st *sqlite.Store) store.Store { return logOnly{st} }},
	} {
		t.Run(feed.name, func(t *testing.T) { noTornReads(t, feed.follow) })
	}
}

func noTornReads(t *testing.T, follow func(*sqlite.Store) store.Store) {
	ctx := context.Background()
	st := open(t)
	const records, total = 8, 800
	if _, err := st.Update(ctx, func(tx store.Tx) error {
		for i := range records {
			if err := put(tx, "a", fmt.Sprint("r", i), "x", "y", doc{N: total / records}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sum := func(s *Snapshot) int {
		n := 0
		for _, id := range s.IDs("a", store.Query{}) {
			n += Object[doc](s, "a", id).N
		}
		return n
	}
	var followed atomic.Pointer[View]
	var midBatch atomic.Int64 // checks made between a batch's records
	var torn atomic.Bool      // reported once
	checking := map[store.Kind]Decoder{"a": func(data []byte) (any, error) {
		if v := followed.Load(); v != nil {
			if s := v.Current(); s != nil {
				midBatch.Add(1)
				if n := sum(s); n != total && !torn.Swap(true) {
					t.Errorf("revision %d published while a batch is applied: total %d, want %d (a torn read)", s.Revision(), n, total)
				}
			}
		}
		return Decode[doc](data)
	}}
	v := New(follow(st), checking)
	defer v.Close()
	if _, err := v.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	followed.Store(v)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				s, err := v.Snapshot(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n := sum(s); n != total {
					t.Errorf("revision %d: total %d, want %d (a torn read)", s.Revision(), n, total)
					return
				}
				reads.Add(1)
			}
		}()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var last int64
	for range 300 {
		from, to, n := rng.IntN(records), rng.IntN(records), rng.IntN(20)
		var err error
		if last, err = st.Update(ctx, func(tx store.Tx) error {
			a, _, _ := store.GetAs[doc](tx, "a", fmt.Sprint("r", from))
			a.N -= n
			if err := put(tx, "a", fmt.Sprint("r", from), "x", "y", a); err != nil {
				return err
			}
			b, _, _ := store.GetAs[doc](tx, "a", fmt.Sprint("r", to))
			b.N += n
			return put(tx, "a", fmt.Sprint("r", to), "x", "y", b)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Wait(ctx, last); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
	if reads.Load() == 0 || midBatch.Load() == 0 {
		t.Errorf("%d reads, %d checks during batches; want some of each", reads.Load(), midBatch.Load())
	}
}

// TestReadsAreLinearizable: a read that starts after a write committed
// sees it, whichever goroutine wrote.
func TestReadsAreLinearizable(t *testing.T) {
	ctx := context.Background()
	st := open(t)
	v := New(st, kinds)
	defer v.Close()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				id := fmt.Sprintf("w%d-%d", w, i)
				if _, err := st.Update(ctx, func(tx store.Tx) error { return put(tx, "b", id, "x", "y", doc{N: i}) }); err != nil {
					t.Error(err)
					return
				}
				s, err := v.Snapshot(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if Object[doc](s, "b", id) == nil {
					t.Errorf("a read after writing %s does not see it (view at %d)", id, s.Revision())
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestStopsWithTheStore: the follower ends when the store closes.
func TestStopsWithTheStore(t *testing.T) {
	st, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	v := New(st, kinds)
	if _, err := v.Wait(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	st.Close()
	select {
	case <-v.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the follower did not stop when the store closed")
	}
}

// TestGlobalRecordsListedOnce: records without an account or a region (the
// accounts and keys) are listed once, whether the view loaded them at start
// or followed their writes.
func TestGlobalRecordsListedOnce(t *testing.T) {
	ctx := context.Background()
	recs := []struct{ id, account, region string }{
		{"global", "", ""}, {"acct-only", "x", ""}, {"region-only", "", "r"}, {"both", "x", "r"},
	}
	write := func(st store.Store, suffix string) {
		for _, r := range recs {
			if _, err := st.Update(ctx, func(tx store.Tx) error { return put(tx, "a", r.id+suffix, r.account, r.region, doc{}) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := open(t)
	write(st, "-before") // loaded at start
	v := New(st, kinds)
	defer v.Close()
	write(st, "-after") // followed
	s, err := v.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []store.Query{{}, {Account: "x"}, {Region: "r"}, {Account: "x", Region: "r"}} {
		list, err := s.List("a", q)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, r := range list {
			if seen[r.ID] {
				t.Errorf("query %+v lists %s twice", q, r.ID)
			}
			seen[r.ID] = true
		}
	}
}
