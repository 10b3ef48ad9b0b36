package flowstore

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The records directory is trusted with what the server acknowledged: a
// symlink planted in it (or the directory itself a link, or writable by
// others) would let another user redirect a truncate or delete to any
// file the server may write. So files are opened without following links
// and checked before they are cut or deleted.

// checkDir refuses a records directory that is a symlink, not owned by
// this user, or writable by its group or by everyone.
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("flow records: %w", err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("flow records: %s is a symbolic link; give the real directory", dir)
	case !fi.IsDir():
		return fmt.Errorf("flow records: %s is not a directory", dir)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("flow records: %s is writable by its group or by everyone; chmod go-w it", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("flow records: %s is owned by uid %d, not by this user (uid %d); chown it or give another directory", dir, st.Uid, os.Getuid())
	}
	return nil
}

// openFile opens a file of the directory without following a symlink.
func openFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag|syscall.O_NOFOLLOW, perm)
}

// regular returns an error unless path is a regular file (not a link).
func regular(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file; not touching it", path)
	}
	return nil
}

// removeFile deletes a regular file of the directory, never a link's target
// (os.Remove does not follow one either, but a segment that is a link is
// not ours to drop).
func removeFile(path string) error {
	if err := regular(path); err != nil {
		return err
	}
	return os.Remove(path)
}

// truncateFile cuts a regular file of the directory, through a descriptor
// opened without following links (os.Truncate would follow one).
func truncateFile(path string, size int64) error {
	f, err := openFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file; not cutting it", path)
	}
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}

// createdName is the marker of when the store began: records before that
// time were never kept, so completeness never reaches before it.
const createdName = "created"

// loadCreated reads the marker, or writes it: at the first Open, or when
// it is missing from a directory that has records (nothing before now is
// then claimed complete).
func (s *Store) loadCreated() error {
	path := filepath.Join(s.opt.Dir, createdName)
	f, err := openFile(path, os.O_RDONLY, 0)
	if err == nil {
		defer f.Close()
		b := make([]byte, 64)
		n, _ := f.Read(b)
		t, perr := time.Parse(time.RFC3339, strings.TrimSpace(string(b[:n])))
		if perr == nil {
			s.created = t
			return nil
		}
		s.opt.Log.Warn("flow records: unreadable creation marker; counting from now", "path", path)
		if err := removeFile(path); err != nil {
			return fmt.Errorf("flow records: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("flow records: %w", err)
	} else {
		s.fresh = true
	}
	return s.writeCreated(path)
}

// writeCreated writes the marker (s.created) and syncs it and its name.
func (s *Store) writeCreated(path string) error {
	f, err := openFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("flow records: %w", err)
	}
	_, err = f.WriteString(s.created.UTC().Format(time.RFC3339) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("flow records: %w", err)
	}
	syncDir(s.opt.Dir)
	return nil
}

// maxEnd is the newest End among recs (0: none).
func maxEnd(recs []Record) int64 {
	var e int64
	for _, r := range recs {
		e = max(e, r.End)
	}
	return e
}

// CompleteSince is the time since when the store holds every record of
// account shipped to it: the latest of the age limit at now, the store's
// creation, the newest record deleted for size (of this account: a host's
// files deleted count only for the accounts that had records in them;
// of every account: a file of the former layout, or a marker lost), and
// the newest of the account's records dropped for its count cap.
func (s *Store) CompleteSince(account string, now time.Time) time.Time {
	s.mu.RLock()
	since := now.Add(-s.maxAge)
	drop := s.countDrop[account] // SetLimits trims at once: nothing over the count is held
	size := s.sizeDrop[account]
	s.mu.RUnlock()
	if s.created.After(since) {
		since = s.created
	}
	for _, t := range []int64{s.completeAll.Load(), size, drop} {
		if t != 0 && time.Unix(t, 0).After(since) {
			since = time.Unix(t, 0)
		}
	}
	return since
}

// completeName is the marker of the time up to which the size cap deleted
// records (CompleteSince): written before the segment is deleted, so that
// a restart never claims records complete that are gone. Its first line is
// the time that holds for every account ("none": the cap has deleted
// nothing of all), each next one a time and the account it holds for.
const completeName = "complete"

// maxMarkerBytes bounds the marker read back: a line per account that
// lost records for size within the age limit.
const maxMarkerBytes = 16 << 20

// loadComplete reads the marker. Missing or unreadable in a directory
// that holds records or was begun before (a store of an older version, a
// lost file, or one removed when the disk was full), the
// deletions are not known: nothing before now is claimed complete. The
// marker is then written, so that the next Open finds it.
func (s *Store) loadComplete() error {
	path := filepath.Join(s.opt.Dir, completeName)
	f, err := openFile(path, os.O_RDONLY, 0)
	switch {
	case err == nil:
		b, rerr := io.ReadAll(io.LimitReader(f, maxMarkerBytes+1))
		f.Close()
		if all, per, ok := parseMarker(b); ok && rerr == nil && len(b) <= maxMarkerBytes {
			s.completeAll.Store(all)
			s.sizeDrop = per
			c := all
			for _, t := range per {
				c = max(c, t)
			}
			s.complete.Store(c)
			return nil
		}
		s.opt.Log.Warn("flow records: unreadable completeness marker; counting from now", "path", path)
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("flow records: %w", err)
	case s.nsegs > 0 || !s.fresh:
		// Records, or a store begun before: the marker may have been
		// removed because the disk was full (makeRoom), deletions unknown.
		s.opt.Log.Warn("flow records: no completeness marker in a store begun before; counting from now", "path", path)
	default:
		return s.saveComplete(0, nil)
	}
	now := s.opt.Now().Unix()
	if err := s.saveComplete(now, nil); err != nil {
		return err
	}
	s.completeAll.Store(now)
	s.complete.Store(now)
	return nil
}

// parseMarker reads the marker's text: the time for every account (0:
// none) and those per account.
func parseMarker(b []byte) (all int64, per map[string]int64, ok bool) {
	first, rest, _ := strings.Cut(string(b), "\n")
	if v := strings.TrimSpace(first); v != "none" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return 0, nil, false
		}
		all = t.Unix()
	}
	per = map[string]int64{}
	for ln := range strings.Lines(rest) {
		v, acct, found := strings.Cut(strings.TrimSuffix(ln, "\n"), " ")
		t, err := time.Parse(time.RFC3339, v)
		if !found || err != nil {
			return 0, nil, false
		}
		per[acct] = max(per[acct], t.Unix())
	}
	return all, per, true
}

// markerText is the marker's text for all (0: none) and per.
func markerText(all int64, per map[string]int64) string {
	var b strings.Builder
	if all == 0 {
		b.WriteString("none\n")
	} else {
		b.WriteString(time.Unix(all, 0).UTC().Format(time.RFC3339) + "\n")
	}
	for _, a := range slices.Sorted(maps.Keys(per)) {
		b.WriteString(time.Unix(per[a], 0).UTC().Format(time.RFC3339) + " " + a + "\n")
	}
	return b.String()
}

// writeMarker writes the completeness marker's temporary file; a seam:
// tests make it fail as a full disk does.
var writeMarker = (*os.File).WriteString

// dropComplete removes the completeness marker (if any) and syncs the
// directory: a restart then claims nothing complete before it.
func (s *Store) dropComplete() error {
	path := filepath.Join(s.opt.Dir, completeName)
	if err := removeFile(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("flow records: %w", err)
	}
	d, err := os.Open(s.opt.Dir)
	if err != nil {
		return fmt.Errorf("flow records: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("flow records: %w", err)
	}
	return nil
}

// saveComplete replaces the marker with all (Unix seconds; 0: none) and
// per atomically: a temporary file, opened without following links and
// synced, renamed over it, and the directory synced.
func (s *Store) saveComplete(all int64, per map[string]int64) error {
	path := filepath.Join(s.opt.Dir, completeName)
	tmp := path + ".tmp"
	if err := removeFile(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("flow records: %w", err) // not a regular file: not ours
	}
	f, err := openFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("flow records: %w", err)
	}
	_, err = writeMarker(f, markerText(all, per))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path) // replaces a link at path, never its target
	}
	if err != nil {
		removeFile(tmp)
		return fmt.Errorf("flow records: %w", err)
	}
	syncDir(s.opt.Dir)
	return nil
}

// syncDir makes the directory's names durable (best effort: a failure
// leaves at most a name to be made again).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
