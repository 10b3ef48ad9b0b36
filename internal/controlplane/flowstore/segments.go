package flowstore

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The segment files are apart per host that recorded their records
// (seg-FIRST-HOST.jsonl, FIRST the sequence number of its first record),
// so that the size cap can delete the oldest files of the host holding
// the most bytes, as the count cap drops the oldest records of the host
// holding the most (trimCountLocked): a host (hostile, or broken) that
// floods records crowds out only its own, on disk too. The records of
// every host share one numbering (a position, Cursor, is one sequence
// number), so each batch's header says its first record's number (Seq):
// a restart numbers them as before. Files of the former layout
// (seg-FIRST.jsonl, every host's records, numbered by the name and the
// lines) still load; they count as one more host's, are never written to
// again, and go as retention deletes them.

// segment is one file of records.
type segment struct {
	path   string
	first  uint64 // the sequence number of its first record (its name's)
	last   uint64 // of its last record, when n > 0
	n      uint64 // its records
	bytes  int64
	maxEnd int64 // the newest End in it
	opened time.Time
	sealed bool // a write to it failed: the next one begins another
}

// files are one host's segment files, oldest first; the last one is
// written to.
type files struct {
	tag   string // hostTag(host); "" for the files of the former layout
	host  string // the HostName of its records
	known bool   // host is known (a record was written or loaded)
	segs  []*segment
	bytes int64
}

// drop is what a deleted segment held: a host's records numbered first
// to last, or (legacy: a file of the former layout) every host's records
// up to last.
type drop struct {
	legacy      bool
	host        string
	first, last uint64
}

const segPrefix, segSuffix = "seg-", ".jsonl"

// maxTagLen bounds a host's part of a file name; a longer one is named
// by its hash. (The server takes host names of at most 63 bytes.)
const maxTagLen = 100

// minSegmentBytes is the least size at which segLimit closes a segment
// (unless SegmentBytes is less): many hosts do not make many tiny files.
const minSegmentBytes = 64 << 10

// hostTag is a host's part of the names of its segment files: the name
// itself when it is letters, digits, '.', '_' and '-' (what the server
// takes), other bytes escaped (%XX), "%" for records of no host, and a
// name longer than maxTagLen by its hash ("%%" and hex). Never "".
func hostTag(host string) string {
	if host == "" {
		return "%"
	}
	var b strings.Builder
	for i := 0; i < len(host); i++ {
		if c := host[i]; tagByte(c) && c != '%' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if b.Len() > maxTagLen {
		sum := sha256.Sum256([]byte(host))
		return "%%" + hex.EncodeToString(sum[:16])
	}
	return b.String()
}

// tagByte reports whether c may be in a host's part of a file name.
func tagByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '%'
}

// segPath is the path of the segment of host tag (tag "": the former
// layout's name, which the numbering's mark takes too) that begins at
// first.
func (s *Store) segPath(first uint64, tag string) string {
	if tag == "" {
		return filepath.Join(s.opt.Dir, fmt.Sprintf("%s%020d%s", segPrefix, first, segSuffix))
	}
	return filepath.Join(s.opt.Dir, fmt.Sprintf("%s%020d-%s%s", segPrefix, first, tag, segSuffix))
}

// parseSegName reads a segment file's name; ok is false for a name that is
// not one.
func parseSegName(name string) (first uint64, tag string, ok bool) {
	rest, found := strings.CutPrefix(name, segPrefix)
	if rest, found = strings.CutSuffix(rest, segSuffix); !found {
		return 0, "", false
	}
	num, tag, tagged := strings.Cut(rest, "-")
	v, err := strconv.ParseUint(num, 10, 64)
	if err != nil || tagged && (tag == "" || len(tag) > maxTagLen || strings.ContainsFunc(tag, func(r rune) bool { return r >= 0x80 || !tagByte(byte(r)) })) {
		return 0, "", false
	}
	return v, tag, true
}

// load reads every segment, oldest first. A line that does not decode is
// skipped and counted, and so are the lines of a batch that is not whole;
// only the tail of each host's last file (a write a crash cut short,
// never acknowledged: a line without its newline, a batch without all
// its lines) is cut, since the lines after a bad whole line were
// acknowledged, and a host's earlier files are never written again.
func (s *Store) load() error {
	names, err := filepath.Glob(filepath.Join(s.opt.Dir, segPrefix+"*"+segSuffix))
	if err != nil {
		return err
	}
	type named struct {
		first uint64
		tag   string
		path  string
	}
	var list []named
	for _, n := range names {
		if first, tag, ok := parseSegName(filepath.Base(n)); ok {
			list = append(list, named{first, tag, n})
		}
	}
	// By number; the former layout's files (tag "") before a host's of the
	// same number (a mark left beside the segment that took its place).
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		return a.first < b.first || a.first == b.first && a.tag < b.tag
	})
	lastOf := map[string]int{} // each host's last file
	for i, f := range list {
		lastOf[f.tag] = i
	}
	nextOf := map[string]uint64{} // each host's next number
	now := s.opt.Now()
	for i, f := range list {
		fs := s.hosts[f.tag]
		if fs == nil {
			fs = &files{tag: f.tag}
		}
		next := max(f.first, s.seq) // the former layout numbers on
		if f.tag != "" {
			next = max(f.first, nextOf[f.tag])
		}
		sg := &segment{path: f.path, first: f.first, opened: now}
		good, next, err := s.loadFile(sg, fs, next)
		if err != nil {
			return fmt.Errorf("flow records: %s: %w", f.path, err)
		}
		if i == lastOf[f.tag] && good < sg.bytes {
			// A torn tail: cut it, so the file holds whole lines only.
			if err := truncateFile(f.path, good); err != nil {
				return fmt.Errorf("flow records: %s: %w", f.path, err)
			}
			sg.bytes = good
		}
		before := s.seq
		s.seq = max(s.seq, next)
		nextOf[f.tag] = next
		if sg.n == 0 { // nothing kept in it; its name may be the next segment's
			if i == len(list)-1 && f.first >= before {
				s.seq, s.mark = max(s.seq, f.first), f.path // the numbering's mark
				continue
			}
			if err := removeFile(f.path); err != nil {
				return fmt.Errorf("flow records: %w", err)
			}
			continue
		}
		fs.segs = append(fs.segs, sg)
		fs.bytes += sg.bytes
		s.hosts[f.tag] = fs
		s.nsegs++
		s.total += sg.bytes
	}
	// Each host's records are in its files in order, and after those of the
	// former layout; files changed by hand could break that, and the index
	// needs it.
	for _, ix := range s.byAcct {
		for _, h := range ix.hosts {
			if !slices.IsSorted(h.seqs) {
				sort.Stable(bySeq{h})
			}
		}
	}
	return nil
}

// bySeq sorts a host's records by their sequence numbers.
type bySeq struct{ h *hostRecs }

func (b bySeq) Len() int           { return len(b.h.seqs) }
func (b bySeq) Less(i, j int) bool { return b.h.seqs[i] < b.h.seqs[j] }
func (b bySeq) Swap(i, j int) {
	b.h.seqs[i], b.h.seqs[j] = b.h.seqs[j], b.h.seqs[i]
	b.h.recs[i], b.h.recs[j] = b.h.recs[j], b.h.recs[i]
}

// loadFile indexes one segment's records (of host fs), a whole batch at a
// time (lines without a batch header, of an older version, one at a
// time), numbered from their batch's Seq, or (the former layout's, whose
// headers have none) on from next; it returns the offset after the last
// whole line (ending in a newline), decoded or not, that is not part of a
// batch cut short, and the number after the file's.
func (s *Store) loadFile(sg *segment, fs *files, next uint64) (int64, uint64, error) {
	f, err := openFile(sg.path, os.O_RDONLY, 0)
	if err != nil {
		return 0, next, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	type held struct {
		rec  Record
		line int // in its batch
	}
	var (
		off, good int64
		batch     *header // the batch being read, nil between batches
		base      uint64  // its first record's number, when it says one
		from      int64   // the offset of its first line
		recs      []held  // its records so far
		lines     int     // its lines so far, decoded or not
	)
	keep := func(rec Record, seq uint64) {
		if fs.tag != "" { // a host's file holds that host's records only
			if !fs.known && hostTag(rec.HostName) == fs.tag {
				fs.host, fs.known = rec.HostName, true
			}
			if !fs.known || rec.HostName != fs.host {
				s.torn++
				return
			}
		}
		intern(&rec)
		s.addLocked(seq, rec)
		sg.n, sg.last, sg.maxEnd = sg.n+1, seq, max(sg.maxEnd, rec.End)
		next = max(next, seq+1)
	}
	// count counts a line of the open batch and keeps the batch once whole.
	count := func() {
		if lines++; lines >= batch.Records {
			for _, h := range recs {
				if batch.Seq != nil {
					keep(h.rec, base+uint64(h.line))
				} else {
					keep(h.rec, next)
				}
			}
			if batch.Seq != nil {
				next = max(next, base+uint64(batch.Records))
			}
			s.tokens.add(*batch)
			batch, recs = nil, nil
		}
	}
	for {
		b, err := r.ReadBytes('\n')
		start := off
		off += int64(len(b))
		if len(b) > 0 {
			var ln line
			whole := b[len(b)-1] == '\n'
			if whole {
				good = off
			}
			switch {
			case !whole:
				s.torn++
			case json.Unmarshal(b, &ln) != nil:
				s.torn++
				if batch != nil {
					count()
				}
			case ln.PalisadeBatch != nil:
				if batch != nil { // cut short: another batch began
					s.torn += lines
				}
				batch, from, recs, lines = ln.PalisadeBatch, start, []held{{ln.Record, 0}}, 0
				if batch.Seq != nil {
					base = max(*batch.Seq, next)
				}
				count()
			case batch != nil:
				recs = append(recs, held{ln.Record, lines})
				count()
			default: // a line of an older version
				keep(ln.Record, next)
			}
		}
		if errors.Is(err, io.EOF) {
			sg.bytes = off
			if batch != nil { // cut short by the end of the file
				s.torn += lines
				good = min(good, from)
			}
			return good, next, nil
		}
		if err != nil {
			return 0, next, err
		}
	}
}

// segLimit is the size at which a host's segment is closed: SegmentBytes,
// but at most an eighth of a host's share of MaxBytes (when every host
// holding files holds as much), so that the size cap deletes a host's
// records in steps of a part of its share, not all of them at once; and
// at least minSegmentBytes (or SegmentBytes, if less).
func (s *Store) segLimit() int64 {
	k := int64(max(len(s.hosts), 1))
	return max(min(s.opt.SegmentBytes, s.opt.MaxBytes/(8*k)), min(s.opt.SegmentBytes, minSegmentBytes))
}

// makeRoom deletes segments until n more bytes of host tag fit under
// MaxBytes, and those past the age limit: of host tag, or with tag ""
// (Prune) of every host. For size it deletes the oldest segment of the
// host holding the most bytes (tag's counted with n; the first by tag
// among equals), again until they fit: max-min fairness, as the count
// cap's, so a host holding no more than its share (MaxBytes over the
// hosts, less a batch) keeps all its files. It returns what was deleted
// (with an error too: what was deleted before it is gone).
func (s *Store) makeRoom(n int64, tag string, now time.Time) ([]drop, error) {
	var drops []drop
	cut := now.Add(-s.MaxAge()).Unix()
	expire := func(fs *files) error {
		for len(fs.segs) > 0 && fs.segs[0].maxEnd < cut {
			if err := s.deleteOldest(fs, false, cut, &drops); err != nil {
				return err
			}
		}
		return nil
	}
	if tag == "" {
		for _, fs := range s.hosts {
			if err := expire(fs); err != nil {
				return drops, err
			}
		}
	} else if fs := s.hosts[tag]; fs != nil {
		if err := expire(fs); err != nil {
			return drops, err
		}
	}
	for s.total+n > s.opt.MaxBytes {
		var most *files
		var mostBytes int64
		for t, fs := range s.hosts {
			b := fs.bytes
			if t == tag {
				b += n
			}
			if most == nil || b > mostBytes || b == mostBytes && t < most.tag {
				most, mostBytes = fs, b
			}
		}
		if most == nil {
			break // nothing left to delete: the batch alone passes the cap
		}
		if err := s.deleteOldest(most, true, cut, &drops); err != nil {
			return drops, err
		}
	}
	if len(drops) > 0 && s.filesEnd() < s.seq && s.mark != s.segPath(s.seq, "") {
		// The newest numbers went with a host's files (past the age, or
		// before a write that failed), not the others' (deleteOldest marks
		// them before it deletes the newest file, for a crash in between).
		s.markSeq()
	}
	return drops, nil
}

// filesEnd is the number after the newest record the files hold (0: none).
func (s *Store) filesEnd() uint64 {
	var end uint64
	for _, fs := range s.hosts {
		if sg := fs.segs[len(fs.segs)-1]; sg.n > 0 {
			end = max(end, sg.last+1)
		}
	}
	return end
}

// deleteOldest deletes the oldest segment of fs; forSize, its records
// within the age (cut) are lost, counted, and the completeness marker is
// moved past them first: for the accounts that had records in it (every
// account, for a file of the former layout).
func (s *Store) deleteOldest(fs *files, forSize bool, cut int64, drops *[]drop) error {
	old := fs.segs[0]
	lost := forSize && old.n > 0 && old.maxEnd >= cut // records before their age
	if lost {
		all, per, changed := s.lostTo(fs, old, cut)
		if changed {
			// On disk before the segment goes: after a crash in between,
			// the store claims less than it holds, never more.
			if err := s.saveComplete(all, per); err != nil {
				// A full disk has no room for the new marker, and only
				// deleting frees some: drop the old marker instead (that
				// frees space too), so that a restart claims records
				// complete only from then on, never more than it holds.
				if rerr := s.dropComplete(); rerr != nil {
					return fmt.Errorf("%w: %v; %v", ErrWrite, err, rerr)
				}
				s.opt.Log.Warn("flow records: could not save the completeness marker; removed it (a restart claims records complete only from then)", "err", err)
			}
			s.completeAll.Store(all)
			s.mu.Lock()
			s.sizeDrop = per
			s.mu.Unlock()
		}
		s.complete.Store(max(s.complete.Load(), old.maxEnd))
	}
	if old.n > 0 && old.last+1 >= s.seq {
		// It holds the newest records: the mark goes first, so that a
		// crash right after the deletion leaves the numbering too.
		s.markSeq()
	}
	if err := removeSegment(old.path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("%w: %v", ErrWrite, err)
	}
	fs.segs = fs.segs[1:]
	fs.bytes -= old.bytes
	s.total -= old.bytes
	s.nsegs--
	if len(fs.segs) == 0 {
		delete(s.hosts, fs.tag)
	}
	if old.n > 0 {
		*drops = append(*drops, drop{legacy: fs.tag == "", host: fs.host, first: old.first, last: old.last})
		if lost {
			s.droppedSize.Add(old.n)
			host := fs.host
			if fs.tag == "" {
				host = "(every host: a file of the former layout)"
			}
			s.opt.Log.Warn("flow records: deleted the oldest segment of the host holding the most to stay under the size cap",
				"host", host, "records", old.n, "hostBytes", fs.bytes+old.bytes, "maxBytes", s.opt.MaxBytes)
		}
	}
	return nil
}

// lostTo is the completeness once old, a segment of fs, is deleted for
// size: the time for every account (old's newest End for a file of the
// former layout, whose accounts are not known apart) and per account (the
// newest End of each account's records of old still indexed, and of
// those the count dropped, up to its countDrop), less what the
// age limit (cut) already covers. changed: it claims less than now.
// s.wmu is held.
func (s *Store) lostTo(fs *files, old *segment, cut int64) (all int64, per map[string]int64, changed bool) {
	all = s.completeAll.Load()
	s.mu.RLock()
	defer s.mu.RUnlock()
	per = make(map[string]int64, len(s.sizeDrop)+1)
	for a, t := range s.sizeDrop {
		if t >= cut && t > all { // older ones claim nothing the age does not
			per[a] = t
		}
	}
	changed = len(per) != len(s.sizeDrop)
	if fs.tag == "" {
		if old.maxEnd > all {
			all, changed = old.maxEnd, true
		}
		return all, per, changed
	}
	// claim makes a complete only after e, unless it already is or the
	// age limit covers it.
	claim := func(a string, e int64) {
		switch {
		case e <= max(all, per[a]) || e < cut:
		case strings.ContainsRune(a, '\n'): // not a line of the marker: claim less of all
			all, changed = e, true
		default:
			per[a], changed = e, true
		}
	}
	for a, ix := range s.byAcct {
		h := ix.hosts[fs.host]
		if h == nil {
			continue
		}
		i, _ := slices.BinarySearch(h.seqs, old.first)
		j, _ := slices.BinarySearch(h.seqs, old.last+1)
		claim(a, maxEnd(h.recs[i:j]))
	}
	// Records the count cap dropped from the index are gone from the
	// files with old too, and countDrop is not saved: a restart counts
	// from the files. So an account that may have had some in old (it
	// holds none of fs's host from before old) is claimed complete only
	// after those, as its count already claims: at most its countDrop.
	for a, d := range s.countDrop {
		if ix := s.byAcct[a]; ix != nil {
			if h := ix.hosts[fs.host]; h != nil && h.seqs[0] <= old.first {
				continue // its records of old are all still indexed: counted above
			}
		}
		claim(a, min(d, old.maxEnd))
	}
	return all, per, changed
}

// removeSegment deletes a segment file; a seam: tests take an image of
// the directory there, as a crash right after the deletion leaves it.
var removeSegment = removeFile

// markSeq leaves the empty file that keeps the numbering once retention
// deleted the segments of the newest records. Without it (a failure is only logged) a restart
// numbers from 0 again: nothing is lost, but an older NextToken skips
// records.
func (s *Store) markSeq() {
	path := s.segPath(s.seq, "")
	f, err := openFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err == nil {
		err = f.Close()
	}
	if err == nil || os.IsExist(err) && regular(path) == nil {
		s.mark = path
		syncDir(s.opt.Dir)
		return
	}
	s.opt.Log.Warn("flow records: could not keep the sequence number past the deleted segments; a restart numbers from 0", "err", err)
}

// write appends b, a batch of host's records numbered from s.seq, to the
// host's (tag: hostTag(host)) last segment (beginning one when needed) and syncs it; on a
// failure it cuts the segment back. The segment is opened for each write
// (and closed after), so that many hosts do not hold as many descriptors.
func (s *Store) write(host, tag string, b []byte, now time.Time) (*segment, error) {
	fs := s.hosts[tag]
	if fs == nil {
		fs = &files{tag: tag}
	}
	fs.host, fs.known = host, true
	var sg *segment
	if k := len(fs.segs); k > 0 {
		sg = fs.segs[k-1]
		// Rotate by size, and by time so that age retention can drop whole
		// segments in steps of an eighth of MaxAge.
		if sg.sealed || sg.bytes >= s.segLimit() || now.Sub(sg.opened) >= s.MaxAge()/8 {
			sg = nil
		}
	}
	var f *os.File
	var err error
	if sg == nil {
		path := s.segPath(s.seq, tag)
		flag := os.O_CREATE | os.O_EXCL | os.O_WRONLY | os.O_APPEND
		if path == s.mark {
			flag &^= os.O_EXCL // the empty mark becomes the segment
		}
		if f, err = openFile(path, flag, 0o600); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrWrite, err)
		}
		syncDir(s.opt.Dir) // the new name is durable too
		sg = &segment{path: path, first: s.seq, opened: now}
		fs.segs = append(fs.segs, sg)
		s.hosts[tag] = fs
		s.nsegs++
	} else if f, err = openFile(sg.path, os.O_WRONLY|os.O_APPEND, 0); err != nil {
		sg.sealed = true
		return nil, fmt.Errorf("%w: %v", ErrWrite, err)
	}
	defer f.Close() // synced below: a failure to close loses nothing
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		// Nothing of the batch is acknowledged: cut what reached the file
		// and begin a new segment next time.
		f.Truncate(sg.bytes)
		sg.sealed = true
		if sg.n == 0 { // begun for this batch: its name is the next segment's
			if sg.path != s.mark {
				removeFile(sg.path)
			}
			fs.segs = fs.segs[:len(fs.segs)-1]
			s.nsegs--
			if len(fs.segs) == 0 {
				delete(s.hosts, tag)
			}
		}
		return nil, fmt.Errorf("%w: %v", ErrWrite, err)
	}
	sg.bytes += int64(len(b))
	fs.bytes += int64(len(b))
	s.total += int64(len(b))
	if s.mark != "" && s.mark != sg.path {
		// A segment numbered on from the mark keeps the numbering now.
		// (Left behind, the empty mark is removed at the next Open.)
		removeFile(s.mark)
	}
	s.mark = ""
	return sg, nil
}

// Prune drops the segments, and the records in memory, past MaxAge.
func (s *Store) Prune(now time.Time) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var drops []drop
	if s.opt.Dir != "" {
		var err error
		if drops, err = s.makeRoom(0, "", now); err != nil {
			s.opt.Log.Error("flow records: pruning", "err", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked(drops)
	s.trimLocked(now)
}

// dropLocked drops from the index the records of deleted segments.
func (s *Store) dropLocked(drops []drop) {
	if len(drops) == 0 {
		return
	}
	for a, ix := range s.byAcct {
		for _, d := range drops {
			if d.legacy {
				// The former layout's records are numbered before any other.
				for host, h := range ix.hosts {
					n, _ := slices.BinarySearch(h.seqs, d.last+1)
					s.cutLocked(a, ix, host, h, n)
				}
				continue
			}
			h := ix.hosts[d.host]
			if h == nil {
				continue
			}
			i, _ := slices.BinarySearch(h.seqs, d.first)
			j, _ := slices.BinarySearch(h.seqs, d.last+1)
			if i == 0 {
				s.cutLocked(a, ix, d.host, h, j)
			} else if i < j {
				// After records still in a file of the former layout: cut
				// out of the middle, into new arrays (slices handed to
				// readers, parts, stay as they were).
				h.seqs = slices.Concat(h.seqs[:i], h.seqs[j:])
				h.recs = slices.Concat(h.recs[:i], h.recs[j:])
				s.records -= j - i
				ix.n -= j - i
			}
		}
	}
}
