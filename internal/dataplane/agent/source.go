package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
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

// Streamer is a Source that can stream changes: one request whose answer
// carries every change as it happens (PalisadeWatchStream), instead of a
// long poll per change. The agent uses it when its Source has it (the
// API server does; older servers answer the action unknown, and the agent
// long polls).
type Streamer interface {
	// Stream follows the records changed after r.After and calls each with
	// every answer, in order, until each returns an error (Stream returns
	// it), ctx ends, or the stream ends (nil: the server stopped it; open
	// another from the revision held). An answer with no records moves the
	// revision on: nothing the host needs changed up to it (a heartbeat).
	Stream(ctx context.Context, r WatchRequest, each func(*Changes) error) error
}

// openingStreamer is a Streamer that also says when a stream opened: the
// server answered, although its first frame may be its heartbeat, seconds
// later, when nothing changes. opened is called before the first frame.
type openingStreamer interface {
	streamOpened(ctx context.Context, r WatchRequest, opened func(), each func(*Changes) error) error
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

// streamHeartbeat is how often the server is asked to send a frame when
// nothing changes; with none for deadAfter, the connection is taken for
// dead and the stream ends with an error (the next server is tried).
// (deadAfter is a variable: tests shorten it.)
const streamHeartbeat = 10 * time.Second

var deadAfter = 3 * streamHeartbeat

func (s apiSource) Stream(ctx context.Context, r WatchRequest, each func(*Changes) error) error {
	return s.streamOpened(ctx, r, nil, each)
}

func (s apiSource) streamOpened(ctx context.Context, r WatchRequest, opened func(), each func(*Changes) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body, err := s.c.Stream(ctx, "PalisadeWatchStream", map[string]string{
		"AfterRevision":    strconv.FormatInt(r.After, 10),
		"HostName":         r.Host,
		"AppliedRevision":  strconv.FormatInt(r.Applied, 10),
		"HeartbeatSeconds": strconv.Itoa(int(streamHeartbeat / time.Second)),
	})
	if err != nil {
		return err
	}
	defer body.Close()
	if opened != nil {
		opened()
	}
	var dead atomic.Bool
	watchdog := time.AfterFunc(deadAfter, func() { dead.Store(true); cancel() })
	defer watchdog.Stop()
	rd := bufio.NewReaderSize(body, 64<<10)
	for {
		line, err := apiclient.ReadFrame(rd) // bounded: a server may send a line without end
		if err != nil {
			switch {
			case dead.Load():
				return fmt.Errorf("agent: no frame from the server's stream in %s: taking the connection for dead", deadAfter)
			case err == io.EOF && len(line) == 0 && ctx.Err() == nil:
				return nil // the server ended the stream
			}
			return fmt.Errorf("agent: reading the server's stream: %w", err)
		}
		// The watchdog waits for the server, not for each: a long apply
		// must not cut a healthy stream.
		watchdog.Stop()
		var w Changes
		if err := json.Unmarshal(line, &w); err != nil {
			return fmt.Errorf("agent: a frame of the server's stream: %w", err)
		}
		if err := each(&w); err != nil {
			return err
		}
		watchdog.Reset(deadAfter)
	}
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

// Servers splits a list of API endpoints ("HOST:PORT[,HOST:PORT…]"),
// dropping empty items.
func Servers(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// failover is the API served by several servers of one installation (one
// store: their revisions are the same): calls go to one server until it
// fails, then to the next. The agent's state stays: its next watch resumes
// from its revision on the next server, which answers Resync if it cannot
// bring it forward from there (then a new snapshot).
type failover struct {
	sources []apiSource
	addrs   []string
	cur     atomic.Int64 // index into sources
	// failing counts the servers that failed in a row since one last
	// answered: from len(sources) on, none answers.
	failing atomic.Int64
	log     func(msg string, args ...any)
}

// movedOn is the failure of a server after which the failover moved on
// to the next one.
type movedOn struct {
	err          error
	failed, next string
	// none: every server failed in a row, none answers; otherwise the
	// next one has not failed yet, and the control plane may well answer.
	none bool
}

func (e *movedOn) Error() string { return e.err.Error() }
func (e *movedOn) Unwrap() error { return e.err }

// current is the address of the server the calls go to.
func (f *failover) current() string { return f.addrs[f.cur.Load()] }

func newFailover(addrs []string, keyID, secret, host string, log func(string, ...any)) (*failover, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("agent: a server address is required (--server HOST:PORT[,HOST:PORT…])")
	}
	f := &failover{addrs: addrs, log: log}
	for _, a := range addrs {
		c, err := apiclient.New(a, keyID, secret, "")
		if err != nil {
			return nil, err
		}
		f.sources = append(f.sources, apiSource{c, host})
	}
	return f, nil
}

// call runs fn on the current server; after a failure that another server
// may not share (the server unreachable, stopping or failing: not an
// answer that refuses the request) the next call goes to the next server.
func (f *failover) call(ctx context.Context, fn func(apiSource) error, stay ...func(error) bool) error {
	i := f.cur.Load()
	err := fn(f.sources[i])
	if err == nil {
		f.failing.Store(0)
	}
	if err == nil || ctx.Err() != nil || len(f.sources) == 1 {
		return err
	}
	for _, s := range stay {
		if s(err) {
			return err
		}
	}
	if e, ok := err.(*apiclient.Error); ok && e.Status < 500 {
		f.failing.Store(0) // it answered
		return err
	}
	n := int64(len(f.sources))
	next := (i + 1) % n
	if !f.cur.CompareAndSwap(i, next) {
		// A concurrent failure (a report's) moved on from i already: the
		// next call goes elsewhere all the same.
		return &movedOn{err: err, failed: f.addrs[i], next: f.current(), none: f.failing.Load() >= n}
	}
	// Info, not a warning: the next server may answer (the agent logs
	// whether it does); a warning is for when none does.
	f.log("agent: server failed; moving to the next one", "failed", f.addrs[i], "next", f.addrs[next], "err", err)
	return &movedOn{err: err, failed: f.addrs[i], next: f.addrs[next], none: f.failing.Add(1) >= n}
}

func (f *failover) Snapshot(ctx context.Context) (s *Snapshot, err error) {
	err = f.call(ctx, func(a apiSource) error { s, err = a.Snapshot(ctx); return err })
	return s, err
}

func (f *failover) Watch(ctx context.Context, r WatchRequest) (w *Changes, err error) {
	err = f.call(ctx, func(a apiSource) error { w, err = a.Watch(ctx, r); return err })
	return w, err
}

// Stream streams from the current server; an error of each (the kernel's)
// is the agent's, not the server's, and does not move on. A stream the
// server ends before its first frame is the server's failure (it is
// stopping, or cannot serve it): it moves on.
func (f *failover) Stream(ctx context.Context, r WatchRequest, each func(*Changes) error) error {
	return f.streamOpened(ctx, r, nil, each)
}

func (f *failover) streamOpened(ctx context.Context, r WatchRequest, opened func(), each func(*Changes) error) error {
	var own error
	err := f.call(ctx, func(a apiSource) error {
		frames := 0
		// The server answers at the stream's first frame, not at its
		// opening: a server whose store has no quorum opens it and ends it
		// at the heartbeat, and every server of such an installation would
		// count as answering, none ever failing in a row.
		err := a.streamOpened(ctx, r, opened, func(w *Changes) error {
			if frames++; frames == 1 {
				f.failing.Store(0)
			}
			own = each(w)
			return own
		})
		if err == nil && frames == 0 && ctx.Err() == nil {
			err = errEmptyStream
		}
		return err
	}, func(err error) bool { return err == own })
	return err
}

// errEmptyStream is a stream that ended before its first frame.
var errEmptyStream = errors.New("agent: the server ended the stream before its first frame")

func (f *failover) Report(ctx context.Context, st Status) error {
	return f.call(ctx, func(a apiSource) error { return a.Report(ctx, st) })
}

// ReportFlows ships flow records through the current server.
func (f *failover) ReportFlows(ctx context.Context, host, token string, recs []FlowRecord) (refused int, err error) {
	err = f.call(ctx, func(a apiSource) error { refused, err = a.ReportFlows(ctx, host, token, recs); return err })
	return refused, err
}

func (s apiSource) ReportFlows(ctx context.Context, host, token string, recs []FlowRecord) (int, error) {
	b, err := json.Marshal(recs)
	if err != nil {
		return 0, err
	}
	var out struct{ Accepted, Refused int }
	if err := s.c.Call(ctx, "PalisadeReportFlowRecords", map[string]string{"HostName": host, "Records": string(b), "ClientToken": token}, &out, 0); err != nil {
		return 0, err
	}
	return out.Refused, nil
}
