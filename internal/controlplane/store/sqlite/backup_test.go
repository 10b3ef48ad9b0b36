package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// TestBackupWhileWriting: a backup taken while a writer keeps writing is
// the store at one revision: the copy holds exactly the records written up
// to the revision Backup reports (one record per revision), and opens as
// a store of its own.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srcPath := filepath.Join(dir, "p.db")
	src := openT(t, srcPath)
	put := func(i int) error {
		_, err := src.Update(ctx, func(tx store.Tx) error {
			return tx.Put(store.Record{Kind: "sg", ID: fmt.Sprintf("sg-%04d", i), Account: "a", Region: "r", Data: []byte(`{}`)})
		})
		return err
	}
	for i := range 50 {
		if err := put(i); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 50; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := put(i); err != nil {
				t.Error(err)
				return
			}
		}
	})
	dst := filepath.Join(dir, "backup.db")
	rev, err := Backup(ctx, srcPath, dst)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	cp := openT(t, dst)
	var n int
	var crev int64
	err = cp.View(ctx, func(tx store.ReadTx) error {
		rs, err := tx.List("sg", store.Query{})
		n, crev = len(rs), tx.Revision()
		for _, r := range rs {
			if r.Revision > rev {
				return fmt.Errorf("record %s at revision %d, after the backup's %d", r.ID, r.Revision, rev)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rev < 50 || crev != rev || int64(n) != rev {
		t.Fatalf("backup at revision %d: the copy is at %d with %d records; want %d of each (and at least 50)", rev, crev, n, rev)
	}
}

func TestBackupRefuses(t *testing.T) {
	dir := t.TempDir()
	stPath := filepath.Join(dir, "p.db")
	openT(t, stPath)
	other := filepath.Join(dir, "other.txt")
	os.WriteFile(other, []byte("not a database"), 0o600)
	exists := filepath.Join(dir, "exists.db")
	os.WriteFile(exists, nil, 0o600)
	for _, tc := range []struct{ name, src, dst, want string }{
		{"missing source", filepath.Join(dir, "nope.db"), filepath.Join(dir, "a.db"), "no such file"},
		{"not a store", other, filepath.Join(dir, "b.db"), "not a Palisade store"},
		{"existing copy", stPath, exists, "give a new file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Backup(context.Background(), tc.src, tc.dst)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Backup: %v; want an error saying %q", err, tc.want)
			}
		})
	}
}
