// Package agent is the host side of Palisade: it follows the server's change
// log, keeps a copy of the policy records, compiles the policies of the
// instances bound to its host with the one policy engine and applies them to
// the kernel as one nftables transaction per change.
//
// The kernel keeps the last applied policy when the agent stops or crashes
// (fail closed: an interface the agent never programmed is dropped); on start
// the agent reconciles the kernel's table with the server's state.
package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// Config configures an agent.
type Config struct {
	Server      string // API endpoint, HOST:PORT
	AccessKeyID string // the operator's key
	Secret      string
	Host        string // this host's name, as instances are bound to it
	Netns       string // network namespace to program ("" = the agent's own)
	NFT         nft.Options
	// ReportEvery is how often counters are reported (default 10 s).
	ReportEvery time.Duration
	Log         *slog.Logger
	// OnApplied, if set, is called after each successful apply (tests and
	// benchmarks watch convergence with it).
	OnApplied func(revision int64, st nft.Stats)
}

// state is the agent's copy of the policy records.
type state struct {
	revision    int64
	groups      map[string]*model.SecurityGroup
	instances   map[string]*model.Instance
	prefixLists map[string]*model.PrefixList
}

func (s *state) cloud() *policy.Cloud {
	return policy.NewCloud(sortedValues(s.groups), sortedValues(s.instances), sortedValues(s.prefixLists))
}

func sortedValues[T any](m map[string]*T) []*T {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]*T, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

type snapshot struct {
	Revision    int64
	Groups      []*model.SecurityGroup
	Instances   []*model.Instance
	PrefixLists []*model.PrefixList
}

type watchAnswer struct {
	snapshot
	Deleted []struct{ Kind, Id string }
	Resync  bool
}

// Run runs the agent until ctx is done. Errors talking to the server are
// retried forever (the kernel keeps enforcing the last policy meanwhile);
// an error programming the kernel ends Run.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ReportEvery == 0 {
		cfg.ReportEvery = 10 * time.Second
	}
	if cfg.Host == "" {
		return fmt.Errorf("agent: a host name is required (--host)")
	}
	api, err := apiclient.New(cfg.Server, cfg.AccessKeyID, cfg.Secret, "")
	if err != nil {
		return err
	}
	k, err := nft.Open(cfg.Netns, cfg.NFT)
	if err != nil {
		return fmt.Errorf("agent: opening nftables: %w", err)
	}
	defer k.Close()

	// Counters are read on a connection of their own: reading them takes a
	// while on a big table and must not hold up an apply.
	kc, err := nft.Open(cfg.Netns, cfg.NFT)
	if err != nil {
		return fmt.Errorf("agent: opening nftables: %w", err)
	}
	defer kc.Close()
	a := &runner{cfg: cfg, api: api, kernel: k, counters: kc}
	go a.reportLoop(ctx)
	return a.loop(ctx)
}

type runner struct {
	cfg Config
	api *apiclient.Client
	st  *state // owned by loop

	kernel   *nft.Kernel // applies; used by loop only
	counters *nft.Kernel // reads counters; used by reportLoop only
	applied  atomic.Int64
}

func (a *runner) loop(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := a.step(ctx)
		if err == nil {
			backoff = 100 * time.Millisecond
			continue
		}
		if ke, ok := err.(kernelError); ok {
			return ke.err
		}
		if ctx.Err() != nil {
			break
		}
		a.cfg.Log.Warn("agent: server unreachable; the kernel keeps the last policy", "err", err, "retry", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil
}

type kernelError struct{ err error }

func (e kernelError) Error() string { return e.err.Error() }

// step syncs once: a full snapshot on the first call (or after losing track),
// then one long poll for changes.
func (a *runner) step(ctx context.Context) error {
	if a.st == nil {
		var snap snapshot
		if err := a.api.Call(ctx, "PalisadeGetSnapshot", nil, &snap, 0); err != nil {
			return err
		}
		st := &state{revision: snap.Revision, groups: map[string]*model.SecurityGroup{},
			instances: map[string]*model.Instance{}, prefixLists: map[string]*model.PrefixList{}}
		for _, g := range snap.Groups {
			st.groups[g.ID] = g
		}
		for _, in := range snap.Instances {
			st.instances[in.ID] = in
		}
		for _, p := range snap.PrefixLists {
			st.prefixLists[p.ID] = p
		}
		a.st = st
		return a.apply()
	}
	var w watchAnswer
	params := map[string]string{
		"AfterRevision":   strconv.FormatInt(a.st.revision, 10),
		"WaitSeconds":     "25",
		"HostName":        a.cfg.Host,
		"AppliedRevision": strconv.FormatInt(a.st.revision, 10),
	}
	if err := a.api.Call(ctx, "PalisadeWatchChanges", params, &w, 25*time.Second); err != nil {
		return err
	}
	if w.Resync {
		// The server's store is behind us (it was replaced): start over.
		a.cfg.Log.Warn("agent: the server's revision is behind ours; reading a new snapshot", "ours", a.st.revision, "server", w.Revision)
		a.st = nil
		return nil
	}
	if w.Revision <= a.st.revision {
		return nil // the poll timed out with nothing new
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
	for _, d := range w.Deleted {
		delete(a.st.groups, d.Id)
		delete(a.st.instances, d.Id)
		delete(a.st.prefixLists, d.Id)
	}
	a.st.revision = w.Revision
	return a.apply()
}

// apply compiles the host's ruleset and applies it in one transaction, then
// tells the server which revision is in force.
func (a *runner) apply() error {
	rs := nft.Build(a.st.cloud(), a.cfg.Host, a.cfg.NFT)
	stats, err := a.kernel.Apply(rs)
	if err != nil {
		return kernelError{fmt.Errorf("agent: applying revision %d: %w", a.st.revision, err)}
	}
	a.cfg.Log.Debug("agent: applied", "revision", a.st.revision, "stats", stats)
	if a.cfg.OnApplied != nil {
		a.cfg.OnApplied(a.st.revision, stats)
	}
	a.applied.Store(a.st.revision)
	// Best effort: the next watch reports the revision again anyway.
	go a.report(context.Background(), a.st.revision, false)
	return nil
}

func (a *runner) reportLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.ReportEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if rev := a.applied.Load(); rev > 0 {
				a.report(ctx, rev, true)
			}
		}
	}
}

// report sends the applied revision and, with counters, the per-rule totals.
func (a *runner) report(ctx context.Context, revision int64, counters bool) {
	params := map[string]string{"HostName": a.cfg.Host, "AppliedRevision": strconv.FormatInt(revision, 10)}
	if counters {
		cs, err := a.counters.Counters()
		if err != nil {
			a.cfg.Log.Warn("agent: reading counters", "err", err)
			return
		}
		out := make(map[string]map[string]uint64, len(cs))
		for k, v := range cs {
			out[k.GroupID+"/"+k.RuleID] = map[string]uint64{"Packets": v.Packets, "Bytes": v.Bytes}
		}
		b, _ := json.Marshal(out)
		params["Counters"] = string(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.api.Call(ctx, "PalisadeReportHostStatus", params, nil, 0); err != nil {
		a.cfg.Log.Debug("agent: report", "err", err)
	}
}
