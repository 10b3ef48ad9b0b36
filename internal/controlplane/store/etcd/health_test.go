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

// TestMemberUpIsThatMember: a member counts as up only when the etcd at its
// URL is that member of this cluster; another etcd answering there (the
// member replaced, a new cluster on its port) does not keep it "up".
func TestMemberUpIsThatMember(t *testing.T) {
	url := etcdtest.Embedded(t)
	other := etcdtest.Embedded(t) // another cluster of one
	s, err := Dial(context.Background(), []string{url}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := s.Health(ctx, nil)
	if err != nil || len(h.Members) != 1 {
		t.Fatalf("Health: %+v, %v", h, err)
	}
	self := h.Members[0]
	st, err := s.cli.Status(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	cluster := st.Header.ClusterId
	for _, c := range []struct {
		name    string
		m       Member
		cluster uint64
		up      bool
	}{
		{"the member itself", self, cluster, true},
		{"its ID at another cluster's URL", Member{ID: self.ID, URL: other}, cluster, false},
		{"another ID at its URL", Member{ID: self.ID + 1, URL: self.URL}, cluster, false},
		{"another cluster, its ID unknown", Member{ID: self.ID, URL: self.URL}, cluster + 1, false},
	} {
		if up, err := s.memberUp(ctx, c.m, c.cluster); up != c.up {
			t.Errorf("%s: up %v (%v), want %v", c.name, up, err, c.up)
		}
	}
}
