package reachtest

import (
	"math/rand/v2"
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// Changes prepares snapshots that each differ from base by one change: a
// rule's ports in a group with members, and an instance joining a group.
func Changes(gen *cloudgen.Cloud) (base *policy.Cloud, alts []*policy.Cloud, chs []reach.Change) {
	base = gen.Snapshot()
	rng := rand.New(rand.NewPCG(3, 4))
	// A rule change: a group with members gets a new allow of TCP 7777
	// from anywhere (so that the change opens flows).
	ruled := Copy(gen)
	for _, i := range rng.Perm(len(ruled.Groups)) {
		g := ruled.Groups[i]
		if len(base.Members(g.ID)) > 0 && g.Type == model.Normal {
			g.Rules = append(g.Rules, model.Rule{ID: "sgr-bench", Direction: model.Ingress, Policy: model.Accept, Priority: 1,
				Protocol: model.TCP, PortRange: model.PortRange{Start: 7777, End: 7777}, NicType: model.Intranet,
				Peer: model.Peer{CIDR: netip.MustParsePrefix("0.0.0.0/0")}})
			alts, chs = append(alts, ruled.Snapshot()), append(chs, reach.Change{Groups: []string{g.ID}})
			break
		}
	}
	// A membership change: an instance joins a second group of its type.
	joined := Copy(gen)
	for _, i := range rng.Perm(len(joined.Instances)) {
		in := joined.Instances[i]
		first := base.Groups[in.SecurityGroups[0]]
		k := slices.IndexFunc(joined.Groups, func(g *model.SecurityGroup) bool {
			return g.VpcID == in.VpcID && g.Type == first.Type && !slices.Contains(in.SecurityGroups, g.ID)
		})
		if k >= 0 && len(in.SecurityGroups) < 5 {
			in.SecurityGroups = append(in.SecurityGroups, joined.Groups[k].ID)
			alts, chs = append(alts, joined.Snapshot()), append(chs, reach.Change{Instances: []string{in.ID}})
			break
		}
	}
	return base, alts, chs
}
