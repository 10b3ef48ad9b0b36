package webhook

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/trail"
)

func change(action string, params map[string]string, code string) trail.Event {
	return trail.Event{EventName: action, EventRW: "Write", RequestParameters: trail.ParamsOf(params), ErrorCode: code}
}

func TestWanted(t *testing.T) {
	for _, tc := range []struct {
		ev   trail.Event
		want bool
	}{
		{change("AuthorizeSecurityGroup", nil, ""), true},
		{change("JoinSecurityGroup", nil, ""), true},
		{change("AuthorizeSecurityGroup", nil, "InvalidSecurityGroupId.NotFound"), false},
		{change("AuthorizeSecurityGroup", nil, "DryRunOperation"), false},
		{change("ModifyInstanceAttribute", map[string]string{"SecurityGroupIds.1": "sg-1"}, ""), true},
		{change("ModifyInstanceAttribute", map[string]string{"InstanceName": "x"}, ""), false},
		{change("CreateVpc", nil, ""), false},
	} {
		if got := Wanted(tc.ev); got != tc.want {
			t.Errorf("Wanted(%s %v %q) = %v, want %v", tc.ev.EventName, tc.ev.RequestParameters, tc.ev.ErrorCode, got, tc.want)
		}
	}
}

func TestRetries(t *testing.T) {
	var tries atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tries.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	defer hs.Close()
	n, err := New(Config{URL: hs.URL, Retries: 3, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	n.Notify(change("AuthorizeSecurityGroup", nil, ""))
	n.Close(5 * time.Second)
	if s := n.Stats(); s.Delivered != 1 || s.Failed != 0 || tries.Load() != 3 {
		t.Fatalf("stats %+v after %d tries; want delivered on the third", s, tries.Load())
	}

	// An endpoint that always fails: given up after the retries.
	tries.Store(-100)
	n, _ = New(Config{URL: hs.URL, Retries: 2, Backoff: time.Millisecond})
	n.Notify(change("AuthorizeSecurityGroup", nil, ""))
	n.Close(5 * time.Second)
	if s := n.Stats(); s.Failed != 1 || tries.Load() != -97 {
		t.Fatalf("stats %+v after %d tries; want failed after 3", s, tries.Load()+100)
	}
}

// TestNeverBlocks: an endpoint that hangs neither holds Notify up nor
// grows the queue past its bound.
func TestNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hs.Close()
	defer close(release)
	n, err := New(Config{URL: hs.URL, Queue: 5, Timeout: time.Minute, Retries: 0})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		n.Notify(change("RevokeSecurityGroup", nil, ""))
	}
	// One is in flight, at most 5 wait: the rest were dropped.
	if s := n.Stats(); s.Dropped < 94 {
		t.Fatalf("stats %+v; want at least 94 dropped", s)
	}
	n.Close(10 * time.Millisecond) // gives up on the hanging delivery
}

func TestCheckURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x/", "http://", "not a url", "/relative"} {
		if CheckURL(u) == nil {
			t.Errorf("CheckURL(%q) accepted it", u)
		}
	}
	if err := CheckURL("https://alerts.example/hook"); err != nil {
		t.Error(err)
	}
}
