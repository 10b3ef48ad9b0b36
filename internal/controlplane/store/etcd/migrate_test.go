package etcd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
)

// fill writes a small history into st: puts over several kinds, accounts
// and regions, an overwrite, a delete, several records in one revision,
// and a ClientToken.
func fill(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	upd := func(fn func(tx store.Tx) error) {
		t.Helper()
		if _, err := st.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 12 {
		upd(func(tx store.Tx) error {
			return tx.Put(store.Record{Kind: store.Kind([]string{"sg", "vpc", "instance"}[i%3]), ID: fmt.Sprintf("id-%02d", i),
				Account: fmt.Sprintf("acct-%d", i%2), Region: "cn-hangzhou", Data: []byte(fmt.Sprintf(`{"n":%d}`, i))})
		})
	}
	upd(func(tx store.Tx) error {
		return tx.Put(store.Record{Kind: "sg", ID: "id-00", Account: "acct-0", Region: "cn-hangzhou", Data: []byte(`{"n":100}`)})
	})
	upd(func(tx store.Tx) error { return tx.Delete("vpc", "id-01") })
	upd(func(tx store.Tx) error {
		if err := tx.Put(store.Record{Kind: "account", ID: "acct-0", Data: []byte(`{}`)}); err != nil {
			return err
		}
		if err := tx.Put(store.Record{Kind: "account", ID: "acct-1", Data: []byte(`{}`)}); err != nil {
			return err
		}
		return tx.PutToken(store.Token{Account: "acct-0", Token: "tok-1", Action: "CreateSecurityGroup", ParamsHash: "h",
			Response: []byte(`{"SecurityGroupId":"sg-1"}`), Created: time.UnixMicro(1_700_000_000_000_001)})
	})
}

// everything reads a store back as a Dump (records by kind and ID, the
// whole change log, the token fill wrote).
func everything(t *testing.T, st store.Store) *store.Dump {
	t.Helper()
	ctx := context.Background()
	d := &store.Dump{}
	err := st.View(ctx, func(tx store.ReadTx) error {
		d.Revision = tx.Revision()
		for _, k := range []store.Kind{"account", "instance", "sg", "vpc"} {
			rs, err := tx.List(k, store.Query{})
			if err != nil {
				return err
			}
			d.Records = append(d.Records, rs...)
		}
		tok, ok, err := tx.Token("acct-0", "tok-1")
		if ok {
			tok.Created = tok.Created.UTC()
			d.Tokens = append(d.Tokens, tok)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.Changes, err = st.Changes(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestImportFromSQLite: a SQLite store copied into etcd (palisade db
// migrate) reads the same there: revision, records with their revisions,
// change log, tokens; the next write continues the revisions; and an
// import into a store that is not empty is refused, changing nothing.
func TestImportFromSQLite(t *testing.T) {
	ctx := context.Background()
	src, err := sqlite.Open(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fill(t, src)
	d, err := src.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Revision != 15 || len(d.Records) != 13 || len(d.Tokens) != 1 || len(d.Changes) != 16 {
		t.Fatalf("dump: revision %d, %d records, %d tokens, %d changes; want 15, 13, 1, 16", d.Revision, len(d.Records), len(d.Tokens), len(d.Changes))
	}
	open := opener(etcdtest.Embedded(t))
	dst := open(t)
	if err := dst.Import(ctx, d); err != nil {
		t.Fatal(err)
	}
	want, got := everything(t, src), everything(t, dst)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("imported store reads\n%+v\nwant\n%+v", got, want)
	}
	rev, err := dst.Update(ctx, func(tx store.Tx) error {
		return tx.Put(store.Record{Kind: "sg", ID: "id-99", Data: []byte(`{}`)})
	})
	if err != nil || rev != d.Revision+1 {
		t.Fatalf("first write after the import: revision %d, %v; want %d", rev, err, d.Revision+1)
	}
	err = dst.Import(ctx, d)
	if err == nil || !strings.Contains(err.Error(), "empty store") {
		t.Fatalf("import into a store that is not empty: %v; want a refusal", err)
	}
	if r, _ := dst.Revision(ctx); r != d.Revision+1 {
		t.Fatalf("a refused import moved the revision to %d", r)
	}
}

// TestSnapshot: a snapshot of the member is written whole under the name
// asked for, and never over an existing file.
func TestSnapshot(t *testing.T) {
	url := etcdtest.Embedded(t)
	s := opener(url)(t)
	fill(t, s)
	dst := filepath.Join(t.TempDir(), "etcd.snap")
	n, err := Snapshot(context.Background(), url, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil || fi.Size() != n || n < 4096 {
		t.Fatalf("snapshot of %d bytes; file %v, %v", n, fi, err)
	}
	if _, err := Snapshot(context.Background(), url, dst, nil); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("snapshot over an existing file: %v", err)
	}
}

// TestImportBoundsTransactions: a store larger than one etcd request may
// carry (1.5 MiB by default) is imported in several transactions, and a
// dump found bad is refused before anything is written.
func TestImportBoundsTransactions(t *testing.T) {
	ctx := context.Background()
	src, err := sqlite.Open(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	big := []byte(`{"x":"` + strings.Repeat("a", 100<<10) + `"}`)
	for i := range 40 { // 4 MB in all, 40 puts: one transaction by count
		if _, err := src.Update(ctx, func(tx store.Tx) error {
			return tx.Put(store.Record{Kind: "sg", ID: fmt.Sprintf("id-%02d", i), Data: big})
		}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := src.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	open := opener(etcdtest.Embedded(t))
	bad := *d
	bad.Records = slices.Clone(d.Records)
	bad.Records[len(bad.Records)-1].Revision = d.Revision + 1
	dst := open(t)
	if err := dst.Import(ctx, &bad); err == nil {
		t.Fatal("a record past the dump's revision was imported")
	}
	if err := dst.Import(ctx, d); err != nil {
		t.Fatalf("import after a refused one: %v", err)
	}
	if want, got := everything(t, src), everything(t, dst); !reflect.DeepEqual(got, want) {
		t.Fatal("the imported store reads differently from the source")
	}
}
