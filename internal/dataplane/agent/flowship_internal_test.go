package agent

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/apiclient"
)

// sinkFunc answers ReportFlows with a fixed error.
type sinkFunc struct {
	Source
	err   error
	calls int
}

func (s *sinkFunc) ReportFlows(context.Context, string, string, []FlowRecord) (int, error) {
	s.calls++
	return 0, s.err
}

// TestShipDropsARefusedBatch: a batch the server refuses as a whole (4xx)
// is dropped and counted, so it cannot block the records after it; a
// server away (5xx, network) or throttling keeps it for the next try.
func TestShipDropsARefusedBatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		kept    bool
		refused uint64
	}{
		{"host key refused", &apiclient.Error{Status: 403, Code: "Forbidden.HostKey"}, false, 3},
		{"malformed", &apiclient.Error{Status: 400, Code: "InvalidParameter"}, false, 3},
		{"throttled", &apiclient.Error{Status: 400, Code: "Throttling.User"}, true, 0},
		{"server failing", &apiclient.Error{Status: 503, Code: "ServiceUnavailable"}, true, 0},
		{"server away", io.ErrUnexpectedEOF, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &sinkFunc{err: tc.err}
			f := newFlows(Config{Host: "h1", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, sink)
			f.pending = make([]FlowRecord, 3)
			err := f.ship(context.Background())
			if kept := len(f.pending) == 3; kept != tc.kept {
				t.Errorf("records kept: %v (err %v), want %v", kept, err, tc.kept)
			}
			if got := f.counters.Refused.Load(); got != tc.refused {
				t.Errorf("Refused %d, want %d", got, tc.refused)
			}
		})
	}
}

// TestStateFileRefusesSymlink: the root agent's state file is not written
// through a symlink planted in its place.
func TestStateFileRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "state")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := writeNoFollow(link, []byte("{}")); err == nil {
		t.Error("wrote through a symlink")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the symlink's target now holds %q", b)
	}
	if err := writeNoFollow(filepath.Join(dir, "plain"), []byte("{}")); err != nil {
		t.Errorf("a plain file: %v", err)
	}
}

// sentCall is one ReportFlows call as a sink saw it.
type sentCall struct {
	token string
	ports []int
}

// recordingSink fails its first call with err (nil: answers them all) and
// records every call.
type recordingSink struct {
	Source
	err  error
	sent []sentCall
}

func (s *recordingSink) ReportFlows(_ context.Context, _ string, token string, recs []FlowRecord) (int, error) {
	b := sentCall{token: token}
	for _, r := range recs {
		b.ports = append(b.ports, r.SrcPort)
	}
	s.sent = append(s.sent, b)
	if len(s.sent) == 1 && s.err != nil {
		return 0, s.err
	}
	return 0, nil
}

// pendingPorts are n records with ports from first on.
func pendingPorts(first, n int) []FlowRecord {
	out := make([]FlowRecord, n)
	for i := range out {
		out[i].SrcPort = first + i
	}
	return out
}

// TestShipRetriesTheSameBatch: a batch whose answer was lost (or that the
// server could not keep) is sent again as it was, under its token, even
// when records came in meanwhile; the server can then keep it once. The
// next batch has a token of its own, and so has a restarted agent's first.
func TestShipRetriesTheSameBatch(t *testing.T) {
	for _, tc := range []struct {
		name          string
		err           error
		first, during int   // records pending before the first try, and added before the retry
		want          []int // records per call; equal tokens for the first two calls
		retried       bool
	}{
		{"answer lost", io.ErrUnexpectedEOF, 3, 2, []int{3, 3, 2}, true},
		{"server failing", &apiclient.Error{Status: 503, Code: "ServiceUnavailable"}, 3, 2, []int{3, 3, 2}, true},
		{"more than a batch", io.ErrUnexpectedEOF, shipBatch + 100, 0, []int{shipBatch, shipBatch, 100}, true},
		{"refused as a whole", &apiclient.Error{Status: 400, Code: "InvalidParameter"}, 3, 2, []int{3, 2}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &recordingSink{err: tc.err}
			f := newFlows(Config{Host: "h1", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, sink)
			f.pending = pendingPorts(0, tc.first)
			f.ship(context.Background())
			f.pending = append(f.pending, pendingPorts(tc.first, tc.during)...)
			if err := f.ship(context.Background()); err != nil {
				t.Fatal(err)
			}
			var sizes []int
			for _, b := range sink.sent {
				sizes = append(sizes, len(b.ports))
			}
			if !slices.Equal(sizes, tc.want) {
				t.Fatalf("records per call %v, want %v", sizes, tc.want)
			}
			s := sink.sent
			if tc.retried && (s[0].token != s[1].token || !slices.Equal(s[0].ports, s[1].ports)) {
				t.Errorf("the retry sent %s (%d records), the first try %s (%d): want the same batch", s[1].token, len(s[1].ports), s[0].token, len(s[0].ports))
			}
			tokens := map[string]bool{}
			for _, b := range s {
				if b.token == "" || len(b.token) > 64 {
					t.Errorf("token %q: want 1 to 64 characters (a ClientToken)", b.token)
				}
				tokens[b.token] = true
			}
			if want := len(s) - map[bool]int{true: 1}[tc.retried]; len(tokens) != want {
				t.Errorf("%d tokens over %d calls, want %d", len(tokens), len(s), want)
			}
			if f.inflight != 0 || len(f.pending) != 0 {
				t.Errorf("left in flight %d, pending %d", f.inflight, len(f.pending))
			}
			// A restarted agent counts its batches from 1 again: its tokens
			// must still differ from its predecessor's.
			g := newFlows(Config{Host: "h1", Log: f.log}, sink)
			g.pending = pendingPorts(0, 1)
			g.ship(context.Background())
			if last := sink.sent[len(sink.sent)-1].token; tokens[last] {
				t.Errorf("a restarted agent's first token %s was its predecessor's", last)
			}
		})
	}
}

// TestLoadBatch: the batch file a killed agent left is sent first when it
// is this host's; one that is unreadable or another host's is dropped
// (logged), never sent.
func TestLoadBatch(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       int // records taken
	}{
		{"this host's", `{"Host":"h1","Token":"t-1","Records":[{"SrcPort":1},{"SrcPort":2}]}`, 2},
		{"another host's", `{"Host":"h2","Token":"t-1","Records":[{"SrcPort":1}]}`, 0},
		{"no token", `{"Host":"h1","Records":[{"SrcPort":1}]}`, 0},
		{"cut short", `{"Host":"h1","Token":"t-1","Records":[{"SrcPo`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "flow.state")
			if err := os.WriteFile(state+".batch", []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			sink := &recordingSink{}
			f := newFlows(Config{Host: "h1", Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Flow: FlowConfig{StateFile: state}}, sink)
			f.pending = pendingPorts(10, 1) // recorded since the start
			f.loadBatch()
			if err := f.ship(context.Background()); err != nil {
				t.Fatal(err)
			}
			var sizes []int
			for _, c := range sink.sent {
				sizes = append(sizes, len(c.ports))
			}
			want := []int{1}
			if tc.want > 0 {
				want = []int{tc.want, 1}
				if sink.sent[0].token != "t-1" {
					t.Errorf("the left batch was sent under %q, want its token t-1", sink.sent[0].token)
				}
			}
			if !slices.Equal(sizes, want) {
				t.Errorf("records per call %v, want %v", sizes, want)
			}
			if _, err := os.Stat(state + ".batch"); !os.IsNotExist(err) {
				t.Errorf("the batch file is still there: %v", err)
			}
		})
	}
}
