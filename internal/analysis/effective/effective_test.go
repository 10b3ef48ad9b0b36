package effective_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/effective"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// line renders an entry compactly: position, name, policy, status and
// the entries it refers to (! marks an opposite action).
func line(e effective.Entry) string {
	name := e.RuleID
	switch e.Kind {
	case effective.IntraGroup:
		name = "intra:" + e.Group
	case effective.Default:
		name = "default"
	}
	s := fmt.Sprintf("%d %s %s %s", e.Position, name, e.Policy, e.Status)
	refs := func(tag string, rs []effective.Ref) {
		if len(rs) == 0 {
			return
		}
		var names []string
		for _, r := range rs {
			n := r.RuleID
			switch r.Kind {
			case effective.IntraGroup:
				n = "intra:" + r.Group
			case effective.Default:
				n = "default"
			}
			names = append(names, n)
		}
		s += " " + tag + " " + strings.Join(names, ",")
	}
	refs("by", e.ShadowedBy)
	if e.OppositeAction {
		s += "!"
	}
	refs("then", e.TakenOverBy)
	refs("vs", e.ConflictsWith)
	return s
}

func TestEffective(t *testing.T) {
	tests := []struct {
		name   string
		groups []*model.SecurityGroup
		x      *model.Instance
		others []*model.Instance
		want   map[string][]string // "direction/nic" → lines
	}{{
		name: "pooled order: priority, then drop before accept, then group order",
		groups: []*model.SecurityGroup{
			sg("sg-a", "vpc", "isolated", rl("a-web", "in accept 5 TCP 80/80 0.0.0.0/0"), rl("a-ssh", "in accept 1 TCP 22/22 10.0.0.0/8")),
			sg("sg-b", "vpc", "isolated", rl("b-deny", "in drop 5 TCP 80/80 192.0.2.0/24"), rl("b-all", "in drop 100 ALL -1/-1 0.0.0.0/0"))},
		x: vm("i-x", "vpc", "10.0.0.5", "sg-a", "sg-b"),
		want: map[string][]string{
			"ingress/intranet": {"1 a-ssh Accept live", "2 b-deny Drop live vs a-web", "3 a-web Accept live vs b-deny",
				"4 b-all Drop redundant then default", "5 default Drop live"},
			"egress/intranet": {"1 default Accept live"},
		},
	}, {
		name: "shadowed by one rule of the other action, and by a union of the same action",
		groups: []*model.SecurityGroup{sg("sg-a", "vpc", "isolated",
			rl("hide", "in drop 1 TCP 1/1024 0.0.0.0/0"),
			rl("ssh", "in accept 2 TCP 22/22 10.0.0.0/8"),
			rl("low", "in accept 3 TCP 8080/8080 10.0.0.0/9"),
			rl("high", "in accept 3 TCP 8080/8080 10.128.0.0/9"),
			rl("all", "in accept 4 TCP 8080/8080 10.0.0.0/8"))},
		x: vm("i-x", "vpc", "10.0.0.5", "sg-a"),
		want: map[string][]string{
			"ingress/intranet": {"1 hide Drop live", "2 ssh Accept shadowed by hide!",
				"3 low Accept redundant then all", "4 high Accept redundant then all", "5 all Accept shadowed by low,high", "6 default Drop live"},
			"egress/intranet": {"1 default Accept live"},
		},
	}, {
		name: "intra-group grants come first; a rule against the group's own members never acts",
		groups: []*model.SecurityGroup{
			sg("sg-a", "vpc", "basic", rl("no-peers", "in drop 1 ALL -1/-1 sg-a")),
			sg("sg-b", "vpc", "basic")},
		x:      vm("i-x", "vpc", "10.0.0.5", "sg-a", "sg-b"),
		others: []*model.Instance{vm("i-y", "vpc", "10.0.0.6", "sg-a", "sg-b")},
		want: map[string][]string{
			"ingress/intranet": {"1 intra:sg-a Accept live", "2 intra:sg-b Accept shadowed by intra:sg-a", "3 no-peers Drop shadowed by intra:sg-a!", "4 default Drop live"},
			"egress/intranet":  {"1 intra:sg-a Accept live", "2 intra:sg-b Accept shadowed by intra:sg-a", "3 default Accept live"},
		},
	}, {
		name:   "enterprise: no intra-group access, egress drops by default; an allow-all leaves the default idle",
		groups: []*model.SecurityGroup{sg("sg-e", "vpc", "enterprise", rl("out4", "out accept 1 ALL -1/-1 0.0.0.0/0"), rl("out6", "out accept 1 ALL -1/-1 ::/0"))},
		x:      vm("i-x", "vpc", "10.0.0.5,2001:db8::5", "sg-e"),
		want: map[string][]string{
			"ingress/intranet": {"1 default Drop live"},
			"egress/intranet":  {"1 out4 Accept live", "2 out6 Accept live", "3 default Drop shadowed"},
		},
	}, {
		name: "classic network: one policy per path",
		groups: []*model.SecurityGroup{sg("sg-c", "", "isolated",
			rl("web", "in accept 1 TCP 80/80 0.0.0.0/0 nic=internet"),
			rl("lan", "in accept 1 TCP 22/22 10.0.0.0/8 nic=intranet"))},
		x: vm("i-x", "", "10.0.0.5", "sg-c"),
		want: map[string][]string{
			"ingress/intranet": {"1 lan Accept live", "2 default Drop live"},
			"ingress/internet": {"1 web Accept live", "2 default Drop live"},
			"egress/intranet":  {"1 default Accept live"},
			"egress/internet":  {"1 default Accept live"},
		},
	}, {
		name: "a rule that can match nothing says why",
		groups: []*model.SecurityGroup{
			sg("sg-a", "vpc", "isolated", rl("empty", "in accept 1 TCP 22/22 sg-nobody"), rl("other", "in accept 1 TCP 80/80 0.0.0.0/0 local=10.9.9.9")),
			sg("sg-nobody", "vpc", "isolated")},
		x: vm("i-x", "vpc", "10.0.0.5", "sg-a"),
		want: map[string][]string{
			"ingress/intranet": {"1 empty Accept shadowed", "2 other Accept shadowed", "3 default Drop live"},
			"egress/intranet":  {"1 default Accept live"},
		},
	}, {
		name:   "a rule for a secondary IPv4 address only decides there",
		groups: []*model.SecurityGroup{sg("sg-a", "vpc", "isolated", rl("web", "in accept 1 TCP 80/80 0.0.0.0/0 local=10.0.0.6"))},
		x:      secondary(vm("i-x", "vpc", "10.0.0.5", "sg-a"), "10.0.0.6"),
		want: map[string][]string{
			"ingress/intranet": {"1 web Accept live", "2 default Drop live"},
			"egress/intranet":  {"1 default Accept live"},
		},
	}, {
		name:   "a rule for a second IPv6 address only decides there",
		groups: []*model.SecurityGroup{sg("sg-a", "vpc", "isolated", rl("web6", "in accept 1 TCP 80/80 ::/0 local=2408:4000:0:1::6/128"))},
		x:      moreIPv6(vm("i-x", "vpc", "10.0.0.5,2408:4000:0:1::5", "sg-a"), "2408:4000:0:1::6"),
		want: map[string][]string{
			"ingress/intranet": {"1 web6 Accept live", "2 default Drop live"},
			"egress/intranet":  {"1 default Accept live"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloud := policy.NewCloud(tt.groups, append([]*model.Instance{tt.x}, tt.others...), nil)
			pols, err := effective.Of(cloud, tt.x.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(pols) != len(tt.want) {
				t.Fatalf("%d policies, want %d", len(pols), len(tt.want))
			}
			for _, p := range pols {
				var got []string
				for _, e := range p.Entries {
					got = append(got, line(e))
					if e.Status == "shadowed" && len(e.ShadowedBy) == 0 && e.Note == "" {
						t.Errorf("%s: shadowed by nothing and no note", line(e))
					}
				}
				want := tt.want[string(p.Direction)+"/"+string(p.NIC)]
				if !slices.Equal(got, want) {
					t.Errorf("%s/%s:\n got  %q\n want %q", p.Direction, p.NIC, got, want)
				}
			}
			if _, err := json.Marshal(pols); err != nil {
				t.Errorf("not JSON-friendly: %v", err)
			}
		})
	}
	if _, err := effective.Of(policy.NewCloud(nil, nil, nil), "i-nope"); err == nil {
		t.Error("an unknown instance must be an error")
	}
}

// secondary gives an instance a secondary private IPv4 address.
func secondary(in *model.Instance, a string) *model.Instance {
	in.SecondaryIPs = append(in.SecondaryIPs, netip.MustParseAddr(a))
	return in
}

// moreIPv6 gives an instance a further IPv6 address.
func moreIPv6(in *model.Instance, a string) *model.Instance {
	in.MoreIPv6 = append(in.MoreIPv6, netip.MustParseAddr(a))
	return in
}
