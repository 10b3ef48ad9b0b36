package rpc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// orderedResponse records when it is encoded.
type orderedResponse struct {
	Base
	log func(string)
}

func (r *orderedResponse) MarshalJSON() ([]byte, error) {
	r.log("encoded")
	return []byte(`{"RequestId":"x"}`), nil
}

// TestGate: the gate runs before a low-priority call takes a worker
// thread, so that a call it refuses takes none; a call it admits runs
// with the gate's context, and the gate's done runs after the answer is
// encoded, with or without the low priority.
func TestGate(t *testing.T) {
	for _, low := range []bool{true, false} {
		s := testServer(t, nil)
		var mu sync.Mutex
		var events []string
		log := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
		type key struct{}
		s.Gate = func(ctx context.Context, req *Request) (context.Context, func(), error) {
			if req.Action == "Refused" {
				return ctx, nil, ecserr.New(http.StatusBadRequest, "Throttling.User", "wait")
			}
			log("admitted")
			return context.WithValue(ctx, key{}, "gated"), func() { log("done") }, nil
		}
		if low {
			s.Nice = 5
			s.LowPriority = func(action string) bool { return strings.HasPrefix(action, "Heavy") || action == "Refused" }
		}
		handler := func(ctx context.Context, req *Request) (any, error) {
			log("ran " + ctx.Value(key{}).(string))
			return &orderedResponse{log: log}, nil
		}
		s.Routes[RouteKey{version, "Heavy"}] = handler
		s.Routes[RouteKey{version, "Refused"}] = handler
		for range 20 {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest("GET", "/?"+signedV1("GET", "Refused", "testsecret", nil).Encode(), nil))
			if w.Code != 400 || !strings.Contains(w.Body.String(), "Throttling.User") {
				t.Fatalf("low %v: refused by the gate: %d %s", low, w.Code, w.Body)
			}
		}
		if s.idleLow != nil || s.lowSlots != nil {
			t.Errorf("low %v: calls the gate refused took worker threads (%d idle)", low, len(s.idleLow))
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", "/?"+signedV1("GET", "Heavy", "testsecret", nil).Encode(), nil))
		if w.Code != 200 {
			t.Fatalf("low %v: admitted: %d %s", low, w.Code, w.Body)
		}
		if want := []string{"admitted", "ran gated", "encoded", "done"}; !slices.Equal(events, want) {
			t.Errorf("low %v: %v, want %v", low, events, want)
		}
	}
}
