package flowstore

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// copyDir copies the files of dir into a new directory (a crash's image).
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, n.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestNumberingCrashAtDelete: a kill -9 right after retention deleted the
// file of the newest records (before anything else reached the disk)
// still leaves the numbering: a restart numbers the next record after
// the newest ever kept, so a NextToken from before skips nothing. The mark
// was written only after the deletions: a crash in between numbered the
// next records again from the files left.
func TestNumberingCrashAtDelete(t *testing.T) {
	for _, tc := range []struct {
		name   string
		others bool // another host's older records stay
		age    bool // deleted for age (Prune), not for size
	}{
		{"the only host, for size", false, false},
		{"beside another host's, for size", true, false},
		{"beside another host's, for age", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			dir := t.TempDir()
			o := Options{Dir: dir, MaxBytes: 4000, MaxAge: time.Hour, Now: func() time.Time { return now }, Log: quiet}
			if tc.age {
				o.MaxBytes = 1 << 20
			}
			s := open(t, o)
			if tc.others {
				if err := s.Append(hostBatch("a", "other", 0, 1), now); err != nil {
					t.Fatal(err)
				}
			}
			x := hostBatch("a", "x", 10, 5)
			if tc.age {
				for i := range x {
					x[i].End = t0.Add(-50 * time.Minute).Unix()
				}
			}
			if err := s.Append(x, now); err != nil {
				t.Fatal(err)
			}
			_, seqs := s.OfSeq("a", now)
			next := seqs[len(seqs)-1] + 1
			var image string
			removeSegment = func(path string) error {
				err := removeFile(path)
				if image == "" {
					image = copyDir(t, dir) // the crash: nothing after the deletion is on disk
				}
				return err
			}
			t.Cleanup(func() { removeSegment = removeFile })
			if tc.age {
				now = t0.Add(20 * time.Minute)
				s.Prune(now)
			} else if err := s.Append(hostBatch("a", "x", 20, 5), now); err != nil {
				t.Fatal(err)
			}
			removeSegment = removeFile
			if image == "" {
				t.Fatal("nothing was deleted: the case does not hold")
			}
			o.Dir = image
			r := open(t, o)
			if err := r.Append(hostBatch("a", "y", 30, 1), now); err != nil {
				t.Fatal(err)
			}
			if _, seqs := r.OfSeq("a", now); seqs[len(seqs)-1] < next {
				t.Errorf("after the crash the new record is numbered %d; want at least %d, after every record before (positions %v)", seqs[len(seqs)-1], next, seqs)
			}
		})
	}
}
