package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// The host side: Palisade's own actions, signed and shaped like the ECS
// ones, that agents call (see package service, hosts.go).

func (s *Service) hostActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"PalisadeBindInstance":         s.bindInstance,
		"PalisadeGetSnapshot":          s.getSnapshot,
		"PalisadeWatchChanges":         s.watchChanges,
		"PalisadeWatchStream":          s.watchStream,
		"PalisadeReportHostStatus":     s.reportHostStatus,
		"PalisadeDescribeRuleCounters": s.describeRuleCounters,
	}
}

// RuleCounter is how many packets and bytes a rule has decided.
type RuleCounter = service.RuleCounter

// Snapshot is everything an agent needs to compile policies, at one revision.
type Snapshot = service.Snapshot

// Deleted names a record removed since the watcher's revision.
type Deleted = service.Deleted

// operator is the caller of a host action, who must be the operator or the
// key of the host the request names (HostName); it is checked before the
// other parameters, as ECS checks permissions first.
func (s *Service) operator(ctx context.Context, req *rpc.Request) (caller, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return c, err
	}
	return c, service.CheckHostCaller(c, req.Action, req.Params.Get("HostName"))
}

// progress reads HostName and AppliedRevision.
// watchParams reads what both watches take: AfterRevision, the caller's
// progress and the seconds parameter named secs (def when absent), which is
// refused outside [lo, hi] while still an integer, so that no value wraps
// into the range as a Duration.
func watchParams(p rpc.Params, secs string, def int, lo, hi time.Duration) (int64, time.Duration, service.HostProgress, error) {
	var pr service.HostProgress
	after, e := p.Int("AfterRevision", 0)
	if e != nil {
		return 0, 0, pr, e
	}
	n, e := p.Int(secs, def)
	if e != nil {
		return 0, 0, pr, e
	}
	if n < int(lo/time.Second) || n > int(hi/time.Second) {
		return 0, 0, pr, ecserr.InvalidParameter(secs, fmt.Sprintf("%s must be between %d and %d", secs, int(lo/time.Second), int(hi/time.Second)))
	}
	pr, err := progress(p)
	return int64(after), time.Duration(n) * time.Second, pr, err
}

func progress(p rpc.Params) (service.HostProgress, error) {
	applied, e := p.Int("AppliedRevision", 0)
	if e != nil {
		return service.HostProgress{}, e
	}
	return service.HostProgress{HostName: p.Get("HostName"), AppliedRevision: int64(applied)}, nil
}

type bindResponse struct {
	rpc.Base
	InstanceId         string
	NetworkInterfaceId string `json:",omitempty"`
	HostName           string
	Interface          string
}

func (s *Service) bindInstance(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.operator(ctx, req)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.BindInput{Caller: c, InstanceID: p.Get("InstanceId"), NetworkInterfaceID: p.Get("NetworkInterfaceId"),
		HostName: p.Get("HostName"), Interface: p.Get("Interface")}
	if err := s.BindInstance(ctx, in); err != nil {
		return nil, err
	}
	return &bindResponse{InstanceId: in.InstanceID, NetworkInterfaceId: in.NetworkInterfaceID, HostName: in.HostName, Interface: in.Interface}, nil
}

type snapshotResponse struct {
	rpc.Base
	Snapshot
}

// getSnapshot reads HostName (optional: a host key's agent names its host,
// and a key of another host is refused).
func (s *Service) getSnapshot(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.operator(ctx, req)
	if err != nil {
		return nil, err
	}
	snap, err := s.GetSnapshot(ctx, c)
	return &snapshotResponse{Snapshot: snap}, err
}

type watchResponse struct {
	rpc.Base
	service.Changes
}

// MarshalJSON writes the RequestId and the changes, whose encoding is made
// once for every watcher that gets the same answer (service.Changes.Encoded):
// a change is encoded once per revision, not once per agent.
func (w *watchResponse) MarshalJSON() ([]byte, error) { return w.RawJSON() }

// RawJSON is the answer as the rpc layer writes it, without the parse and
// copy encoding/json makes of a MarshalJSON result.
func (w *watchResponse) RawJSON() ([]byte, error) {
	body, err := w.Changes.Encoded(encodeChanges)
	if err != nil {
		return nil, err
	}
	id, err := json.Marshal(w.RequestId)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(body)+len(id)+16)
	out = append(append(append(out, `{"RequestId":`...), id...), ',')
	return append(out, body[1:len(body)-1]...), nil // body is a non-empty object and a newline
}

// encodeChanges encodes an answer as the rpc encoder would (lists present
// even when empty, HTML characters as they are), and a newline: a stream
// writes it as one frame, in one write.
func encodeChanges(c *service.Changes) ([]byte, error) {
	v := *c
	v.Groups, v.Instances, v.PrefixLists, v.ENIs, v.Deleted = orEmpty(v.Groups), orEmpty(v.Instances), orEmpty(v.PrefixLists), orEmpty(v.ENIs), orEmpty(v.Deleted)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// watchChanges reads AfterRevision, WaitSeconds (default 25, at most 60) and
// the caller's progress.
func (s *Service) watchChanges(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.operator(ctx, req)
	if err != nil {
		return nil, err
	}
	after, wait, pr, err := watchParams(req.Params, "WaitSeconds", 25, 0, service.MaxWatchWait)
	if err != nil {
		return nil, err
	}
	ch, err := s.WatchChanges(ctx, service.WatchInput{Caller: c, AfterRevision: after, Wait: wait, Progress: pr, KeyID: rpc.AccessKeyID(ctx)})
	if err != nil {
		return nil, err
	}
	return &watchResponse{Changes: ch}, nil
}

// reportHostStatus reads HostName, AppliedRevision and Counters (a JSON
// object "groupID/ruleID" → {"Packets":n,"Bytes":n}, the host's totals).
func (s *Service) reportHostStatus(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.operator(ctx, req)
	if err != nil {
		return nil, err
	}
	in := service.ReportInput{Caller: c}
	if v := req.Params.Get("Counters"); v != "" {
		if err := json.Unmarshal([]byte(v), &in.Counters); err != nil {
			return nil, ecserr.InvalidParameter("Counters", "a JSON object of \"groupID/ruleID\": {\"Packets\": n, \"Bytes\": n}")
		}
	}
	if in.Progress, err = progress(req.Params); err != nil {
		return nil, err
	}
	if err := s.ReportHostStatus(ctx, in); err != nil {
		return nil, err
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
	// Hosts is how many hosts' agents reported the rule: with none, its
	// zero says nothing about the traffic.
	Hosts int
	// FlowRecords is how many of the flow records this server keeps name
	// the rule, and LastHitTime when the newest of them ended ("" for
	// none): when the rule was last needed, as far as flow logs covered
	// its instances.
	FlowRecords int
	LastHitTime string
}

type ruleCountersResponse struct {
	rpc.Base
	SecurityGroupId string
	RuleCounters    struct{ RuleCounter []ruleCounterItem }
	// PalisadeMissingServers did not give their flow records' hits nor
	// their agents' counters: FlowRecords, LastHitTime, Packets, Bytes and
	// Hosts lack theirs.
	PalisadeMissingServers []string `json:",omitempty"`
}

func (s *Service) describeRuleCounters(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	g, counts, missing, err := s.RuleCounters(ctx, c, req.Params.Get("SecurityGroupId"))
	if err != nil {
		return nil, err
	}
	out := &ruleCountersResponse{SecurityGroupId: g.ID, PalisadeMissingServers: missing}
	out.RuleCounters.RuleCounter = []ruleCounterItem{}
	for _, rc := range counts {
		r := rc.Rule
		out.RuleCounters.RuleCounter = append(out.RuleCounters.RuleCounter, ruleCounterItem{
			SecurityGroupRuleId: r.ID, Direction: string(r.Direction), Priority: r.Priority,
			Policy: r.Policy.Display(), Packets: rc.Packets, Bytes: rc.Bytes, Hosts: rc.Hosts,
			FlowRecords: rc.Flow.Flows, LastHitTime: HitTime(rc.Flow.LastHit)})
	}
	return out, nil
}

// HitTime is a last hit (Unix seconds) as the answers give it: an ECS time
// in UTC, or "" for none.
func HitTime(unix int64) string {
	if unix <= 0 {
		return ""
	}
	return time.Unix(unix, 0).UTC().Format("2006-01-02T15:04:05Z")
}
