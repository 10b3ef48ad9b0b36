package agent

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// streamSource is a Source with a stream: each Stream call plays the next
// script (its frames, then its end), and records the request.
type streamSource struct {
	mu        sync.Mutex
	snapshots int
	streams   []WatchRequest
	watches   []WatchRequest
	scripts   []streamScript
	snap      func() *Snapshot
	played    chan struct{} // a script played to its end
}

type streamScript struct {
	frames []*Changes
	end    error
}

func (s *streamSource) Snapshot(context.Context) (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshots++
	return s.snap(), nil
}

func (s *streamSource) Watch(ctx context.Context, r WatchRequest) (*Changes, error) {
	s.mu.Lock()
	s.watches = append(s.watches, r)
	s.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s *streamSource) Report(context.Context, Status) error { return nil }

func (s *streamSource) Stream(ctx context.Context, r WatchRequest, each func(*Changes) error) error {
	s.mu.Lock()
	s.streams = append(s.streams, r)
	if len(s.scripts) == 0 {
		s.mu.Unlock()
		<-ctx.Done()
		return nil
	}
	sc := s.scripts[0]
	s.scripts = s.scripts[1:]
	s.mu.Unlock()
	defer func() { s.played <- struct{}{} }()
	for _, f := range sc.frames {
		if err := each(f); err != nil {
			return err
		}
	}
	return sc.end
}

// TestAgentStream: the agent follows one stream for many changes; a
// frame with records is applied, a heartbeat only moves the revision on
// (nothing to apply); when the stream ends it opens the next from the
// revision it holds, without a new snapshot; Resync makes it read one;
// and against a server without the stream it long polls.
func TestAgentStream(t *testing.T) {
	frame := func(rev int64, port int32) *Changes {
		groups, _ := records(port)
		return &Changes{Snapshot: Snapshot{Revision: rev, Groups: groups}}
	}
	for _, tc := range []struct {
		name          string
		scripts       []streamScript
		wantStreams   []int64 // the revisions each stream starts from
		wantSnapshots int
		wantApplied   []int64
		wantPort      string
		wantWatch     bool
	}{
		{"frames and heartbeats on one stream, then the next from the revision held",
			[]streamScript{{frames: []*Changes{frame(2, 81), {Snapshot: Snapshot{Revision: 5}}, frame(7, 82)}}},
			[]int64{1, 7}, 1, []int64{1, 2, 5, 7}, "82", false},
		{"a cut stream resumes from the last frame",
			[]streamScript{{frames: []*Changes{frame(3, 83)}, end: context.DeadlineExceeded}},
			[]int64{1, 3}, 1, []int64{1, 3}, "83", false},
		{"Resync reads a new snapshot",
			[]streamScript{{frames: []*Changes{{Snapshot: Snapshot{Revision: 9}, Resync: true}}}},
			[]int64{1, 1}, 2, []int64{1, 1}, "80", false},
		{"a server without the stream is long polled",
			[]streamScript{{end: &apiclient.Error{Status: 404, Code: "InvalidAction.NotFound"}}},
			[]int64{1}, 1, []int64{1}, "80", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &streamSource{scripts: tc.scripts, snap: func() *Snapshot { return snapAt(1, 80) }, played: make(chan struct{}, 10)}
			kernel := nft.NewFake(opts)
			applied := make(chan int64, 100)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- Run(ctx, Config{Host: host, NFT: opts, ReportEvery: time.Hour, Log: quiet, Source: src,
					OpenTable: func() (nft.Table, error) { return kernel, nil },
					OnApplied: func(rev int64, _ nft.Stats) { applied <- rev }})
			}()
			var got []int64
			for len(got) < len(tc.wantApplied) {
				select {
				case rev := <-applied:
					got = append(got, rev)
				case <-time.After(10 * time.Second):
					t.Fatalf("applied %v, want %v", got, tc.wantApplied)
				}
			}
			for range tc.scripts {
				<-src.played
			}
			// The agent's next call after the scripts: another stream, or
			// the long poll.
			deadline := time.Now().Add(10 * time.Second)
			for {
				src.mu.Lock()
				n, w := len(src.streams), len(src.watches)
				src.mu.Unlock()
				if n >= len(tc.wantStreams) && (!tc.wantWatch || w > 0) || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !slices.Equal(got, tc.wantApplied) {
				t.Errorf("applied %v, want %v", got, tc.wantApplied)
			}
			var from []int64
			for _, r := range src.streams {
				from = append(from, r.After)
			}
			if len(from) < len(tc.wantStreams) || !slices.Equal(from[:len(tc.wantStreams)], tc.wantStreams) {
				t.Errorf("streams from %v, want %v", from, tc.wantStreams)
			}
			if src.snapshots != tc.wantSnapshots {
				t.Errorf("%d snapshots, want %d", src.snapshots, tc.wantSnapshots)
			}
			if (len(src.watches) > 0) != tc.wantWatch {
				t.Errorf("long polls %v, want some: %v", src.watches, tc.wantWatch)
			}
			if !strings.Contains(kernel.Applied().String(), tc.wantPort) {
				t.Errorf("the kernel does not hold port %s:\n%s", tc.wantPort, kernel.Applied())
			}
		})
	}
}

// pollSource is a streamSource whose long polls end at once (nothing new),
// as a real one's end after their wait.
type pollSource struct{ *streamSource }

func (s pollSource) Watch(ctx context.Context, r WatchRequest) (*Changes, error) {
	s.mu.Lock()
	s.watches = append(s.watches, r)
	s.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(10 * time.Millisecond):
		return &Changes{Snapshot: Snapshot{Revision: r.After}}, nil
	}
}

// TestAgentStreamRetry: an agent that found a server without the stream
// (an old one, during a rolling upgrade) long polls it, and after
// streamRetry tries the stream again, rather than long polling forever.
func TestAgentStreamRetry(t *testing.T) {
	defer func(d time.Duration) { streamRetry = d }(streamRetry)
	streamRetry = 50 * time.Millisecond
	src := pollSource{&streamSource{snap: func() *Snapshot { return snapAt(1, 80) }, played: make(chan struct{}, 10),
		scripts: []streamScript{{end: &apiclient.Error{Status: 404, Code: "InvalidAction.NotFound"}}}}}
	kernel := nft.NewFake(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Host: host, NFT: opts, ReportEvery: time.Hour, Log: quiet, Source: src,
			OpenTable: func() (nft.Table, error) { return kernel, nil }})
	}()
	deadline := time.Now().Add(10 * time.Second)
	var streams, watches int
	for time.Now().Before(deadline) {
		src.mu.Lock()
		streams, watches = len(src.streams), len(src.watches)
		src.mu.Unlock()
		if streams >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if watches == 0 {
		t.Error("the agent did not long poll the server without the stream")
	}
	if streams < 2 {
		t.Errorf("%d streams: the agent never tried the stream again", streams)
	}
}
