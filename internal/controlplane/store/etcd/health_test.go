package etcd

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
)

// TestHealthPastAHungEndpoint: an endpoint that accepts and never answers
// (a member stopped with SIGSTOP, cut off) does not take the time of the
// one that answers: the cluster still has its leader. Asked one after the
// other under one deadline, the hung one used it all and the check
// reported a lost quorum.
func TestHealthPastAHungEndpoint(t *testing.T) {
	url := etcdtest.Embedded(t)
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hung.Close() })
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // held open, never answered
		}
	}()
	s, err := Dial(context.Background(), []string{url}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.cli.SetEndpoints("http://"+hung.Addr().String(), url)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	h, err := s.Health(ctx, nil)
	if err != nil || h.Leader == 0 || len(h.Members) != 1 || !h.Members[0].Up {
		t.Fatalf("Health past a hung endpoint: %+v, %v; want a leader and its one member up", h, err)
	}
}
