// Package metrics exports the server's metrics in the Prometheus format:
// requests by action and code, their latency, throttled requests, analysis
// durations, the store revision, the connected agents and how far each
// trails it, and the event trail's and the webhook's counters. No label
// carries tenant data: actions are the served action names (anything else
// counts as "Unknown"), codes are the server's error codes, and hosts are
// the operator's host names; account and key IDs never appear.
package metrics

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

// Host is an agent's last report.
type Host struct {
	Name    string
	Applied int64
	Seen    time.Time
}

// Counters are cumulative counts read at each scrape.
type Counters struct {
	Recorded, Dropped, Failed uint64
}

// Sources are what the gauges read at each scrape; nil ones are left out.
type Sources struct {
	Revision func(context.Context) (int64, error) // the store's committed revision
	Hosts    func() []Host
	Trail    func() Counters
	Webhook  func() Counters // Recorded counts deliveries
	Commits  func() Commits  // the store's group commit (sqlite)
	// FlowRecords reads the flow records this server keeps.
	FlowRecords func() FlowRecords
	// History reads the in-memory view's watch history.
	History func() History
	// Nonces counts the replay nonces this server remembers (SQLite;
	// on etcd the servers share them there).
	Nonces func() int
	// Etcd reads the etcd cluster's health as last checked (on etcd).
	Etcd func() EtcdHealth
}

// EtcdHealth is the etcd cluster as this server last saw it: whether the
// member it talks to has a leader, and which members answered, by name.
type EtcdHealth struct {
	HasLeader bool
	Members   map[string]bool
}

// History is what the in-memory view's watch history holds: changed
// records and their estimated bytes (bounded by count and by bytes).
type History struct {
	Changes int
	Bytes   int64
}

// Commits are the group commit's cumulative figures: transactions, the
// writes in them, the time the serialized section spent running them
// (before the commit) and committing them (writing the log), and the
// fsyncs of the log beside it.
type Commits struct {
	Batches, Updates, Syncs int64
	Run, Commit, Sync       time.Duration
}

// FlowRecords are the flow records a server keeps: how many, the bytes of
// their files, and how many the size cap deleted before their age.
type FlowRecords struct {
	Held    int
	Bytes   int64
	Dropped uint64
}

// ConnectedWithin is how recently an agent must have reported (it reports
// at least every 10 s, and long-polls in between) to count as connected.
const ConnectedWithin = time.Minute

// maxCodes bounds the distinct code labels; more count as "Other".
const maxCodes = 200

// Metrics is the registry and the request collectors.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	throttled *prometheus.CounterVec
	analysis  *prometheus.HistogramVec
	missed    *prometheus.CounterVec
	idTaken   prometheus.Counter

	actions  map[string]bool
	analyses map[string]bool
	mu       sync.Mutex
	codes    map[string]bool
	now      func() time.Time
}

// New makes the metrics of a server serving actions, of which analyses
// are the analysis actions.
func New(actions, analyses []string, src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "palisade_api_requests_total",
			Help: "API requests answered, by action and result code (OK or the error code)."}, []string{"action", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "palisade_api_request_duration_seconds",
			Help:    "Time from a request's arrival to its answer, by action.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"action"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "palisade_api_throttled_requests_total",
			Help: "API requests refused with a Throttling code, by action."}, []string{"action"}),
		analysis: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "palisade_analysis_duration_seconds",
			Help:    "Time the analysis actions take, by action.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"action"}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "palisade_peer_parts_missed_total",
			Help: "Parts of a query over every server (events, flow records) that another server did not give in time, by action: each made an answer partial."}, []string{"action"}),
		idTaken: prometheus.NewCounter(prometheus.CounterOpts{Name: "palisade_server_id_taken_total",
			Help: "Attempts to register this server again after a lost lease (etcd) that found its ID held by another server: it is not listed meanwhile."}),
		actions: map[string]bool{}, analyses: map[string]bool{}, codes: map[string]bool{}, now: time.Now,
	}
	for _, a := range actions {
		m.actions[a] = true
	}
	for _, a := range analyses {
		m.analyses[a] = true
	}
	m.reg.MustRegister(m.requests, m.latency, m.throttled, m.analysis, m.missed, m.idTaken,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &gauges{src: src, now: m.now})
	return m
}

// Registry is where the collectors are registered (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Observe counts a finished API request.
func (m *Metrics) Observe(c *rpc.Call) {
	action := c.Request.Action
	if !m.actions[action] {
		action = "Unknown"
	}
	code := c.Code
	if code == "" {
		code = "OK"
	}
	m.mu.Lock()
	if !m.codes[code] {
		if len(m.codes) >= maxCodes {
			code = "Other"
		}
		m.codes[code] = true
	}
	m.mu.Unlock()
	m.requests.WithLabelValues(action, code).Inc()
	sec := c.Duration.Seconds()
	m.latency.WithLabelValues(action).Observe(sec)
	if strings.HasPrefix(c.Code, "Throttling") {
		m.throttled.WithLabelValues(action).Inc()
	}
	if m.analyses[action] {
		m.analysis.WithLabelValues(action).Observe(sec)
	}
}

// PeerMissed counts a server that did not give its part of a query.
func (m *Metrics) PeerMissed(action string) {
	if !m.actions[action] {
		action = "Unknown"
	}
	m.missed.WithLabelValues(action).Inc()
}

// IDTaken counts an attempt to register again that found this server's ID
// held by another server.
func (m *Metrics) IDTaken() { m.idTaken.Inc() }

// gauges reads the Sources at each scrape.
type gauges struct {
	src Sources
	now func() time.Time
}

var (
	revisionDesc  = prometheus.NewDesc("palisade_store_revision", "The store's last committed revision.", nil, nil)
	connectedDesc = prometheus.NewDesc("palisade_agents_connected", "Agents that reported within the last minute.", nil, nil)
	lagDesc       = prometheus.NewDesc("palisade_agent_applied_revision_lag",
		"How many revisions a connected agent's applied revision trails the store's, by host.", []string{"host"}, nil)
	appliedDesc = prometheus.NewDesc("palisade_agent_applied_revision", "The revision a connected agent last reported applied, by host.", []string{"host"}, nil)
	trailDesc   = prometheus.NewDesc("palisade_trail_events_total",
		"Events of the event trail, by outcome: recorded, dropped (the queue was full) or failed (not written).", []string{"outcome"}, nil)
	hookDesc = prometheus.NewDesc("palisade_webhook_notifications_total",
		"Security-group change notifications, by outcome: delivered, dropped (the queue was full) or failed (after retries).", []string{"outcome"}, nil)
	commitsDesc  = prometheus.NewDesc("palisade_store_commits_total", "Transactions the store's group commit committed (or failed).", nil, nil)
	commitWrites = prometheus.NewDesc("palisade_store_commit_writes_total", "Writes (Updates) in the store's group commits.", nil, nil)
	commitRun    = prometheus.NewDesc("palisade_store_commit_run_seconds_total", "Time the store's serialized section spent running the writes of its batches, before each commit.", nil, nil)
	commitSync   = prometheus.NewDesc("palisade_store_commit_sync_seconds_total", "Time the store's serialized section spent committing its batches (writing the log; its fsync runs beside: palisade_store_sync_seconds_total).", nil, nil)
	syncsDesc    = prometheus.NewDesc("palisade_store_syncs_total", "Fsyncs of the store's log, each for the batches committed before it.", nil, nil)
	syncTime     = prometheus.NewDesc("palisade_store_sync_seconds_total", "Time the store spent in fsyncs of its log (beside the serialized section; writes are answered after theirs).", nil, nil)
	flowsDesc    = prometheus.NewDesc("palisade_flow_records",
		"Flow records this server keeps (shipped by its agents).", nil, nil)
	flowBytesDesc = prometheus.NewDesc("palisade_flow_record_bytes",
		"Bytes of the files of the flow records this server keeps (--flow-records-max-bytes caps them).", nil, nil)
	flowDroppedDesc = prometheus.NewDesc("palisade_flow_records_dropped_total",
		"Flow records deleted before their age to stay under --flow-records-max-bytes.", nil, nil)
	historyDesc = prometheus.NewDesc("palisade_view_history_changes",
		"Changed records the in-memory view keeps for the agents' watches (a watch older than them resyncs).", nil, nil)
	noncesDesc = prometheus.NewDesc("palisade_signature_nonces",
		"Signature nonces this server remembers to refuse replays, each until its request's timestamp leaves the --max-clock-skew window.", nil, nil)
	historyBytesDesc = prometheus.NewDesc("palisade_view_history_bytes",
		"Estimated memory of the changed records the in-memory view keeps for the agents' watches.", nil, nil)
	etcdLeaderDesc = prometheus.NewDesc("palisade_etcd_has_leader",
		"1 while the etcd member this server talks to has a leader; 0: the cluster has no quorum (a majority of its members is down), and requests fail with ServiceUnavailable.", nil, nil)
	etcdMemberDesc = prometheus.NewDesc("palisade_etcd_member_up",
		"1 while a member of the etcd cluster answers this server, 0 while it does not, by member name.", []string{"member"}, nil)
)

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{revisionDesc, connectedDesc, lagDesc, appliedDesc, trailDesc, hookDesc, commitsDesc, commitWrites, commitRun, commitSync, syncsDesc, syncTime, flowsDesc, flowBytesDesc, flowDroppedDesc, historyDesc, historyBytesDesc, noncesDesc, etcdLeaderDesc, etcdMemberDesc} {
		ch <- d
	}
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	var rev int64 = -1
	if g.src.Revision != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		r, err := g.src.Revision(ctx)
		cancel()
		if err == nil {
			rev = r
			ch <- prometheus.MustNewConstMetric(revisionDesc, prometheus.GaugeValue, float64(r))
		}
	}
	if g.src.Hosts != nil {
		n := 0
		for _, h := range g.src.Hosts() {
			if g.now().Sub(h.Seen) > ConnectedWithin {
				continue
			}
			n++
			ch <- prometheus.MustNewConstMetric(appliedDesc, prometheus.GaugeValue, float64(h.Applied), h.Name)
			if rev >= 0 {
				ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(max(0, rev-h.Applied)), h.Name)
			}
		}
		ch <- prometheus.MustNewConstMetric(connectedDesc, prometheus.GaugeValue, float64(n))
	}
	counters := func(d *prometheus.Desc, c Counters, ok string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(c.Recorded), ok)
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(c.Dropped), "dropped")
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(c.Failed), "failed")
	}
	if g.src.Trail != nil {
		counters(trailDesc, g.src.Trail(), "recorded")
	}
	if g.src.Webhook != nil {
		counters(hookDesc, g.src.Webhook(), "delivered")
	}
	if g.src.Commits != nil {
		c := g.src.Commits()
		ch <- prometheus.MustNewConstMetric(commitsDesc, prometheus.CounterValue, float64(c.Batches))
		ch <- prometheus.MustNewConstMetric(commitWrites, prometheus.CounterValue, float64(c.Updates))
		ch <- prometheus.MustNewConstMetric(commitRun, prometheus.CounterValue, c.Run.Seconds())
		ch <- prometheus.MustNewConstMetric(commitSync, prometheus.CounterValue, c.Commit.Seconds())
		ch <- prometheus.MustNewConstMetric(syncsDesc, prometheus.CounterValue, float64(c.Syncs))
		ch <- prometheus.MustNewConstMetric(syncTime, prometheus.CounterValue, c.Sync.Seconds())
	}
	if g.src.FlowRecords != nil {
		f := g.src.FlowRecords()
		ch <- prometheus.MustNewConstMetric(flowsDesc, prometheus.GaugeValue, float64(f.Held))
		ch <- prometheus.MustNewConstMetric(flowBytesDesc, prometheus.GaugeValue, float64(f.Bytes))
		ch <- prometheus.MustNewConstMetric(flowDroppedDesc, prometheus.CounterValue, float64(f.Dropped))
	}
	if g.src.History != nil {
		h := g.src.History()
		ch <- prometheus.MustNewConstMetric(historyDesc, prometheus.GaugeValue, float64(h.Changes))
		ch <- prometheus.MustNewConstMetric(historyBytesDesc, prometheus.GaugeValue, float64(h.Bytes))
	}
	if g.src.Nonces != nil {
		ch <- prometheus.MustNewConstMetric(noncesDesc, prometheus.GaugeValue, float64(g.src.Nonces()))
	}
	if g.src.Etcd != nil {
		h := g.src.Etcd()
		ch <- prometheus.MustNewConstMetric(etcdLeaderDesc, prometheus.GaugeValue, b2f(h.HasLeader))
		for name, up := range h.Members {
			ch <- prometheus.MustNewConstMetric(etcdMemberDesc, prometheus.GaugeValue, b2f(up), name)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
