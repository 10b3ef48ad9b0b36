package sessions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ti-mo/conntrack"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

const host = "h1"

// cloud: i-web (public 198.51.100.20) admits TCP 80 from the VPC, TCP 443
// from anywhere and UDP 53 from the VPC; i-cli and i-web are on this
// host, i-far (sg-web too) on another; i-ent, an enterprise group's,
// may send TCP 80 only. web80 false: sgr-http is revoked.
func cloud(web80 bool) *policy.Cloud {
	const vpc = "vpc-s"
	web := []model.Rule{
		modeltest.Rule("sgr-https", "in accept 1 TCP 443/443 0.0.0.0/0"),
		modeltest.Rule("sgr-https6", "in accept 1 TCP 443/443 ::/0"),
		modeltest.Rule("sgr-dns", "in accept 1 UDP 53/53 10.1.0.0/16"),
	}
	if web80 {
		web = append(web, modeltest.Rule("sgr-http", "in accept 1 TCP 80/80 10.1.0.0/16"))
	}
	on := func(in *model.Instance, h string) *model.Instance { in.Host = h; return in }
	return policy.NewCloud([]*model.SecurityGroup{
		modeltest.Group("sg-cli", vpc, "isolated"),
		modeltest.Group("sg-web", vpc, "isolated", web...),
		modeltest.Group("sg-ent", vpc, "enterprise", modeltest.Rule("sgr-out", "out accept 1 TCP 80/80 10.1.0.0/16")),
	}, []*model.Instance{
		on(modeltest.Instance("i-cli", vpc, "10.1.0.10", "sg-cli"), host),
		on(modeltest.Public(modeltest.Instance("i-web", vpc, "10.1.0.20,2001:db8::20", "sg-web"), "198.51.100.20"), host),
		on(modeltest.Instance("i-ent", vpc, "10.1.0.30", "sg-ent"), host),
		on(modeltest.Instance("i-far", vpc, "10.1.0.40", "sg-web"), "h2"),
	}, nil)
}

// flow is a tracked connection without NAT here: the reply comes back
// from where the original went.
func flow(proto uint8, src, dst string, sport, dport uint16) conntrack.Flow {
	return conntrack.NewFlow(proto, conntrack.StatusAssured, netip.MustParseAddr(src), netip.MustParseAddr(dst), sport, dport, 120, 0)
}

// natted is a connection to dst:dport that this namespace's prerouting
// sent to to:toPort: the reply comes from there.
func natted(proto uint8, src, dst string, sport, dport uint16, to string, toPort uint16) conntrack.Flow {
	f := flow(proto, src, dst, sport, dport)
	f.TupleReply.IP.SourceAddress, f.TupleReply.Proto.SourcePort = netip.MustParseAddr(to), toPort
	return f
}

const (
	tcp  = syscall.IPPROTO_TCP
	udp  = syscall.IPPROTO_UDP
	icmp = syscall.IPPROTO_ICMP
)

func TestDecide(t *testing.T) {
	ping := flow(icmp, "10.1.0.10", "10.1.0.20", 0, 0)
	ping.TupleOrig.Proto.ICMPType, ping.TupleOrig.Proto.ICMPID = 8, 7
	for _, tc := range []struct {
		name  string
		web80 bool
		f     conntrack.Flow
		// want: "" (left alone) or "NIC side" of the dropping side.
		want string
	}{
		{"accepted by a rule", true, flow(tcp, "10.1.0.10", "10.1.0.20", 40000, 80), ""},
		{"its rule revoked: the ingress drops", false, flow(tcp, "10.1.0.10", "10.1.0.20", 40000, 80), "i-web ingress"},
		{"still accepted by another rule", false, flow(tcp, "10.1.0.10", "10.1.0.20", 40001, 443), ""},
		{"no rule: default inbound drop", true, flow(tcp, "10.1.0.10", "10.1.0.20", 40000, 22), "i-web ingress"},
		{"the enterprise egress drops it", true, flow(tcp, "10.1.0.30", "10.1.0.20", 40000, 443), "i-ent egress"},
		{"the enterprise egress accepts, the ingress too", true, flow(tcp, "10.1.0.30", "10.1.0.20", 40000, 80), ""},
		{"UDP accepted", true, flow(udp, "10.1.0.10", "10.1.0.20", 5000, 53), ""},
		{"UDP dropped", true, flow(udp, "10.1.0.10", "10.1.0.20", 5000, 54), "i-web ingress"},
		{"ICMP dropped", true, ping, "i-web ingress"},
		{"IPv6 from outside, accepted", true, flow(tcp, "2001:db8:ff::1", "2001:db8::20", 40000, 443), ""},
		{"IPv6 from outside, dropped", true, flow(tcp, "2001:db8:ff::1", "2001:db8::20", 40000, 80), "i-web ingress"},
		// A public address the host sees as it is maps to its NIC, as in
		// flow records.
		{"to the public address, accepted", true, flow(tcp, "203.0.113.5", "198.51.100.20", 40000, 443), ""},
		{"to the public address, dropped", true, flow(tcp, "203.0.113.5", "198.51.100.20", 40000, 80), "i-web ingress"},
		// NATed here: decided as the rules saw it, after the NAT.
		{"NATed here to an accepted port", true, natted(tcp, "203.0.113.5", "198.51.100.20", 40000, 8443, "10.1.0.20", 443), ""},
		{"NATed here to a dropped port", true, natted(tcp, "203.0.113.5", "198.51.100.20", 40000, 443, "10.1.0.20", 80), "i-web ingress"},
		// Sides of other hosts are theirs.
		{"the ingress of another host's NIC", true, flow(tcp, "10.1.0.10", "10.1.0.40", 40000, 22), ""},
		{"from another host's NIC", true, flow(tcp, "10.1.0.40", "10.1.0.20", 40000, 22), "i-web ingress"},
		{"no NIC of this host", true, flow(tcp, "192.0.2.1", "192.0.2.2", 40000, 22), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecider(cloud(tc.web80), host)
			den, ok := d.Decide(tc.f)
			got := ""
			if ok {
				got = fmt.Sprintf("%s %s", den.NIC, den.Side)
				if den.Decision.Verdict != policy.Drop {
					t.Errorf("denied with %s", den.Decision)
				}
			}
			if got != tc.want {
				t.Errorf("%s: cut %q, want %q (%s)", tc.f.TupleOrig, got, tc.want, den.Decision)
			}
		})
	}
}

// TestSharedAddressIsNotCut: an address two NICs of the host share (here
// a VPC's and another VPC's instance) names neither, so a connection on it
// is left alone rather than decided with the policy of whichever NIC a
// map's order gives (i-twin's would cut what i-web's accepts).
func TestSharedAddressIsNotCut(t *testing.T) {
	c := cloud(true)
	twin := modeltest.Instance("i-twin", "vpc-other", "10.1.0.20", "sg-cli")
	twin.Host = host
	c = policy.NewCloud(slices.Collect(maps.Values(c.Groups)), append(slices.Collect(maps.Values(c.Instances)), twin), nil)
	for range 20 { // each decider's map has its own order
		if den, ok := NewDecider(c, host).Decide(flow(tcp, "203.0.113.5", "10.1.0.20", 40000, 443)); ok {
			t.Fatalf("a connection to the shared address cut on %s %s", den.NIC, den.Side)
		}
	}
}

// TestDecideAgreesWithEvaluate: for flows between instances, an entry is
// cut exactly when policy.Evaluate drops the flow on a side of this host
// (the one engine, not a matcher of its own).
func TestDecideAgreesWithEvaluate(t *testing.T) {
	for _, web80 := range []bool{true, false} {
		c := cloud(web80)
		eng := policy.Compile(c)
		d := NewDecider(c, host)
		for _, from := range []string{"i-cli", "i-web", "i-ent", "i-far"} {
			for _, to := range []string{"i-cli", "i-web", "i-ent", "i-far"} {
				for _, port := range []uint16{22, 53, 80, 443} {
					for _, proto := range []model.Protocol{model.TCP, model.UDP} {
						if from == to {
							continue
						}
						res, err := policy.Evaluate(eng, policy.Flow{From: from, To: to, Protocol: proto, Port: port})
						if err != nil {
							t.Fatal(err)
						}
						want := res.Egress.Verdict == policy.Drop && c.Instances[from].Host == host ||
							res.Ingress.Verdict == policy.Drop && c.Instances[to].Host == host
						p := res.EgressPacket
						_, got := d.Decide(flow(proto.Number(), p.Src.String(), p.Dst.String(), p.SrcPort, p.DstPort))
						if got != want {
							t.Errorf("web80=%v %s -> %s %s %d: cut=%v, the engine says %s", web80, from, to, proto, port, got, res.Verdict)
						}
					}
				}
			}
		}
	}
}

func TestCut(t *testing.T) {
	allowed := flow(tcp, "10.1.0.10", "10.1.0.20", 40001, 443)
	revoked := flow(tcp, "10.1.0.10", "10.1.0.20", 40000, 80)
	udp54 := flow(udp, "10.1.0.10", "10.1.0.20", 5000, 54)
	refused := errors.New("refused")
	for _, tc := range []struct {
		name    string
		flows   []conntrack.Flow
		max     int
		start   int // where the last cut stopped
		deny    func(conntrack.Flow) (error, bool)
		want    Result
		deleted []conntrack.Flow
	}{
		{"the denied are deleted, the accepted left", []conntrack.Flow{allowed, revoked, udp54}, 0, 0, nil,
			Result{Entries: 3, Checked: 3, Cut: 2}, []conntrack.Flow{revoked, udp54}},
		{"nothing denied", []conntrack.Flow{allowed}, 0, 0, nil, Result{Entries: 1, Checked: 1}, nil},
		{"bounded", []conntrack.Flow{allowed, revoked, udp54}, 2, 0, nil,
			Result{Entries: 3, Checked: 2, Cut: 1, Unchecked: 1}, []conntrack.Flow{revoked}},
		{"bounded, from where the last cut stopped", []conntrack.Flow{allowed, revoked, udp54}, 2, 2, nil,
			Result{Entries: 3, Checked: 2, Cut: 1, Unchecked: 1}, []conntrack.Flow{udp54}},
		{"ended meanwhile", []conntrack.Flow{revoked, udp54}, 0, 0, func(f conntrack.Flow) (error, bool) {
			return fmt.Errorf("gone: %w", syscall.ENOENT), f.TupleOrig == revoked.TupleOrig
		}, Result{Entries: 2, Checked: 2, Cut: 1, Gone: 1}, []conntrack.Flow{udp54}},
		{"refused", []conntrack.Flow{revoked, udp54}, 0, 0, func(f conntrack.Flow) (error, bool) {
			return refused, f.TupleOrig == udp54.TupleOrig
		}, Result{Entries: 2, Checked: 2, Cut: 1, Failed: 1}, []conntrack.Flow{revoked}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := NewFake(tc.flows...)
			ct.DeleteErr = tc.deny
			var seen []conntrack.Flow
			flows, err := ct.Dump()
			if err != nil {
				t.Fatal(err)
			}
			res, err := cutFlows(ct, NewDecider(cloud(false), host), flows, tc.max, tc.start, func(d Denied) { seen = append(seen, d.Flow) })
			if res != tc.want {
				t.Errorf("result %+v, want %+v", res, tc.want)
			}
			if (err != nil) != (res.Failed > 0) {
				t.Errorf("error %v with %d failed", err, res.Failed)
			}
			if got := ct.Deleted(); !sameFlows(got, tc.deleted) || !sameFlows(seen, tc.deleted) {
				t.Errorf("deleted %v (reported %v), want %v", got, seen, tc.deleted)
			}
		})
	}
}

// sameFlows compares connections by their original tuples, as the kernel
// tells them apart.
func sameFlows(a, b []conntrack.Flow) bool {
	return slices.EqualFunc(a, b, func(x, y conntrack.Flow) bool { return x.TupleOrig == y.TupleOrig })
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestCutter: the cuts run on the Cutter's goroutine with the newest
// policy handed over, and a policy handed over while a cut reads the table
// makes it leave the table to the next cut, which the newer policy decides.
func TestCutter(t *testing.T) {
	revoked := flow(tcp, "10.1.0.10", "10.1.0.20", 40000, 80)
	denied := flow(tcp, "10.1.0.10", "10.1.0.20", 40002, 22)
	for _, tc := range []struct {
		name string
		run  func(c *Cutter, ct *Fake)
		cuts []Result
		// deleted, in order
		deleted []conntrack.Flow
	}{
		{"policies handed over together: the newest decides", func(c *Cutter, ct *Fake) {
			c.Changed(cloud(true))
			c.Changed(cloud(false))
		}, []Result{{Entries: 2, Checked: 2, Cut: 2}}, []conntrack.Flow{revoked, denied}},
		{"one after the other", func(c *Cutter, ct *Fake) {
			c.Changed(cloud(true))
		}, []Result{{Entries: 2, Checked: 2, Cut: 1}}, []conntrack.Flow{denied}},
		{"a newer policy during the dump", func(c *Cutter, ct *Fake) {
			// The first dump sees sgr-http revoked; a policy with it again
			// comes while it reads: the revoked connection stays.
			first := true
			ct.OnDump = func() {
				if first {
					first = false
					c.Changed(cloud(true))
				}
			}
			c.Changed(cloud(false))
		}, []Result{{Entries: 2, Checked: 2, Cut: 1}}, []conntrack.Flow{denied}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := NewFake(revoked, denied)
			results := make(chan Result, 10)
			c := New(Config{Host: host, Open: func() (Conntrack, error) { return ct, nil }, Log: quiet, OnCut: func(r Result) { results <- r }})
			tc.run(c, ct)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); c.Run(ctx) }()
			for _, want := range tc.cuts {
				select {
				case got := <-results:
					if got != want {
						t.Errorf("cut %+v, want %+v", got, want)
					}
				case <-time.After(time.Minute): // a hang guard, not a measure
					t.Fatal("no cut")
				}
			}
			cancel()
			<-done
			select {
			case r := <-results:
				t.Errorf("one cut more: %+v", r)
			default:
			}
			if got := ct.Deleted(); !sameFlows(got, tc.deleted) {
				t.Errorf("deleted %v, want %v", got, tc.deleted)
			}
			if c.Total() != uint64(len(tc.deleted)) {
				t.Errorf("total %d, want %d", c.Total(), len(tc.deleted))
			}
		})
	}
}
