package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/flowlog"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// Flow logs: when an active flow log covers a NIC of this host, the agent
// compiles with nft.Options.FlowLog, runs a flowlog.Collector, keeps the
// records the flow logs ask for (their traffic type, their NICs) in a
// bounded buffer and ships them to the server (PalisadeReportFlowRecords),
// retrying while the server is away. What overflows the buffer is counted.
// Enforcement never waits on any of it.
//
// Each batch is sent under a token (ClientToken) that the agent keeps for
// it until the server answers: a retry, after an error or a lost answer,
// sends the same records under the same token, and the server keeps them
// once. Tokens begin with a random part drawn at the agent's start, so a
// restarted agent's batches are never taken for its predecessor's.
//
// Records live in memory until shipped: an agent killed mid-window loses
// them. FlowConfig.StateFile marks the window open on disk while the
// collector runs; an agent that finds it at start says that its
// predecessor's records were lost (a log line and FlowCounters.LostWindows).
// Beside it (StateFile.batch) the agent keeps the batch it is sending
// until the server answers: an agent killed before it learnt the answer
// leaves it to its successor, which sends it first, under its token, so
// that it is kept once whether the server had it or not.

// FlowConfig configures the agent's flow logging.
type FlowConfig struct {
	// Window overrides the capture window (0: the shortest
	// AggregationInterval of the flow logs covering the host).
	Window time.Duration
	// StateFile, if set, is where the agent marks a window open; the
	// batch being sent is kept beside it (batchFile).
	StateFile string
	// Buffer bounds the records held for shipping (0: 10000).
	Buffer int
	// MaxFlows bounds the collector's flows per window (0: its default).
	MaxFlows int
	// Start starts a collector (nil: flowlog.Start, the kernel's).
	Start func(flowlog.Config) (Collector, error)
	// Counters, if set, is where the agent counts (tests read them).
	Counters *FlowCounters
}

// Collector is a running flowlog.Collector.
type Collector interface {
	Run(ctx context.Context) error
	Stats() flowlog.Stats
	Close() error
}

// FlowCounters count what the agent's flow logging did.
type FlowCounters struct {
	Recorded    atomic.Uint64 // records kept for shipping (covered by a flow log)
	Shipped     atomic.Uint64 // records the server took
	Refused     atomic.Uint64 // records the server refused
	Overflow    atomic.Uint64 // records dropped: the buffer was full
	LostWindows atomic.Uint64 // windows a killed agent lost (seen at start)
}

// FlowRecord is a record as shipped (the server's service.FlowRecord; the
// server fills in the account, region, VPC, vSwitch and instance).
type FlowRecord struct {
	Version             int
	EniId               string
	SrcAddr             string
	SrcPort             int
	DstAddr             string
	DstPort             int
	Protocol            int
	Direction           string
	Packets             uint64
	Bytes               uint64
	Start               int64
	End                 int64
	Action              string
	LogStatus           string
	TcpFlags            int
	Reason              string
	SecurityGroupId     string `json:",omitempty"`
	SecurityGroupRuleId string `json:",omitempty"`
	Priority            int    `json:",omitempty"`
	Policy              string `json:",omitempty"`
}

// FlowSink is a Source that takes flow records; the API server is one.
type FlowSink interface {
	// ReportFlows ships records of host as one batch named by token (the
	// same records each time it is sent again); it returns how many the
	// server refused.
	ReportFlows(ctx context.Context, host, token string, recs []FlowRecord) (refused int, err error)
}

// RecordOf is a collector's record as shipped.
func RecordOf(r flowlog.Record) FlowRecord {
	out := FlowRecord{Version: 1, EniId: r.ENI, SrcAddr: r.Src.String(), SrcPort: int(r.SrcPort), DstAddr: r.Dst.String(),
		DstPort: int(r.DstPort), Protocol: int(r.Protocol), Direction: r.Direction, Packets: r.Packets, Bytes: r.Bytes,
		Start: r.Start.Unix(), End: r.End.Unix(), Action: r.Action, LogStatus: r.LogStatus, TcpFlags: int(r.TCPFlags),
		Reason: string(r.Entry.Reason)}
	if out.End < out.Start {
		out.End = out.Start
	}
	switch r.Entry.Reason {
	case policy.ByRule:
		out.SecurityGroupId, out.SecurityGroupRuleId, out.Priority, out.Policy = r.Entry.GroupID, r.Entry.RuleID, r.Entry.Priority, r.Entry.Policy.Display()
	case policy.IntraGroup:
		out.SecurityGroupId = r.Entry.GroupID
	}
	return out
}

// shipBatch is the most records one call ships (the server takes 1000).
const shipBatch = 500

// flows runs the host's flow logging.
type flows struct {
	cfg      FlowConfig
	host     string
	netns    string
	nftOpts  nft.Options
	log      *slog.Logger
	sink     FlowSink // nil: records are counted and dropped
	counters *FlowCounters
	tables   flowlog.Tables

	mu      sync.Mutex
	logs    []*model.FlowLog // active, covering a NIC of the host
	pending []FlowRecord
	// inflight is how many of pending (the first) make the batch being
	// sent, under token: a retry sends exactly them again. 0: none.
	inflight int
	token    string
	// epoch and batches make the tokens: epoch random per agent, batches
	// counting its batches.
	epoch   string
	batches uint64
	// saved is the token of the batch in batchFile ("": none); used by
	// the shipping goroutine only.
	saved   string
	window  time.Duration
	stop    context.CancelFunc
	done    chan struct{}
	checked bool // the state file was looked at
	closed  bool // the agent is stopping: no collector starts
	// skip marks the next window's records SKIPDATA: the last one lost
	// records (the buffer overflowed, or a killed agent's window).
	skip bool
	kick chan struct{}
	// windowEnd is when the collector last ended a window; marked, the
	// Since the state file holds: once every record is shipped, the file
	// moves on to windowEnd, so that an agent killed later reports what
	// it lost from there, not from the collector's start.
	windowEnd, marked time.Time
}

func newFlows(cfg Config, src Source) *flows {
	epoch := make([]byte, 8)
	rand.Read(epoch)
	f := &flows{cfg: cfg.Flow, host: cfg.Host, netns: cfg.Netns, nftOpts: cfg.NFT, log: cfg.Log,
		counters: cfg.Flow.Counters, kick: make(chan struct{}, 1), epoch: hex.EncodeToString(epoch)}
	if f.counters == nil {
		f.counters = &FlowCounters{}
	}
	if s, ok := src.(FlowSink); ok {
		f.sink = s
	}
	return f
}

// covering returns the active flow logs that cover a NIC of host in c.
func covering(logs map[string]*model.FlowLog, c *policy.Cloud, host string) []*model.FlowLog {
	var out []*model.FlowLog
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range logs {
			if !yield(id) {
				return
			}
		}
	}) {
		f := logs[id]
		if f.Status != model.FlowLogActive {
			continue
		}
		for _, in := range c.Instances {
			if in.Host == host && f.Owner == in.Owner && f.Names(model.NICENI(in), in.VSwitchID, in.VpcID) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// applied takes the ruleset just applied: the collector's tables, the flow
// logs in force, and the collector started or stopped to match.
func (f *flows) applied(ctx context.Context, rs *nft.Ruleset, c *policy.Cloud, logs []*model.FlowLog) {
	f.tables.Update(f.host, rs, c)
	window := f.cfg.Window
	if window <= 0 {
		for _, l := range logs {
			if w := time.Duration(l.Interval) * time.Minute; window == 0 || w < window {
				window = w
			}
		}
	}
	f.mu.Lock()
	f.logs = logs
	running, same := f.stop != nil, f.window == window
	f.mu.Unlock()
	switch {
	case len(logs) == 0 && running:
		f.stopCollector()
	case len(logs) > 0 && running && !same:
		f.stopCollector()
		f.startCollector(ctx, window)
	case len(logs) > 0 && !running:
		f.startCollector(ctx, window)
	}
}

// windowState is what the state file holds.
type windowState struct {
	Host  string
	Since time.Time
}

func (f *flows) startCollector(ctx context.Context, window time.Duration) {
	if path := f.cfg.StateFile; path != "" {
		f.mu.Lock()
		first := !f.checked
		f.checked = true
		f.mu.Unlock()
		if b, err := os.ReadFile(path); first && err == nil {
			var st windowState
			_ = json.Unmarshal(b, &st)
			f.counters.LostWindows.Add(1)
			f.mu.Lock()
			f.skip = true
			f.mu.Unlock()
			f.log.Warn("agent: flow log: the previous agent stopped without shipping its window; the records it held in memory are lost",
				"since", st.Since, "state", path)
		}
		f.mark(time.Now())
	}
	start := f.cfg.Start
	if start == nil {
		start = func(c flowlog.Config) (Collector, error) { return flowlog.Start(c) }
	}
	col, err := start(flowlog.Config{Netns: f.netns, Table: f.nftOpts.Table, Group: f.nftOpts.LogGroup, Window: window,
		MaxFlows: f.cfg.MaxFlows, Resolver: f.tables.Resolver(), Emit: f.emit})
	if err != nil {
		f.log.Error("agent: flow log: cannot start the collector; flows go unrecorded (enforcement is unchanged)", "err", err)
		return
	}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		cancel()
		col.Close()
		return
	}
	f.stop, f.done, f.window = cancel, done, window
	f.mu.Unlock()
	go func() {
		defer close(done)
		_ = col.Run(cctx)
		st := col.Stats()
		col.Close()
		f.log.Info("agent: flow log: collector stopped", "connections", st.Connections, "drops", st.Drops,
			"skipped", st.Skipped, "limitSkipped", st.LimitSkipped, "unknown", st.Unknown)
	}()
	f.log.Info("agent: flow log: recording", "window", window)
}

// stopCollector stops the collector, which emits its last window.
func (f *flows) stopCollector() {
	f.mu.Lock()
	stop, done := f.stop, f.done
	f.stop, f.done, f.window = nil, nil, 0
	f.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// emit keeps the records a flow log in force asks for.
func (f *flows) emit(recs []flowlog.Record) {
	f.mu.Lock()
	logs := f.logs
	limit := f.cfg.Buffer
	if limit <= 0 {
		limit = 10000
	}
	var kept, over uint64
	first := len(f.pending)
	for _, r := range recs {
		if !slices.ContainsFunc(logs, func(l *model.FlowLog) bool { return l.Covers(r.ENI, r.VSwitchID, r.VpcID, r.Action) }) {
			continue
		}
		if len(f.pending) >= limit {
			over++
			continue
		}
		f.pending = append(f.pending, RecordOf(r))
		kept++
	}
	// What this window kept says SKIPDATA if it, or the window before it,
	// lost records.
	if f.skip || over > 0 {
		for i := first; i < len(f.pending); i++ {
			f.pending[i].LogStatus = flowlog.StatusSkip
		}
	}
	f.skip = over > 0
	f.windowEnd = time.Now()
	f.mu.Unlock()
	f.counters.Overflow.Add(over)
	f.counters.Recorded.Add(kept)
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// ship sends what is pending, a batch at a time; it returns the first
// error (what was not sent stays pending, and the batch in flight is sent
// again as it was, under its token).
func (f *flows) ship(ctx context.Context) error {
	for {
		f.mu.Lock()
		if f.inflight == 0 && len(f.pending) > 0 {
			f.batches++
			f.inflight, f.token = min(len(f.pending), shipBatch), fmt.Sprintf("%s-%d", f.epoch, f.batches)
		}
		n, token := f.inflight, f.token
		batch := slices.Clone(f.pending[:n])
		f.mu.Unlock()
		if n == 0 {
			return nil
		}
		if f.sink == nil {
			f.mu.Lock()
			f.pending, f.inflight = f.pending[n:], 0
			f.mu.Unlock()
			continue
		}
		f.saveBatch(token, batch)
		refused, err := f.sink.ReportFlows(ctx, f.host, token, batch)
		if e := (*apiclient.Error)(nil); errors.As(err, &e) && e.Refused() {
			// Refused as a whole (a key no longer valid, a malformed
			// batch): sending it again cannot help, and keeping it would
			// block every later record.
			f.log.Warn("agent: flow log: the server refused a batch of records; they are dropped", "records", n, "err", err)
			refused, err = n, nil
		}
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.pending, f.inflight = f.pending[n:], 0
		f.mu.Unlock()
		f.dropBatch()
		f.counters.Shipped.Add(uint64(n - refused))
		f.counters.Refused.Add(uint64(refused))
	}
}

// shipLoop ships after each window, retrying with growing delays while the
// server is away, until ctx ends; then it stops the collector, ships its
// last window once more and, with nothing left in memory, clears the
// state file.
func (f *flows) shipLoop(ctx context.Context) {
	retry, wait := minBackoff, maxBackoff
	if f.loadBatch() {
		wait = 0 // the predecessor's batch first
	}
	for {
		select {
		case <-ctx.Done():
			f.mu.Lock()
			f.closed = true
			f.mu.Unlock()
			f.stopCollector()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := f.ship(sctx)
			cancel()
			f.mu.Lock()
			left := len(f.pending)
			f.mu.Unlock()
			if left > 0 {
				f.log.Warn("agent: flow log: records not shipped at stop are lost", "records", left, "err", err)
			}
			if f.cfg.StateFile != "" && left == 0 {
				if err := os.Remove(f.cfg.StateFile); err != nil && !errors.Is(err, os.ErrNotExist) {
					f.log.Warn("agent: flow log: removing the state file", "err", err)
				}
			}
			return
		case <-f.kick:
		case <-time.After(wait):
		}
		if err := f.ship(ctx); err != nil {
			if ctx.Err() == nil {
				f.log.Debug("agent: flow log: shipping", "err", err, "retry", retry)
			}
			wait, retry = retry, min(2*retry, maxBackoff)
			continue
		}
		wait, retry = maxBackoff, minBackoff
		f.mu.Lock()
		idle := f.stop == nil && len(f.pending) == 0
		moved := f.stop != nil && len(f.pending) == 0 && f.windowEnd.After(f.marked)
		end := f.windowEnd
		f.mu.Unlock()
		if moved && f.cfg.StateFile != "" {
			f.mark(end) // all shipped up to the last window's end
		}
		if idle && f.cfg.StateFile != "" {
			// No collector and nothing held: no window is open.
			if err := os.Remove(f.cfg.StateFile); err != nil && !errors.Is(err, os.ErrNotExist) {
				f.log.Warn("agent: flow log: removing the state file", "err", err)
			}
		}
	}
}

// mark writes the state file: a window open since since.
func (f *flows) mark(since time.Time) {
	b, _ := json.Marshal(windowState{Host: f.host, Since: since.UTC()})
	if err := writeNoFollow(f.cfg.StateFile, b); err != nil {
		f.log.Warn("agent: flow log: cannot write the state file; a crash will go unreported", "err", err)
		return
	}
	f.mu.Lock()
	f.marked = since
	f.mu.Unlock()
}

// writeNoFollow writes a root agent's state file, refusing to follow a
// symlink planted in its place.
func writeNoFollow(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sentBatch is what batchFile holds: the batch being sent.
type sentBatch struct {
	Host    string
	Token   string
	Records []FlowRecord
}

// batchFile is where the batch being sent is kept ("": nowhere).
func (f *flows) batchFile() string {
	if f.cfg.StateFile == "" {
		return ""
	}
	return f.cfg.StateFile + ".batch"
}

// maxBatchFile bounds what loadBatch reads (a batch is at most shipBatch
// records of a few hundred bytes).
const maxBatchFile = 4 << 20

// saveBatch keeps the batch being sent until dropBatch; a batch already
// kept under token is not written again. A failure is logged: an agent
// killed then loses the batch, as it loses what it holds in memory. Not
// synced: it outlives the agent's death, not the host's (which takes the
// records pending in memory too); a file cut short is dropped on load.
func (f *flows) saveBatch(token string, recs []FlowRecord) {
	path := f.batchFile()
	if path == "" || f.saved == token {
		return
	}
	b, _ := json.Marshal(sentBatch{Host: f.host, Token: token, Records: recs})
	if err := writeNoFollow(path, b); err != nil {
		f.log.Warn("agent: flow log: cannot keep the batch being sent; a crash before the answer loses it", "err", err)
		return
	}
	f.saved = token
}

// dropBatch removes the batch kept: the server answered it.
func (f *flows) dropBatch() {
	if path := f.batchFile(); path != "" && f.saved != "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			f.log.Warn("agent: flow log: removing the batch file", "err", err)
		}
		f.saved = ""
	}
}

// loadBatch takes the batch a killed predecessor was sending, to be sent
// first, under its token; it reports whether there was one.
func (f *flows) loadBatch() bool {
	path := f.batchFile()
	if path == "" {
		return false
	}
	fd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	var sb sentBatch
	if err == nil {
		var b []byte
		b, err = io.ReadAll(io.LimitReader(fd, maxBatchFile))
		fd.Close()
		if err == nil {
			err = json.Unmarshal(b, &sb)
		}
	}
	switch {
	case err != nil:
		f.log.Warn("agent: flow log: the batch a previous agent was sending is unreadable; it is lost", "file", path, "err", err)
	case sb.Host != f.host || sb.Token == "" || len(sb.Records) == 0 || len(sb.Records) > shipBatch:
		f.log.Warn("agent: flow log: the batch file is not this host's batch; ignored", "file", path, "host", sb.Host)
	default:
		f.mu.Lock()
		f.pending = append(slices.Clip(sb.Records), f.pending...)
		f.inflight, f.token = len(sb.Records), sb.Token
		f.mu.Unlock()
		f.saved = sb.Token
		f.log.Info("agent: flow log: sending again the batch a previous agent had no answer for", "records", len(sb.Records))
		return true
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		f.log.Warn("agent: flow log: removing the batch file", "err", err)
	}
	return false
}
