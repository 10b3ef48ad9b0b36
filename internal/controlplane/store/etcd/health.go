package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Health is the etcd cluster as this server's client sees it: whether the
// member it talks to has a leader, and which members answer.
type Health struct {
	// Leader is the ID of the leader the answering member follows; 0:
	// none, the cluster has no quorum (requests wait, then fail).
	Leader uint64
	// Self is the ID of the member that answered.
	Self    uint64
	Members []Member
}

// Member is one member of the cluster and whether it answers its status.
type Member struct {
	ID      uint64
	Name    string // "" for a member added that has not started yet
	URL     string // its first client URL
	Learner bool
	Up      bool
	Err     error // why it is not up
}

// healthProbe bounds each question Health asks: one member that hangs
// (stopped, cut off) must not take the time of the others' answers.
const healthProbe = time.Second

// Health asks the cluster of its leader and members. It needs no quorum:
// a member answers its status and its member list from its own state.
// Every endpoint and member is asked at once, each for at most a second.
// known are the members of the last check: when no member lists them
// now, they are each asked again, so one that stops shows as down rather
// than vanishing.
func (s *Store) Health(ctx context.Context, known []Member) (Health, error) {
	var h Health
	var cluster uint64
	st, err := s.firstStatus(ctx)
	if err == nil {
		h.Leader, h.Self, cluster = st.Leader, st.Header.MemberId, st.Header.ClusterId
	}
	lctx, cancel := context.WithTimeout(ctx, healthProbe)
	list, lerr := s.cli.MemberList(lctx, clientv3.WithSerializable())
	cancel()
	if lerr == nil {
		cluster = list.Header.ClusterId
		h.Members = make([]Member, len(list.Members))
		for i, m := range list.Members {
			hm := &h.Members[i]
			hm.ID, hm.Name, hm.Learner = m.ID, m.Name, m.IsLearner
			if len(m.ClientURLs) > 0 {
				hm.URL = m.ClientURLs[0]
			}
		}
	} else {
		for _, m := range known {
			h.Members = append(h.Members, Member{ID: m.ID, Name: m.Name, URL: m.URL, Learner: m.Learner})
		}
	}
	var wg sync.WaitGroup
	for i := range h.Members {
		hm := &h.Members[i]
		switch {
		case hm.URL == "":
			hm.Err = errors.New("not started")
		case hm.ID == h.Self && h.Self != 0:
			hm.Up = true
		default:
			wg.Go(func() { hm.Up, hm.Err = s.memberUp(ctx, *hm, cluster) })
		}
	}
	wg.Wait()
	switch {
	case err != nil:
		return h, err
	case lerr != nil:
		return h, fmt.Errorf("etcd: list the members: %w", lerr)
	}
	return h, nil
}

// memberUp asks m at its client URL for its status. Only m itself counts:
// another etcd answering at that address (a member replaced, a cluster
// started anew on the same host) is not m, and counting it would hide that
// m is gone. cluster is the cluster's ID (0: unknown, not checked).
func (s *Store) memberUp(ctx context.Context, m Member, cluster uint64) (bool, error) {
	pctx, cancel := context.WithTimeout(ctx, healthProbe)
	defer cancel()
	st, err := s.cli.Status(pctx, m.URL)
	switch {
	case err != nil:
		return false, err
	case cluster != 0 && st.Header.ClusterId != cluster:
		return false, fmt.Errorf("%s answers for another etcd cluster (%x, not %x)", m.URL, st.Header.ClusterId, cluster)
	case st.Header.MemberId != m.ID:
		return false, fmt.Errorf("%s answers as another member (%x, not %x)", m.URL, st.Header.MemberId, m.ID)
	}
	return true, nil
}

// firstStatus is the status of the first of the client's endpoints to
// answer, all asked at once.
func (s *Store) firstStatus(ctx context.Context) (*clientv3.StatusResponse, error) {
	eps := s.cli.Endpoints()
	type answer struct {
		st  *clientv3.StatusResponse
		err error
	}
	ch := make(chan answer, len(eps)) // buffered: the losers do not block
	for _, ep := range eps {
		go func() {
			pctx, cancel := context.WithTimeout(ctx, healthProbe)
			defer cancel()
			st, err := s.cli.Status(pctx, ep)
			ch <- answer{st, err}
		}()
	}
	var errs []error
	for range eps {
		a := <-ch
		if a.err == nil {
			return a.st, nil
		}
		errs = append(errs, a.err)
	}
	return nil, fmt.Errorf("etcd: no endpoint answered its status: %w", errors.Join(errs...))
}
