package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	failed := errors.New("fill failed")
	for _, tc := range []struct {
		name string
		fill func(io.Writer) error
		want string // the file's content after
		err  error
	}{
		{"new", func(w io.Writer) error { _, err := io.WriteString(w, "one"); return err }, "one", nil},
		{"replace", func(w io.Writer) error { _, err := io.WriteString(w, "two"); return err }, "two", nil},
		{"failed fill keeps the old", func(w io.Writer) error { io.WriteString(w, "half"); return failed }, "two", failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Write(path, 0o600, tc.fill); !errors.Is(err, tc.err) {
				t.Fatalf("Write: %v, want %v", err, tc.err)
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != tc.want {
				t.Errorf("content %q (%v), want %q", got, err, tc.want)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v (%v), want 0600", fi.Mode(), err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("%d files in the directory, want 1 (no temporary file left)", len(ents))
			}
		})
	}
	if err := WriteBytes(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644); err == nil {
		t.Error("WriteBytes into a missing directory succeeded")
	}
}
