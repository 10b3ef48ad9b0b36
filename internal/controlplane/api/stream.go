package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// PalisadeWatchStream: the watch as one long-lived request per agent. The
// answer is JSON lines (StreamContentType), one line per frame, each frame
// what PalisadeWatchChanges would answer from the revision of the frame
// before (without RequestId: the request's is in the x-acs-request-id
// header): records changed, or {"Revision":N,"Resync":true} (then the
// stream ends), or a heartbeat {"Revision":N} with nothing new up to N.
// A frame shared by several hosts is the same encoded bytes for all of them.

// StreamContentType is the media type of a change stream: JSON lines.
const StreamContentType = "application/x-ndjson"

// DefaultStreamWriteTimeout bounds writing one frame of a stream: an agent
// that does not take a frame within it (gone, or reading too slowly) is
// cut off, and resumes from the last revision it read.
const DefaultStreamWriteTimeout = 10 * time.Second

// watchStream reads AfterRevision, HeartbeatSeconds (default 10, 1 to 60)
// and the caller's progress.
func (s *Service) watchStream(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.operator(ctx, req)
	if err != nil {
		return nil, err
	}
	after, hb, pr, err := watchParams(req.Params, "HeartbeatSeconds", int(service.DefaultHeartbeat/time.Second), time.Second, service.MaxHeartbeat)
	if err != nil {
		return nil, err
	}
	st, err := s.OpenStream(ctx, service.StreamInput{Caller: c, AfterRevision: after, Heartbeat: hb, Progress: pr, KeyID: rpc.AccessKeyID(ctx)})
	if err != nil {
		return nil, err
	}
	timeout := s.StreamWriteTimeout
	if timeout <= 0 {
		timeout = DefaultStreamWriteTimeout
	}
	return &changeStream{st: st, timeout: timeout}, nil
}

// changeStream writes a service.ChangeStream as JSON lines.
type changeStream struct {
	st      *service.ChangeStream
	timeout time.Duration
}

func (*changeStream) ContentType() string { return StreamContentType }

// Serve writes each answer as one frame and flushes it, within the write
// timeout. Nothing is queued for a stream: its goroutine computes the next
// answer only once the last one is written, from the revision that one
// brought the agent to, so a slow agent gets the changes since coalesced
// into one frame, and one that stops reading is cut off by the deadline.
func (cs *changeStream) Serve(ctx context.Context, w http.ResponseWriter) error {
	defer cs.st.Close() // also when the first flush fails, before Run
	rc := http.NewResponseController(w)
	defer rc.SetWriteDeadline(time.Time{}) // the connection may serve more requests
	if err := rc.Flush(); err != nil {     // the agent knows the stream is open
		return err
	}
	return cs.st.Run(ctx, func(ch service.Changes) error {
		var body []byte
		if ch.Empty() {
			body = strconv.AppendInt([]byte(`{"Revision":`), ch.Revision, 10)
			body = append(body, "}\n"...)
		} else {
			b, err := ch.Encoded(encodeChanges)
			if err != nil {
				return err
			}
			body = b
		}
		if err := rc.SetWriteDeadline(time.Now().Add(cs.timeout)); err != nil && err != http.ErrNotSupported {
			return err
		}
		if _, err := w.Write(body); err != nil { // a line: encodeChanges ends it
			return err
		}
		return rc.Flush()
	})
}
