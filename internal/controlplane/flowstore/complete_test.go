package flowstore

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCompleteSinceCountCap: records an account's count cap dropped make
// its records incomplete up to their newest End, for that account only;
// the creation of the store bounds every account.
func TestCompleteSinceCountCap(t *testing.T) {
	now := t0
	clock := func() time.Time { return now }
	for _, tc := range []struct {
		name    string
		dir     bool
		perAcct int
		n       int       // records of "a", one a minute ending at t0-n min … t0-1 min
		want    time.Time // CompleteSince("a")
		wantB   time.Time // CompleteSince("b")
	}{
		{"under the cap", false, 10, 5, t0.Add(-time.Hour), t0.Add(-time.Hour)},
		{"over the cap", false, 3, 5, t0.Add(-4 * time.Minute), t0.Add(-time.Hour)},
		{"over the cap, on disk", true, 3, 5, t0.Add(-4 * time.Minute), t0.Add(-time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = t0.Add(-time.Hour) // the store begins an hour ago
			o := Options{MaxPerAccount: tc.perAcct, MaxAge: 24 * time.Hour, Now: clock, Log: quiet}
			if tc.dir {
				o.Dir = t.TempDir()
			}
			s := open(t, o)
			now = t0
			for i := tc.n; i >= 1; i-- {
				if err := s.Append([]Record{rec("a", i, t0.Add(-time.Duration(i)*time.Minute))}, now); err != nil {
					t.Fatal(err)
				}
			}
			if got := s.CompleteSince("a", now); !got.Equal(tc.want) {
				t.Errorf("CompleteSince(a) = %v, want %v", got.UTC(), tc.want)
			}
			if got := s.CompleteSince("b", now); !got.Equal(tc.wantB) {
				t.Errorf("CompleteSince(b) = %v, want %v", got.UTC(), tc.wantB)
			}
		})
	}
}

// TestCreatedMarker: the first Open writes when the store began, later
// ones read it back; a directory with records but no marker counts from
// now.
func TestCreatedMarker(t *testing.T) {
	now := t0
	o := Options{Dir: t.TempDir(), MaxAge: 30 * 24 * time.Hour, Now: func() time.Time { return now }, Log: quiet}
	s := open(t, o)
	if err := s.Append([]Record{rec("a", 1, t0)}, t0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	now = t0.Add(48 * time.Hour)
	r := open(t, o)
	if got := r.CompleteSince("a", now); !got.Equal(t0) {
		t.Errorf("after a restart: complete since %v, want the creation %v", got.UTC(), t0)
	}
	r.Close()
	if err := os.Remove(filepath.Join(o.Dir, createdName)); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(72 * time.Hour)
	r2 := open(t, o)
	if got := r2.CompleteSince("a", now); !got.Equal(now) {
		t.Errorf("marker lost: complete since %v, want now %v", got.UTC(), now)
	}
	if b, err := os.ReadFile(filepath.Join(o.Dir, createdName)); err != nil || !strings.HasPrefix(string(b), now.Format(time.RFC3339)) {
		t.Errorf("marker not rewritten: %q %v", b, err)
	}
}

// TestBadLineMidFile: a bad whole line of the last file (even its last
// one: it was acknowledged) is skipped and counted, never cut; only an
// unterminated tail is.
func TestBadLineMidFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		junk string // inserted after the first record
		tail string // appended at the end
		want int    // records of "a" after reload
		torn int
		cut  int // bytes cut from the end
	}{
		{"bad whole line", "{not json}\n", "", 3, 1, 0},
		{"bad line and torn tail", "{not json}\n", `{"AccountId":"a"`, 3, 2, 16},
		{"torn tail only", "", `{"AccountId":"a"`, 3, 1, 16},
		{"bad whole last line", "", "{not json}\n", 3, 1, 0},
		{"bad whole last line, then a torn tail", "", "{not json}\n{\"Acc", 3, 2, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, Options{Dir: dir, Log: quiet})
			for i := range 3 {
				if err := s.Append([]Record{rec("a", i, time.Now())}, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			files, _ := filepath.Glob(filepath.Join(dir, segPrefix+"*"))
			b, _ := os.ReadFile(files[0])
			first := strings.IndexByte(string(b), '\n') + 1
			b = []byte(string(b[:first]) + tc.junk + string(b[first:]) + tc.tail)
			if err := os.WriteFile(files[0], b, 0o600); err != nil {
				t.Fatal(err)
			}
			r := open(t, Options{Dir: dir, Log: quiet})
			if got, st := len(r.Of("a", time.Now())), r.Stats(); got != tc.want || st.Torn != tc.torn {
				t.Errorf("reloaded %d records (%d torn), want %d (%d torn)", got, st.Torn, tc.want, tc.torn)
			}
			after, _ := os.ReadFile(files[0])
			if want := len(b) - tc.cut; len(after) != want {
				t.Errorf("file is %d bytes after load, want %d (only the unterminated tail cut)", len(after), want)
			}
		})
	}
}

// TestUnsafeDir: a records directory that is a link, or writable by
// others, is refused; a segment that is a link is not followed.
func TestUnsafeDir(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	for _, tc := range []struct{ name, dir, want string }{
		{"symlink", link, "symbolic link"},
		{"world-writable", open, "writable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(Options{Dir: tc.dir, Log: quiet})
			if err == nil {
				s.Close()
				t.Fatalf("opened %s", tc.dir)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	t.Run("segment link", func(t *testing.T) {
		dir := t.TempDir()
		victim := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(victim, []byte("keep me, no newline"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, filepath.Join(dir, segPrefix+"00000000000000000000"+segSuffix)); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(Options{Dir: dir, Log: quiet}); err == nil {
			s.Close()
			t.Error("opened a directory whose segment is a link")
		}
		if b, _ := os.ReadFile(victim); string(b) != "keep me, no newline" {
			t.Errorf("the link's target was changed: %q", b)
		}
	})
}

// TestCompleteSurvivesRestart: after the size cap deleted records, a
// restart claims the same completeness (CompleteSince and Stats), not the
// larger one of the files left; a marker lost or unreadable beside records
// claims nothing before the restart, and one that is a link is refused.
func TestCompleteSurvivesRestart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		batches int // of 10 records, batch b ending at t0+b min
		tamper  func(t *testing.T, dir string)
		same    bool // the claim after the restart is the one before
		fromNow bool // else it is the restart's now
		refused bool // Open fails
	}{
		{"nothing deleted", 3, nil, true, false, false},
		{"deleted for size", 20, nil, true, false, false},
		{"marker lost", 20, func(t *testing.T, dir string) { remove(t, filepath.Join(dir, completeName)) }, false, true, false},
		{"marker unreadable", 20, func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, completeName), []byte("yesterday\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, false, true, false},
		{"marker a link", 20, func(t *testing.T, dir string) {
			remove(t, filepath.Join(dir, completeName))
			if err := os.Symlink(filepath.Join(t.TempDir(), "elsewhere"), filepath.Join(dir, completeName)); err != nil {
				t.Fatal(err)
			}
		}, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			o := Options{Dir: t.TempDir(), MaxBytes: 20000, SegmentBytes: 4000, MaxAge: 30 * 24 * time.Hour,
				Now: func() time.Time { return now }, Log: quiet}
			s := open(t, o)
			for b := range tc.batches {
				var batch []Record
				for i := range 10 {
					batch = append(batch, rec("a", b*10+i, t0.Add(time.Duration(b)*time.Minute)))
				}
				if err := s.Append(batch, now); err != nil {
					t.Fatal(err)
				}
			}
			now = t0.Add(time.Hour)
			before, stats := s.CompleteSince("a", now), s.Stats()
			if deleted := stats.DroppedForSize > 0; deleted != (tc.batches == 20) || deleted == stats.CompleteSince.IsZero() {
				t.Fatalf("dropped %d for size, complete since %v: the case does not hold", stats.DroppedForSize, stats.CompleteSince)
			}
			s.Close()
			if tc.tamper != nil {
				tc.tamper(t, o.Dir)
			}
			now = t0.Add(2 * time.Hour)
			r, err := Open(o)
			if tc.refused {
				if err == nil {
					r.Close()
					t.Fatal("opened a directory whose completeness marker is a link")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			after := r.CompleteSince("a", now)
			switch {
			case tc.same && !after.Equal(before):
				t.Errorf("after a restart: complete since %v, want %v as before", after.UTC(), before.UTC())
			case tc.same && !r.Stats().CompleteSince.Equal(stats.CompleteSince):
				t.Errorf("after a restart: Stats.CompleteSince %v, want %v", r.Stats().CompleteSince.UTC(), stats.CompleteSince.UTC())
			case tc.fromNow && !after.Equal(now):
				t.Errorf("marker gone: complete since %v, want the restart's now %v", after.UTC(), now)
			}
			// Read back once more: the marker the restart wrote holds.
			r.Close()
			r2 := open(t, o)
			if again := r2.CompleteSince("a", now); !again.Equal(after) {
				t.Errorf("second restart: complete since %v, want %v", again.UTC(), after.UTC())
			}
		})
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// TestCompleteDiskFull: when the disk is too full for the completeness
// marker, the size cap still deletes segments (records keep flowing) and
// removes the old marker, so that a restart claims records complete only
// from its own now, never since the store began; a store begun before
// with neither records nor marker claims the same.
func TestCompleteDiskFull(t *testing.T) {
	for _, tc := range []struct {
		name    string
		full    bool // writing the marker fails with ENOSPC
		batches int
	}{
		{"disk has room", false, 20},
		{"disk full", true, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			o := Options{Dir: t.TempDir(), MaxBytes: 20000, SegmentBytes: 4000, MaxAge: 30 * 24 * time.Hour,
				Now: func() time.Time { return now }, Log: quiet}
			s := open(t, o) // writes the marker "none"
			if tc.full {
				writeMarker = func(*os.File, string) (int, error) { return 0, syscall.ENOSPC }
				t.Cleanup(func() { writeMarker = (*os.File).WriteString })
			}
			for b := range tc.batches {
				var batch []Record
				for i := range 10 {
					batch = append(batch, rec("a", b*10+i, t0.Add(time.Duration(b)*time.Minute)))
				}
				if err := s.Append(batch, now); err != nil {
					t.Fatalf("batch %d: %v", b, err)
				}
			}
			st := s.Stats()
			if st.DroppedForSize == 0 || st.Bytes > o.MaxBytes {
				t.Fatalf("dropped %d for size, %d bytes: the cap did not delete", st.DroppedForSize, st.Bytes)
			}
			before := s.CompleteSince("a", now)
			s.Close()
			_, err := os.Lstat(filepath.Join(o.Dir, completeName))
			if tc.full != errors.Is(err, os.ErrNotExist) {
				t.Errorf("marker after a full disk %v: Lstat %v", tc.full, err)
			}
			if _, err := os.Lstat(filepath.Join(o.Dir, completeName+".tmp")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("temporary marker left behind: %v", err)
			}
			writeMarker = (*os.File).WriteString
			now = t0.Add(2 * time.Hour)
			r := open(t, o)
			want := before
			if tc.full {
				want = now
			}
			if got := r.CompleteSince("a", now); !got.Equal(want) {
				t.Errorf("after a restart: complete since %v, want %v", got.UTC(), want.UTC())
			}
			r.Close()
			// Every record and the marker gone: a store begun before still
			// claims nothing before now.
			files, _ := filepath.Glob(filepath.Join(o.Dir, segPrefix+"*"))
			for _, f := range append(files, filepath.Join(o.Dir, completeName)) {
				remove(t, f)
			}
			now = t0.Add(3 * time.Hour)
			r2 := open(t, o)
			if got := r2.CompleteSince("a", now); !got.Equal(now) {
				t.Errorf("no records, no marker: complete since %v, want now %v", got.UTC(), now)
			}
		})
	}
}

// TestMarkerText: the completeness marker reads back as written; the
// former one-line marker reads too; anything else is unreadable (and
// then nothing before the Open is claimed).
func TestMarkerText(t *testing.T) {
	t1, t2 := t0.Unix(), t0.Add(time.Minute).Unix()
	for _, tc := range []struct {
		name string
		text string // "" writes all and per
		all  int64
		per  map[string]int64
		ok   bool
	}{
		{"nothing deleted", "", 0, map[string]int64{}, true},
		{"every account", "", t1, map[string]int64{}, true},
		{"per account", "", t1, map[string]int64{"1234": t2, "acct with space": t2, "": t1}, true},
		{"the former marker", t0.Format(time.RFC3339) + "\n", t1, map[string]int64{}, true},
		{"the former none", "none\n", 0, map[string]int64{}, true},
		{"a bad first line", "yesterday\n", 0, nil, false},
		{"a bad account line", "none\nyesterday 1234\n", 0, nil, false},
		{"an account line without account", "none\n" + t0.Format(time.RFC3339) + "\n", 0, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.text
			if text == "" {
				text = markerText(tc.all, tc.per)
			}
			all, per, ok := parseMarker([]byte(text))
			if ok != tc.ok || ok && (all != tc.all || !maps.Equal(per, tc.per)) {
				t.Errorf("parseMarker(%q) = %d, %v, %v; want %d, %v, %v", text, all, per, ok, tc.all, tc.per, tc.ok)
			}
		})
	}
}
