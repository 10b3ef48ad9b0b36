package lab

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// ProbeSpec is one packet to send: a flow, as policy.Flow names it.
type ProbeSpec struct {
	From, To   string // instance ID or outside address
	Proto      model.Protocol
	Port       uint16 // destination port (TCP, UDP)
	SourcePort uint16 // 0: policy.DefaultSourcePort
	IPVersion  int    // 4 or 6; 0: 6 if an outside address is IPv6, else 4
	// FromAddr and ToAddr pick which of an instance end's IPv6 addresses
	// an IPv6 probe is sent from and to; zero: its first.
	FromAddr, ToAddr netip.Addr
}

// FlowProbe is the probe of a flow.
func FlowProbe(f policy.Flow) ProbeSpec {
	return ProbeSpec{From: f.From, To: f.To, Proto: f.Protocol, Port: f.Port, SourcePort: f.SourcePort, IPVersion: f.IPVersion,
		FromAddr: f.FromAddr, ToAddr: f.ToAddr}
}

// ProbeResult says whether the kernel delivered the probe to its
// destination. Err is set when the probe could not be sent at all (a bad
// spec, a lab that is not up); Delivered is then false.
type ProbeResult struct {
	Delivered bool
	Detail    string     // how it was decided: "connection refused (RST)", "timeout", …
	Src, Dst  netip.Addr // the addresses the packet was sent with (unset if none exists)
	// SeenSrc and SeenDst are the addresses the destination saw, after NAT
	// (GRE probes only: a raw socket there reads them).
	SeenSrc, SeenDst netip.Addr
	Err              error
}

// ProbeOptions tune a round of probes.
type ProbeOptions struct {
	Timeout  time.Duration // per probe; 0: DefaultProbeTimeout
	Parallel int           // probes in flight; 0: DefaultProbeParallel
}

const (
	// DefaultProbeTimeout is long for a lab (replies take well under a
	// millisecond) and short enough that dropped probes cost little.
	DefaultProbeTimeout  = 700 * time.Millisecond
	DefaultProbeParallel = 256
)

// Probe sends every probe, concurrently, and reports each in order.
func Probe(ctx context.Context, l *Lab, probes []ProbeSpec) []ProbeResult {
	return ProbeWith(ctx, l, probes, ProbeOptions{})
}

// ProbeWith is Probe with options.
//
// Probes that would share a connection (same protocol, source address and
// port, destination address and port) run one after the other; the rest run
// at once. Sockets set SO_REUSEADDR, so probes from one source port to
// different destinations do not conflict; ICMP echoes carry unique
// identifiers and GRE packets unique payloads.
func ProbeWith(ctx context.Context, l *Lab, probes []ProbeSpec, o ProbeOptions) []ProbeResult {
	if o.Timeout <= 0 {
		o.Timeout = DefaultProbeTimeout
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultProbeParallel
	}
	results := make([]ProbeResult, len(probes))
	plans := make([]plan, len(probes))
	var order []string
	queues := map[string][]int{}
	for i, ps := range probes {
		p, err := l.plan(ps)
		if err != nil {
			results[i] = ProbeResult{Err: err}
			continue
		}
		plans[i] = p
		results[i].Src, results[i].Dst = p.src, p.dst
		if p.noPath != "" {
			results[i].Detail = p.noPath
			continue
		}
		k := p.key(i)
		if _, ok := queues[k]; !ok {
			order = append(order, k)
		}
		queues[k] = append(queues[k], i)
	}
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for _, k := range order {
		wg.Add(1)
		go func(q []int) {
			defer wg.Done()
			for _, i := range q {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					results[i].Err = ctx.Err()
					continue
				}
				r, err := send(ctx, &plans[i], o.Timeout)
				results[i].Delivered, results[i].Detail, results[i].Err = r.delivered, r.detail, err
				results[i].SeenSrc, results[i].SeenDst = r.seenSrc, r.seenDst
				<-sem
			}
		}(queues[k])
	}
	wg.Wait()
	return results
}

// plan is a probe resolved to namespaces and addresses.
type plan struct {
	proto        model.Protocol
	six          bool
	srcNs, dstNs string
	src, dst     netip.Addr
	sport, dport uint16
	noPath       string // set when an end has no address of the family: nothing can be sent
}

// key groups probes that must not overlap; ICMP and GRE probes are told
// apart by their identifiers and payloads, so each is its own group.
func (p *plan) key(i int) string {
	if !p.proto.HasPorts() {
		return fmt.Sprintf("#%d", i)
	}
	return fmt.Sprintf("%s %s %d %s %d", p.proto, p.src, p.sport, p.dst, p.dport)
}

type endpoint struct {
	inst *Instance
	addr netip.Addr // an outside address
}

func (l *Lab) endpoint(s string) (endpoint, error) {
	if in, ok := l.byID[s]; ok {
		return endpoint{inst: in}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return endpoint{}, fmt.Errorf("%q is neither an instance of lab %s nor an IP address", s, l.Spec.Name)
	}
	a = a.Unmap()
	for _, o := range l.Spec.Outside {
		if o == a {
			return endpoint{addr: a}, nil
		}
	}
	return endpoint{}, fmt.Errorf("outside address %s is not in lab %s; add it to Spec.Outside", a, l.Spec.Name)
}

// plan chooses the addresses a user inside an instance would use: private
// IPv4 inside a VPC; across VPCs (or from outside) the destination's public
// address, or its private one when it has none (which the lab must then not
// deliver); IPv6 addresses as they are.
//
// It deliberately does not call policy.Path, which decides the same thing
// for the engine: the lab is the ground truth of the differential test, so
// its choice of addresses, and the kernel's routing and NAT of them, must
// stay independent of the engine it judges.
func (l *Lab) plan(ps ProbeSpec) (plan, error) {
	src, err := l.endpoint(ps.From)
	if err != nil {
		return plan{}, fmt.Errorf("from: %w", err)
	}
	dst, err := l.endpoint(ps.To)
	if err != nil {
		return plan{}, fmt.Errorf("to: %w", err)
	}
	switch {
	case src.inst == nil && dst.inst == nil:
		return plan{}, fmt.Errorf("a probe needs an instance at one end at least")
	case src.inst != nil && src.inst == dst.inst:
		return plan{}, fmt.Errorf("from and to are the same instance")
	case ps.IPVersion != 0 && ps.IPVersion != 4 && ps.IPVersion != 6:
		return plan{}, fmt.Errorf("IP version %d: use 4, 6 or 0", ps.IPVersion)
	}
	six := ps.IPVersion == 6
	for _, e := range []endpoint{src, dst} {
		if e.inst == nil {
			if ps.IPVersion == 0 {
				six = e.addr.Is6()
			} else if e.addr.Is6() != six {
				return plan{}, fmt.Errorf("address %s is not IPv%d", e.addr, ps.IPVersion)
			}
		}
	}
	if err := ps.Proto.CheckFamily(six); err != nil {
		return plan{}, err
	}
	switch {
	case ps.Proto != model.TCP && ps.Proto != model.UDP && ps.Proto != model.ICMP && ps.Proto != model.ICMPv6 && ps.Proto != model.GRE:
		return plan{}, fmt.Errorf("protocol %q: a probe needs one of TCP, UDP, ICMP, ICMPv6, GRE", ps.Proto)
	case ps.Proto.HasPorts() && ps.Port == 0:
		return plan{}, fmt.Errorf("%s probe needs a destination port", ps.Proto)
	}
	p := plan{proto: ps.Proto, six: six}
	if ps.Proto.HasPorts() {
		p.dport, p.sport = ps.Port, ps.SourcePort
		if p.sport == 0 {
			p.sport = policy.DefaultSourcePort
		}
	}
	n := l.Spec.Name
	p.srcNs, p.dstNs = internetNs(n), internetNs(n)
	if src.inst != nil {
		p.srcNs = instanceNs(n, netnsID(src.inst))
	}
	if dst.inst != nil {
		p.dstNs = instanceNs(n, netnsID(dst.inst))
	}
	if six {
		p.src, p.dst = src.addr, dst.addr
		if src.inst != nil {
			p.src = src.inst.IPv6
		}
		if dst.inst != nil {
			p.dst = dst.inst.IPv6
		}
		for _, in := range []*Instance{src.inst, dst.inst} {
			if in != nil && !in.IPv6.IsValid() {
				p.noPath = in.ID + " has no IPv6 address"
				break
			}
		}
		for _, e := range []struct {
			a   netip.Addr
			in  *Instance
			out *netip.Addr
		}{{ps.FromAddr, src.inst, &p.src}, {ps.ToAddr, dst.inst, &p.dst}} {
			if !e.a.IsValid() {
				continue
			}
			if e.in == nil || !slices.Contains(e.in.ipv6s(), e.a) {
				return plan{}, fmt.Errorf("%s is not an IPv6 address of an instance end of the probe", e.a)
			}
			*e.out = e.a
		}
		return p, nil
	}
	if ps.FromAddr.IsValid() || ps.ToAddr.IsValid() {
		return plan{}, fmt.Errorf("only an IPv6 probe names one of an instance's addresses")
	}
	switch {
	case src.inst == nil:
		p.src, p.dst = src.addr, reachable(dst.inst)
	case dst.inst == nil:
		p.src, p.dst = src.inst.PrivateIP, dst.addr
	case src.inst.VPC == dst.inst.VPC:
		p.src, p.dst = src.inst.PrivateIP, dst.inst.PrivateIP
	default:
		p.src, p.dst = src.inst.PrivateIP, reachable(dst.inst)
	}
	return p, nil
}

// reachable is the address an instance is reached at from beyond its VPC.
func reachable(in *Instance) netip.Addr {
	if in.PublicIP.IsValid() {
		return in.PublicIP
	}
	return in.PrivateIP
}
