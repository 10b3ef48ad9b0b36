package service

import (
	"context"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// The stream: one long-lived request per agent whose answer carries every
// change as it happens (PalisadeWatchStream), instead of one long poll
// per change. At a thousand agents the long poll's cost is the request
// itself (the signature, the parsing, the HTTP exchange, per agent per
// change); a stream pays it once. Its answers are the long poll's, made by
// the same code (nextChanges) and shared the same way, so a change is still
// computed and encoded once for every host that gets the same answer.

// Heartbeat bounds of a stream: with nothing to send, a stream sends an
// empty answer at the last revision checked this often, so that a dead
// connection is noticed at both ends and the watcher's revision keeps up.
const (
	DefaultHeartbeat = 10 * time.Second
	MaxHeartbeat     = 60 * time.Second
)

// StreamInput asks for a stream of changes after a revision.
type StreamInput struct {
	Caller        Caller
	AfterRevision int64
	Heartbeat     time.Duration // 0: DefaultHeartbeat; at most MaxHeartbeat
	Progress      HostProgress  // optional: the caller's host and revision at the start
	// KeyID is the access key that opened the stream: the stream ends
	// once that key may no longer call (made Inactive, deleted, replaced
	// by a new registration of its host, its account disabled), as a
	// request signed with it would be refused. "": not checked.
	KeyID string
}

// ChangeStream is a watcher's stream, opened (OpenStream) and not yet run.
type ChangeStream struct {
	s        *Service
	in       StreamInput
	snap     *view.Snapshot // nil: answer Resync at once
	resyncAt int64
	release  func() // its place among its host's watches (hostlimits.go)
}

// Close gives up the stream's place among its host's watches open at
// once. Run closes it when it returns; a stream opened and never run must
// be closed.
func (st *ChangeStream) Close() {
	if st.release != nil {
		st.release()
	}
}

// OpenStream checks a stream's caller and input and finds where it starts,
// so that every error of the request comes before the stream does (the
// transport answers them as a long poll's); Run streams.
func (s *Service) OpenStream(ctx context.Context, in StreamInput) (*ChangeStream, error) {
	c := in.Caller
	if err := CheckHostCaller(c, "PalisadeWatchStream", in.Progress.HostName); err != nil {
		return nil, err
	}
	if in.AfterRevision < 0 {
		return nil, ecserr.InvalidParameter("AfterRevision", "AfterRevision must be >= 0")
	}
	if in.Heartbeat < 0 || in.Heartbeat > MaxHeartbeat {
		return nil, ecserr.InvalidParameter("HeartbeatSeconds", "HeartbeatSeconds must be between 1 and 60")
	}
	if in.Heartbeat == 0 {
		in.Heartbeat = DefaultHeartbeat
	}
	if c.Host != "" && in.Progress.HostName == "" {
		in.Progress.HostName = c.Host
	}
	if err := s.noteProgress(ctx, &in.Progress, false); err != nil {
		return nil, err
	}
	if s.view == nil {
		return nil, errNoView
	}
	release, err := s.watchStart(c, "PalisadeWatchStream", in.AfterRevision)
	if err != nil {
		return nil, err
	}
	snap, err := s.view.Snapshot(ctx)
	if err != nil {
		release()
		return nil, err
	}
	if snap.Revision() < in.AfterRevision {
		caught, err := s.catchUp(ctx, in.AfterRevision)
		if err != nil {
			release()
			return nil, err
		}
		if caught == nil {
			return &ChangeStream{s: s, in: in, resyncAt: snap.Revision(), release: release}, nil
		}
		snap = caught
	}
	return &ChangeStream{s: s, in: in, snap: snap, release: release}, nil
}

// Run follows the changes the caller's agent needs after AfterRevision and
// calls send with each answer, in order: each is what WatchChanges would
// answer from the revision of the one before (the records changed, or
// Resync, after which the stream ends), or, when nothing changed for
// Heartbeat, a heartbeat: an answer with no records at the last revision
// checked (Changes.Empty). It returns when send fails (the watcher is gone
// or too slow: it resumes from the last revision it got), ctx ends or the
// server stops (nil).
func (st *ChangeStream) Run(ctx context.Context, send func(Changes) error) error {
	defer st.Close()
	s, in := st.s, st.in
	if st.snap == nil {
		return send(Changes{Revision: st.resyncAt, Resync: true})
	}
	if s.Stopping != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(s.Stopping, cancel)()
	}
	snap := st.snap
	w := WatchInput{Caller: in.Caller, AfterRevision: in.AfterRevision, Progress: in.Progress}
	// One heartbeat period at a time, across the frames sent in it (a
	// context per frame is a timer per host per change): a heartbeat
	// comes at most Heartbeat after the one before.
	beat := newBeat(ctx, in.Heartbeat)
	defer func() { beat.cancel() }()
	for {
		if h := w.Progress.HostName; h != "" && w.AfterRevision > in.AfterRevision {
			// The agent reports what it applied on its own; once it holds
			// everything sent, a stretch with nothing for it moves its
			// applied revision along (as a long poll's does).
			w.Progress.AppliedRevision = s.AppliedRevision(h)
		}
		out, found, err := s.nextChanges(ctx, beat.ctx, w, snap)
		if err != nil {
			if ctx.Err() != nil {
				return nil // the watcher left, or the server stops
			}
			return err
		}
		if in.KeyID != "" {
			if _, err := keyCaller(s.view.Current(), in.KeyID); err != nil {
				return nil // the agent's next request, signed with the key, is refused
			}
		}
		if !found {
			// A heartbeat vouches for the view: not when the store is
			// silent (liveness.go).
			if err := s.storeAnswers(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		if err := send(out); err != nil {
			return err
		}
		if out.Resync {
			return nil
		}
		if !found { // a heartbeat: the next period starts
			beat.cancel()
			beat = newBeat(ctx, in.Heartbeat)
		}
		w.AfterRevision = out.Revision
		snap = s.view.Current()
	}
}

// beat is one heartbeat period of a stream.
type beat struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newBeat(ctx context.Context, d time.Duration) beat {
	c, cancel := context.WithTimeout(ctx, d)
	return beat{c, cancel}
}

// Empty reports whether an answer carries nothing: a heartbeat, or a long
// poll that ended with nothing new.
func (c *Changes) Empty() bool {
	return !c.Resync && len(c.Groups)+len(c.Instances)+len(c.PrefixLists)+len(c.PortRangeLists)+len(c.ENIs)+len(c.FlowLogs)+len(c.Deleted) == 0
}
