// Package server assembles Palisade's API server: the store, the services
// (package service, and package analyze for the analysis), their RPC
// adapters (packages api and analysisapi), signature verification and the
// HTTP transport.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/api/analysisapi"
	"github.com/palisade-sg/palisade/internal/controlplane/atomicfile"
	"github.com/palisade-sg/palisade/internal/controlplane/console"
	"github.com/palisade-sg/palisade/internal/controlplane/flowstore"
	"github.com/palisade-sg/palisade/internal/controlplane/metrics"
	"github.com/palisade-sg/palisade/internal/controlplane/ratelimit"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
	"github.com/palisade-sg/palisade/internal/controlplane/signature"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
	"github.com/palisade-sg/palisade/internal/controlplane/webhook"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Config says where to listen and where to keep state.
type Config struct {
	Listen string // e.g. 127.0.0.1:8080
	// DB is the SQLite file that holds all state; with Etcd, only this
	// server's own files are kept beside it: the event trail
	// (trail.File(DB)), the flow records and its ID (serverIDFile).
	DB string
	// Etcd, if set, are the client URLs of an etcd cluster that holds the
	// state instead (store/etcd, under etcd.DefaultPrefix): every server
	// given the same cluster serves one installation, and they share the
	// replay nonces there too.
	Etcd []string
	// EtcdTLS, if set, is the TLS to Etcd (a client certificate and the
	// cluster's CA); nil speaks plain HTTP.
	EtcdTLS *tls.Config
	// AccessKeyID and AccessKeySecret, if set, become a key of the first
	// tenant; OperatorKeyID and OperatorKeySecret one of the operator.
	AccessKeyID, AccessKeySecret     string
	OperatorKeyID, OperatorKeySecret string
	Log                              *slog.Logger
	// TLS, if set, serves HTTPS instead of plain HTTP on the same listener
	// (the API, /healthz and whatever else the mux gets).
	TLS *tls.Config
	// Limits bound timeouts, connections and request size; zero fields
	// take DefaultLimits.
	Limits Limits
	// Events bound the event trail (kept in trail.File(DB)); zero fields
	// take the trail's defaults.
	Events trail.Options
	// Webhook, when its URL is set, is notified of every accepted change
	// to security groups, their rules and members.
	Webhook webhook.Config
	// RateLimit sets request rates per account and action (zero fields take
	// ratelimit.Defaults; the agents' snapshots and watches are exempt for
	// host keys, which HostLimits bound instead).
	RateLimit ratelimit.Config
	// HostLimits bound each host key's snapshots (the scope computations
	// they cost) and its long polls and streams open at once (zero fields
	// take service.DefaultHostLimits).
	HostLimits service.HostLimits
	// MaxNonces bounds the nonces remembered per access key on SQLite (0:
	// signature.DefaultMaxNonces, about 550 requests a second sustained per
	// key under the default window); a key past it is refused until its nonces expire. Benchmarks
	// that load one key for longer raise it.
	MaxNonces int
	// MaxClockSkew is how far a request's timestamp may be from this
	// server's clock (0: signature.DefaultMaxSkew, 15 minutes as ECS). A
	// nonce is remembered until its timestamp leaves the window, so the
	// replay cache holds what the keys send in twice this at most.
	MaxClockSkew time.Duration
	// Analysis bounds the analysis actions (zero fields take defaults).
	Analysis analyze.Options
	// Quotas bound what each account may create (zero fields take
	// service.DefaultQuotas'). On etcd give every server the same ones:
	// each checks a write against its own.
	Quotas service.Quotas
	// AnalysisNice is the nice value (1 to 19, Linux) the analysis
	// actions run at, each on an OS thread of its own, so that on busy
	// cores the other requests run first; 0 takes DefaultAnalysisNice, a
	// negative value runs them at the server's priority.
	AnalysisNice int
	// GCHeadroom is how many bytes the heap may grow between garbage
	// collections at least, however small the live heap (see tuneGC); 0
	// takes DefaultGCHeadroom, a negative value leaves Go's pacing as it
	// is. A GC percent other than 100 (GOGC, debug.SetGCPercent) also
	// leaves it; callers that let the operator set one explicitly (GOGC=100
	// too) pass a negative value then.
	GCHeadroom int64
	// FlowRecords says where and how long the agents' flow records are
	// kept: on this server's disk, in FlowRecords.Dir (default
	// flowstore.DirBeside(DB)), never in the store, also on etcd; zero
	// fields take flowstore's defaults.
	FlowRecords flowstore.Options
	// Advertise is how the other servers of an etcd installation reach
	// this one's API, HOST:PORT (over HTTPS with TLS); empty takes the
	// address listened on, which must then name a host, not 0.0.0.0 or ::.
	// Each server registers it in etcd while it runs, and LookupEvents and
	// PalisadeDescribeFlowRecords ask every registered server for its part.
	Advertise string
	// PeerTimeout bounds another server's answer to its part of such a
	// query (a server that does not answer makes the answer partial, not
	// an error); 0 takes peers.DefaultTimeout.
	PeerTimeout time.Duration
	// PeerAllowPlaintext lets such a query ask a peer off loopback over
	// plain HTTP (the caller's signed call and its answer in the clear);
	// by default that peer is left out, as missing.
	PeerAllowPlaintext bool
	// Metrics says who may read /metrics (default: loopback clients).
	Metrics MetricsAccess
	// EtcdCluster are more URLs of the etcd cluster than Etcd (an embedded
	// member's --join and peer URLs): an advertise address on loopback is
	// refused when any of these or Etcd is off this machine.
	EtcdCluster []string
}

// DefaultAnalysisNice is the analyses' nice value: the kernel then gives a
// thread of the other requests (nice 0) about ten times their CPU share.
const DefaultAnalysisNice = 10

// HostActions are the actions agents call that the tenants' rate limits
// never hold for the operator's and the host keys, so that a host's
// snapshot and long poll are never starved by its tenants' traffic (host
// keys all belong to the operator's account); a tenant's, which the
// actions refuse, are limited as any call (Admit). A host key's snapshots
// and watches are bounded per host instead (Config.HostLimits, in the
// service, which knows what each costs), its reports are limited per key
// (hostReports), and so are its binds (the operator's, a lab's hundreds,
// are not).
var HostActions = map[string]bool{"PalisadeGetSnapshot": true, "PalisadeWatchChanges": true, "PalisadeWatchStream": true,
	"PalisadeBindInstance": true}

// hostReports are the agents' reports, each written to the server's disk
// (flow records synced): limited by the key that sends them, so that each
// host has buckets of its own (host keys all belong to the operator's
// account) and a host that floods them throttles only itself.
var hostReports = map[string]bool{"PalisadeReportHostStatus": true, "PalisadeReportFlowRecords": true}

// Server is a running API server.
type Server struct {
	Ops      *api.Service
	Store    store.Store
	Key      model.AccessKey // a key of the first tenant
	KeyIsNew bool            // the key was made at this start (show it once)
	// OperatorKey is a key of the operator, who administers accounts and
	// hosts; OperatorKeyIsNew as KeyIsNew.
	OperatorKey      model.AccessKey
	OperatorKeyIsNew bool
	Addr             string // the address actually listened on
	http             *http.Server
	ln               net.Listener
	db               string
	nonces           *signature.NonceCache // nil on etcd, where they are shared
	stop             context.CancelFunc    // ends long polls before a shutdown
	Trail            *trail.Trail          // the event trail
	// Actions are the (version, action) pairs the API serves: its route
	// table's keys, for tests that must cover every action.
	Actions    []rpc.RouteKey
	Metrics    *metrics.Metrics  // what /metrics serves
	hook       *webhook.Notifier // nil without a webhook
	log        *slog.Logger
	gcHeadroom int64 // see Config.GCHeadroom
	// ID names this server among those of an etcd installation (kept in
	// serverIDFile beside DB, so it outlives restarts).
	ID         string
	unregister func() // drops it from etcd's live servers; nil on SQLite
}

// MaxClockSkew bounds Config.MaxClockSkew: a day already keeps every
// nonce for up to two.
const MaxClockSkew = 24 * time.Hour

// noncesFile keeps the replay cache across a graceful restart.
func noncesFile(db string) string { return db + ".nonces" }

// loadNonces restores the nonces a graceful shutdown saved. Without them
// (after a crash) requests signed before this start are refused instead, so
// none of them can be replayed; a fresh store needs neither.
func loadNonces(db string, fresh bool, maxNonces int, skew time.Duration) (*signature.NonceCache, time.Time) {
	c := &signature.NonceCache{Max: maxNonces, Grain: nonceGrain(skew), Window: skew}
	f, err := os.Open(noncesFile(db))
	if err != nil {
		if fresh {
			return c, time.Time{}
		}
		return c, startCutoff()
	}
	defer f.Close()
	_, err = c.ReadFrom(f)
	os.Remove(noncesFile(db)) // a crash before the next save must not trust stale state
	if err != nil {
		return c, startCutoff()
	}
	return c, time.Time{}
}

// nonceGrain is the width of the replay cache's expiry buckets for a skew
// window (0: the default): 1/32 of the longest a nonce is kept, so a
// nonce is kept at most skew/16 longer than asked, in at most 33 buckets
// a key.
func nonceGrain(skew time.Duration) time.Duration {
	if skew == 0 {
		skew = signature.DefaultMaxSkew
	}
	return max(time.Second, 2*skew/32)
}

// startCutoff is the time before which a server without its nonces refuses
// timestamps. Timestamps have whole seconds, so a request signed before a
// crash in the second the server restarts carries the same timestamp as
// one signed after the start: the cut-off is the next whole second, and
// the start waits for it (under a second) so that no request signed after
// the start is refused.
func startCutoff() time.Time {
	cut := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(cut))
	return cut
}

// saveNonces writes the cache atomically (a temporary file renamed into
// place once it is on disk): a crash while saving leaves no nonces file (so
// the next start refuses older requests) rather than part of one, which
// would load without error and forget the nonces it lost.
func (s *Server) saveNonces() error {
	return atomicfile.Write(noncesFile(s.db), 0o600, func(w io.Writer) error {
		_, err := s.nonces.WriteTo(w)
		return err
	})
}

// etcdDialTimeout bounds connecting to etcd at the start: a cluster that
// does not answer fails the start with a message, instead of hanging it.
const etcdDialTimeout = 20 * time.Second

// nonceTimeout bounds recording a nonce in etcd.
const nonceTimeout = 5 * time.Second

// etcdNonces are the replay nonces of every server on one etcd cluster.
type etcdNonces struct{ st *etcd.Store }

// UseNonce claims the nonce in etcd until the request's timestamp leaves
// the signature window. It bounds no key's count: each nonce costs one
// small key for at most twice the skew window, and the per-account rate limits bound
// how many a key can make (times the number of servers).
func (n etcdNonces) UseNonce(ctx context.Context, ak, nonce string, now, until time.Time) error {
	if !until.After(now) {
		return nil // already expired: nothing to remember
	}
	// An etcd without a quorum holds a write until it has one: refuse the
	// request (503) well before the client gives up instead.
	ctx, cancel := context.WithTimeout(ctx, nonceTimeout)
	defer cancel()
	ok, err := n.st.ClaimNonce(ctx, ak, nonce, until.Sub(now))
	if err != nil {
		return err
	}
	if !ok {
		return signature.ErrNonceUsed
	}
	return nil
}

// Routes are every action the API serves: the resource actions (package
// api) and the analysis actions (package analysisapi), which are kept
// apart so that the resource actions do not depend on the analysis tier;
// each checks first that its key may call it at all (api.Service.Scoped).
func Routes(svc *api.Service) map[rpc.RouteKey]rpc.Handler {
	return routesWith(svc, analyze.New(svc.Service))
}

func routesWith(svc *api.Service, a *analyze.Service) map[rpc.RouteKey]rpc.Handler {
	r := svc.Routes()
	maps.Copy(r, analysisapi.RoutesOf(svc, a))
	return svc.Scoped(r)
}

// Open binds the listener (so Addr is known before Serve), then opens the
// store and makes sure the operator and the first tenant have keys.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if err := cfg.Metrics.check(); err != nil {
		return nil, err
	}
	cfg.Metrics.Token = strings.TrimSpace(cfg.Metrics.Token)
	if s := cfg.MaxClockSkew; s != 0 && (s < time.Second || s > MaxClockSkew) {
		return nil, fmt.Errorf("max clock skew %s: want 1s to 24h (timestamps have whole seconds; 0 takes %s, as ECS)", s, signature.DefaultMaxSkew)
	}
	if err := cfg.Quotas.Check(false); err != nil {
		return nil, err
	}
	// Listen first: a start that cannot bind (the port is in use) must not
	// create the store and the first key, whose secret it would never show.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	var selfURL string
	if len(cfg.Etcd) > 0 {
		if selfURL, err = advertiseURL(cfg.Advertise, ln.Addr().String(), cfg.TLS != nil); err != nil {
			ln.Close()
			return nil, err
		}
		if err = checkLoopbackAdvertise(selfURL, append(slices.Clone(cfg.Etcd), cfg.EtcdCluster...)); err != nil {
			ln.Close()
			return nil, err
		}
	}
	_, statErr := os.Stat(cfg.DB)
	fresh := os.IsNotExist(statErr) // a new store has served no request that could be replayed
	var (
		st         store.Store
		etcdStore  *etcd.Store
		storeName  = cfg.DB
		nonceStore signature.NonceStore
	)
	if len(cfg.Etcd) > 0 {
		storeName = "etcd " + strings.Join(cfg.Etcd, ",")
		dctx, cancel := context.WithTimeout(ctx, etcdDialTimeout)
		etcdStore, err = etcd.DialTLS(dctx, cfg.Etcd, "", cfg.EtcdTLS)
		cancel()
		st, fresh = etcdStore, false
		nonceStore = etcdNonces{etcdStore}
	} else {
		st, err = sqlite.Open(cfg.DB)
	}
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("open store %s: %w", storeName, err)
	}
	svc := api.New(st)
	boot, err := svc.Bootstrap(ctx, service.BootstrapKeys{OperatorID: cfg.OperatorKeyID, OperatorSecret: cfg.OperatorKeySecret,
		TenantID: cfg.AccessKeyID, TenantSecret: cfg.AccessKeySecret})
	if err != nil {
		ln.Close()
		st.Close()
		if fresh && etcdStore == nil {
			// Keep no store whose keys were never shown.
			for _, f := range []string{cfg.DB, cfg.DB + "-wal", cfg.DB + "-shm", cfg.DB + "-journal"} {
				os.Remove(f)
			}
		}
		return nil, fmt.Errorf("bootstrap the operator and the first tenant: %w", err)
	}
	cfg.Events.Log = cfg.Log
	tr, err := trail.Open(trail.File(cfg.DB), cfg.Events)
	if err != nil {
		ln.Close()
		st.Close()
		return nil, fmt.Errorf("open the event trail: %w", err)
	}
	if cfg.FlowRecords.Dir == "" {
		cfg.FlowRecords.Dir = flowstore.DirBeside(cfg.DB)
	}
	cfg.FlowRecords.Log = cfg.Log
	flows, err := flowstore.Open(cfg.FlowRecords)
	if err != nil {
		ln.Close()
		st.Close()
		tr.Close()
		return nil, fmt.Errorf("open the flow records: %w", err)
	}
	svc.SetFlowRecords(flows)
	svc.SetHostLimits(cfg.HostLimits)
	svc.Quotas = cfg.Quotas
	svc.FlowRecordsElsewhere = len(cfg.Etcd) > 0 // each server keeps what its agents ship
	var hook *webhook.Notifier
	if cfg.Webhook.URL != "" {
		cfg.Webhook.Log = cfg.Log
		if hook, err = webhook.New(cfg.Webhook); err != nil {
			ln.Close()
			st.Close()
			tr.Close()
			flows.Close()
			return nil, err
		}
		svc.ChangeAlerting = true
	}
	lim := cfg.Limits.withDefaults()
	svc.StreamWriteTimeout = lim.StreamWriteTimeout
	// The cap counts TCP connections, so it wraps the plain listener.
	ln = newLimitListener(ln, lim.MaxConns, lim.MaxConnsPerAddr)
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
	}
	stopping, stop := context.WithCancel(context.Background())
	svc.Stopping = stopping
	var (
		nonces    *signature.NonceCache
		notBefore time.Time
	)
	if nonceStore == nil {
		nonces, notBefore = loadNonces(cfg.DB, fresh, cfg.MaxNonces, cfg.MaxClockSkew)
		nonceStore = nonces
	}
	analysis := analyze.NewWith(svc.Service, cfg.Analysis)
	analysis.Start() // the live reachability is ready before the first question
	// HostActions are exempted by Admit, for the agents' keys only.
	limiter := ratelimit.New(cfg.RateLimit)
	routes := withTrail(routesWith(svc, analysis), svc, tr)
	var health *etcdHealth
	if etcdStore != nil {
		health = newEtcdHealth(etcdStore, cfg.Log)
	}
	met := newMetrics(svc, st, routes, tr, hook, nonces, health)
	obs := &observer{log: cfg.Log, metrics: met, trail: tr, hook: hook, accounts: &accountCache{lookup: svc.AccountOfKey, m: map[string]string{}}}
	api := &rpc.Server{
		Verifier: &signature.Verifier{Lookup: svc.LookupSecret, Nonces: nonceStore, Now: time.Now, NotBefore: notBefore, MaxSkew: cfg.MaxClockSkew},
		Routes:   routes,
		Log:      cfg.Log,
		Observe:  obs.observe,
		Admit: func(ctx context.Context, req *rpc.Request) error {
			// From the observer's cache (a key's account never changes;
			// the signature was just checked against the key as it is
			// now): no store read per call.
			acct := obs.accounts.get(req.AccessKeyID)
			if acct == "" {
				return nil // the handler answers for an unknown key
			}
			if hostReports[req.Action] {
				acct += "/" + req.AccessKeyID
			}
			if HostActions[req.Action] {
				c, err := svc.KeyCaller(ctx, req.AccessKeyID)
				switch {
				case err != nil:
					// Refused by the handler (a key Inactive, an account
					// disabled): limited as any call.
				case c.Host != "" && req.Action == "PalisadeBindInstance":
					// Each bind is a store write, synced, that wakes the
					// watches: a host key's are limited per key, as its
					// reports are (a hostile host moved its instance
					// between two interfaces without bound).
					acct += "/" + req.AccessKeyID
				case c.Host != "" || c.Operator:
					return nil
				}
				// A tenant's, refused by the action: limited as any call
				// (they were not, and each refusal is logged and trailed).
			}
			// A large request takes tokens by its size: reading and
			// checking 1 MiB costs the server many small requests.
			return limiter.AllowN(acct, req.Action, ratelimit.Cost(req.Size))
		},

		MaxBodyBytes:   lim.MaxBodyBytes,
		MaxLargeBodies: lim.MaxLargeBodies,
		BodyTimeout:    lim.BodyTimeout,
		ThrottledDelay: lim.ThrottledDelay,
	}
	analyses := map[string]bool{}
	for k := range analysisapi.Routes(svc) {
		analyses[k.Action] = true
	}
	// An analysis is let in (queued or refused) before it takes a thread
	// or any CPU, and holds its place until its answer is encoded.
	api.Gate = func(ctx context.Context, req *rpc.Request) (context.Context, func(), error) {
		if !analyses[req.Action] {
			return ctx, func() {}, nil
		}
		acct := obs.accounts.get(req.AccessKeyID) // as Admit reads it
		if acct == "" {
			return ctx, func() {}, nil // the handler refuses an unknown key
		}
		if f, ok := analysisapi.HitsOf(req); ok {
			ctx = svc.WithKeyPeerHits(ctx, acct, acct, f) // before admission: peers may be slow; acct is the key's, looked up once
		}
		return analysis.Admit(ctx, acct)
	}
	if nice := cmp.Or(cfg.AnalysisNice, DefaultAnalysisNice); nice > 0 {
		api.Nice = min(nice, 19)
		api.LowPriority = func(action string) bool { return analyses[action] }
	}
	mux := http.NewServeMux()
	mux.Handle("/", browserToConsole(api))
	mux.Handle("/metrics", cfg.Metrics.guard(met.Handler()))
	// The web console, on the same listener, as the same services.
	alerting := svc.ChangeAlerting // the console's audit judges SGA-032 as the API's does
	con, err := console.New(svc.Service, console.Options{Log: cfg.Log, Analysis: analysis, Events: tr, ChangeAlerting: &alerting,
		Observe: obs.observe}) // the console's changes go to the event trail and the webhook as the API's do
	if err != nil {
		stop()
		ln.Close()
		st.Close()
		tr.Close()
		flows.Close()
		return nil, fmt.Errorf("console: %w", err)
	}
	mux.Handle(console.Prefix, con)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(r.Context(), svc, st); err != nil {
			// Anyone who reaches the port asks: the store's own error
			// (SQL, file names, etcd endpoints) goes to the log only.
			cfg.Log.Warn("not ready", "err", err)
			http.Error(w, "not ready: "+err.public, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	srv := &Server{Ops: svc, Store: st, Key: boot.Tenant, KeyIsNew: boot.TenantNew, OperatorKey: boot.Operator, OperatorKeyIsNew: boot.OperatorNew, Addr: ln.Addr().String(), ln: ln, db: storeName, nonces: nonces, stop: stop,
		Trail: tr, Actions: slices.Collect(maps.Keys(routes)), Metrics: met, hook: hook, log: cfg.Log, gcHeadroom: cmp.Or(cfg.GCHeadroom, DefaultGCHeadroom),
		// No ReadTimeout: it would also cut long polls off; the body has its
		// own deadline (rpc.Server.BodyTimeout).
		http: &http.Server{Handler: boundWrites(mux, lim.WriteTimeout), ReadHeaderTimeout: lim.HeaderTimeout, IdleTimeout: lim.IdleTimeout,
			MaxHeaderBytes: lim.MaxHeaderBytes}}
	if etcdStore != nil {
		if err := srv.joinPeers(ctx, cfg, etcdStore, selfURL, tr, met); err != nil {
			stop()
			ln.Close()
			st.Close()
			tr.Close()
			flows.Close()
			return nil, err
		}
		go health.run(stopping)
		go svc.RunSharedHosts(stopping, 0) // the hosts' applied revisions, one etcd write a second
	}
	return srv, nil
}

// readyWait is how long /readyz gives the in-memory view to reach the
// store's revision: it trails each write by a moment, which is not
// unreadiness.
const readyWait = time.Second

// readyStoreWait bounds /readyz's read of the store's revision.
const readyStoreWait = 2 * time.Second

// ready reports why the server cannot answer API requests yet: the store
// is closed or failing, or the in-memory view that reads are served from
// has not loaded or caught up with the store.
func ready(ctx context.Context, svc *api.Service, st store.Store) *notReady {
	// etcd without a quorum holds a read until it has one: a probe must be
	// answered, not left hanging.
	sctx, scancel := context.WithTimeout(ctx, readyStoreWait)
	rev, err := st.Revision(sctx)
	scancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return &notReady{fmt.Sprintf("the store did not answer within %s (on etcd: is a quorum, a majority, of its members running?)", readyStoreWait),
				fmt.Errorf("store: %w", err)}
		}
		return &notReady{"the store cannot be read", fmt.Errorf("store: %w", err)}
	}
	v := svc.InMemory()
	if v == nil {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, readyWait)
	defer cancel()
	if _, err := v.Wait(wctx, rev); err != nil {
		return &notReady{fmt.Sprintf("the in-memory view is at revision %d, the store at %d", v.Revision(), rev),
			fmt.Errorf("in-memory view at revision %d, store at %d: %w", v.Revision(), rev, err)}
	}
	return nil
}

// notReady says why the server is not ready: public in /readyz's answer,
// err (with the store's own error) in the log.
type notReady struct {
	public string
	err    error
}

func (e *notReady) Error() string { return e.err.Error() }

// Serve answers requests until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	defer tuneGC(s.gcHeadroom)()
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	s.log.Info("serving", "addr", s.Addr, "db", s.db)
	select {
	case err := <-errc:
		s.closeObservers()
		s.Store.Close()
		s.log.Error("stopped serving", "err", err)
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing requests in flight", "addr", s.Addr)
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.stop() // long polls answer now instead of holding the shutdown up
	if s.unregister != nil {
		// Leave the live servers first: a query asking this one while it
		// drains would wait for a part it no longer gives.
		s.unregister()
	}
	err := s.http.Shutdown(shut)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	if s.nonces != nil {
		if e := s.saveNonces(); err == nil {
			err = e
		}
	}
	s.closeObservers()
	if e := s.Store.Close(); err == nil {
		err = e
	}
	if err != nil {
		s.log.Error("shut down with an error", "err", err)
	} else {
		s.log.Info("shut down")
	}
	return err
}

// closeObservers writes the queued events and notifications (the
// webhook's for at most webhookWait) once no request is in flight.
func (s *Server) closeObservers() {
	if s.unregister != nil {
		s.unregister()
	}
	if s.hook != nil {
		s.hook.Close(webhookWait)
	}
	if err := s.Trail.Close(); err != nil {
		s.log.Error("event trail: closing", "err", err)
	}
	if err := s.Ops.FlowRecords().Close(); err != nil {
		s.log.Error("flow records: closing", "err", err)
	}
}

// browserToConsole sends a browser opening the server's address (GET / with
// no query, asking for HTML) to the console, where it can sign in; the
// API's answer to it would be a MissingParameter error in JSON. Every API
// call names its Action, so no client of the API is sent away.
func browserToConsole(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/" && r.URL.RawQuery == "" && strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, console.Prefix, http.StatusSeeOther)
			return
		}
		api.ServeHTTP(w, r)
	})
}
