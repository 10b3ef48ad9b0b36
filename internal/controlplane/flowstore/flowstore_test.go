package flowstore

import (
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func rec(acct string, i int, end time.Time) Record {
	return Record{Version: 1, AccountId: acct, RegionId: "cn-hangzhou", EniId: "eni-" + strconv.Itoa(i%7), SrcAddr: "10.0.0.1",
		SrcPort: 40000 + i, DstAddr: "10.0.0.2", DstPort: 22, Protocol: 6, Direction: "in", Packets: uint64(i + 1), Bytes: 60,
		Start: end.Unix() - 60, End: end.Unix(), Action: "ACCEPT", LogStatus: "OK", Reason: "rule", SecurityGroupId: "sg-1",
		SecurityGroupRuleId: "sgr-" + strconv.Itoa(i%3), Priority: 1, Policy: "Accept"}
}

var quiet = slog.New(slog.DiscardHandler)

func open(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSurvivesRestart: what was acknowledged is read back after a restart,
// in the same order, and the accounts stay apart.
func TestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, SegmentBytes: 2000}
	s := open(t, o)
	for b := range 5 {
		var batch []Record
		for i := range 10 {
			acct := []string{"a", "b"}[i%2]
			batch = append(batch, rec(acct, b*10+i, time.Now()))
		}
		if err := s.Append(batch, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	before := map[string][]Record{"a": s.Of("a", time.Now()), "b": s.Of("b", time.Now())}
	if len(before["a"]) != 25 || len(before["b"]) != 25 || s.Stats().Segments < 2 {
		t.Fatalf("before the restart: %d and %d records, %+v", len(before["a"]), len(before["b"]), s.Stats())
	}
	s.Close()
	r := open(t, o)
	for acct, want := range before {
		if got := r.Of(acct, time.Now()); !reflect.DeepEqual(got, want) {
			t.Errorf("account %s after the restart: %d records, want %d the same", acct, len(got), len(want))
		}
	}
	// Appending after the restart continues the files.
	if err := r.Append([]Record{rec("a", 99, time.Now())}, time.Now()); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r2 := open(t, o)
	if got := r2.Of("a", time.Now()); len(got) != 26 || got[25].SrcPort != 40099 {
		t.Fatalf("after a second restart: %d records", len(got))
	}
}

// TestTornTail: a line cut short by a crash (never acknowledged) is dropped
// on load, counted, and the file is cut back so the next append is whole.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir})
	if err := s.Append([]Record{rec("a", 1, time.Now()), rec("a", 2, time.Now())}, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	f, err := os.OpenFile(files[len(files)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"Version":1,"AccountId":"a","Src`)
	f.Close()
	r := open(t, Options{Dir: dir})
	if got, st := r.Of("a", time.Now()), r.Stats(); len(got) != 2 || st.Torn != 1 {
		t.Fatalf("after a torn write: %d records, %+v", len(got), st)
	}
	if err := r.Append([]Record{rec("a", 3, time.Now())}, time.Now()); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if got := open(t, Options{Dir: dir}).Of("a", time.Now()); len(got) != 3 {
		t.Fatalf("after appending past the cut: %d records, want 3", len(got))
	}
}

// TestRetention: the size cap deletes the oldest segments first and counts
// their records; the age limit deletes segments whose records are all too
// old; both hold after a restart.
func TestRetention(t *testing.T) {
	for _, tc := range []struct {
		name       string
		o          Options
		batches    int
		end        func(b int) time.Time // of batch b
		now        time.Time
		wantMin    int // the records kept are between these
		wantMax    int
		wantOldest int // the SrcPort offset of the oldest kept
		dropped    bool
	}{
		{"under every limit", Options{MaxBytes: 1 << 20, SegmentBytes: 4000}, 10, func(int) time.Time { return t0 }, t0, 100, 100, 0, false},
		{"over the size cap", Options{MaxBytes: 20000, SegmentBytes: 4000}, 20, func(int) time.Time { return t0 }, t0, 20, 60, -1, true},
		{"past the age", Options{MaxAge: time.Hour, SegmentBytes: 4000}, 10,
			func(b int) time.Time { return t0.Add(time.Duration(b) * 10 * time.Minute) }, t0.Add(100 * time.Minute), 40, 60, -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Dir, tc.o.Now, tc.o.Log = t.TempDir(), func() time.Time { return tc.now }, quiet
			s := open(t, tc.o)
			for b := range tc.batches {
				var batch []Record
				for i := range 10 {
					batch = append(batch, rec("a", b*10+i, tc.end(b)))
				}
				if err := s.Append(batch, tc.end(b)); err != nil {
					t.Fatal(err)
				}
			}
			s.Prune(tc.now)
			got, st := s.Of("a", tc.now), s.Stats()
			if len(got) < tc.wantMin || len(got) > tc.wantMax {
				t.Fatalf("%d records kept, want %d to %d (%+v)", len(got), tc.wantMin, tc.wantMax, st)
			}
			if st.Bytes > max(tc.o.MaxBytes, 0) && tc.o.MaxBytes > 0 {
				t.Errorf("files hold %d bytes, over the cap of %d", st.Bytes, tc.o.MaxBytes)
			}
			if tc.wantOldest >= 0 && got[0].SrcPort != 40000+tc.wantOldest {
				t.Errorf("oldest kept is %d", got[0].SrcPort)
			}
			if last := got[len(got)-1].SrcPort; last != 40000+tc.batches*10-1 {
				t.Errorf("the newest record was dropped: last is %d", last)
			}
			for i := 1; i < len(got); i++ {
				if got[i].SrcPort != got[i-1].SrcPort+1 {
					t.Fatalf("a gap in the records kept: %d then %d (retention must drop the oldest)", got[i-1].SrcPort, got[i].SrcPort)
				}
			}
			if want := uint64(tc.batches*10 - len(got)); tc.dropped && st.DroppedForSize != want {
				t.Errorf("dropped for size: %d, want %d", st.DroppedForSize, want)
			} else if !tc.dropped && st.DroppedForSize != 0 {
				t.Errorf("dropped for size: %d, want 0", st.DroppedForSize)
			}
			if tc.dropped != !st.CompleteSince.IsZero() {
				t.Errorf("CompleteSince %v after dropping for size: %v", st.CompleteSince, tc.dropped)
			}
			s.Close()
			r := open(t, tc.o)
			r.Prune(tc.now)
			if again := r.Of("a", tc.now); !reflect.DeepEqual(again, got) {
				t.Errorf("after a restart: %d records, want the same %d", len(again), len(got))
			}
		})
	}
}

// TestPerAccount: one account's flood takes only its own share of the
// index.
func TestPerAccount(t *testing.T) {
	s := open(t, Options{Dir: t.TempDir(), MaxPerAccount: 5})
	batch := []Record{rec("b", 0, t0)}
	for i := range 20 {
		batch = append(batch, rec("a", i, t0))
	}
	if err := s.Append(batch, t0); err != nil {
		t.Fatal(err)
	}
	if a, b := s.Of("a", t0), s.Of("b", t0); len(a) != 5 || a[0].SrcPort != 40015 || len(b) != 1 {
		t.Fatalf("a keeps %d, b %d", len(a), len(b))
	}
}

// TestMemory: without a directory the records live in memory, bounded as
// on disk.
func TestMemory(t *testing.T) {
	s := Memory()
	if err := s.Append([]Record{rec("a", 1, t0), rec("a", 2, t0.Add(2*time.Hour))}, t0); err != nil {
		t.Fatal(err)
	}
	s.SetLimits(time.Hour, 0)
	if got := s.Of("a", t0.Add(2*time.Hour)); len(got) != 1 || got[0].SrcPort != 40002 {
		t.Fatalf("after the age limit: %+v", got)
	}
}

// TestConcurrent: appends, queries and pruning at once keep every
// acknowledged record in order (run with -race).
func TestConcurrent(t *testing.T) {
	s := open(t, Options{Dir: t.TempDir(), SegmentBytes: 8000, Log: quiet})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			s.Of("a", time.Now())
			s.Prune(time.Now())
			s.Stats()
		}
	}()
	errs := make(chan error, 4)
	for w := range 4 {
		go func() {
			for b := range 25 {
				if err := s.Append([]Record{rec("a", w*1000+b, time.Now())}, time.Now()); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	<-done
	got := s.Of("a", time.Now())
	if len(got) != 100 {
		t.Fatalf("%d records, want 100", len(got))
	}
	last := map[int]int{}
	for _, r := range got {
		w, b := (r.SrcPort-40000)/1000, (r.SrcPort-40000)%1000
		if prev, ok := last[w]; ok && b != prev+1 {
			t.Fatalf("writer %d: record %d after %d", w, b, prev)
		}
		last[w] = b
	}
}

// BenchmarkAppend: batches of 500 records (an agent's shipment), each
// written and synced before the next, and the same in memory only: the
// ratio is the cost of keeping them on disk.
func BenchmarkAppend(b *testing.B) {
	batch := make([]Record, 500)
	for i := range batch {
		batch[i] = rec("a", i, time.Now())
	}
	for _, bc := range []struct {
		name string
		dir  bool
	}{{"disk", true}, {"memory", false}} {
		b.Run(bc.name, func(b *testing.B) {
			o := Options{Log: quiet}
			if bc.dir {
				o.Dir = b.TempDir()
			}
			s, err := Open(o)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for b.Loop() {
				if err := s.Append(batch, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// TestNumberingOutlivesRetention: once the age limit deleted every
// segment, a restart numbers new records on from the last, not from 0
// (a NextToken from before would skip them), across restarts without a
// record in between too.
func TestNumberingOutlivesRetention(t *testing.T) {
	now := t0
	o := Options{Dir: t.TempDir(), MaxAge: time.Hour, SegmentBytes: 2000, Now: func() time.Time { return now }, Log: quiet}
	s := open(t, o)
	for b := range 3 {
		var batch []Record
		for i := range 10 {
			batch = append(batch, rec("a", b*10+i, now))
		}
		if err := s.Append(batch, now); err != nil {
			t.Fatal(err)
		}
	}
	_, seqs := s.OfSeq("a", now)
	last := seqs[len(seqs)-1]
	now = now.Add(3 * time.Hour)
	s.Prune(now)
	if got := s.Of("a", now); len(got) != 0 || s.Stats().Segments != 0 {
		t.Fatalf("after the age limit: %d records in %d segments, want none", len(got), s.Stats().Segments)
	}
	s.Close()
	for range 2 { // the second without a record between
		open(t, o).Close()
	}
	s = open(t, o)
	if err := s.Append([]Record{rec("a", 99, now)}, now); err != nil {
		t.Fatal(err)
	}
	if _, seqs := s.OfSeq("a", now); len(seqs) != 1 || seqs[0] != last+1 {
		t.Fatalf("after the restarts the new record is numbered %v; want [%d]", seqs, last+1)
	}
	s.Close()
	if files, _ := filepath.Glob(filepath.Join(o.Dir, segPrefix+"*")); len(files) != 1 {
		t.Errorf("segment files %v; want the one the mark became", files)
	}
	if got := open(t, o).Of("a", now); len(got) != 1 || got[0].SrcPort != 40099 {
		t.Errorf("after a last restart: %v", got)
	}
}

// TestCursorOutlivesRestart: a position handed out before a restart reads
// after it (the key is kept beside the records); one of another store, or
// after the key file was damaged, does not.
func TestCursorOutlivesRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() *Store {
		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := open()
	c := a.Cursor("acct", 42)
	a.Close()
	for _, tc := range []struct {
		name    string
		store   func() *Store
		account string
		want    bool
	}{
		{"after a restart", open, "acct", true},
		{"another account", open, "other", false},
		{"another store", Memory, "acct", false},
		{"a damaged key", func() *Store {
			if err := os.WriteFile(filepath.Join(dir, cursorKeyName), []byte("short"), 0o600); err != nil {
				t.Fatal(err)
			}
			return open()
		}, "acct", false},
	} {
		s := tc.store()
		seq, ok := s.ParseCursor(tc.account, c)
		if ok != tc.want || ok && seq != 42 {
			t.Errorf("%s: ParseCursor = %d, %v; want ok %v", tc.name, seq, ok, tc.want)
		}
		s.Close()
	}
}

// TestPerHostShare: an account's count cap is shared out among the hosts
// that recorded its records, so that one host's flood (a hostile host
// holding one NIC of the tenant) pushes out only its own records: a host
// holding no more than its fair share keeps all of its, whenever the
// flood comes, and across a restart. The cap was the account's alone, the
// oldest records dropped first, whichever host had sent them.
func TestPerHostShare(t *testing.T) {
	from := func(host string, first, n int) []Record {
		var out []Record
		for i := first; i < first+n; i++ {
			r := rec("a", i, t0)
			r.HostName = host
			out = append(out, r)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		cap     int
		batches [][]Record
		want    map[string]int // records kept per host
	}{
		{"a flood after the others' records", 30, [][]Record{from("good1", 0, 5), from("good2", 100, 8), from("bad", 1000, 500)},
			map[string]int{"good1": 5, "good2": 8, "bad": 17}},
		{"a flood before the others' records", 30, [][]Record{from("bad", 1000, 500), from("good1", 0, 5), from("good2", 100, 8)},
			map[string]int{"good1": 5, "good2": 8, "bad": 17}},
		{"others' records amid a flood", 30, [][]Record{from("bad", 1000, 100), from("good1", 0, 5), from("bad", 2000, 100), from("good2", 100, 8), from("bad", 3000, 100)},
			map[string]int{"good1": 5, "good2": 8, "bad": 17}},
		{"two hosts over their share: half each, the odd one to the first by name", 31, [][]Record{from("h2", 0, 40), from("h1", 100, 40)},
			map[string]int{"h1": 16, "h2": 15}},
		{"three floods and one quiet host", 30, [][]Record{from("q", 0, 3), from("x", 100, 50), from("y", 200, 50), from("z", 300, 50)},
			map[string]int{"q": 3, "x": 9, "y": 9, "z": 9}},
		{"one host: the newest", 10, [][]Record{from("h", 0, 25)}, map[string]int{"h": 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Dir: t.TempDir(), MaxPerAccount: tc.cap, Log: quiet}
			s := open(t, o)
			for _, b := range tc.batches {
				if err := s.Append(b, t0); err != nil {
					t.Fatal(err)
				}
			}
			check := func(s *Store, when string) {
				t.Helper()
				recs, seqs := s.OfSeq("a", t0)
				got, newest := map[string]int{}, map[string]int{}
				for _, r := range recs {
					got[r.HostName]++
					newest[r.HostName] = max(newest[r.HostName], r.SrcPort)
				}
				if !maps.Equal(got, tc.want) {
					t.Errorf("%s: kept per host %v, want %v", when, got, tc.want)
				}
				if !slices.IsSorted(seqs) || len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
					t.Errorf("%s: sequence numbers not ascending: %v", when, seqs)
				}
				for _, b := range tc.batches { // each host keeps its newest
					last := b[len(b)-1]
					if newest[last.HostName] < last.SrcPort && got[last.HostName] > 0 {
						t.Errorf("%s: %s's newest record %d is gone", when, last.HostName, last.SrcPort)
					}
				}
				n := 0
				for q, r := range s.Newest("a", t0) { // the same, newest first
					if i := len(recs) - 1 - n; i < 0 || seqs[i] != q || recs[i].SrcPort != r.SrcPort {
						t.Fatalf("%s: Newest's record %d is not OfSeq's from the end", when, n)
					}
					n++
				}
			}
			check(s, "appended")
			s.Close()
			check(open(t, o), "after a restart")
		})
	}
}
