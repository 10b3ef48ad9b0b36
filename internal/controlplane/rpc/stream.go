package rpc

import (
	"context"
	"net/http"
	"time"
)

// Stream is a handler's result that is written as a stream of frames
// rather than one answer (the agents' change streams): the server answers
// 200 with ContentType and the request ID, then calls Serve, which writes
// frames (flushing each) until it returns. Errors found before the stream
// starts are returned by the handler as usual, in the ECS error envelope.
// A stream is JSON only (Format is not consulted), and the call is
// observed when it ends, without its body.
type Stream interface {
	ContentType() string
	Serve(ctx context.Context, w http.ResponseWriter) error
}

// serveStream writes a Stream's answer.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, req *Request, st Stream, start time.Time) {
	w.Header().Set("Content-Type", st.ContentType())
	w.Header().Set("x-acs-request-id", req.RequestID)
	w.WriteHeader(http.StatusOK)
	err := st.Serve(r.Context(), w)
	if s.Observe != nil {
		c := &Call{Request: req, Start: start, Duration: time.Since(start), Status: http.StatusOK,
			RemoteAddr: r.RemoteAddr, UserAgent: r.UserAgent(), Method: r.Method}
		if err != nil && r.Context().Err() == nil {
			c.Message = err.Error() // why the server ended it (a write that timed out)
		}
		s.Observe(c)
	}
}
