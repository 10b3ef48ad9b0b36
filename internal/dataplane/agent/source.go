package agent

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// Source is the control plane as an agent sees it: the API server by
// default (Palisade's own actions over HTTP), a fake in tests.
type Source interface {
	// Snapshot returns every policy record at one revision.
	Snapshot(ctx context.Context) (*Snapshot, error)
	// Watch waits up to r.Wait for the revision to pass r.After and returns
	// the records changed since; it reports r.Applied as the host's progress.
	Watch(ctx context.Context, r WatchRequest) (*Changes, error)
	// Report tells the server which revision the host enforces and, when
	// s.Counters is not nil, what each rule counted.
	Report(ctx context.Context, s Status) error
}

// Snapshot is everything an agent needs to compile policies, at one revision.
type Snapshot struct {
	Revision       int64
	Groups         []*model.SecurityGroup
	Instances      []*model.Instance
	PrefixLists    []*model.PrefixList
	PortRangeLists []*model.PortRangeList    `json:",omitempty"`
	ENIs           []*model.NetworkInterface // secondary ENIs, each enforced on its own interface
	FlowLogs       []*model.FlowLog          `json:",omitempty"` // those covering the host's NICs
}

// Changes answer a watch: Revision is the revision they bring the watcher
// to, the records are the current versions of those changed since, Deleted
// the records removed.
type Changes struct {
	Snapshot
	Deleted []Deleted
	// Resync says the watcher's revision is ahead of the server's (its store
	// was replaced): read a new snapshot.
	Resync bool
}

// Deleted names a removed record.
type Deleted struct {
	Kind string
	ID   string `json:"Id"`
}

// WatchRequest is one long poll.
type WatchRequest struct {
	Host    string
	After   int64         // the revision of the records the agent holds
	Applied int64         // the revision the kernel enforces (0: none yet)
	Wait    time.Duration // how long the server may hold the call
}

// Status is a host's report.
type Status struct {
	Host     string
	Applied  int64
	Counters map[nft.RuleKey]nft.Counter // nil: not part of this report
}

// apiSource is the API server, through Palisade's own actions, for one
// host: with a host key the server checks that the host is the key's, and
// sends only what the host enforces.
type apiSource struct {
	c    *apiclient.Client
	host string
}

func (s apiSource) Snapshot(ctx context.Context) (*Snapshot, error) {
	var snap Snapshot
	if err := s.c.Call(ctx, "PalisadeGetSnapshot", map[string]string{"HostName": s.host}, &snap, 0); err != nil {
		return nil, err
	}
	return &snap, nil
}

func (s apiSource) Watch(ctx context.Context, r WatchRequest) (*Changes, error) {
	params := map[string]string{
		"AfterRevision":   strconv.FormatInt(r.After, 10),
		"WaitSeconds":     strconv.Itoa(int(r.Wait / time.Second)),
		"HostName":        r.Host,
		"AppliedRevision": strconv.FormatInt(r.Applied, 10),
	}
	var w Changes
	if err := s.c.Call(ctx, "PalisadeWatchChanges", params, &w, r.Wait); err != nil {
		return nil, err
	}
	return &w, nil
}

func (s apiSource) Report(ctx context.Context, st Status) error {
	params := map[string]string{"HostName": st.Host, "AppliedRevision": strconv.FormatInt(st.Applied, 10)}
	if st.Counters != nil {
		out := make(map[string]map[string]uint64, len(st.Counters))
		for k, v := range st.Counters {
			out[k.GroupID+"/"+k.RuleID] = map[string]uint64{"Packets": v.Packets, "Bytes": v.Bytes}
		}
		b, _ := json.Marshal(out)
		params["Counters"] = string(b)
	}
	return s.c.Call(ctx, "PalisadeReportHostStatus", params, nil, 0)
}

func (s apiSource) ReportFlows(ctx context.Context, host string, recs []FlowRecord) (int, error) {
	b, err := json.Marshal(recs)
	if err != nil {
		return 0, err
	}
	var out struct{ Accepted, Refused int }
	if err := s.c.Call(ctx, "PalisadeReportFlowRecords", map[string]string{"HostName": host, "Records": string(b)}, &out, 0); err != nil {
		return 0, err
	}
	return out.Refused, nil
}
