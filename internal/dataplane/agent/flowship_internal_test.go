package agent

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
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
