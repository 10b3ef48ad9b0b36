package space_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// standings is what a reader learns of a space: each rule's standing with
// the entries that block it or would take over, the overlapping pairs and
// the default's standing.
func standings(s *space.Space) string {
	var b strings.Builder
	for i, r := range s.Program.Rules {
		fmt.Fprintf(&b, "%s %s", r.ID, s.Status(i))
		switch s.Status(i) {
		case space.Shadowed:
			for _, x := range s.Blockers(i) {
				fmt.Fprintf(&b, " by %s", name(s, x.By))
			}
		case space.Redundant:
			for _, d := range s.Rules[i].Takeover {
				fmt.Fprintf(&b, " then %s", name(s, d))
			}
		}
		b.WriteString("; ")
	}
	for _, c := range s.Correlations() {
		fmt.Fprintf(&b, "%s/%s overlap; ", s.Program.Rules[c.Drop].ID, s.Program.Rules[c.Accept].ID)
	}
	fmt.Fprintf(&b, "default hit=%v unknown=%v", s.DefaultHit, s.DefaultUnknown)
	return b.String()
}

// TestBuildHidingHidesMembers: on the classic network account A's group
// names account B's group sg-b. The members B's group has (none, one at
// the address A's other rule names, one elsewhere) change A's exact
// standings, so a reader of them learns whether and where B's group has
// members (each case shows it); A's
// standings as BuildHiding gives them are the same whatever the members,
// and each holds for all of them.
func TestBuildHidingHidesMembers(t *testing.T) {
	const b = "2"
	tests := []struct {
		name  string
		rules []model.Rule
		want  string // the standings A sees, whatever sg-b's members
	}{
		{
			name: "a block inside the classic network after the group",
			rules: []model.Rule{
				rl("grp", "in accept 1 TCP 22/22 sg-b nic=intranet owner="+b),
				rl("one", "in accept 2 TCP 22/22 10.0.0.20/32 nic=intranet"),
			},
			want: "grp unknown; one unknown; default hit=true unknown=false",
		},
		{
			name: "a drop of the group before an allow of its address",
			rules: []model.Rule{
				rl("nob", "in drop 1 TCP 22/22 sg-b nic=intranet owner="+b),
				rl("one", "in accept 2 TCP 22/22 10.0.0.20/32 nic=intranet"),
			},
			want: "nob unknown; one unknown; default hit=true unknown=false",
		},
		{
			name: "the internet is outside every member's reach",
			rules: []model.Rule{
				rl("grp", "in drop 1 TCP 22/22 sg-b nic=intranet owner="+b),
				rl("any", "in accept 2 TCP 22/22 0.0.0.0/0 nic=intranet"),
			},
			want: "grp unknown; any live; default hit=true unknown=false",
		},
		{
			name: "the group behind the whole classic network",
			rules: []model.Rule{
				rl("net", "in accept 1 TCP 1/100 10.0.0.0/8 nic=intranet"),
				rl("grp", "in drop 2 TCP 22/22 sg-b nic=intranet owner="+b),
			},
			// Hidden from the whole block, where A's own member is too.
			want: "net live; grp shadowed by net by intra:sg-a; default hit=true unknown=false",
		},
		{
			name: "other ports are exact",
			rules: []model.Rule{
				rl("grp", "in accept 1 TCP 22/22 sg-b nic=intranet owner="+b),
				rl("web", "in accept 2 TCP 80/80 10.0.0.20/32 nic=intranet"),
				rl("web2", "in accept 3 TCP 80/80 10.0.0.0/24 nic=intranet"),
			},
			want: "grp unknown; web redundant then web2; web2 live; default hit=true unknown=false",
		},
		{
			name: "a conflict with the group is not told",
			rules: []model.Rule{
				rl("nob", "in drop 1 TCP 22/22 sg-b nic=intranet owner="+b),
				rl("one", "in accept 1 TCP 22/22 10.0.0.20/32 nic=intranet"),
			},
			want: "nob unknown; one unknown; default hit=true unknown=false",
		},
		{
			name: "the default behind the group",
			rules: []model.Rule{
				rl("grp", "in accept 1 ALL -1/-1 sg-b nic=intranet owner="+b),
				rl("out", "in drop 2 ALL -1/-1 0.0.0.0/0 nic=intranet"),
				rl("out6", "in drop 2 ALL -1/-1 ::/0 nic=intranet"),
			},
			want: "grp unknown; out redundant then default; out6 redundant then default; default hit=false unknown=false",
		},
		{
			name: "the group may take over an allow",
			rules: []model.Rule{
				rl("one", "in accept 1 TCP 22/22 10.0.0.20/32 nic=intranet"),
				rl("nob", "in drop 2 TCP 22/22 sg-b nic=intranet owner="+b),
				rl("net", "in accept 3 TCP 22/22 10.0.0.0/8 nic=intranet"),
			},
			want: "one unknown; nob unknown; net unknown; default hit=true unknown=false",
		},
		{
			name: "the group may take over from a redundant allow",
			rules: []model.Rule{
				rl("one", "in accept 1 TCP 22/22 0.0.0.0/0 nic=intranet"),
				rl("nob", "in drop 2 TCP 22/22 sg-b nic=intranet owner="+b),
				rl("all", "in accept 3 TCP 22/22 0.0.0.0/0 nic=intranet"),
			},
			want: "one unknown; nob shadowed by one by intra:sg-a; all shadowed by one by intra:sg-a; default hit=true unknown=false",
		},
		{
			name: "a later allow of the group keeps a redundant allow",
			rules: []model.Rule{
				rl("one", "in accept 1 TCP 22/22 0.0.0.0/0 nic=intranet"),
				rl("grp", "in accept 2 TCP 22/22 sg-b nic=intranet owner="+b),
				rl("all", "in accept 3 TCP 1/100 0.0.0.0/0 nic=intranet"),
			},
			want: "one redundant then all; grp shadowed by one by intra:sg-a; all live; default hit=true unknown=false",
		},
		{
			// The group may hold any of the block (so far as A knows).
			name: "an allow behind the group",
			rules: []model.Rule{
				rl("grp", "in accept 1 TCP 22/22 sg-b nic=intranet owner="+b),
				rl("net", "in accept 2 TCP 22/22 10.0.0.0/8 nic=intranet"),
			},
			want: "grp unknown; net unknown; default hit=true unknown=false",
		},
	}
	members := []struct{ name, addr string }{{"none", ""}, {"at 10.0.0.20", "10.0.0.20"}, {"at 10.0.0.30", "10.0.0.30"}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exact := map[string]bool{}
			for _, m := range members {
				a := sg("sg-a", "", "basic", tc.rules...)
				a.Owner = "1"
				gb := sg("sg-b", "", "basic")
				gb.Owner = b
				x := vm("i-a", "", "10.0.0.5", "sg-a")
				x.Owner = "1"
				ins := []*model.Instance{x}
				if m.addr != "" {
					y := vm("i-b", "", m.addr, "sg-b")
					y.Owner = b
					ins = append(ins, y)
				}
				c := policy.NewCloud([]*model.SecurityGroup{a, gb}, ins, nil)
				res := space.NewResolver(c)
				p := c.Program(x, model.Ingress, model.Intranet)
				o := space.Options{AllSourcePorts: true, Local4: x.PrivateIP}
				if got := standings(space.BuildHiding(res, &p, o, space.HiddenFrom(c, "1"))); got != tc.want {
					t.Errorf("sg-b's member %s: A sees\n  %s\nwant\n  %s", m.name, got, tc.want)
				}
				// B's, or the operator's, exact view.
				if got, same := standings(space.BuildHiding(res, &p, o, space.HiddenFrom(c, ""))), standings(space.Build(res, &p, o)); got != same {
					t.Errorf("sg-b's member %s: the exact view is\n  %s\nnot Build's\n  %s", m.name, got, same)
				}
				exact[standings(space.Build(res, &p, o))] = true
			}
			if len(exact) == 1 {
				t.Errorf("the exact standings are the same whatever sg-b's members (%v): the case shows no leak", exact)
			}
		})
	}
}

// TestBuildHidingSound holds BuildHiding to Build on random clouds with
// another account's groups: for each program, the members of the groups
// it hides are drawn again (other instances of their network join or
// leave them) several times; the standings it gives are the same for
// every draw, and each that is not unknown is Build's in every draw.
func TestBuildHidingSound(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 8
	}
	checked := map[space.Status]int{}
	for seed := range uint64(seeds) {
		cfg := cloudgen.Full
		if seed%2 == 1 { // rules that tell a NIC's IPv6 addresses apart
			cfg = cloudgen.MoreIPv6
		}
		gen := cloudgen.Generate(seed+5100, cfg)
		rng := rand.New(rand.NewPCG(seed, 77))
		base := gen.Snapshot()
		for _, x := range gen.Instances[:min(4, len(gen.Instances))] {
			hidden := space.HiddenFrom(base, x.Owner)
			for _, dir := range []model.Direction{model.Ingress, model.Egress} {
				for _, nic := range policy.RuleSets(base.GroupsOf(x)) {
					var seen string
					for draw := range 6 {
						c := base
						if draw > 0 {
							c = redraw(rng, gen, x, hidden)
						}
						res := space.NewResolver(c)
						in := c.Instances[x.ID]
						p := c.Program(in, dir, nic)
						o := space.Options{AllSourcePorts: true, Local4: in.PrivateIP, Local6: in.IPv6}
						got := space.BuildHiding(res, &p, o, space.HiddenFrom(c, x.Owner))
						exact := space.Build(res, &p, o)
						where := fmt.Sprintf("seed %d %s %s/%s draw %d", seed+5100, x.ID, dir, nic, draw)
						if s := standings(got); draw == 0 {
							seen = s
						} else if s != seen {
							t.Fatalf("%s: the standings depend on the hidden members:\n  %s\nbefore\n  %s", where, s, seen)
						}
						for i, r := range p.Rules {
							st := got.Status(i)
							checked[st]++
							if st != space.Unknown && st != exact.Status(i) {
								t.Errorf("%s: rule %s of %s is %s, but %s with these members", where, r.ID, r.Group.ID, st, exact.Status(i))
							}
						}
						if !got.DefaultUnknown && got.DefaultHit != exact.DefaultHit {
							t.Errorf("%s: the default hit=%v, but %v with these members", where, got.DefaultHit, exact.DefaultHit)
						}
					}
				}
			}
		}
	}
	t.Logf("standings checked: %v", checked)
	for _, st := range []space.Status{space.Live, space.Shadowed, space.Redundant, space.Unknown} {
		if checked[st] == 0 {
			t.Errorf("no rule was %s: the clouds test too little", st)
		}
	}
}

// redraw returns the cloud with the members of the groups hidden from x's
// owner drawn again: each instance of a group's network (the classic
// network's instances for a classic group, a VPC's for its groups) but x
// joins or leaves it at random. (The rules and every other group stay.)
func redraw(rng *rand.Rand, gen *cloudgen.Cloud, x *model.Instance, hidden space.Hidden) *policy.Cloud {
	var ins []*model.Instance
	for _, in := range gen.Instances {
		cp := *in
		cp.SecurityGroups = slices.Clone(in.SecurityGroups)
		if in.ID != x.ID {
			for _, g := range gen.Groups {
				if !hidden(g.ID) || g.VpcID != in.VpcID || slices.Contains(x.SecurityGroups, g.ID) {
					continue
				}
				i := slices.Index(cp.SecurityGroups, g.ID)
				switch {
				case i >= 0 && rng.IntN(2) == 0:
					cp.SecurityGroups = slices.Delete(cp.SecurityGroups, i, i+1)
				case i < 0 && rng.IntN(3) == 0:
					cp.SecurityGroups = append(cp.SecurityGroups, g.ID)
				}
			}
		}
		ins = append(ins, &cp)
	}
	return policy.NewCloud(gen.Groups, ins, gen.PrefixLists).WithPortRangeLists(gen.PortRangeLists)
}

// TestBuildHidingManyGroups: a rule naming a hidden group is told
// shadowed, whatever the group's members, by a build with that group at
// its whole scope: a build per group. Past four hidden groups in one
// program such rules are unknown instead (a policy may name a hundred, and
// a tenant's audit would take a build for each); the rest is as before.
func TestBuildHidingManyGroups(t *testing.T) {
	for _, n := range []int{1, 4, 5, 8} {
		t.Run(fmt.Sprint(n, " groups"), func(t *testing.T) {
			rules := []model.Rule{rl("all", "in accept 1 TCP 22/22 0.0.0.0/0 nic=intranet")}
			groups := []*model.SecurityGroup{nil}
			for i := range n {
				id := fmt.Sprint("sg-b", i)
				rules = append(rules, rl(fmt.Sprint("grp", i), "in accept 2 TCP 22/22 "+id+" nic=intranet owner=2"))
				g := sg(id, "", "basic")
				g.Owner = "2"
				groups = append(groups, g)
			}
			a := sg("sg-a", "", "basic", rules...)
			a.Owner = "1"
			groups[0] = a
			x := vm("i-a", "", "10.0.0.5", "sg-a")
			x.Owner = "1"
			c := policy.NewCloud(groups, []*model.Instance{x}, nil)
			p := c.Program(x, model.Ingress, model.Intranet)
			s := space.BuildHiding(space.NewResolver(c), &p, space.Options{AllSourcePorts: true, Local4: x.PrivateIP}, space.HiddenFrom(c, "1"))
			want := space.Shadowed // behind the accept of every source on the port
			if n > 4 {
				want = space.Unknown
			}
			if st := s.Status(0); st != space.Live {
				t.Errorf("the accept of every source is %s, want live", st)
			}
			for i := 1; i <= n; i++ {
				if st := s.Status(i); st != want {
					t.Errorf("rule %s naming a hidden group is %s, want %s", s.Program.Rules[i].ID, st, want)
				}
			}
		})
	}
}
