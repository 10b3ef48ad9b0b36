package server

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/api/analysisapi"
	"github.com/palisade-sg/palisade/internal/controlplane/metrics"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/signature"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
	"github.com/palisade-sg/palisade/internal/controlplane/webhook"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// observer sees every finished API request: it writes the request log
// line, counts the metrics, records the event and notifies the webhook.
// It runs on the request's goroutine and only queues work.
type observer struct {
	log      *slog.Logger
	metrics  *metrics.Metrics
	trail    *trail.Trail
	hook     *webhook.Notifier // nil without a webhook
	accounts *accountCache
	// throttled picks which throttled calls the log and the trail keep;
	// unverified which of those refused before a signature verified.
	throttled, unverified throttleSampler
}

func (o *observer) observe(c *rpc.Call) {
	req := c.Request
	// The account is looked up only for a call logged or recorded (not
	// for the agents' reports, which are neither).
	acct, looked := "", false
	account := func() string {
		if !looked && req.AccessKeyID != "" {
			acct = o.accounts.get(req.AccessKeyID)
		}
		looked = true
		return acct
	}
	if o.metrics != nil {
		o.metrics.Observe(c)
	}
	if strings.HasPrefix(c.Code, "Throttling") && !o.throttled.first(req.AccessKeyID, req.Action, c.Start) {
		return // the metrics count it; the log and the trail have its first
	}
	// Refused before a key was verified: anyone who reaches the port can
	// send these, as fast as the network carries them. Each written would
	// let a flood fill the trail's queue (whose overflow drops the
	// tenants' events) and prune their history by count.
	if c.Code != "" && req.AccessKeyID == "" && !o.unverified.first(rpc.ClientShare(c.RemoteAddr), c.Code, c.Start) {
		return
	}
	if o.trail != nil && trail.Wanted(c) {
		ev := trail.EventOf(c, account())
		o.trail.Record(ev)
		if o.hook != nil {
			o.hook.Notify(ev)
		}
	}
	level := slog.LevelInfo
	switch {
	case c.Status >= 500:
		level = slog.LevelError
	case c.Code == "" && req.Action == "PalisadeReportHostStatus":
		// Every agent reports after each change it applies (1,000 hosts:
		// 1,000 lines a change, a write each): the metrics count them and
		// the host views show what they said; a refused one is logged.
		level = slog.LevelDebug
	}
	if !o.log.Enabled(context.Background(), level) {
		return
	}
	code := c.Code
	if code == "" {
		code = "OK"
	}
	// Never the parameters: they may hold secrets, and the signature.
	o.log.LogAttrs(context.Background(), level, "request",
		slog.String("action", logValue(req.Action)),
		slog.String("version", logValue(req.Version)),
		slog.String("account", account()),
		slog.String("accessKeyId", req.AccessKeyID),
		slog.String("code", code),
		slog.Int("status", c.Status),
		slog.Duration("duration", c.Duration),
		slog.Int("bytes", len(c.Body)),
		slog.String("requestId", req.RequestID),
		slog.String("remoteAddr", c.RemoteAddr),
		slog.String("method", logValue(c.Method)))
}

// maxLogValue bounds a value of the client's in the request log: what an
// unknown Action, Version or method is shows in its first bytes, and a
// client (signed or not) cannot have a megabyte written per request.
const maxLogValue = 128

func logValue(s string) string { return model.Cut(s, maxLogValue, "…(cut)") }

// throttleSampler keeps a flood of throttled calls from becoming a flood
// of log lines and trail events, each a write the flood would make the
// server do for it: of the calls refused with a Throttling code, the log
// and the trail keep the first of each key and action in each second (the
// metrics count every one). Throttling comes after the signature, so the
// keys are real ones.
type throttleSampler struct {
	mu   sync.Mutex
	sec  int64 // the Unix second seen holds
	seen map[[2]string]bool
}

// maxThrottleSeen bounds the pairs kept for one second; beyond it, the
// rest of that second's throttled calls are only counted.
const maxThrottleSeen = 10_000

// first reports whether a throttled call of the key and action is the
// first of its second.
func (s *throttleSampler) first(key, action string, at time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := at.Unix(); sec != s.sec || s.seen == nil {
		s.sec, s.seen = sec, map[[2]string]bool{}
	}
	k := [2]string{key, action}
	if s.seen[k] || len(s.seen) >= maxThrottleSeen {
		return false
	}
	s.seen[k] = true
	return true
}

// accountCache maps access key IDs to accounts: a key's account never
// changes, so a cached answer stays right after the key is deleted (and
// the log and the trail still name who made the call). It is bounded and
// simply starts over when full.
type accountCache struct {
	lookup func(ctx context.Context, id string) (string, bool)
	mu     sync.Mutex
	m      map[string]string
}

const accountCacheSize = 10_000

func (a *accountCache) get(id string) string {
	a.mu.Lock()
	acct, ok := a.m[id]
	a.mu.Unlock()
	if ok {
		return acct
	}
	acct, found := a.lookup(context.Background(), id)
	if !found {
		return ""
	}
	a.mu.Lock()
	if len(a.m) >= accountCacheSize {
		a.m = map[string]string{}
	}
	a.m[strings.Clone(id)] = acct // id may point into a whole request body
	a.mu.Unlock()
	return acct
}

// lookupCaller resolves LookupEvents' caller: a tenant reads its own
// events, the operator every account's; a host key reads none.
func lookupCaller(svc *api.Service) trail.Caller {
	return func(ctx context.Context, req *rpc.Request) (string, bool, error) {
		c, err := svc.RequestCaller(ctx, req, false)
		if err != nil {
			return "", false, err
		}
		if c.Host != "" {
			return "", false, ecserr.Forbidden("Forbidden.HostKey", "A host key may call only the host actions; read events with an account's key.")
		}
		return c.Account, c.Operator, nil
	}
}

// newMetrics makes the server's metrics over its routes and sources.
func newMetrics(svc *api.Service, st store.Store, routes map[rpc.RouteKey]rpc.Handler, tr *trail.Trail, hook *webhook.Notifier, nonces *signature.NonceCache, health *etcdHealth) *metrics.Metrics {
	var actions, analyses []string
	for k := range routes {
		actions = append(actions, k.Action)
	}
	for k := range analysisapi.Routes(svc) {
		analyses = append(analyses, k.Action)
	}
	slices.Sort(actions)
	src := metrics.Sources{
		Revision: st.Revision,
		Hosts: func() []metrics.Host {
			var out []metrics.Host
			for _, h := range svc.HostStates() {
				out = append(out, metrics.Host{Name: h.Name, Applied: h.Applied, Seen: h.Seen})
			}
			return out
		},
		Trail: func() metrics.Counters {
			s := tr.Stats()
			return metrics.Counters{Recorded: s.Recorded, Dropped: s.Dropped, Failed: s.Failed}
		},
	}
	if sq, ok := st.(*sqlite.Store); ok {
		src.Commits = func() metrics.Commits {
			s := sq.Stats()
			return metrics.Commits{Batches: s.Batches, Updates: s.Updates, Run: s.Run, Commit: s.Commit, Syncs: s.Syncs, Sync: s.Sync}
		}
	}
	src.FlowRecords = func() metrics.FlowRecords {
		s := svc.FlowRecords().Stats()
		return metrics.FlowRecords{Held: s.Records, Bytes: s.Bytes, Dropped: s.DroppedForSize}
	}
	if v := svc.InMemory(); v != nil {
		src.History = func() metrics.History {
			s := v.Current()
			if s == nil {
				return metrics.History{}
			}
			n, b := s.HistorySize()
			return metrics.History{Changes: n, Bytes: b}
		}
	}
	if nonces != nil {
		src.Nonces = nonces.Len
	}
	if health != nil {
		src.Etcd = health.metrics
	}
	if hook != nil {
		src.Webhook = func() metrics.Counters {
			s := hook.Stats()
			return metrics.Counters{Recorded: s.Delivered, Dropped: s.Dropped, Failed: s.Failed}
		}
	}
	return metrics.New(actions, analyses, src)
}

// withTrail adds LookupEvents to the routes.
func withTrail(routes map[rpc.RouteKey]rpc.Handler, svc *api.Service, tr *trail.Trail) map[rpc.RouteKey]rpc.Handler {
	maps.Copy(routes, tr.Routes(lookupCaller(svc)))
	return routes
}

// webhookWait is how long a shutdown waits for queued notifications.
const webhookWait = 5 * time.Second
