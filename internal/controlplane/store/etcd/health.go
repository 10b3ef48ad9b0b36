package etcd

import (
	"context"
	"fmt"
	"sync"

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

// Health asks the cluster of its leader and members. It needs no quorum:
// a member answers its status and its member list from its own state.
func (s *Store) Health(ctx context.Context) (Health, error) {
	var (
		h   Health
		st  *clientv3.StatusResponse
		err error
	)
	for _, ep := range s.cli.Endpoints() {
		if st, err = s.cli.Status(ctx, ep); err == nil {
			break
		}
	}
	if st == nil {
		return h, fmt.Errorf("etcd: no endpoint answered its status: %w", err)
	}
	h.Leader, h.Self = st.Leader, st.Header.MemberId
	list, err := s.cli.MemberList(ctx, clientv3.WithSerializable())
	if err != nil {
		return h, fmt.Errorf("etcd: list the members: %w", err)
	}
	h.Members = make([]Member, len(list.Members))
	var wg sync.WaitGroup
	for i, m := range list.Members {
		hm := &h.Members[i]
		hm.ID, hm.Name, hm.Learner = m.ID, m.Name, m.IsLearner
		if len(m.ClientURLs) == 0 {
			hm.Err = fmt.Errorf("not started")
			continue
		}
		hm.URL = m.ClientURLs[0]
		if m.ID == h.Self {
			hm.Up = true
			continue
		}
		wg.Go(func() {
			_, err := s.cli.Status(ctx, hm.URL)
			hm.Up, hm.Err = err == nil, err
		})
	}
	wg.Wait()
	return h, nil
}
