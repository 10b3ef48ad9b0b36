package nft

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestICMPRulesOfOneFamily: an ICMP rule is IPv4's and an ICMPv6 rule
// IPv6's (model.Protocol.InFamily), even when its peer is a group, which
// stands for both families. An IPv6 packet whose next header is 1 (or an
// IPv4 one of protocol 58) from a member meets neither, and the accept of
// everything after decides it, in both evaluators and in the kernel's
// rules alike. (The evaluators matched the protocol number in either
// family, and so dropped what nftables let pass.)
func TestICMPRulesOfOneFamily(t *testing.T) {
	for _, tc := range []struct {
		proto model.Protocol
		pkt   uint8 // the packet's protocol number
	}{
		{model.ICMP, 1},
		{model.ICMPv6, 58},
	} {
		peer := group("sg-peer", "vpc-a", model.Normal, model.InnerDrop)
		sg := group("sg-x", "vpc-a", model.Normal, model.InnerDrop,
			rule("r-icmp", model.Ingress, model.Drop, 1, tc.proto, "-1/-1", "sg-peer"),
			rule("r-all", model.Ingress, model.Accept, 2, model.ALL, "-1/-1", "sg-peer"))
		x, p := inst("i-1", "vpc-a", "10.0.0.1", "pi-1", "sg-x"), inst("i-2", "vpc-a", "10.0.0.2", "pi-2", "sg-peer")
		x.IPv6, p.IPv6 = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
		p.Host = "h2"
		c := policy.NewCloud([]*model.SecurityGroup{sg, peer}, []*model.Instance{x, p}, nil)
		for _, six := range []bool{false, true} {
			src, dst := p.PrivateIP, x.PrivateIP
			if six {
				src, dst = p.IPv6, x.IPv6
			}
			want := policy.NewLinear(c).Decide(x, model.Ingress, model.Intranet, policy.Packet{Src: src, Dst: dst, Proto: tc.pkt})
			// The rule's own family meets its drop; the other, the accept.
			if drop := six == (tc.proto == model.ICMPv6); (want.Verdict == policy.Drop) != drop {
				t.Fatalf("protocol %d, IPv6 %v: the policy says %v", tc.pkt, six, want)
			}
			if got := policy.Compile(c).Decide(x, model.Ingress, model.Intranet, policy.Packet{Src: src, Dst: dst, Proto: tc.pkt}); got.Verdict != want.Verdict {
				t.Fatalf("the evaluators disagree: %v, %v", want, got)
			}
			for name, o := range map[string]Options{"plain": {}, "merged": {MergeRuns: true}, "flow log": {FlowLog: true}} {
				for lname, build := range map[string]func(*policy.Cloud, string, Options) *Ruleset{"Build": Build, "BuildLinear": BuildLinear} {
					t.Run(fmt.Sprintf("%s/IPv6=%v/%s/%s", tc.proto, six, name, lname), func(t *testing.T) {
						ok, _, err := simulate(build(c, "h1", o), simPacket{iif: uplink, oif: "pi-1", src: src, dst: dst, proto: tc.pkt})
						if err != nil {
							t.Fatal(err)
						}
						if ok != (want.Verdict == policy.Accept) {
							t.Errorf("protocol %d from %s: accept=%v, the policy: %v", tc.pkt, src, ok, want)
						}
					})
				}
			}
		}
		if kernelOK() {
			// The kernel takes and lists the rules as written.
			ns := newNetns(t, "icmp")
			rs := Build(c, "h1", Options{})
			apply(t, openKernel(t, ns), rs)
			checkListed(t, ns, rs)
		}
	}
}
