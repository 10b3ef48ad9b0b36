package nft

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// overlapCloud is one instance behind pi-1 with a group of n ingress rules
// drawn from a small space, so that they overlap, tie and alternate verdicts
// often.
func overlapCloud(seed uint64, n int) *policy.Cloud {
	rng := rand.New(rand.NewPCG(seed, 3))
	peers := []string{"0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32", "192.168.0.0/16", "::/0", "2001:db8::/32", "sg-peer"}
	ports := []string{"22/22", "80/80", "443/443", "80/443", "1/65535", "8080/8090"}
	protos := []model.Protocol{model.TCP, model.TCP, model.UDP, model.TCP, model.ICMP, model.ALL}
	sg := group("sg-x", "vpc-a", model.Normal, model.InnerDrop)
	for i := range n {
		proto := protos[rng.IntN(len(protos))]
		pr := "-1/-1"
		if proto.HasPorts() {
			pr = ports[rng.IntN(len(ports))]
		}
		peer := peers[rng.IntN(len(peers))]
		if proto == model.ICMP && peer[0] != 's' && netip.MustParsePrefix(peer).Addr().Is6() {
			proto = model.ICMPv6
		}
		pol := model.Accept
		if rng.IntN(3) == 0 {
			pol = model.Drop
		}
		sg.Rules = append(sg.Rules, rule(fmt.Sprintf("r%d", i), model.Ingress, pol, 1+rng.IntN(3), proto, pr, peer))
	}
	peer := group("sg-peer", "vpc-a", model.Normal, model.InnerDrop)
	ins := []*model.Instance{inst("i-1", "vpc-a", "10.1.0.1", "pi-1", "sg-x"), inst("i-2", "vpc-a", "10.1.2.7", "pi-2", "sg-peer")}
	return policy.NewCloud([]*model.SecurityGroup{sg, peer}, ins, nil)
}

// TestMergeRunsEquivalent holds merged chains against plain ones: the same
// verdict and the same counted rule for every packet, with fewer rules; with
// flow logging, also the same entries labelled and logged.
func TestMergeRunsEquivalent(t *testing.T) {
	for _, flow := range []bool{false, true} {
		t.Run(fmt.Sprintf("flowlog=%v", flow), func(t *testing.T) { testMergeRunsEquivalent(t, flow) })
	}
}

func testMergeRunsEquivalent(t *testing.T, flow bool) {
	srcs := []string{"10.1.2.3", "10.1.2.7", "10.1.9.9", "10.200.0.1", "192.168.1.1", "8.8.8.8", "2001:db8::1", "2001:db9::1"}
	var plainRules, mergedRules, tuples int
	for seed := uint64(1); seed <= 30; seed++ {
		c := overlapCloud(seed, 60)
		plain := Build(c, "h1", Options{FlowLog: flow})
		merged := Build(c, "h1", Options{MergeRuns: true, FlowLog: flow})
		if err := merged.checkRefs(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if flow && !maps.Equal(plain.Entries, merged.Entries) {
			t.Errorf("seed %d: the merged ruleset names other entries", seed)
		}
		plainRules += len(chainOf(t, plain, IngressMap, "pi-1").Rules)
		mergedRules += len(chainOf(t, merged, IngressMap, "pi-1").Rules)
		for _, s := range merged.Sets {
			tuples += len(s.Tuples)
			for i, a := range s.Tuples {
				for _, b := range s.Tuples[:i] {
					if tupleBox(a).overlaps(tupleBox(b)) {
						t.Errorf("seed %d: set %s holds overlapping elements %s and %s", seed, s.Name, a, b)
					}
				}
			}
		}
		for _, src := range srcs {
			for _, proto := range []uint8{1, 6, 17, 58} {
				for _, port := range []uint16{0, 22, 80, 100, 443, 8085, 9999} {
					a := netip.MustParseAddr(src)
					dst := netip.MustParseAddr("10.1.0.1")
					if a.Is6() {
						dst = netip.MustParseAddr("2001:db8::100")
					}
					p := simPacket{iif: uplink, oif: "pi-1", src: a, dst: dst, proto: proto, sport: 40000, dport: port}
					s1, ok1, err1 := simulateFlow(plain, p)
					s2, ok2, err2 := simulateFlow(merged, p)
					if err1 != nil || err2 != nil {
						t.Fatalf("seed %d %v: %v %v", seed, p, err1, err2)
					}
					if ok1 != ok2 || !slices.Equal(s1.hits, s2.hits) {
						t.Errorf("seed %d %v: plain accept=%v %v, merged accept=%v %v", seed, p, ok1, s1.hits, ok2, s2.hits)
					}
					if !slices.Equal(s1.labels, s2.labels) || !slices.Equal(s1.logs, s2.logs) {
						t.Errorf("seed %d %v: plain labels %v logs %v, merged labels %v logs %v", seed, p, s1.labels, s1.logs, s2.labels, s2.logs)
					}
					if flow && len(s2.labels)+len(s2.logs) != 1 {
						t.Errorf("seed %d %v: labelled %v and logged %v, want one entry named", seed, p, s2.labels, s2.logs)
					}
				}
			}
		}
	}
	t.Logf("%d rules plain, %d merged, %d tuple elements", plainRules, mergedRules, tuples)
	if tuples == 0 || mergedRules >= plainRules {
		t.Errorf("nothing was merged: %d rules plain, %d merged", plainRules, mergedRules)
	}
}

func tupleBox(e TupleElem) box {
	r := Rule{Family: familyOf(e.Addr.Addr()), Proto: e.Proto, DPort: e.Port, Addrs: []AddrMatch{{Prefix: e.Addr}}}
	return boxOf(&r)
}

// TestMergeWebCloud: in webCloud's sg-web, the http and ssh accepts merge
// (ssh moves past the postgres rule, whose port it cannot match) and the
// ssh drop before them stays a rule: TestPackets then sends packets through
// a tuple set.
func TestMergeWebCloud(t *testing.T) {
	c, _, _ := webCloud()
	rs := Build(c, "h1", Options{MergeRuns: true})
	ch := chainOf(t, rs, IngressMap, "pi-web1")
	var got []string
	for _, r := range ch.Rules {
		got = append(got, r.String())
	}
	var set *Set
	for i := range rs.Sets {
		if isTuple(rs.Sets[i].Type) {
			set = &rs.Sets[i]
		}
	}
	if set == nil {
		t.Fatalf("no tuple set:\n%s", renderChain(ch))
	}
	want := []string{
		"ip saddr @g_sg-web_4 return",
		"ip6 saddr @g_sg-web_6 return",
		`tcp dport 22 ip saddr 10.9.0.0/16 counter drop comment "sg-web/sgr-deny-ssh"`,
		"meta l4proto . th dport . ip saddr @" + set.Name + " return",
		`tcp dport 5432 ip saddr @g_sg-app_4 counter return comment "sg-web/sgr-pg"`,
		`tcp dport 5432 ip6 saddr @g_sg-app_6 counter return comment "sg-web/sgr-pg"`,
		"drop",
	}
	if !slices.Equal(got, want) {
		t.Errorf("chain:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var elems []string
	for _, e := range set.Tuples {
		elems = append(elems, e.String())
	}
	if w := []string{`tcp . 80 . 0.0.0.0/0 comment "sg-web/sgr-http"`, `tcp . 22 . 10.0.0.0/8 comment "sg-web/sgr-ssh"`}; !slices.Equal(elems, w) {
		t.Errorf("tuple set: %q, want %q", elems, w)
	}
}

// TestMergeRunsMovesOnlyDisjointRules: an accept between two drops merges
// the drops only when it cannot match what the later drop matches.
func TestMergeRunsMovesOnlyDisjointRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		middle  string // the accept's peer
		lookups int    // tuple lookups in the chain
	}{
		{"disjoint accept: the drops merge", "192.168.0.0/16", 1},
		{"overlapping accept: they stay apart", "10.0.0.0/8", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sg := group("sg-x", "vpc-a", model.Normal, model.InnerDrop,
				rule("d1", model.Ingress, model.Drop, 1, model.TCP, "22/22", "10.1.0.0/16"),
				rule("a", model.Ingress, model.Accept, 2, model.TCP, "22/22", tc.middle),
				rule("d2", model.Ingress, model.Drop, 3, model.TCP, "22/22", "10.2.0.0/16"))
			c := policy.NewCloud([]*model.SecurityGroup{sg}, []*model.Instance{inst("i-1", "vpc-a", "10.0.0.1", "pi-1", "sg-x")}, nil)
			ch := chainOf(t, Build(c, "h1", Options{MergeRuns: true}), IngressMap, "pi-1")
			n := 0
			for _, r := range ch.Rules {
				if r.Tuple.Set != "" {
					n++
				}
			}
			if n != tc.lookups {
				t.Errorf("%d tuple lookups, want %d:\n%s", n, tc.lookups, renderChain(ch))
			}
		})
	}
}

// TestMergeRunsBounded: a chain of more rules than maxMergeRules (which no
// valid policy has) is not merged, as merging takes time in the square of
// their number; it decides as the policy does all the same.
func TestMergeRunsBounded(t *testing.T) {
	for _, tc := range []struct {
		rules  int
		merged bool
	}{
		{maxMergeRules / 2, true},
		{maxMergeRules + 1, false},
	} {
		t.Run(fmt.Sprint(tc.rules), func(t *testing.T) {
			sg := group("sg-x", "vpc-a", model.Normal, model.InnerDrop)
			for i := range tc.rules {
				peer := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), 32).String()
				sg.Rules = append(sg.Rules, rule(fmt.Sprint("r", i), model.Ingress, model.Accept, 1, model.TCP, "22/22", peer))
			}
			c := policy.NewCloud([]*model.SecurityGroup{sg}, []*model.Instance{inst("i-1", "vpc-a", "10.1.0.1", "pi-1", "sg-x")}, nil)
			rs := Build(c, "h1", Options{MergeRuns: true})
			tuples := slices.ContainsFunc(rs.Sets, func(s Set) bool { return isTuple(s.Type) })
			if tuples != tc.merged {
				t.Errorf("%d rules: merged=%v, want %v", tc.rules, tuples, tc.merged)
			}
			for _, src := range []string{"10.9.0.0", "10.9.0.7", "10.9.15.255", "10.8.0.1"} {
				p := simPacket{iif: uplink, oif: "pi-1", src: netip.MustParseAddr(src), dst: netip.MustParseAddr("10.1.0.1"), proto: 6, sport: 40000, dport: 22}
				got, _, err := simulate(rs, p)
				if err != nil {
					t.Fatal(err)
				}
				want := policy.NewLinear(c).Decide(c.Instances["i-1"], model.Ingress, model.Intranet, policy.Packet{Src: p.src, Dst: p.dst, Proto: 6, SrcPort: 40000, DstPort: 22})
				if got != (want.Verdict == policy.Accept) {
					t.Errorf("%v: accept=%v, policy %v", p, got, want.Verdict)
				}
			}
		})
	}
}
