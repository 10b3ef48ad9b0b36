package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// inOneBatch runs fns as queued Updates of one batch of s, in order, and
// returns their errors.
func inOneBatch(t *testing.T, s *Store, fns ...func(store.Tx) error) []error {
	t.Helper()
	s.wlock <- struct{}{} // hold the writer so the Updates queue up
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
	<-s.wlock
	wg.Wait()
	return errs
}

// TestBatchWritesInMemory: the Updates of a batch keep their writes in
// memory until its end. Each reads (Get, List, Token) what those before it
// wrote, never what a failed one wrote, and its own; the batch then
// stores each record's last state at the revision that wrote it, and each
// token, as another process reading the file sees them.
func TestBatchWritesInMemory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.db")
	s := openT(t, path)
	rec := func(id, data string) store.Record {
		return store.Record{Kind: "k", ID: id, Account: "acct", Region: "r", Data: []byte(data)}
	}
	base, err := s.Update(ctx, func(tx store.Tx) error {
		for _, r := range []store.Record{rec("old", `"old"`), rec("kept", `"kept"`), rec("moved", `"moved"`)} {
			if err := tx.Put(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := func(token, resp string) store.Token {
		return store.Token{Account: "acct", Token: token, Action: "A", ParamsHash: "h", Response: []byte(resp), Created: time.Unix(1, 2345678).UTC()}
	}
	listed := func(tx store.ReadTx, q store.Query) string {
		rs, err := tx.List("k", q)
		if err != nil {
			return err.Error()
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.ID+"="+string(r.Data))
		}
		return strings.Join(out, " ")
	}
	var seen []string
	see := func(tx store.Tx) {
		_, okFailed, _ := tx.Get("k", "failed")
		t1, okT1, _ := tx.Token("acct", "t1")
		_, okT2, _ := tx.Token("acct", "t2")
		seen = append(seen, fmt.Sprintf("[%s] [%s] failed:%v t1:%v=%s t2:%v", listed(tx, store.Query{Account: "acct"}), listed(tx, store.Query{Region: "elsewhere"}), okFailed, okT1, t1.Response, okT2))
	}
	errs := inOneBatch(t, s,
		func(tx store.Tx) error {
			see(tx)
			if err := tx.Put(rec("a", `"a1"`)); err != nil {
				return err
			}
			if err := tx.Delete("k", "old"); err != nil {
				return err
			}
			r := rec("moved", `"moved"`)
			r.Region = "elsewhere"
			if err := tx.Put(r); err != nil {
				return err
			}
			return tx.PutToken(tok("t1", "first"))
		},
		func(tx store.Tx) error {
			tx.Put(rec("failed", `"failed"`))
			tx.Delete("k", "kept")
			tx.PutToken(tok("t2", "failed"))
			see(tx)
			return errors.New("refused")
		},
		func(tx store.Tx) error {
			see(tx)
			if err := tx.Put(rec("a", `"a2"`)); err != nil {
				return err
			}
			if err := tx.Put(rec("old", `"back"`)); err != nil {
				return err
			}
			if err := tx.Delete("k", "never"); err != nil { // absent: no change
				return err
			}
			if err := tx.PutToken(tok("t1", "again")); err != nil {
				return err
			}
			see(tx)
			return nil
		},
	)
	if errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("Update errors %v, want only the second", errs)
	}
	want := []string{
		`[kept="kept" moved="moved" old="old"] [] failed:false t1:false= t2:false`,
		`[a="a1" failed="failed" moved="moved"] [moved="moved"] failed:true t1:true=first t2:true`,
		`[a="a1" kept="kept" moved="moved"] [moved="moved"] failed:false t1:true=first t2:false`,
		`[a="a2" kept="kept" moved="moved" old="back"] [moved="moved"] failed:false t1:true=again t2:false`,
	}
	if got := strings.Join(seen, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("reads in the batch:\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	// What is stored, read by another process.
	other := openT(t, path)
	err = other.View(ctx, func(tx store.ReadTx) error {
		if got, want := listed(tx, store.Query{}), `a="a2" kept="kept" moved="moved" old="back"`; got != want {
			t.Errorf("stored %s, want %s", got, want)
		}
		if got, want := listed(tx, store.Query{Region: "r"}), `a="a2" kept="kept" old="back"`; got != want {
			t.Errorf("stored in region r: %s, want %s", got, want)
		}
		for id, rev := range map[string]int64{"a": base + 2, "old": base + 2, "moved": base + 1, "kept": base} {
			if r, ok, err := tx.Get("k", id); err != nil || !ok || r.Revision != rev {
				t.Errorf("%s: revision %d (%v, %v), want %d", id, r.Revision, ok, err, rev)
			}
		}
		if got, ok, err := tx.Token("acct", "t1"); err != nil || !ok || string(got.Response) != "again" || !got.Created.Equal(time.Unix(1, 2345000)) {
			t.Errorf("token t1 = %+v, %v, %v; want the last one written", got, ok, err)
		}
		if _, ok, err := tx.Token("acct", "t2"); err != nil || ok {
			t.Errorf("token of the failed Update stored (%v, %v)", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := other.Changes(ctx, base, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, fmt.Sprintf("%d/%s:%s@%s", c.Revision-base, c.ID, c.Op, c.Region))
	}
	if want := "1/a:put@r 1/old:delete@r 1/moved:put@elsewhere 2/a:put@r 2/old:put@r"; strings.Join(got, " ") != want {
		t.Errorf("change log %s, want %s", strings.Join(got, " "), want)
	}
}
