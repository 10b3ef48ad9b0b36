package flowlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// Config configures a Collector.
type Config struct {
	// Netns is the named network namespace (`ip netns`) of the host; ""
	// is the caller's.
	Netns string
	// Table is the nftables table (0: nft.DefaultTable), whose log chains'
	// counters say how many drops the log missed.
	Table string
	// Group is the NFLOG group of the dropping entries (0:
	// nft.DefaultLogGroup).
	Group uint16
	// Window is the capture window (ECS: 1, 5 or 10 minutes).
	Window time.Duration
	// MaxFlows bounds both the connections followed and the records of a
	// window (0: 65536).
	MaxFlows int
	Resolver Resolver
	// Emit receives each window's records, from the collector's goroutine.
	Emit func([]Record)
}

// Collector follows a host's conntrack events and NFLOG group.
type Collector struct {
	cfg  Config
	agg  *aggregator
	ns   *os.File
	evs  *eventSocket    // conntrack events
	dump *conntrack.Conn // counters of live connections at each window's end
	nl   *netlink.Conn   // NFLOG
	nft  *nftables.Conn
	// skips holds each log chain's over-limit counter at the last look.
	skips map[string]uint64
	// evMu makes a window's end (dump and flush) and a batch of events
	// exclusive: a connection's new event taken between the dump and the
	// flush would be reported without the counts the dump read.
	evMu sync.Mutex
	wg   sync.WaitGroup
}

// Start enables conntrack accounting in the namespace, subscribes to
// conntrack events and binds the NFLOG group. Run delivers the records.
func Start(cfg Config) (*Collector, error) {
	if cfg.Group == 0 {
		cfg.Group = nft.DefaultLogGroup
	}
	if cfg.Table == "" {
		cfg.Table = nft.DefaultTable
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = 65536
	}
	if cfg.Window <= 0 {
		return nil, errors.New("flowlog: the capture window must be positive")
	}
	c := &Collector{cfg: cfg, agg: newAggregator(cfg.Resolver, cfg.MaxFlows)}
	nc := &netlink.Config{}
	if cfg.Netns != "" {
		f, err := os.Open(filepath.Join(nft.NetnsDir, cfg.Netns))
		if err != nil {
			return nil, fmt.Errorf("flowlog: open network namespace %q: %w", cfg.Netns, err)
		}
		c.ns = f
		nc.NetNS = int(f.Fd())
	}
	if err := c.enableAccounting(); err != nil {
		c.Close()
		return nil, err
	}
	var err error
	if c.dump, err = conntrack.Dial(nc); err != nil {
		c.Close()
		return nil, fmt.Errorf("flowlog: conntrack: %w", err)
	}
	if c.nl, err = netlink.Dial(unix.NETLINK_NETFILTER, nc); err != nil {
		c.Close()
		return nil, fmt.Errorf("flowlog: nflog: %w", err)
	}
	if err := c.bindLog(); err != nil {
		c.Close()
		return nil, err
	}
	var opts []nftables.ConnOption
	if c.ns != nil {
		opts = append(opts, nftables.WithNetNSFd(int(c.ns.Fd())))
	}
	if c.nft, err = nftables.New(opts...); err != nil {
		c.Close()
		return nil, fmt.Errorf("flowlog: nftables: %w", err)
	}
	// What the log missed before Start is not this collector's.
	c.skips, _ = c.limitSkips()
	// Subscribe now, so that no connection made after Start is missed.
	if c.evs, err = openEvents(c.ns, eventBuffer); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// enableAccounting sets net.netfilter.nf_conntrack_acct in the namespace,
// from a thread that enters it (sysctls under /proc/sys/net are the
// opening thread's namespace's).
func (c *Collector) enableAccounting() error {
	write := func() error {
		return os.WriteFile("/proc/sys/net/netfilter/nf_conntrack_acct", []byte("1\n"), 0)
	}
	if c.ns == nil {
		if err := write(); err != nil {
			return fmt.Errorf("flowlog: enable conntrack accounting: %w", err)
		}
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends in the other namespace
		if err := unix.Setns(int(c.ns.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- write()
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("flowlog: enable conntrack accounting in %s: %w", c.cfg.Netns, err)
	}
	return nil
}

// NFLOG (nfnetlink_log) constants, from linux/netfilter/nfnetlink_log.h.
const (
	nfnlSubsysULOG   = 4
	nfulnlMsgPacket  = 0
	nfulnlMsgConfig  = 1
	nfulaCfgCmd      = 1
	nfulaCfgMode     = 2
	nfulaCfgTimeout  = 4
	nfulnlCfgCmdBind = 1
	nfulnlCopyPacket = 2
	nfulaMark        = 2
	nfulaPayload     = 9
	nfulaPrefix      = 10
	copyRange        = 128 // headers are enough
)

func (c *Collector) logConfig(attrs func(ae *netlink.AttributeEncoder)) error {
	ae := netlink.NewAttributeEncoder()
	attrs(ae)
	b, err := ae.Encode()
	if err != nil {
		return err
	}
	hdr := []byte{unix.AF_UNSPEC, 0, 0, 0}
	binary.BigEndian.PutUint16(hdr[2:], c.cfg.Group)
	_, err = c.nl.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(nfnlSubsysULOG<<8 | nfulnlMsgConfig), Flags: netlink.Request | netlink.Acknowledge},
		Data:   append(hdr, b...)})
	return err
}

// bindLog binds the NFLOG group and asks for the packets' first bytes,
// delivered within 100 ms.
func (c *Collector) bindLog() error {
	err := c.logConfig(func(ae *netlink.AttributeEncoder) { ae.Bytes(nfulaCfgCmd, []byte{nfulnlCfgCmdBind}) })
	if err != nil {
		return fmt.Errorf("flowlog: bind NFLOG group %d (is another listener bound to it?): %w", c.cfg.Group, err)
	}
	err = c.logConfig(func(ae *netlink.AttributeEncoder) {
		mode := binary.BigEndian.AppendUint32(nil, copyRange)
		ae.Bytes(nfulaCfgMode, append(mode, nfulnlCopyPacket, 0))
		ae.Bytes(nfulaCfgTimeout, binary.BigEndian.AppendUint32(nil, 10))
	})
	if err != nil {
		return fmt.Errorf("flowlog: configure NFLOG group %d: %w", c.cfg.Group, err)
	}
	return nil
}

// eventBuffer is the receive buffer of the conntrack events: room for
// some ten thousand events while the collector is busy (a window's end).
const eventBuffer = 4 << 20

// Run collects until ctx ends, emitting each window's records.
func (c *Collector) Run(ctx context.Context) error {
	c.wg.Add(2)
	go func() { defer c.wg.Done(); c.readLog(ctx) }()
	go func() { defer c.wg.Done(); c.readEvents(ctx) }()
	tick := time.NewTicker(c.cfg.Window)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			c.emit(time.Now(), true)
			return nil
		case now := <-tick.C:
			c.emit(now, false)
		}
	}
}

// readEvents reads conntrack events until the socket closes.
func (c *Collector) readEvents(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := c.evs.recv()
		now := time.Now()
		switch {
		case err == nil:
			c.evMu.Lock()
			c.evs.parse(n, func(ev *ctEvent) { c.agg.event(ev, now) })
			c.evMu.Unlock()
		case ctx.Err() != nil || errors.Is(err, os.ErrClosed):
			return
		default:
			c.agg.mu.Lock()
			c.agg.stats.Lost++
			c.agg.skipped = true
			c.agg.mu.Unlock()
		}
	}
}

// limitSkips reads the over-limit counter of every log chain.
func (c *Collector) limitSkips() (map[string]uint64, error) {
	chains, err := c.nft.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, ch := range chains {
		if ch.Table.Name != c.cfg.Table || !strings.HasPrefix(ch.Name, nft.LogChainPrefix+"-") {
			continue
		}
		rules, err := c.nft.GetRules(ch.Table, ch)
		if err != nil {
			return nil, err
		}
		if len(rules) == 0 {
			continue
		}
		for _, e := range rules[0].Exprs {
			if cnt, ok := e.(*expr.Counter); ok {
				out[ch.Name] = cnt.Packets
			}
		}
	}
	return out, nil
}

// emit reads the live connections' counters and ends the window (the
// last: the collector stops).
func (c *Collector) emit(now time.Time, last bool) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if cur, err := c.limitSkips(); err == nil {
		var missed uint64
		for name, n := range cur {
			missed += n - min(n, c.skips[name]) // a chain made anew starts at zero
		}
		c.skips = cur
		if missed > 0 {
			c.agg.mu.Lock()
			c.agg.stats.LimitSkipped += missed
			c.agg.skipped = true
			c.agg.mu.Unlock()
		}
	}
	if flows, err := c.dump.Dump(nil); err == nil {
		live := make(map[uint32]bool, len(flows))
		for _, f := range flows {
			live[f.ID] = true
			c.agg.connCount(f.ID, f.CountersOrig.Packets+f.CountersReply.Packets, f.CountersOrig.Bytes+f.CountersReply.Bytes, false)
		}
		c.agg.sweep(live)
	}
	if recs := c.agg.flush(now, last); len(recs) > 0 && c.cfg.Emit != nil {
		c.cfg.Emit(recs)
	}
}

// readLog reads the NFLOG group until the socket closes.
func (c *Collector) readLog(ctx context.Context) {
	for ctx.Err() == nil {
		msgs, err := c.nl.Receive()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return
			}
			c.agg.mu.Lock()
			c.agg.stats.Lost++
			c.agg.skipped = true
			c.agg.mu.Unlock()
			continue
		}
		now := time.Now()
		for _, m := range msgs {
			if m.Header.Type != netlink.HeaderType(nfnlSubsysULOG<<8|nfulnlMsgPacket) || len(m.Data) < 4 {
				continue
			}
			c.logPacket(m.Data[4:], now)
		}
	}
}

func (c *Collector) logPacket(data []byte, now time.Time) {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return
	}
	ad.ByteOrder = binary.BigEndian
	var prefix string
	var payload []byte
	var mark uint32
	for ad.Next() {
		switch ad.Type() {
		case nfulaMark:
			// The kernel sends htonl(skb->mark); the log rule copied the
			// label's first four bytes into the mark in host order.
			mark = binary.BigEndian.Uint32(binary.NativeEndian.AppendUint32(nil, ad.Uint32()))
		case nfulaPrefix:
			prefix = ad.String()
		case nfulaPayload:
			payload = ad.Bytes()
		}
	}
	id, ok := nft.EntryOfPrefix(prefix)
	if !ok {
		return // another rule's log
	}
	t, flags, ok := parsePacket(payload)
	if !ok {
		return
	}
	c.agg.drop(id, t, packetLen(payload), flags, mark, now)
}

// parsePacket reads the addresses, protocol, ports and TCP flags of an IP
// packet's first bytes.
func parsePacket(p []byte) (tuple, uint8, bool) {
	var t tuple
	var l4 []byte
	switch {
	case len(p) >= 20 && p[0]>>4 == 4:
		ihl := int(p[0]&0x0f) * 4
		if ihl < 20 || len(p) < ihl {
			return t, 0, false
		}
		t.proto = p[9]
		t.src, _ = netip.AddrFromSlice(p[12:16])
		t.dst, _ = netip.AddrFromSlice(p[16:20])
		l4 = p[ihl:]
	case len(p) >= 40 && p[0]>>4 == 6:
		t.proto = p[6]
		t.src, _ = netip.AddrFromSlice(p[8:24])
		t.dst, _ = netip.AddrFromSlice(p[24:40])
		l4 = p[40:]
	default:
		return t, 0, false
	}
	var flags uint8
	switch t.proto {
	case unix.IPPROTO_TCP, unix.IPPROTO_UDP, unix.IPPROTO_SCTP:
		if len(l4) >= 4 {
			t.sport, t.dport = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
		}
		if t.proto == unix.IPPROTO_TCP && len(l4) >= 14 {
			flags = l4[13]
		}
	}
	return t, flags, true
}

// packetLen is the packet's length from its IP header (the payload is cut
// at copyRange).
func packetLen(p []byte) int {
	switch {
	case len(p) >= 4 && p[0]>>4 == 4:
		return int(binary.BigEndian.Uint16(p[2:4]))
	case len(p) >= 6 && p[0]>>4 == 6:
		return 40 + int(binary.BigEndian.Uint16(p[4:6]))
	}
	return len(p)
}

// Stats returns the collector's counts so far.
func (c *Collector) Stats() Stats { return c.agg.statsNow() }

// Close releases the sockets; call it after Run returned.
func (c *Collector) Close() error {
	if c.nft != nil {
		c.nft.CloseLasting()
	}
	for _, cl := range []interface{ Close() error }{c.evs, c.dump, c.nl} {
		if cl != nil && !isNilConn(cl) {
			cl.Close()
		}
	}
	c.wg.Wait()
	if c.ns != nil {
		c.ns.Close()
	}
	return nil
}

func isNilConn(x interface{ Close() error }) bool {
	switch v := x.(type) {
	case *conntrack.Conn:
		return v == nil
	case *eventSocket:
		return v == nil
	case *netlink.Conn:
		return v == nil
	}
	return false
}
