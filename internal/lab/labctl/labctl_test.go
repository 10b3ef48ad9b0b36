package labctl

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRemoveStore: a lab's store goes whole, its flow records' folder
// included, and another lab's (a name that only starts the same) stays.
func TestRemoveStore(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.db", "a.db-wal", "a.db.events", "a.db.flows/seg-1", "a.db.server-id", "ab.db", "ab.db.flows/seg-1", "a-server.log"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removeStore(dir, "a")
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			left = append(left, rel)
		}
		return nil
	})
	slices.Sort(left)
	if want := []string{"a-server.log", "ab.db", "ab.db.flows/seg-1"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

// TestDownRefusesABadName: a name that is not a lab's ("*", a path) is
// refused before anything is removed: it makes the globs of Down.
func TestDownRefusesABadName(t *testing.T) {
	for _, name := range []string{"*", "a*", "../x", ""} {
		if err := Down(name, &Control{}); err == nil || !strings.Contains(err.Error(), "lowercase letters and digits") {
			t.Errorf("Down(%q): %v; want the name refused", name, err)
		}
	}
}
