package ops

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// The host side of Palisade: agents (and the lab, or a hypervisor hook) bind
// instances to hosts, follow the change log, and report what they have
// applied and how often each rule matched. These are Palisade's own actions,
// signed and shaped like the ECS ones, and only the operator account (the
// first account, whose key `palisade serve` prints) may call them: an agent
// enforces every account's groups.

func (s *Service) hostActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"PalisadeBindInstance":         s.BindInstance,
		"PalisadeGetSnapshot":          s.GetSnapshot,
		"PalisadeWatchChanges":         s.WatchChanges,
		"PalisadeReportHostStatus":     s.ReportHostStatus,
		"PalisadeDescribeRuleCounters": s.DescribeRuleCounters,
	}
}

// hostStatus is what an agent last reported. It is live state, kept in
// memory: agents report again within seconds of a server restart, and
// storing it would advance the revision the agents themselves follow.
type hostStatus struct {
	Applied  int64
	Seen     time.Time
	Counters map[string]RuleCounter // "groupID/ruleID" → counts
}

// RuleCounter is how many packets and bytes a rule has decided.
type RuleCounter struct {
	Packets uint64
	Bytes   uint64
}

type hostTable struct {
	mu    sync.Mutex
	hosts map[string]*hostStatus
}

func newHostTable() *hostTable { return &hostTable{hosts: map[string]*hostStatus{}} }

// AppliedRevision returns the revision a host's agent last reported applied.
func (s *Service) AppliedRevision(host string) int64 {
	t := s.hosts
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.hosts[host]; h != nil {
		return h.Applied
	}
	return 0
}

func (s *Service) operator(ctx context.Context, req *rpc.Request) error {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return err
	}
	if c.Account != FirstAccountUID {
		return ecserr.Forbidden("Forbidden.Operator", "Only the operator account (the key `palisade serve` printed) may call %s.", req.Action)
	}
	return nil
}

var (
	hostNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	ifacePattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,14}$`)
)

func hostParam(p rpc.Params, required bool) (string, error) {
	h := p.Get("HostName")
	switch {
	case h == "" && required:
		return "", ecserr.MissingParameter("HostName")
	case h != "" && !hostNamePattern.MatchString(h):
		return "", ecserr.InvalidParameter("HostName", "use 1 to 63 letters, digits, '.', '_' or '-'")
	}
	return h, nil
}

type bindResponse struct {
	rpc.Base
	InstanceId string
	HostName   string
	Interface  string
}

// BindInstance places an instance on a host behind a host-side interface
// (HostName and Interface empty: unbind). Users never call it; the host side
// does, when it plugs the instance in.
func (s *Service) BindInstance(ctx context.Context, req *rpc.Request) (any, error) {
	if err := s.operator(ctx, req); err != nil {
		return nil, err
	}
	p := req.Params
	id := p.Get("InstanceId")
	if id == "" {
		return nil, ecserr.MissingParameter("InstanceId")
	}
	host, err := hostParam(p, false)
	if err != nil {
		return nil, err
	}
	iface := p.Get("Interface")
	switch {
	case iface != "" && !ifacePattern.MatchString(iface):
		return nil, ecserr.InvalidParameter("Interface", "an interface name has 1 to 15 letters, digits, '.', '_', '@' or '-'")
	case (host == "") != (iface == ""):
		return nil, ecserr.InvalidParameter("Interface", "give HostName and Interface together (both empty unbinds)")
	}
	_, err = s.Store.Update(ctx, func(tx store.Tx) error {
		in, ok, err := store.GetAs[model.Instance](tx, KindInstance, id)
		if err != nil {
			return err
		}
		if !ok {
			return ecserr.New(http.StatusNotFound, "InvalidInstanceId.NotFound", "The specified InstanceId %q does not exist.", id)
		}
		if in.Host == host && in.Interface == iface {
			return nil
		}
		if host != "" {
			others, err := store.ListAs[model.Instance](tx, KindInstance, store.Query{})
			if err != nil {
				return err
			}
			for _, o := range others {
				if o.ID != id && o.Host == host && o.Interface == iface {
					return ecserr.BadRequest("InvalidInterface.InUse", "Interface %s on host %s already belongs to %s; unbind it first.", iface, host, o.ID)
				}
			}
		}
		in.Host, in.Interface = host, iface
		return putInstance(tx, &in)
	})
	if err != nil {
		return nil, err
	}
	return &bindResponse{InstanceId: id, HostName: host, Interface: iface}, nil
}

// Snapshot is everything an agent needs to compile policies, at one revision.
type Snapshot struct {
	Revision    int64
	Groups      []*model.SecurityGroup
	Instances   []*model.Instance
	PrefixLists []*model.PrefixList
}

type snapshotResponse struct {
	rpc.Base
	Snapshot
}

// GetSnapshot returns every account's groups, instances and prefix lists.
func (s *Service) GetSnapshot(ctx context.Context, req *rpc.Request) (any, error) {
	if err := s.operator(ctx, req); err != nil {
		return nil, err
	}
	out := &snapshotResponse{}
	err := s.Store.View(ctx, func(tx store.ReadTx) error {
		out.Revision = tx.Revision()
		var err error
		if out.Groups, err = listAll[model.SecurityGroup](tx, KindGroup); err != nil {
			return err
		}
		if out.Instances, err = listAll[model.Instance](tx, KindInstance); err != nil {
			return err
		}
		out.PrefixLists, err = listAll[model.PrefixList](tx, KindPrefixList)
		return err
	})
	return out, err
}

// policyKinds are the kinds whose records change an agent's policies.
var policyKinds = map[store.Kind]bool{KindGroup: true, KindInstance: true, KindPrefixList: true}

// Deleted names a record removed since the watcher's revision.
type Deleted struct {
	Kind string
	Id   string
}

type watchResponse struct {
	rpc.Base
	// Revision is the revision the changes bring the watcher to.
	Revision int64
	// Changed are the current versions of the records changed since
	// AfterRevision; Deleted the records removed.
	Groups      []*model.SecurityGroup
	Instances   []*model.Instance
	PrefixLists []*model.PrefixList
	Deleted     []Deleted
	// Resync says the watcher's revision is ahead of the store's (the
	// server's store was replaced): start over from a snapshot.
	Resync bool `json:",omitempty"`
}

const maxWatchWait = 60 * time.Second

// WatchChanges waits until the revision passes AfterRevision (at most
// WaitSeconds, default 25, max 60) and returns the policy records changed
// since then, read at one revision, so applying them in any order brings
// the watcher to exactly Revision. A watcher resumes after a restart or a
// lost connection by passing the last Revision it applied. HostName and
// AppliedRevision, when given, report the caller's progress.
func (s *Service) WatchChanges(ctx context.Context, req *rpc.Request) (any, error) {
	if err := s.operator(ctx, req); err != nil {
		return nil, err
	}
	p := req.Params
	after, perr := p.Int("AfterRevision", 0)
	if perr != nil {
		return nil, perr
	}
	wait, perr := p.Int("WaitSeconds", 25)
	if perr != nil {
		return nil, perr
	}
	if after < 0 || wait < 0 || time.Duration(wait)*time.Second > maxWatchWait {
		return nil, ecserr.InvalidParameter("WaitSeconds", "AfterRevision must be >= 0 and WaitSeconds between 0 and 60")
	}
	if err := s.noteHost(p); err != nil {
		return nil, err
	}
	if cur, err := s.Store.Revision(ctx); err != nil {
		return nil, err
	} else if cur < int64(after) {
		return &watchResponse{Revision: cur, Resync: true}, nil
	}
	wctx, cancel := context.WithTimeout(ctx, time.Duration(wait)*time.Second)
	defer cancel()
	if s.Stopping != nil {
		defer context.AfterFunc(s.Stopping, cancel)()
	}
	if _, err := s.Store.WaitRevision(wctx, int64(after)); err != nil && wctx.Err() == nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	out := &watchResponse{}
	err := s.Store.View(ctx, func(tx store.ReadTx) error {
		out.Revision = tx.Revision()
		if out.Revision <= int64(after) {
			out.Revision = max(out.Revision, int64(after))
			return nil
		}
		changes, err := s.Store.Changes(ctx, int64(after), 0)
		if err != nil {
			return err
		}
		seen := map[store.Change]bool{}
		for _, ch := range changes {
			if ch.Revision > out.Revision || !policyKinds[ch.Kind] {
				continue
			}
			key := store.Change{Kind: ch.Kind, ID: ch.ID}
			if seen[key] {
				continue
			}
			seen[key] = true
			rec, ok, err := tx.Get(ch.Kind, ch.ID)
			if err != nil {
				return err
			}
			if !ok {
				out.Deleted = append(out.Deleted, Deleted{Kind: string(ch.Kind), Id: ch.ID})
				continue
			}
			switch ch.Kind {
			case KindGroup:
				err = appendRecord(&out.Groups, rec)
			case KindInstance:
				err = appendRecord(&out.Instances, rec)
			case KindPrefixList:
				err = appendRecord(&out.PrefixLists, rec)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func appendRecord[T any](dst *[]*T, rec store.Record) error {
	v := new(T)
	if err := json.Unmarshal(rec.Data, v); err != nil {
		return err
	}
	*dst = append(*dst, v)
	return nil
}

// noteHost records a host's reported progress, if the request carries one.
func (s *Service) noteHost(p rpc.Params) error {
	host, err := hostParam(p, false)
	if err != nil || host == "" {
		return err
	}
	applied, perr := p.Int("AppliedRevision", 0)
	if perr != nil {
		return perr
	}
	t := s.hosts
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.hosts[host]
	if h == nil {
		h = &hostStatus{}
		t.hosts[host] = h
	}
	h.Applied, h.Seen = max(h.Applied, int64(applied)), s.Now()
	return nil
}

// ReportHostStatus records a host's applied revision and, with Counters (a
// JSON object "groupID/ruleID" → {"Packets":n,"Bytes":n}, the host's totals),
// its per-rule counters.
func (s *Service) ReportHostStatus(ctx context.Context, req *rpc.Request) (any, error) {
	if err := s.operator(ctx, req); err != nil {
		return nil, err
	}
	if _, err := hostParam(req.Params, true); err != nil {
		return nil, err
	}
	var counters map[string]RuleCounter
	if c := req.Params.Get("Counters"); c != "" {
		if err := json.Unmarshal([]byte(c), &counters); err != nil {
			return nil, ecserr.InvalidParameter("Counters", "a JSON object of \"groupID/ruleID\": {\"Packets\": n, \"Bytes\": n}")
		}
	}
	if err := s.noteHost(req.Params); err != nil {
		return nil, err
	}
	if counters != nil {
		t := s.hosts
		t.mu.Lock()
		t.hosts[req.Params.Get("HostName")].Counters = counters
		t.mu.Unlock()
	}
	return &rpc.Base{}, nil
}

type ruleCounterItem struct {
	SecurityGroupRuleId string
	Direction           string
	Priority            int
	Policy              string
	Packets             uint64
	Bytes               uint64
}

type ruleCountersResponse struct {
	rpc.Base
	SecurityGroupId string
	RuleCounters    struct{ RuleCounter []ruleCounterItem }
}

// DescribeRuleCounters returns, for each rule of a group, the packets and
// bytes it decided on every host, as the agents last reported. A rule at
// zero is one no traffic has ever needed.
func (s *Service) DescribeRuleCounters(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	g, err := view(s, ctx, func(tx store.ReadTx) (*model.SecurityGroup, error) {
		return getGroup(tx, c, req.Params.Get("SecurityGroupId"))
	})
	if err != nil {
		return nil, err
	}
	sums := map[string]RuleCounter{}
	t := s.hosts
	t.mu.Lock()
	for _, h := range t.hosts {
		for _, r := range g.Rules {
			k := g.ID + "/" + r.ID
			if v, ok := h.Counters[k]; ok {
				s := sums[k]
				s.Packets += v.Packets
				s.Bytes += v.Bytes
				sums[k] = s
			}
		}
	}
	t.mu.Unlock()
	out := &ruleCountersResponse{SecurityGroupId: g.ID}
	out.RuleCounters.RuleCounter = []ruleCounterItem{}
	for _, r := range g.Rules {
		v := sums[g.ID+"/"+r.ID]
		out.RuleCounters.RuleCounter = append(out.RuleCounters.RuleCounter, ruleCounterItem{
			SecurityGroupRuleId: r.ID, Direction: string(r.Direction), Priority: r.Priority,
			Policy: r.Policy.Display(), Packets: v.Packets, Bytes: v.Bytes})
	}
	return out, nil
}
