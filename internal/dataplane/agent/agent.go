// Package agent is the host side of Palisade: it follows the server's change
// log, keeps a copy of the policy records, compiles the policies of the
// instances bound to its host with the one policy engine and applies them to
// the kernel as one nftables transaction per change.
//
// The kernel keeps the last applied policy when the agent stops or crashes
// (fail closed: an interface the agent never programmed is dropped); on start
// the agent reconciles the kernel's table with the server's state.
//
// After each apply that changed the table it has the established
// connections the new policy denies cut (package sessions), as ECS cuts a
// session whose verdict becomes drop.
//
// It meets the world through its seams, Config.Source (the server),
// Config.OpenTable (the kernel's table) and Config.Conntrack (the kernel's
// connection table); the defaults are the API over HTTP and netlink, and
// its tests run with fakes, without root.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/dataplane/sessions"
)

// Config configures an agent.
type Config struct {
	// Server is the API endpoint, HOST:PORT, or several servers of one
	// installation, comma-separated: the agent uses one and moves to the
	// next when it fails, resuming its watch from its revision there.
	Server      string
	AccessKeyID string // the operator's key, or this host's (palisade host register)
	Secret      string
	Host        string // this host's name, as instances are bound to it
	Netns       string // network namespace to program ("" = the agent's own)
	NFT         nft.Options
	// ReportEvery is how often counters are reported (default 10 s).
	ReportEvery time.Duration
	// CheckEvery is how often the agent checks that the kernel still holds
	// its table as applied, and applies it again when another program
	// changed it (default 2 s; negative: never, not even on the kernel's
	// notification of a change, which the agent otherwise acts on at once).
	CheckEvery time.Duration
	Log        *slog.Logger
	// OnApplied, if set, is called after each successful apply (tests and
	// benchmarks watch convergence with it).
	OnApplied func(revision int64, st nft.Stats)
	// OnRuleset, if set, is called with each ruleset applied and the policy
	// it was built from (a flow-log collector keeps its entry table and the
	// host's interfaces from them: flowlog.Tables.Update).
	OnRuleset func(host string, rs *nft.Ruleset, c *policy.Cloud)
	// Flow configures flow logging, which the flow logs covering this
	// host's NICs turn on (flows.go).
	Flow FlowConfig

	// Source is the control plane; nil: the API server at Server, with the
	// key above.
	Source Source
	// OpenTable opens the table the agent programs; it is called twice, for
	// applies and for reading counters. Nil: nft.Open(Netns, NFT), the
	// kernel through netlink.
	OpenTable func() (nft.Table, error)
	// Conntrack opens the connection table in which, after each apply, the
	// agent cuts the established connections the policy now denies (see
	// package sessions). Nil: the kernel's, in Netns, when the agent
	// programs the kernel (OpenTable nil); none with another table.
	Conntrack func() (sessions.Conntrack, error)
	// OnCut, if set, is called after each such cut with what it did.
	OnCut func(sessions.Result)
}

// state is the agent's copy of the policy records.
type state struct {
	revision    int64
	groups      map[string]*model.SecurityGroup
	instances   map[string]*model.Instance
	prefixLists map[string]*model.PrefixList
	portLists   map[string]*model.PortRangeList
	enis        map[string]*model.NetworkInterface
	flowLogs    map[string]*model.FlowLog
}

// cloud is the policy over the NICs: each instance (its primary ENI) and
// each attached secondary ENI, bound to its own host interface.
func (s *state) cloud() *policy.Cloud {
	return policy.NewCloud(sortedValues(s.groups), model.NICs(sortedValues(s.instances), sortedValues(s.enis)), sortedValues(s.prefixLists)).
		WithPortRangeLists(sortedValues(s.portLists))
}

func sortedValues[T any](m map[string]*T) []*T {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]*T, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// Run runs the agent until ctx is done. Errors talking to the server or
// programming the kernel are retried forever, with growing delays; the
// kernel keeps enforcing the last policy applied meanwhile. Run returns an
// error only when it cannot start or the server refuses its key for its
// host (a host key of another host, or a key that is neither the
// operator's nor a host's: retrying cannot help); it returns after its
// reports stopped.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ReportEvery == 0 {
		cfg.ReportEvery = 10 * time.Second
	}
	if cfg.CheckEvery == 0 {
		cfg.CheckEvery = 2 * time.Second
	}
	if cfg.Host == "" {
		return fmt.Errorf("agent: a host name is required (--host)")
	}
	src := cfg.Source
	if src == nil {
		f, err := newFailover(Servers(cfg.Server), cfg.AccessKeyID, cfg.Secret, cfg.Host, cfg.Log.Info)
		if err != nil {
			return err
		}
		src = f
	}
	open, openCT := cfg.OpenTable, cfg.Conntrack
	if open == nil && openCT == nil {
		openCT = func() (sessions.Conntrack, error) { return sessions.Open(cfg.Netns) }
	}
	if open == nil {
		open = func() (nft.Table, error) {
			k, err := nft.Open(cfg.Netns, cfg.NFT)
			if err != nil {
				return nil, err
			}
			return k, nil
		}
	}
	k, err := open()
	if err != nil {
		return fmt.Errorf("agent: opening nftables: %w", err)
	}
	defer k.Close()

	// Counters are read on a connection of their own: reading them takes a
	// while on a big table and must not hold up an apply.
	kc, err := open()
	if err != nil {
		return fmt.Errorf("agent: opening nftables: %w", err)
	}
	defer kc.Close()
	a := &runner{cfg: cfg, src: src, table: k, counters: kc, kick: make(chan struct{}, 1), flows: newFlows(cfg, src), ctx: ctx}
	var reports sync.WaitGroup
	rctx, stopReports := context.WithCancel(ctx)
	defer stopReports()
	if openCT != nil {
		a.cutter = sessions.New(sessions.Config{Host: cfg.Host, Open: openCT, Log: cfg.Log, OnCut: cfg.OnCut})
		reports.Go(func() { a.cutter.Run(rctx) })
	}
	reports.Go(func() { a.reportLoop(rctx) })
	reports.Go(func() { a.flows.shipLoop(rctx) })
	reports.Go(func() { a.guardLoop(rctx) })
	err = a.loop(ctx)
	stopReports()
	reports.Wait() // no report after Run returns
	return err
}

// refused reports whether the server refused the key for this host: the
// key is another host's, or may not act for hosts at all.
func refused(err error) (*apiclient.Error, bool) {
	e, ok := err.(*apiclient.Error)
	return e, ok && (e.Code == "Forbidden.HostMismatch" || e.Code == "Forbidden.Operator")
}

type runner struct {
	cfg Config
	src Source
	st  *state // owned by loop
	// stale says st holds changes the kernel has not taken (an apply
	// failed); owned by loop.
	stale bool
	// problems are the instances the last ruleset applied left out, as
	// logged; owned by loop.
	problems map[string]bool
	// unbound: the last ruleset applied bound no NIC to the host, as
	// logged; owned by loop.
	unbound bool

	table   nft.Table // applies: the loop's, and the guard's (guardLoop)
	applyMu sync.Mutex
	inForce *nft.Ruleset // the ruleset last applied (applyMu)
	// inForceCloud is the policy inForce was built from (applyMu).
	inForceCloud *policy.Cloud
	// cutter cuts the connections a policy applied denies; nil: none.
	cutter *sessions.Cutter
	// cutOnce: a policy was handed to the cutter since Run began (applyMu).
	cutOnce  bool
	counters nft.Table // reads counters; used by reportLoop only
	applied  atomic.Int64
	kick     chan struct{} // asks reportLoop to report the applied revision now
	flows    *flows
	ctx      context.Context // Run's
	// noStreamUntil: the server had no change stream (an older one), so
	// the agent long polls until then, and then tries the stream again (the
	// server may have been upgraded, or the agent moved to another).
	noStreamUntil time.Time
	// outage is when the server last stopped answering, zero while it
	// answers: the first answer after one is logged, or the log's last
	// word would stay "unreachable" (owned by loop).
	outage time.Time
	// unreachable: in this outage, the log said no server answers; else
	// the agent only moved to the next of its servers, from failedOver
	// (owned by loop).
	unreachable bool
	failedOver  string
	// toldConnected: in this failover, the next server's stream opened
	// and the log said so (owned by loop).
	toldConnected bool
}

// Delays between retries after an error: they double from minBackoff up to
// maxBackoff, and start again at minBackoff after a success.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	watchWait  = 25 * time.Second // how long the server may hold a watch
	reportGap  = time.Second      // the least time between two reports after applies
)

// streamRetry is how long the agent long polls a server without the change
// stream before it tries the stream again (a variable: tests shorten it).
var streamRetry = 5 * time.Minute

func (a *runner) loop(ctx context.Context) error {
	backoff := minBackoff
	for ctx.Err() == nil {
		err := a.step(ctx)
		if err == nil {
			backoff = minBackoff
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if e, ok := refused(err); ok {
			return fmt.Errorf("agent: the server refused this access key for host %s (%s): %s", a.cfg.Host, e.Code, e.Message)
		}
		if _, ok := err.(kernelError); ok {
			a.cfg.Log.Error("agent: the kernel refused the policy; it keeps the last one applied", "err", err, "applied", a.applied.Load(), "retry", backoff)
		} else if e, ok := err.(*apiclient.Error); ok && e.Refused() {
			// The server answered and refuses the request (a key deleted,
			// or replaced by registering the host again; a bad secret):
			// logging it as "unreachable" sent the operator to the network.
			args := []any{"err", err, "retry", backoff}
			if keyRefused(e.Code) {
				args = append(args, "hint", "give the agent this host's current key (palisade host register NAME makes a new one) or the operator's, in PALISADE_ACCESS_KEY_ID and PALISADE_ACCESS_KEY_SECRET")
			}
			a.cfg.Log.Error("agent: the server refuses the agent's requests; the kernel keeps the last policy", args...)
			a.failClosed()
		} else if ok && strings.HasPrefix(e.Code, "Throttling") {
			// The server answered: this host asks more than its limits
			// (serve --host-snapshot-rate, --host-max-watches), which
			// another process with its key, or agents in a restart loop,
			// may have spent. Not "unreachable".
			a.cfg.Log.Warn("agent: the server throttles this host's requests; the kernel keeps the last policy", "err", err, "retry", backoff)
			a.failClosed()
		} else {
			if a.outage.IsZero() {
				a.outage = time.Now()
			}
			var moved *movedOn
			if errors.As(err, &moved) && !moved.none {
				// The next server may well answer: a warning here sent the
				// operator after a control plane that was there (the failover
				// logged the move; answered logs the next server's answer).
				if a.failedOver == "" {
					a.failedOver = moved.failed
				}
			} else {
				args := []any{"err", err, "retry", backoff}
				if h := unreachableHint(a.cfg.Server, err); h != "" {
					args = append(args, "hint", h)
				}
				msg := "agent: server unreachable; the kernel keeps the last policy"
				if moved != nil {
					msg = "agent: no server answers; the kernel keeps the last policy"
					args = append(args, "servers", a.cfg.Server)
				}
				a.cfg.Log.Warn(msg, args...)
				a.unreachable = true
				a.failClosed()
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
	return nil
}

// keyRefused reports whether an error code refuses the access key itself.
func keyRefused(code string) bool {
	return strings.HasPrefix(code, "InvalidAccessKeyId") || strings.HasPrefix(code, "SignatureDoesNotMatch") ||
		code == "Forbidden.AccessKeyDisabled" || code == "Forbidden.AccountDisabled"
}

// unreachableHint says what to do about a server, of the agent's
// --server list, that closes the connection before an answer: a server
// with a certificate, asked over plain HTTP (a bare HOST:PORT), resets
// it. "" for other errors, or when every server is given as https://.
func unreachableHint(servers string, err error) string {
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return ""
	}
	for _, s := range Servers(servers) {
		if !strings.HasPrefix(strings.ToLower(s), "https://") {
			return "if the server serves HTTPS (--tls-cert or --tls-self-signed), give --server https://HOST:PORT"
		}
	}
	return ""
}

type kernelError struct{ err error }

func (e kernelError) Error() string { return e.err.Error() }

// step syncs once: a full snapshot on the first call (or when the server
// says to), then one long poll for changes, and an apply when anything
// changed. After a failed apply it polls without waiting, to apply the
// newest records.
func (a *runner) step(ctx context.Context) error {
	if a.st == nil {
		snap, err := a.src.Snapshot(ctx)
		if err != nil {
			return err
		}
		a.answered(snap.Revision)
		a.clean(snap)
		st := &state{revision: snap.Revision, groups: map[string]*model.SecurityGroup{},
			instances: map[string]*model.Instance{}, prefixLists: map[string]*model.PrefixList{},
			portLists: map[string]*model.PortRangeList{}, enis: map[string]*model.NetworkInterface{}, flowLogs: map[string]*model.FlowLog{}}
		for _, g := range snap.Groups {
			st.groups[g.ID] = g
		}
		for _, in := range snap.Instances {
			st.instances[in.ID] = in
		}
		for _, p := range snap.PrefixLists {
			st.prefixLists[p.ID] = p
		}
		for _, l := range snap.PortRangeLists {
			st.portLists[l.ID] = l
		}
		for _, n := range snap.ENIs {
			st.enis[n.ID] = n
		}
		for _, f := range snap.FlowLogs {
			st.flowLogs[f.ID] = f
		}
		a.st, a.stale = st, true
		return a.apply()
	}
	if st, ok := a.src.(Streamer); ok && time.Now().After(a.noStreamUntil) {
		if a.stale {
			if err := a.apply(); err != nil {
				return err
			}
		}
		frames := 0
		r := WatchRequest{Host: a.cfg.Host, After: a.st.revision, Applied: a.applied.Load()}
		each := func(w *Changes) error {
			frames++
			return a.take(w)
		}
		var err error
		if o, ok := st.(openingStreamer); ok {
			// The stream's opening is the server's answer: its first frame,
			// with nothing to send, is its heartbeat, seconds later.
			err = o.streamOpened(ctx, r, a.opened, each)
		} else {
			err = st.Stream(ctx, r, each)
		}
		if err == nil && frames == 0 && ctx.Err() == nil {
			// Not a stream's end: the next one waits, and may go elsewhere.
			err = errEmptyStream
		}
		if e, ok := err.(*apiclient.Error); ok && e.Code == "InvalidAction.NotFound" {
			// A server from before the stream: long poll it.
			a.cfg.Log.Info("agent: the server has no change stream; long polling it", "err", err, "retry", streamRetry)
			a.noStreamUntil = time.Now().Add(streamRetry)
			return nil
		}
		if err == errResync {
			return nil
		}
		return err
	}
	wait := watchWait
	if a.stale {
		wait = 0
	}
	w, err := a.src.Watch(ctx, WatchRequest{Host: a.cfg.Host, After: a.st.revision, Applied: a.applied.Load(), Wait: wait})
	if err != nil {
		return err
	}
	if err := a.take(w); err != nil {
		if err == errResync {
			return nil
		}
		return err
	}
	if a.stale {
		return a.apply() // the last apply failed: again
	}
	return nil
}

// errResync ends a stream whose server asks for a new snapshot.
var errResync = errors.New("agent: the server asks for a new snapshot")

// take applies an answer of a watch or a frame of a stream: its records
// are merged into the agent's and applied. An answer without records
// (a heartbeat, a poll that ended with nothing new) only moves the
// revision on: nothing the host needs changed up to it, so the kernel
// already enforces it. Resync drops the records (errResync: the next step
// reads a snapshot).
func (a *runner) take(w *Changes) error {
	a.answered(w.Revision)
	if w.Resync {
		// The server cannot bring us forward from our revision (its store
		// was replaced, or our revision is older than what it keeps for a
		// host key's stream): start over.
		a.cfg.Log.Warn("agent: the server asks for a new snapshot", "ours", a.st.revision, "server", w.Revision)
		a.st = nil
		return errResync
	}
	if w.Revision <= a.st.revision {
		return nil
	}
	a.clean(&w.Snapshot)
	if empty(w) && !a.stale {
		a.st.revision = w.Revision
		a.applied.Store(w.Revision)
		if a.cfg.OnApplied != nil {
			a.cfg.OnApplied(w.Revision, nft.Stats{})
		}
		return nil
	}
	for _, g := range w.Groups {
		a.st.groups[g.ID] = g
	}
	for _, in := range w.Instances {
		a.st.instances[in.ID] = in
	}
	for _, p := range w.PrefixLists {
		a.st.prefixLists[p.ID] = p
	}
	for _, l := range w.PortRangeLists {
		a.st.portLists[l.ID] = l
	}
	for _, n := range w.ENIs {
		a.st.enis[n.ID] = n
	}
	for _, f := range w.FlowLogs {
		a.st.flowLogs[f.ID] = f
	}
	for _, d := range w.Deleted {
		delete(a.st.groups, d.ID)
		delete(a.st.instances, d.ID)
		delete(a.st.prefixLists, d.ID)
		delete(a.st.portLists, d.ID)
		delete(a.st.enis, d.ID)
		delete(a.st.flowLogs, d.ID)
	}
	a.st.revision, a.stale = w.Revision, true
	return a.apply()
}

// failClosed, while the agent has applied nothing (the server has not
// answered since it started), makes a kernel that holds no policy (the
// table gone with a reboot or a flush) drop the traffic of every instance
// interface, as it does for interfaces no instance owns, rather than pass
// it all until the server answers. A table holding a policy (the last one
// applied) is left in force; it is looked at again at each retry, since
// the guard cannot put back a policy the agent does not know.
func (a *runner) failClosed() {
	if a.cfg.NFT.InterfacePrefix == "" {
		return // without a prefix, no rule can tell instance interfaces
	}
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	if a.inForce != nil {
		return // the guard keeps it
	}
	rs := nft.Build(policy.NewCloud(nil, nil, nil), a.cfg.Host, a.cfg.NFT)
	applied, err := a.table.FailClosed(rs)
	if err != nil {
		a.cfg.Log.Warn("agent: checking that the kernel holds a policy while the server does not answer", "err", err)
		return
	}
	if !applied {
		return
	}
	a.inForce = rs // the guard keeps it there
	a.cfg.Log.Error("agent: the kernel held no policy and the server gives none (it does not answer, or refuses): dropping the traffic of every instance interface until it does",
		"interface-prefix", a.cfg.NFT.InterfacePrefix)
}

// opened is told that a server opened the change stream. After a move to
// the next server it says so at once: the stream's first frame, when
// nothing changes, is its heartbeat, seconds later. The outage ends at that
// frame (answered): a server whose store lost its quorum opens the stream
// and ends it at the heartbeat, and is no answer.
func (a *runner) opened() {
	if a.outage.IsZero() || a.unreachable || a.toldConnected {
		return
	}
	a.toldConnected = true
	a.logConnected(-1)
}

func (a *runner) logConnected(revision int64) {
	a.cfg.Log.Info("agent: connected to the next server after one failed; catching up from the revision in force", append(a.answerArgs(revision), "failed", a.failedOver)...)
}

func (a *runner) answerArgs(revision int64) []any {
	args := []any{"applied", a.applied.Load()}
	if revision >= 0 {
		args = append(args, "server", revision)
	}
	if f, ok := a.src.(*failover); ok && len(f.addrs) > 1 {
		args = append(args, "address", f.current())
	}
	return args
}

// answered logs the first answer of a server after an outage: the server
// back, or the next of the agent's servers after one failed (unless its
// stream's opening said so). revision is the server's.
func (a *runner) answered(revision int64) {
	if a.outage.IsZero() {
		return
	}
	switch {
	case a.unreachable:
		a.cfg.Log.Info("agent: the server answers again; catching up from the revision in force", append(a.answerArgs(revision), "unreachable", time.Since(a.outage).Round(time.Millisecond))...)
	case !a.toldConnected:
		a.logConnected(revision)
	}
	a.outage, a.unreachable, a.failedOver, a.toldConnected = time.Time{}, false, "", false
}

// clean makes an answer's records fit to enforce. A null record (a JSON
// null in a list) is dropped: none is the policy of anything, and the agent
// would crash on the first one it read. A rule no valid request makes
// (model.Rule.Malformed: an unknown protocol, ports outside 1-65535) is left
// out of its group, and such an entry out of its port range list, logged:
// nftables and the session cutter's evaluator would each read it their own
// way (an unknown protocol compiled as every protocol), so it matches
// nothing. The server never sends either; the agent does not trust it not
// to.
func (a *runner) clean(s *Snapshot) {
	s.Groups = slices.DeleteFunc(s.Groups, func(g *model.SecurityGroup) bool { return g == nil })
	s.Instances = slices.DeleteFunc(s.Instances, func(in *model.Instance) bool { return in == nil })
	s.PrefixLists = slices.DeleteFunc(s.PrefixLists, func(p *model.PrefixList) bool { return p == nil })
	s.PortRangeLists = slices.DeleteFunc(s.PortRangeLists, func(l *model.PortRangeList) bool { return l == nil })
	s.ENIs = slices.DeleteFunc(s.ENIs, func(n *model.NetworkInterface) bool { return n == nil })
	s.FlowLogs = slices.DeleteFunc(s.FlowLogs, func(f *model.FlowLog) bool { return f == nil })
	for i, g := range s.Groups {
		if !slices.ContainsFunc(g.Rules, func(r model.Rule) bool { return r.Malformed() != "" }) {
			continue
		}
		c := *g
		c.Rules = slices.DeleteFunc(slices.Clone(g.Rules), func(r model.Rule) bool {
			why := r.Malformed()
			if why != "" {
				a.cfg.Log.Error("agent: the server sent a rule no valid request makes; it is left out (matches nothing)", "group", g.ID, "rule", r.ID, "malformed", why)
			}
			return why != ""
		})
		s.Groups[i] = &c
	}
	for i, l := range s.PortRangeLists {
		if l.Malformed() == "" {
			continue
		}
		c := *l
		c.Entries = slices.DeleteFunc(slices.Clone(l.Entries), func(e model.PortEntry) bool {
			why := e.Malformed()
			if why != "" {
				a.cfg.Log.Error("agent: the server sent a port range list entry no valid request makes; it is left out", "list", l.ID, "malformed", why)
			}
			return why != ""
		})
		s.PortRangeLists[i] = &c
	}
}

// empty reports whether an answer carries no record.
func empty(w *Changes) bool {
	return len(w.Groups)+len(w.Instances)+len(w.PrefixLists)+len(w.PortRangeLists)+len(w.ENIs)+len(w.FlowLogs)+len(w.Deleted) == 0
}

// apply compiles the host's ruleset and applies it in one transaction, then
// tells the server which revision is in force. After an error the kernel
// keeps the previous policy and the records stay stale, to apply again.
func (a *runner) apply() error {
	c := a.st.cloud()
	opts := a.cfg.NFT
	logs := covering(a.st.flowLogs, c, a.cfg.Host)
	if len(logs) > 0 {
		opts.FlowLog = true // label and log what the flow logs record
	}
	rs := nft.Build(c, a.cfg.Host, opts)
	a.applyMu.Lock()
	stats, err := a.table.Apply(rs)
	if err == nil {
		a.inForce, a.inForceCloud = rs, c
		if !stats.IsZero() || !a.cutOnce {
			// The table changed: verdicts may have. (An unchanged one, as a
			// change of records another host enforces brings with the
			// operator's key, spares the host a dump of its connections.)
			// The first apply cuts whatever it found: an agent stopped
			// after an apply, before its cut, finds the table as it left
			// it.
			a.cutSessions(c)
			a.cutOnce = true
		}
	}
	a.applyMu.Unlock()
	if err != nil {
		return kernelError{fmt.Errorf("agent: applying revision %d: %w", a.st.revision, err)}
	}
	a.stale = false
	a.logProblems(rs.Problems)
	a.logUnbound(c)
	a.flows.applied(a.ctx, rs, c, logs)
	if a.cfg.OnRuleset != nil {
		a.cfg.OnRuleset(a.cfg.Host, rs, c)
	}
	a.cfg.Log.Debug("agent: applied", "revision", a.st.revision, "stats", stats)
	if a.cfg.OnApplied != nil {
		a.cfg.OnApplied(a.st.revision, stats)
	}
	a.applied.Store(a.st.revision)
	// Best effort: the next watch reports the revision again anyway.
	select {
	case a.kick <- struct{}{}:
	default:
	}
	return nil
}

// logProblems logs the instances the ruleset leaves out, each once while
// it stays out: nothing enforces their policy (with an interface prefix the
// fail-closed rules drop their traffic; without one it passes).
func (a *runner) logProblems(problems []string) {
	now := make(map[string]bool, len(problems))
	for _, p := range problems {
		now[p] = true
		if !a.problems[p] {
			a.cfg.Log.Error("agent: an instance is left out of the policy", "problem", p)
		}
	}
	a.problems = now
}

// logUnbound warns, once while it lasts, that no NIC is bound to the
// agent's host: the fail-closed rules then drop the traffic of every
// instance interface of the machine, which a --host that names another
// host (or none) also does.
func (a *runner) logUnbound(c *policy.Cloud) {
	unbound := true
	for _, n := range c.Instances { // the NICs: instances and attached ENIs
		if n.Host == a.cfg.Host {
			unbound = false
			break
		}
	}
	if unbound && !a.unbound && a.cfg.NFT.InterfacePrefix != "" {
		a.cfg.Log.Warn("agent: no instance or network interface is bound to this host: the traffic of every interface named "+a.cfg.NFT.InterfacePrefix+"* is dropped; "+
			"check that --host names this host as the instances are bound to it", "host", a.cfg.Host)
	}
	a.unbound = unbound
}

// guardLoop puts the policy back when another program changed the table
// (a flush of the ruleset, as restarting the nftables service does, would
// otherwise leave the host unfiltered until the next change), until ctx is
// done. It checks when the kernel notifies a change of the table (see
// Table.Watch), and every CheckEvery in case a notification was missed or
// the watch failed (it is tried again after a while).
func (a *runner) guardLoop(ctx context.Context) {
	if a.cfg.CheckEvery < 0 {
		return
	}
	changed := make(chan struct{}, 1)
	var watching sync.WaitGroup
	defer watching.Wait()
	watching.Go(func() {
		for {
			err := a.table.Watch(ctx, func() {
				select {
				case changed <- struct{}{}:
				default: // a check is due already
				}
			})
			if ctx.Err() != nil {
				return
			}
			a.cfg.Log.Warn("agent: not notified of changes to the kernel's table; checking it every --check-every meanwhile",
				"err", err, "check-every", a.cfg.CheckEvery, "retry", watchRetry)
			select {
			case <-ctx.Done():
				return
			case <-time.After(watchRetry):
			}
		}
	})
	t := time.NewTicker(a.cfg.CheckEvery)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-changed:
			// Another program that rewrites the table whenever it
			// changes would otherwise have the two of them repair
			// each other as fast as the kernel commits.
			if wait := minGuardGap - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
		}
		last = time.Now()
		a.guard()
	}
}

// watchRetry is how long the guard waits before it listens to the
// kernel's notifications again after it could not.
const watchRetry = time.Minute

// minGuardGap is the least time between two checks the kernel's
// notifications start: a repair comes within it, and a fight with another
// program costs at most a check (and a repair) that often.
const minGuardGap = 50 * time.Millisecond

// guard checks the table once, and applies the ruleset in force again if
// another program changed it. The table stays drifted until an Apply puts
// it back, so a repair that fails is tried at the next check.
func (a *runner) guard() {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	if a.inForce == nil {
		return
	}
	drifted, err := a.table.Drifted()
	if err != nil {
		a.cfg.Log.Warn("agent: checking the kernel's table", "err", err)
		return
	}
	if !drifted {
		return
	}
	stats, err := a.table.Apply(a.inForce)
	if err != nil {
		a.cfg.Log.Error("agent: another program changed the table (a flush of the ruleset?); applying the policy again failed, the next check tries again",
			"err", err, "retry", a.cfg.CheckEvery)
		return
	}
	a.cfg.Log.Error("agent: another program changed the table (a flush of the ruleset?); the policy is in force again", "stats", stats)
	// While the table was changed, connections the policy denies may
	// have been let in.
	a.cutSessions(a.inForceCloud)
}

// cutSessions has the connections the policy c denies cut, now that the
// kernel enforces it (applyMu held: a later apply hands its policy over
// after this one). It only hands c over: the cut runs on the cutter's
// goroutine.
func (a *runner) cutSessions(c *policy.Cloud) {
	if a.cutter != nil && c != nil {
		a.cutter.Changed(c)
	}
}

// reportLoop reports the applied revision after each apply and, every
// ReportEvery, the counters too, until ctx is done.
func (a *runner) reportLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.ReportEvery)
	defer t.Stop()
	var last time.Time
	for {
		counters := false
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
			// Reports after applies are spaced out: under a stream of
			// changes, one per host per change would be a request per host
			// per change again, which the server's stream spares.
			if wait := time.Until(last.Add(reportGap)); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
		case <-t.C:
			counters = true
		}
		last = time.Now()
		if ctx.Err() != nil {
			return
		}
		if rev := a.applied.Load(); rev > 0 {
			a.report(ctx, rev, counters)
		}
	}
}

// report sends the applied revision and, with counters, the per-rule totals.
func (a *runner) report(ctx context.Context, revision int64, counters bool) {
	st := Status{Host: a.cfg.Host, Applied: revision}
	if counters {
		cs, err := a.counters.Counters()
		if err != nil {
			a.cfg.Log.Warn("agent: reading counters", "err", err)
			return
		}
		st.Counters = cs
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.src.Report(ctx, st); err != nil {
		a.cfg.Log.Debug("agent: report", "err", err)
	}
}
