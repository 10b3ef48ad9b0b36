package flowstore

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// hostBatch is n records of account acct from host, numbered from first.
func hostBatch(acct, host string, first, n int) []Record {
	var out []Record
	for i := first; i < first+n; i++ {
		r := rec(acct, i, t0)
		r.HostName = host
		out = append(out, r)
	}
	return out
}

// floodOf is batches of 10 records of host, n records in all.
func floodOf(acct, host string, first, n int) [][]Record {
	var out [][]Record
	for i := 0; i < n; i += 10 {
		out = append(out, hostBatch(acct, host, first+i, min(10, n-i)))
	}
	return out
}

// TestSizeCapPerHost: the size cap on the files is shared out among the
// hosts that recorded the records, as the count cap is: a host flooding
// records past it deletes its own oldest files, never another host's
// records (of its tenant or of another), whenever the flood comes, and
// across a restart. The files were one chain for every host, the oldest
// deleted first, whoever had sent them.
func TestSizeCapPerHost(t *testing.T) {
	good := func() [][]Record {
		return [][]Record{hostBatch("a", "good1", 0, 10), hostBatch("b", "good2", 100, 10)}
	}
	type want struct {
		kept  map[string]int // records kept per host, exactly
		flood []string       // hosts that lose records
	}
	for _, tc := range []struct {
		name    string
		batches [][]Record
		want    want
	}{
		{"a flood after the others' records", slices.Concat(good(), floodOf("a", "bad", 1000, 300)),
			want{map[string]int{"good1": 10, "good2": 10}, []string{"bad"}}},
		{"a flood before the others' records", slices.Concat(floodOf("a", "bad", 1000, 300), good()),
			want{map[string]int{"good1": 10, "good2": 10}, []string{"bad"}}},
		{"others' records amid a flood", slices.Concat(floodOf("a", "bad", 1000, 150), good(), floodOf("a", "bad", 2000, 150)),
			want{map[string]int{"good1": 10, "good2": 10}, []string{"bad"}}},
		{"two floods and a quiet host", slices.Concat(good()[:1], floodOf("a", "x", 1000, 200), floodOf("b", "y", 2000, 200)),
			want{map[string]int{"good1": 10}, []string{"x", "y"}}},
		{"records of no host are a host's too", slices.Concat([][]Record{hostBatch("a", "", 0, 10)}, floodOf("a", "bad", 1000, 300)),
			want{map[string]int{"": 10}, []string{"bad"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Dir: t.TempDir(), MaxBytes: 40000, SegmentBytes: 2000, Log: quiet}
			s := open(t, o)
			sent := map[string]int{}
			for _, b := range tc.batches {
				if err := s.Append(b, t0); err != nil {
					t.Fatal(err)
				}
				sent[b[0].HostName] += len(b)
			}
			type held struct {
				recs []Record
				seqs []uint64
			}
			check := func(s *Store, when string) map[string]held {
				t.Helper()
				st := s.Stats()
				if st.Bytes > o.MaxBytes {
					t.Errorf("%s: the files hold %d bytes, over the cap of %d", when, st.Bytes, o.MaxBytes)
				}
				got, newest := map[string]int{}, map[string]int{}
				out := map[string]held{}
				for _, acct := range []string{"a", "b"} {
					recs, seqs := s.OfSeq(acct, t0)
					if !slices.IsSorted(seqs) || len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
						t.Errorf("%s: account %s's sequence numbers are not ascending: %v", when, acct, seqs)
					}
					out[acct] = held{recs, seqs}
					for _, r := range recs {
						got[r.HostName]++
						newest[r.HostName] = max(newest[r.HostName], r.SrcPort)
					}
				}
				for host, n := range tc.want.kept {
					if got[host] != n {
						t.Errorf("%s: host %q keeps %d records, want all %d (kept per host: %v)", when, host, got[host], n, got)
					}
				}
				lost := 0
				for _, host := range tc.want.flood {
					if got[host] == 0 || got[host] >= sent[host] {
						t.Errorf("%s: the flooding host %s keeps %d of its %d records; want some, not all", when, host, got[host], sent[host])
					}
					lost += sent[host] - got[host]
				}
				for _, b := range tc.batches { // each host keeps its newest
					last := b[len(b)-1]
					if newest[last.HostName] < last.SrcPort {
						t.Errorf("%s: %s's newest record %d is gone", when, last.HostName, last.SrcPort)
					}
				}
				if when == "appended" && st.DroppedForSize != uint64(lost) { // counted since the start
					t.Errorf("%s: %d records counted as dropped for size, want the floods' %d", when, st.DroppedForSize, lost)
				}
				return out
			}
			before := check(s, "appended")
			if len(tc.want.flood) == 2 { // max-min: the two floods keep as much, give or take a file
				x, y := len(before["a"].recs)-10, len(before["b"].recs)
				if d := x - y; d < -10 || d > 10 {
					t.Errorf("the two floods keep %d and %d records: not a fair share each", x, y)
				}
			}
			s.Close()
			r := open(t, o)
			after := check(r, "after a restart")
			for acct, h := range before { // the same records, numbered the same (positions stay valid)
				if a := after[acct]; !reflect.DeepEqual(a.recs, h.recs) || !slices.Equal(a.seqs, h.seqs) {
					t.Errorf("account %s after a restart: %d records %v, want the same %d %v", acct, len(a.recs), a.seqs, len(h.recs), h.seqs)
				}
			}
		})
	}
}

// TestFormerLayout: a directory of the former layout (one chain of files
// for every host, batch headers without Seq, even lines without a header)
// opens with its records numbered as before; new batches go to the hosts'
// files; both load after a restart; the size cap counts the former files
// as one host's: a host's flood deletes its newer files, not them.
func TestFormerLayout(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	old := slices.Concat(hostBatch("a", "h1", 0, 2), hostBatch("a", "h2", 10, 2))
	for i, r := range old { // a batch of both hosts, as the former layout kept it
		ln := line{Record: r}
		if i == 0 {
			ln.PalisadeBatch = &header{Records: len(old), Host: "h1", Token: "t-old"}
		}
		enc.Encode(&ln)
	}
	enc.Encode(hostBatch("a", "h2", 20, 1)[0]) // a line of an older version still
	first := filepath.Join(dir, "seg-00000000000000000000.jsonl")
	if err := os.WriteFile(first, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{Dir: dir, MaxBytes: 20000, SegmentBytes: 2000, Log: quiet}
	s := open(t, o)
	if _, seqs := s.OfSeq("a", t0); !slices.Equal(seqs, []uint64{0, 1, 2, 3, 4}) {
		t.Fatalf("the former layout's records are numbered %v, want 0 to 4 as before", seqs)
	}
	if _, again, _ := s.AppendBatch(Batch{Host: "h1", Token: "t-old"}, hostBatch("a", "h1", 0, 2), t0); !again {
		t.Error("a token of the former layout's files was not remembered")
	}
	for _, b := range [][]Record{hostBatch("a", "h1", 100, 3), hostBatch("a", "h2", 200, 3), hostBatch("a", "h1", 103, 2)} {
		if err := s.Append(b, t0); err != nil {
			t.Fatal(err)
		}
	}
	recs, seqs := s.OfSeq("a", t0)
	s.Close()
	names := func() []string {
		files, _ := filepath.Glob(filepath.Join(dir, segPrefix+"*"))
		for i := range files {
			files[i] = filepath.Base(files[i])
		}
		return files
	}
	if want := []string{"seg-00000000000000000000.jsonl", "seg-00000000000000000005-h1.jsonl", "seg-00000000000000000008-h2.jsonl"}; !slices.Equal(names(), want) {
		t.Errorf("files %v, want %v", names(), want)
	}
	s = open(t, o)
	if r, q := s.OfSeq("a", t0); !reflect.DeepEqual(r, recs) || !slices.Equal(q, seqs) {
		t.Fatalf("after a restart: %v, want %v", q, seqs)
	}
	// h1 floods: its newer files go, not the former ones (holding less),
	// nor h2's.
	for _, b := range floodOf("a", "h1", 1000, 200) {
		if err := s.Append(b, t0); err != nil {
			t.Fatal(err)
		}
	}
	kept := map[string][]int{}
	for _, r := range s.Of("a", t0) {
		kept[r.HostName] = append(kept[r.HostName], r.SrcPort)
	}
	if want := []int{40010, 40011, 40020, 40200, 40201, 40202}; !slices.Equal(kept["h2"], want) {
		t.Errorf("h2 keeps %v, want all its records %v", kept["h2"], want)
	}
	if h1 := kept["h1"]; len(h1) < 3 || !slices.Equal(h1[:2], []int{40000, 40001}) || slices.Contains(h1, 40100) || h1[len(h1)-1] != 41199 {
		t.Errorf("h1 keeps %v, want its records of the former file, then its newest only", h1)
	}
	if files := names(); files[0] != "seg-00000000000000000000.jsonl" || files[1] != "seg-00000000000000000008-h2.jsonl" {
		t.Errorf("files after the flood %v: the former file and h2's went", files)
	}
	recs, seqs = s.OfSeq("a", t0)
	s.Close()
	if r, q := open(t, o).OfSeq("a", t0); !reflect.DeepEqual(r, recs) || !slices.Equal(q, seqs) {
		t.Fatalf("after the flood and a restart: %v, want %v", q, seqs)
	}
}

// TestFormerLayoutMiddleCut: when a host's newer file is deleted for size
// while its records in a file of the former layout stay, those stay in
// the index too (cut out of the middle of the host's records).
func TestFormerLayoutMiddleCut(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range hostBatch("a", "h1", 0, 2) {
		enc.Encode(r)
	}
	if err := os.WriteFile(filepath.Join(dir, "seg-00000000000000000000.jsonl"), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{Dir: dir, MaxBytes: 20000, SegmentBytes: 2000, Log: quiet}
	s := open(t, o)
	for _, b := range floodOf("a", "h1", 1000, 60) {
		if err := s.Append(b, t0); err != nil {
			t.Fatal(err)
		}
	}
	got := ports(s.Of("a", t0))
	if !slices.Equal(got[:2], []int{40000, 40001}) || slices.Contains(got, 41000) || got[len(got)-1] != 41059 {
		t.Fatalf("kept %v: want the former file's two records, then h1's newest only", got)
	}
	st := s.Stats()
	s.Close()
	if again := ports(open(t, o).Of("a", t0)); !slices.Equal(again, got) {
		t.Errorf("after a restart %v, want %v (dropped for size %d)", again, got, st.DroppedForSize)
	}
}

// TestHostTag: a host's part of its files' names is its name when that is
// safe in a file name, escaped otherwise, never empty or a path; a name is
// read back to the same part, and names that are not ours are skipped.
func TestHostTag(t *testing.T) {
	long := strings.Repeat("h", 200)
	for _, tc := range []struct{ host, tag string }{
		{"web-1.example_2", "web-1.example_2"},
		{"", "%"},
		{"..", ".."},
		{"a/b", "a%2Fb"},
		{"50%", "50%25"},
		{"é", "%C3%A9"},
		{long, "%%"},
	} {
		tag := hostTag(tc.host)
		if tc.host == long {
			if !strings.HasPrefix(tag, "%%") || len(tag) != 34 {
				t.Errorf("hostTag(200 bytes) = %q, want %%%% and a hash", tag)
			}
		} else if tag != tc.tag {
			t.Errorf("hostTag(%q) = %q, want %q", tc.host, tag, tc.tag)
		}
		name := filepath.Base((&Store{opt: Options{Dir: "/d"}}).segPath(42, tag))
		if first, back, ok := parseSegName(name); !ok || first != 42 || back != tag {
			t.Errorf("parseSegName(%q) = %d, %q, %v; want 42, %q", name, first, back, ok, tag)
		}
	}
	for _, name := range []string{"seg-1-.jsonl", "seg-x.jsonl", "seg-1-a b.jsonl", "seg-1-é.jsonl", "seg-1.json", "other-1.jsonl"} {
		if _, _, ok := parseSegName(name); ok {
			t.Errorf("parseSegName(%q) took it", name)
		}
	}
}

// TestMixedHostBatch: a batch holds one host's records (they go to its
// files); one of several hosts is refused and keeps nothing.
func TestMixedHostBatch(t *testing.T) {
	s := open(t, Options{Dir: t.TempDir(), Log: quiet})
	err := s.Append(slices.Concat(hostBatch("a", "h1", 0, 1), hostBatch("a", "h2", 1, 1)), t0)
	if err == nil || !strings.Contains(err.Error(), "one host") {
		t.Fatalf("a batch of two hosts: %v, want refused", err)
	}
	if st := s.Stats(); st.Records != 0 || st.Segments != 0 {
		t.Errorf("the refused batch kept something: %+v", st)
	}
	kept := map[string]int{}
	for _, b := range [][]Record{hostBatch("a", "h1", 0, 2), hostBatch("a", "h2", 10, 3)} {
		if err := s.Append(b, t0); err != nil {
			t.Fatal(err)
		}
		kept[b[0].HostName] = len(b)
	}
	got := map[string]int{}
	for _, r := range s.Of("a", t0) {
		got[r.HostName]++
	}
	if !maps.Equal(got, kept) || s.Stats().Segments != 2 {
		t.Errorf("kept %v in %d files, want %v in one file per host", got, s.Stats().Segments, kept)
	}
}

// TestCompleteSincePerHost: files deleted for size make incomplete only
// the accounts that had records in them, up to the newest End they lost,
// before and after a restart: a host's flood for one tenant does not
// shorten another's complete history (which the audit, SGA-034, reads).
// A file of the former layout, whose accounts are not known apart, makes
// every account incomplete up to its newest End. The claim was the
// store's: any deletion made every account incomplete.
func TestCompleteSincePerHost(t *testing.T) {
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	batch := func(acct, host string, first, n int) []Record {
		var out []Record
		for i := first; i < first+n; i++ {
			r := rec(acct, i, at(i))
			r.HostName = host
			out = append(out, r)
		}
		return out
	}
	flood := func(acct, host string, first, n int) [][]Record {
		var out [][]Record
		for i := 0; i < n; i += 10 {
			out = append(out, batch(acct, host, first+i, 10))
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		former  int // records of a file of the former layout (accounts a and b), first
		batches [][]Record
		all     bool   // the loss counts for every account (the former file)
		whole   string // an account that lost nothing, if any
	}{
		{"a flood for another tenant", 0, slices.Concat([][]Record{batch("a", "good", 0, 10)}, flood("b", "bad", 1000, 200)), false, "a"},
		{"a flood for both tenants", 0, slices.Concat([][]Record{batch("a", "good", 0, 10)}, flood("b", "bad", 1000, 100), flood("a", "bad", 2000, 100)), false, ""},
		{"a file of the former layout deleted", 40, slices.Concat([][]Record{batch("c", "good", 0, 5)}, flood("a", "h", 1000, 30)), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(-time.Hour) // the store begins an hour before the records
			o := Options{Dir: t.TempDir(), MaxBytes: 20000, SegmentBytes: 2000, MaxAge: 30 * 24 * time.Hour, Now: func() time.Time { return now }, Log: quiet}
			var formerEnd int64
			if tc.former > 0 {
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				for i := range tc.former {
					r := rec([]string{"a", "b"}[i%2], 500+i, at(500+i))
					r.HostName = "old"
					enc.Encode(r)
					formerEnd = max(formerEnd, r.End)
				}
				for name, text := range map[string]string{"seg-00000000000000000000.jsonl": buf.String(),
					createdName: now.Format(time.RFC3339) + "\n", completeName: "none\n"} {
					if err := os.WriteFile(filepath.Join(o.Dir, name), []byte(text), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			s := open(t, o)
			now = t0.Add(time.Hour)
			sent := map[string][]Record{}
			for _, b := range tc.batches {
				if err := s.Append(b, now); err != nil {
					t.Fatal(err)
				}
				sent[b[0].AccountId] = append(sent[b[0].AccountId], b...)
			}
			if s.Stats().DroppedForSize == 0 {
				t.Fatal("nothing was deleted for size: the case does not hold")
			}
			// Each account is complete since its newest record lost (sent,
			// no longer held), or since the store began.
			want := map[string]time.Time{}
			for _, acct := range []string{"a", "b", "c"} {
				held := map[int]bool{}
				for _, r := range s.Of(acct, now) {
					held[r.SrcPort] = true
				}
				w := t0.Add(-time.Hour)
				for _, r := range sent[acct] {
					if !held[r.SrcPort] && time.Unix(r.End, 0).After(w) {
						w = time.Unix(r.End, 0)
					}
				}
				if tc.all && time.Unix(formerEnd, 0).After(w) {
					w = time.Unix(formerEnd, 0)
				}
				want[acct] = w
			}
			if tc.whole != "" && !want[tc.whole].Equal(t0.Add(-time.Hour)) {
				t.Fatalf("account %s lost records: the case does not hold", tc.whole)
			}
			check := func(s *Store, when string) {
				t.Helper()
				for acct, w := range want {
					if got := s.CompleteSince(acct, now); !got.Equal(w) {
						t.Errorf("%s: CompleteSince(%s) = %v, want %v", when, acct, got.UTC(), w.UTC())
					}
				}
			}
			check(s, "appended")
			s.Close()
			check(open(t, o), "after a restart")
		})
	}
}

// TestNumberingOutlivesHostFiles: when the age limit deletes the host's
// files that hold the newest records while another host's stay, a restart
// still numbers new records on from the newest, not from the other host's
// (a NextToken from before would skip them).
func TestNumberingOutlivesHostFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		oldLast bool // the newest numbers are the records past the age
	}{
		{"the newest numbers past the age", true},
		{"older numbers past the age", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			o := Options{Dir: t.TempDir(), MaxAge: time.Hour, SegmentBytes: 2000, Now: func() time.Time { return now }, Log: quiet}
			s := open(t, o)
			fresh := hostBatch("a", "fresh", 0, 5)
			stale := hostBatch("a", "stale", 100, 5)
			for i := range stale {
				stale[i].End = t0.Add(-50 * time.Minute).Unix()
			}
			order := [][]Record{fresh, stale}
			if !tc.oldLast {
				order = [][]Record{stale, fresh}
			}
			for _, b := range order {
				if err := s.Append(b, now); err != nil {
					t.Fatal(err)
				}
			}
			now = t0.Add(20 * time.Minute)
			s.Prune(now)
			if got := ports(s.Of("a", now)); !slices.Equal(got, ports(fresh)) {
				t.Fatalf("after the age limit: %v, want the fresh host's %v", got, ports(fresh))
			}
			s.Close()
			s = open(t, o)
			if err := s.Append(hostBatch("a", "fresh", 9, 1), now); err != nil {
				t.Fatal(err)
			}
			if _, seqs := s.OfSeq("a", now); len(seqs) != 6 || seqs[5] != 10 {
				t.Errorf("after a restart the new record is numbered %v; want 10, after the 10 before", seqs)
			}
		})
	}
}
