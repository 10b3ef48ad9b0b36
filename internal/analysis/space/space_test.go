package space_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// name is a decider as the tables write it: a rule ID, intra:GROUP or default.
func name(s *space.Space, d space.Decider) string {
	switch {
	case d >= 0:
		return s.Program.Rules[d].ID
	case d.Intra() >= 0:
		return "intra:" + s.Program.Intra[d.Intra()]
	}
	return "default"
}

// probe is "PROTO PORT REMOTE [sport=N]" → the decider expected there.
type probe struct{ pkt, want string }

func decideProbe(t *testing.T, s *space.Space, spec string) string {
	t.Helper()
	f := strings.Fields(spec)
	p := slices.IndexFunc(space.Protos(), func(p space.Proto) bool { return p.String() == f[0] })
	if p < 0 {
		t.Fatalf("bad protocol in probe %q", spec)
	}
	port, _ := strconv.Atoi(f[1])
	remote := parseAddr(f[2])
	sport := uint16(policy.DefaultSourcePort)
	if len(f) > 3 {
		n, _ := strconv.Atoi(strings.TrimPrefix(f[3], "sport="))
		sport = uint16(n)
	}
	d, ok := s.Decide(remote.Is6(), space.Proto(p), sport, uint16(port), iprange.KeyOf(remote))
	if !ok {
		t.Fatalf("probe %q: source port not covered", spec)
	}
	return name(s, d)
}

func TestSpaceTables(t *testing.T) {
	web := "10.0.0.5"
	tests := []struct {
		name   string
		groups []*model.SecurityGroup
		others []*model.Instance // besides the subject i-x (10.0.0.5, 2001:db8::5) in its groups
		xs     []string          // the subject's groups
		dir    model.Direction
		nic    model.NicType
		probes []probe
		status map[string]space.Status // rule ID → status
		block  map[string][]string     // rule ID → its blockers, largest first
		corr   []string                // "drop/accept" pairs
		intra  []bool
		defHit bool
	}{{
		name: "drop wins a priority tie",
		groups: []*model.SecurityGroup{sg("sg-a", "vpc", "isolated",
			rl("allow", "in accept 5 TCP 1/1024 0.0.0.0/0"),
			rl("deny", "in drop 5 TCP 22/22 192.168.0.0/16"))},
		xs:     []string{"sg-a"},
		dir:    model.Ingress,
		probes: []probe{{"TCP 22 192.168.1.1", "deny"}, {"TCP 22 8.8.8.8", "allow"}, {"TCP 23 192.168.1.1", "allow"}, {"TCP 2000 8.8.8.8", "default"}, {"UDP 22 8.8.8.8", "default"}},
		status: map[string]space.Status{"allow": space.Live, "deny": space.Live},
		corr:   []string{"deny/allow"},
		defHit: true,
	}, {
		name: "a drop first shadows a later accept: one blocker, opposite action",
		groups: []*model.SecurityGroup{sg("sg-a", "vpc", "isolated",
			rl("hide", "in drop 1 TCP 1/1024 0.0.0.0/0"),
			rl("ssh", "in accept 2 TCP 22/22 10.0.0.0/8"))},
		xs:     []string{"sg-a"},
		dir:    model.Ingress,
		probes: []probe{{"TCP 22 10.1.1.1", "hide"}},
		status: map[string]space.Status{"hide": space.Live, "ssh": space.Shadowed},
		block:  map[string][]string{"ssh": {"hide"}},
		defHit: true,
	}, {
		name: "shadowed by the union of two rules, across groups",
		groups: []*model.SecurityGroup{
			sg("sg-a", "vpc", "isolated", rl("low", "in accept 1 TCP 80/80 10.0.0.0/9")),
			sg("sg-b", "vpc", "isolated", rl("high", "in drop 1 TCP 80/90 10.128.0.0/9"), rl("whole", "in accept 3 TCP 80/80 10.0.0.0/8"))},
		xs:     []string{"sg-a", "sg-b"},
		dir:    model.Ingress,
		probes: []probe{{"TCP 80 10.0.0.1", "low"}, {"TCP 80 10.200.0.1", "high"}, {"TCP 80 11.0.0.1", "default"}},
		// Without low, whole would accept its half the same way.
		status: map[string]space.Status{"low": space.Redundant, "high": space.Live, "whole": space.Shadowed},
		block:  map[string][]string{"whole": {"high", "low"}},
		defHit: true,
	}, {
		name: "overlapping ranges: partial overlap leaves the later rule live",
		groups: []*model.SecurityGroup{sg("sg-a", "vpc", "isolated",
			rl("a", "in accept 1 TCP 100/200 0.0.0.0/0"),
			rl("b", "in drop 2 TCP 150/250 0.0.0.0/0"))},
		xs:     []string{"sg-a"},
		dir:    model.Ingress,
		probes: []probe{{"TCP 150 1.2.3.4", "a"}, {"TCP 201 1.2.3.4", "b"}, {"TCP 251 1.2.3.4", "default"}, {"TCP 99 1.2.3.4", "default"}},
		// b only drops where the default drops anyway.
		status: map[string]space.Status{"a": space.Live, "b": space.Redundant},
		defHit: true,
	}, {
		name: "a broader accept later makes the narrower one redundant, not the other way round",
		groups: []*model.SecurityGroup{sg("sg-a", "vpc", "isolated",
			rl("narrow", "in accept 1 TCP 443/443 10.0.0.0/8"),
			rl("broad", "in accept 2 TCP 443/443 0.0.0.0/0"))},
		xs:     []string{"sg-a"},
		dir:    model.Ingress,
		status: map[string]space.Status{"narrow": space.Redundant, "broad": space.Live},
		defHit: true,
	}, {
		name: "intra-group access comes before every rule",
		groups: []*model.SecurityGroup{sg("sg-a", "vpc", "basic",
			rl("no-peers", "in drop 1 ALL -1/-1 sg-a"),
			rl("ssh", "in accept 2 TCP 22/22 10.0.0.0/24"))},
		others: []*model.Instance{vm("i-y", "vpc", "10.0.0.6", "sg-a")},
		xs:     []string{"sg-a"},
		dir:    model.Ingress,
		probes: []probe{{"TCP 22 10.0.0.6", "intra:sg-a"}, {"GRE 0 10.0.0.6", "intra:sg-a"}, {"TCP 22 10.0.0.7", "ssh"}},
		status: map[string]space.Status{"no-peers": space.Shadowed, "ssh": space.Live},
		block:  map[string][]string{"no-peers": {"intra:sg-a"}},
		intra:  []bool{true},
		defHit: true,
	}, {
		name:   "enterprise egress drops by default",
		groups: []*model.SecurityGroup{sg("sg-e", "vpc", "enterprise", rl("web", "out accept 1 TCP 443/443 0.0.0.0/0"))},
		xs:     []string{"sg-e"},
		dir:    model.Egress,
		probes: []probe{{"TCP 443 1.1.1.1", "web"}, {"TCP 80 1.1.1.1", "default"}, {"ICMPv6 0 2001:db8::1", "default"}},
		status: map[string]space.Status{"web": space.Live},
		defHit: true,
	}, {
		name: "basic egress accepts by default, so a final accept-all is redundant and the default never acts",
		groups: []*model.SecurityGroup{sg("sg-a", "vpc", "isolated",
			rl("no-smtp", "out drop 1 TCP 25/25 0.0.0.0/0"),
			rl("all4", "out accept 100 ALL -1/-1 0.0.0.0/0"),
			rl("all6", "out accept 100 ALL -1/-1 ::/0"))},
		xs:     []string{"sg-a"},
		dir:    model.Egress,
		probes: []probe{{"TCP 25 1.1.1.1", "no-smtp"}, {"TCP 26 1.1.1.1", "all4"}, {"other 0 2001:db8::9", "all6"}},
		status: map[string]space.Status{"no-smtp": space.Live, "all4": space.Redundant, "all6": space.Redundant},
		defHit: false,
	}, {
		name: "classic network: the internet rule set only",
		groups: []*model.SecurityGroup{sg("sg-c", "", "isolated",
			rl("inet", "in accept 1 TCP 80/80 0.0.0.0/0 nic=internet"),
			rl("intra", "in accept 1 TCP 22/22 0.0.0.0/0 nic=intranet"))},
		xs:     []string{"sg-c"},
		dir:    model.Ingress,
		nic:    model.Internet,
		probes: []probe{{"TCP 80 1.1.1.1", "inet"}, {"TCP 22 1.1.1.1", "default"}},
		status: map[string]space.Status{"inet": space.Live},
		defHit: true,
	}, {
		name: "source ports: a rule for privileged source ports decides only there",
		groups: []*model.SecurityGroup{sg("sg-a", "vpc", "isolated",
			rl("priv", "in accept 1 TCP 22/22 0.0.0.0/0 sport=1/1023"),
			rl("any", "in drop 2 TCP 22/22 0.0.0.0/0"))},
		xs:     []string{"sg-a"},
		dir:    model.Ingress,
		probes: []probe{{"TCP 22 1.1.1.1 sport=1000", "priv"}, {"TCP 22 1.1.1.1", "any"}, {"TCP 22 1.1.1.1 sport=0", "any"}},
		status: map[string]space.Status{"priv": space.Live, "any": space.Redundant},
		defHit: true,
	}, {
		name: "local CIDR: a quintuple rule for another address does nothing here",
		groups: []*model.SecurityGroup{sg("sg-a", "vpc", "isolated",
			rl("mine", "in accept 1 TCP 22/22 0.0.0.0/0 local="+web),
			rl("theirs", "in accept 1 TCP 80/80 0.0.0.0/0 local=10.0.0.6"))},
		xs:     []string{"sg-a"},
		dir:    model.Ingress,
		probes: []probe{{"TCP 22 1.1.1.1", "mine"}, {"TCP 80 1.1.1.1", "default"}},
		status: map[string]space.Status{"mine": space.Live, "theirs": space.Shadowed},
		block:  map[string][]string{"theirs": {}},
		defHit: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := vm("i-x", "vpc", web+",2001:db8::5", tt.xs...)
			if tt.groups[0].VpcID == "" {
				x.VpcID = ""
			}
			cloud := policy.NewCloud(tt.groups, append([]*model.Instance{x}, tt.others...), nil)
			nic := tt.nic
			if nic == "" {
				nic = model.Intranet
			}
			s := space.ForInstance(space.NewResolver(cloud), x, tt.dir, nic, space.Options{AllSourcePorts: true})
			for _, p := range tt.probes {
				if got := decideProbe(t, s, p.pkt); got != p.want {
					t.Errorf("%s: decided by %s, want %s", p.pkt, got, p.want)
				}
			}
			for i, r := range s.Program.Rules {
				want, ok := tt.status[r.ID]
				if !ok {
					t.Fatalf("rule %s is in the program but the table gives no status", r.ID)
				}
				if got := s.Status(i); got != want {
					t.Errorf("%s: %s, want %s", r.ID, got, want)
				}
				if want, ok := tt.block[r.ID]; ok {
					var got []string
					for _, b := range s.Blockers(i) {
						got = append(got, name(s, b.By))
					}
					if !slices.Equal(got, want) && len(got)+len(want) > 0 {
						t.Errorf("%s: blocked by %v, want %v", r.ID, got, want)
					}
				}
			}
			if len(s.Program.Rules) != len(tt.status) {
				t.Errorf("program has %d rules, the table %d", len(s.Program.Rules), len(tt.status))
			}
			var corr []string
			for _, c := range s.Correlations() {
				corr = append(corr, s.Program.Rules[c.Drop].ID+"/"+s.Program.Rules[c.Accept].ID)
			}
			if !slices.Equal(corr, tt.corr) {
				t.Errorf("correlations %v, want %v", corr, tt.corr)
			}
			if tt.intra != nil && !slices.Equal(s.IntraHit, tt.intra) {
				t.Errorf("intra hits %v, want %v", s.IntraHit, tt.intra)
			}
			if s.DefaultHit != tt.defHit {
				t.Errorf("default hit %v, want %v", s.DefaultHit, tt.defHit)
			}
		})
	}
}

// TestPartition checks that the cells of a space tile the packet space
// exactly once (no gap, no overlap), on a program with every kind of
// boundary.
func TestPartition(t *testing.T) {
	g := sg("sg-a", "vpc", "basic",
		rl("a", "in accept 1 TCP 22/22 10.0.0.0/8 sport=1/1023"),
		rl("b", "in drop 2 UDP 53/60 ::/0"),
		rl("c", "in accept 3 ALL -1/-1 192.168.1.0/24"),
		rl("d", "in accept 4 TCP 1/65535 sg-a"))
	x := vm("i-x", "vpc", "10.0.0.5,2001:db8::5", "sg-a")
	cloud := policy.NewCloud([]*model.SecurityGroup{g}, []*model.Instance{x, vm("i-y", "vpc", "10.0.0.6", "sg-a")}, nil)
	s := space.ForInstance(space.NewResolver(cloud), x, model.Ingress, model.Intranet, space.Options{AllSourcePorts: true})
	type slot struct {
		sp   space.PortRange
		six  bool
		p    space.Proto
		port space.PortRange
	}
	next := map[slot]iprange.Key{}
	done := map[slot]bool{}
	s.Walk(func(c space.Cell) {
		k := slot{c.SourcePorts, c.IPv6, c.Proto, c.Ports}
		if done[k] {
			t.Fatalf("cell after the end of its column: %+v", c)
		}
		if next[k] != c.Addrs.Lo() {
			t.Fatalf("gap or overlap at %+v: expected it to start at %v", c, next[k])
		}
		if c.Addrs.Hi() == iprange.Last(c.IPv6) {
			done[k] = true
		} else {
			next[k] = c.Addrs.Hi().Next()
		}
	})
	if len(done) != len(next) && len(next) > 0 {
		t.Errorf("%d columns, %d complete", len(next), len(done))
	}
	// Ports: each (part, family, protocol) column set covers 0-65535.
	cover := map[string]int{}
	for k := range done {
		cover[fmt.Sprint(k.sp, k.six, k.p)] += int(k.port.Hi) - int(k.port.Lo) + 1
	}
	for k, n := range cover {
		if n != 65536 {
			t.Errorf("%s: ports cover %d values, want 65536", k, n)
		}
	}
	if len(s.Parts) != 3 {
		t.Errorf("%d source-port parts, want 3 (0, 1-1023, 1024-65535)", len(s.Parts))
	}
}

// TestHits checks a hit space cell by cell: a drop that wins a tie decides
// exactly the overlap, the accept everything else it matches.
func TestHits(t *testing.T) {
	g := sg("sg-a", "vpc", "isolated",
		rl("allow", "in accept 5 TCP 20/30 10.0.0.0/8"),
		rl("deny", "in drop 5 TCP 22/22 10.1.0.0/16"))
	x := vm("i-x", "vpc", "10.0.0.5", "sg-a")
	cloud := policy.NewCloud([]*model.SecurityGroup{g}, []*model.Instance{x}, nil)
	s := space.ForInstance(space.NewResolver(cloud), x, model.Ingress, model.Intranet, space.Options{})
	show := func(cs []space.Cell) []string {
		var out []string
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s %d-%d %s-%s", c.Proto, c.Ports.Lo, c.Ports.Hi, c.Addrs.Lo().Addr(c.IPv6), c.Addrs.Hi().Addr(c.IPv6)))
		}
		return out
	}
	idx := map[string]int{}
	for i, r := range s.Program.Rules {
		idx[r.ID] = i
	}
	want := map[string][]string{
		"deny": {"TCP 22-22 10.1.0.0-10.1.255.255"},
		"allow": {"TCP 20-21 10.0.0.0-10.255.255.255", "TCP 22-22 10.0.0.0-10.0.255.255",
			"TCP 22-22 10.2.0.0-10.255.255.255", "TCP 23-30 10.0.0.0-10.255.255.255"},
	}
	for id, w := range want {
		if got := show(s.Hits(idx[id])); !slices.Equal(got, w) {
			t.Errorf("%s hits:\n got  %q\n want %q", id, got, w)
		}
	}
}
