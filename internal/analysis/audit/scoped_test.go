package audit

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestScopedSameAsWhole holds RunScoped to Run: on random clouds, after a
// random change (rules added and removed, peers, intra-group access,
// members joining and leaving, addresses, tags, names, groups and
// instances created and deleted, a prefix list edited), the scoped audit
// from the findings before gives the whole audit's findings after, in
// the same order. Every other seed audits as a server does for tenants
// (PerAccount), with another account's groups among the peers; every third
// has its /0 blocks split in halves.
func TestScopedSameAsWhole(t *testing.T) {
	cfg := cloudgen.Config{VPCs: 2, Groups: 10, Instances: 30, RulesPerGroup: 8, PrefixLists: 2, PortRangeLists: 2,
		MaxGroups: 3, PublicShare: 0.4, IPv6Share: 0.3, Enterprise: 0.3, MoreIPv6Share: 0.5}
	tenants := cfg
	tenants.OtherAccount = 0.3
	seeds := 60
	if testing.Short() {
		seeds = 20
	}
	scoped, unknown := 0, 0
	for seed := range uint64(seeds) {
		o := Options{PerAccount: seed%2 == 1}
		gen := cloudgen.Generate(seed+1, cfg)
		if o.PerAccount {
			gen = cloudgen.Generate(seed+1, tenants)
		}
		if seed%3 == 2 {
			splitWorld(gen, false) // no address left that no rule names
		}
		rng := rand.New(rand.NewPCG(seed, 7))
		for _, in := range gen.Instances { // tags, so that SGA-014 and SGA-019 judge something
			in.Tags = randomTags(rng)
		}
		before := snapshot(gen)
		prev := RunResult(before, o, nil)
		for step := range 3 {
			var what []string
			for range 1 + rng.IntN(2) {
				what = append(what, mutate(rng, gen))
			}
			after := snapshot(gen)
			if sc, ok := scopeOf(before, after); ok && len(sc.instances) < len(after.Instances) {
				scoped++
			}
			var r *reach.Result
			if step == 1 {
				r = reach.Compute(after, reach.Options{})
			}
			got := RunScopedResult(before, prev, after, o, r)
			want := RunResult(after, o, nil)
			if d := firstDiff(got.Findings, want.Findings); d != "" {
				t.Fatalf("seed %d step %d after %v: %s", seed+1, step, what, d)
			}
			if !slices.Equal(got.Unknown, want.Unknown) {
				t.Fatalf("seed %d step %d after %v: unknown\n%v\nwant\n%v", seed+1, step, what, got.Unknown, want.Unknown)
			}
			unknown += len(want.Unknown)
			if fs := RunScoped(before, prev.Findings, after, o, r); firstDiff(fs, want.Findings) != "" {
				t.Fatalf("seed %d step %d after %v: RunScoped's findings are not RunScopedResult's", seed+1, step, what)
			}
			before, prev = after, want
		}
	}
	if scoped == 0 {
		t.Error("no change was scoped: the test judges only whole audits")
	}
	if unknown == 0 {
		t.Error("no rule of unknown standing: the test judges none kept or judged again")
	}
}

func firstDiff(got, want []Finding) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("finding %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d findings, want %d", len(got), len(want))
	}
	return ""
}

// snapshot indexes a generated cloud with its instances in ID order, as
// a server lists them.
func snapshot(gen *cloudgen.Cloud) *policy.Cloud {
	insts := slices.Clone(gen.Instances)
	slices.SortFunc(insts, func(a, b *model.Instance) int { return cmp.Compare(a.ID, b.ID) })
	return policy.NewCloud(gen.Groups, insts, gen.PrefixLists).WithPortRangeLists(gen.PortRangeLists)
}

func randomTags(rng *rand.Rand) []model.Tag {
	var tags []model.Tag
	if env := []string{"", "prod", "dev", "test"}[rng.IntN(4)]; env != "" {
		tags = append(tags, model.Tag{Key: "env", Value: env})
	}
	if rng.IntN(2) == 0 {
		tags = append(tags, model.Tag{Key: "owner", Value: "team"}, model.Tag{Key: "app", Value: "web"})
	}
	return tags
}

// mutate makes one random change to the cloud, replacing what it changes
// by a copy (the snapshot before keeps the old records), and says what.
func mutate(rng *rand.Rand, gen *cloudgen.Cloud) string {
	gi := rng.IntN(len(gen.Groups))
	g := *gen.Groups[gi]
	g.Rules = slices.Clone(g.Rules)
	ii := rng.IntN(len(gen.Instances))
	in := *gen.Instances[ii]
	in.SecurityGroups = slices.Clone(in.SecurityGroups)
	setGroup := func() { gen.Groups[gi] = &g }
	setInst := func() { gen.Instances[ii] = &in }
	switch k := rng.IntN(13); k {
	case 0, 1: // a rule from another group, maybe naming a group as peer
		src := gen.Groups[rng.IntN(len(gen.Groups))]
		if len(src.Rules) == 0 {
			return "nothing"
		}
		r := src.Rules[rng.IntN(len(src.Rules))]
		if r.Peer.GroupID != "" || rng.IntN(3) == 0 {
			peer := gen.Groups[rng.IntN(len(gen.Groups))]
			r.Peer = model.Peer{GroupID: peer.ID, GroupOwner: peer.Owner}
			if peer.VpcID != g.VpcID {
				r.Peer = model.Peer{CIDR: netip.MustParsePrefix("0.0.0.0/0")}
			}
		}
		r.ID = fmt.Sprintf("sgr-new%d", rng.Uint32())
		g.Rules = append(g.Rules, r)
		setGroup()
		return "rule added to " + g.ID
	case 2:
		if len(g.Rules) == 0 {
			return "nothing"
		}
		k := rng.IntN(len(g.Rules))
		g.Rules = slices.Delete(g.Rules, k, k+1)
		setGroup()
		return "rule removed from " + g.ID
	case 3:
		g.Description, g.Name = fmt.Sprint("desc ", rng.IntN(3)), fmt.Sprint("name-", rng.IntN(3))
		g.Tags = randomTags(rng)
		setGroup()
		return "group described " + g.ID
	case 4:
		if g.Type == model.Normal {
			g.InnerAccessPolicy = map[string]string{model.InnerAccept: model.InnerDrop, model.InnerDrop: model.InnerAccept}[g.InnerAccessPolicy]
			setGroup()
		}
		return "intra toggled " + g.ID
	case 5: // join
		if len(in.SecurityGroups) < 5 && gen.Groups[gi].VpcID == in.VpcID && gen.Groups[gi].Type == groupType(gen, in.SecurityGroups[0]) &&
			!slices.Contains(in.SecurityGroups, g.ID) {
			in.SecurityGroups = append(in.SecurityGroups, g.ID)
			setInst()
		}
		return in.ID + " joined " + g.ID
	case 6: // leave
		if len(in.SecurityGroups) > 1 {
			in.SecurityGroups = in.SecurityGroups[1:]
			setInst()
		}
		return in.ID + " left a group"
	case 7:
		in.Tags = randomTags(rng)
		in.Name = fmt.Sprint("vm-", rng.IntN(5))
		setInst()
		return "tagged " + in.ID
	case 8:
		if in.PublicIP.IsValid() {
			in.PublicIP = netip.Addr{}
		} else {
			in.PublicIP = netip.AddrFrom4([4]byte{192, 0, 2, byte(200 + rng.IntN(50))})
		}
		setInst()
		return "public address of " + in.ID
	case 9: // a new instance
		n := in
		n.ID = fmt.Sprintf("i-new%d", rng.Uint32())
		n.PrivateIP = netip.AddrFrom4([4]byte{10, n.PrivateIP.As4()[1], 200, byte(rng.IntN(250))})
		n.IPv6, n.PublicIP = netip.Addr{}, netip.Addr{}
		gen.Instances = append(gen.Instances, &n)
		return "created " + n.ID
	case 10:
		gen.Instances = slices.Delete(gen.Instances, ii, ii+1)
		return "deleted " + in.ID
	case 11: // a group deleted, with its members' memberships
		for k, m := range gen.Instances {
			if slices.Contains(m.SecurityGroups, g.ID) {
				if len(m.SecurityGroups) == 1 {
					return "nothing"
				}
				c := *m
				c.SecurityGroups = slices.DeleteFunc(slices.Clone(m.SecurityGroups), func(s string) bool { return s == g.ID })
				gen.Instances[k] = &c
			}
		}
		gen.Groups = slices.Delete(gen.Groups, gi, gi+1)
		return "deleted " + g.ID
	default:
		if len(gen.PrefixLists) == 0 {
			return "nothing"
		}
		pl := *gen.PrefixLists[0]
		pl.Entries = pl.Entries[:max(0, len(pl.Entries)-1)]
		gen.PrefixLists[0] = &pl
		return "prefix list edited"
	}
}

func groupType(gen *cloudgen.Cloud, id string) model.GroupType {
	for _, g := range gen.Groups {
		if g.ID == id {
			return g.Type
		}
	}
	return ""
}
