package agent

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
)

// streamServer answers every request with a stream of frames (one per
// revision), each sent once next yields (nil: at once), then ends it.
func streamServer(t *testing.T, revs []int64, next chan struct{}) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for i, rev := range revs {
			if i > 0 && next != nil {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
			fmt.Fprintf(w, "{\"Revision\":%d}\n", rev)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// TestStreamSlowApply: an apply (each) longer than deadAfter does not
// make the stream's watchdog take a healthy connection for dead: it waits
// for the server only.
func TestStreamSlowApply(t *testing.T) {
	defer func(d time.Duration) { deadAfter = d }(deadAfter)
	deadAfter = 200 * time.Millisecond
	next := make(chan struct{}, 1)
	c, err := apiclient.New(streamServer(t, []int64{2, 3}, next), "LTAIkey", "secret", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	err = apiSource{c, host}.Stream(context.Background(), WatchRequest{Host: host, After: 1}, func(w *Changes) error {
		got = append(got, w.Revision)
		if w.Revision == 2 {
			time.Sleep(4 * deadAfter) // a long apply
			next <- struct{}{}
		}
		return nil
	})
	if err != nil {
		t.Errorf("Stream: %v", err)
	}
	if !slices.Equal(got, []int64{2, 3}) {
		t.Errorf("frames %v, want [2 3]", got)
	}
}

// TestFailoverEmptyStream: a server that ends a stream before its first
// frame failed it (it is stopping, or cannot serve it): the next stream
// goes to the next server. One that ended a stream with frames is kept.
func TestFailoverEmptyStream(t *testing.T) {
	for _, tc := range []struct {
		name    string
		revs    []int64
		wantErr bool
	}{
		{"no frame", nil, true},
		{"frames", []int64{2}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := newFailover([]string{streamServer(t, tc.revs, nil), streamServer(t, nil, nil)}, "LTAIkey", "secret", host, func(string, ...any) {})
			if err != nil {
				t.Fatal(err)
			}
			err = f.Stream(context.Background(), WatchRequest{Host: host, After: 1}, func(*Changes) error { return nil })
			if (err != nil) != tc.wantErr {
				t.Errorf("Stream: %v, want an error: %v", err, tc.wantErr)
			}
			if got := f.cur.Load() == 1; got != tc.wantErr {
				t.Errorf("moved to the next server: %v, want %v", got, tc.wantErr)
			}
		})
	}
}

// TestStreamFrameBounded: a server that sends a line without end (broken,
// or not Palisade's) fails the stream once the line passes
// apiclient.MaxAnswerBytes, with an error that says so, after the frames
// before it were taken; the agent read it whole, however long.
func TestStreamFrameBounded(t *testing.T) {
	defer func(n int64) { apiclient.MaxAnswerBytes = n }(apiclient.MaxAnswerBytes)
	apiclient.MaxAnswerBytes = 64 << 10
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "{\"Revision\":2}\n")
		chunk := []byte(strings.Repeat("x", 4096))
		for range 1024 { // 4 MiB, as long as the client reads
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer s.Close()
	c, err := apiclient.New(s.URL, "LTAIkey", "secret", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	err = apiSource{c, host}.Stream(context.Background(), WatchRequest{Host: host, After: 1}, func(w *Changes) error {
		got = append(got, w.Revision)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "larger than any Palisade server's") {
		t.Errorf("Stream: %v, want the frame's bound", err)
	}
	if !slices.Equal(got, []int64{2}) {
		t.Errorf("frames %v, want [2]", got)
	}
}
