package nft

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// genCloud generates a random cloud and places it: most instances on host
// h1 behind pi-<n>, some on h2. With classic, the first VPC becomes the
// classic network and its rules get both NIC types.
func genCloud(seed uint64, cfg cloudgen.Config, classic bool) *policy.Cloud {
	g := cloudgen.Generate(seed, cfg)
	rng := rand.New(rand.NewPCG(seed, 7))
	for i, in := range g.Instances {
		in.Host, in.Interface = "h1", fmt.Sprintf("pi-%d", i)
		if rng.IntN(5) == 0 {
			in.Host = "h2"
		}
	}
	if classic && len(g.VPCs) > 0 {
		vpc := g.VPCs[0].ID
		for _, sg := range g.Groups {
			if sg.VpcID != vpc {
				continue
			}
			sg.VpcID = ""
			for i := range sg.Rules {
				if rng.IntN(2) == 0 {
					sg.Rules[i].NicType = model.Internet
				}
			}
		}
		for _, in := range g.Instances {
			if in.VpcID == vpc {
				in.VpcID = ""
			}
		}
	}
	return g.Snapshot()
}

const uplink = "eth0" // the host's fabric interface, not an instance's

// checkFlows plays flows through the ruleset and compares with the policy
// engine: the verdict of every side this host enforces, and the rule that
// decided (the only counted rule the packet matches in that side's chain).
func checkFlows(t *testing.T, c *policy.Cloud, rs *Ruleset, host string, flows []policy.Flow) (checked int) {
	t.Helper()
	lin := policy.NewLinear(c)
	local := func(id string) *model.Instance {
		if in := c.Instances[id]; in != nil && in.Host == host && in.Interface != "" {
			return in
		}
		return nil
	}
	for _, f := range flows {
		res, err := policy.Evaluate(lin, f)
		if err != nil || res.Path != "" {
			continue
		}
		src, dst := local(f.From), local(f.To)
		pass := func(iif, oif string, pkt policy.Packet, want []*policy.Decision) {
			t.Helper()
			sp := simPacket{iif: iif, oif: oif, src: pkt.Src, dst: pkt.Dst, proto: pkt.Proto, sport: pkt.SrcPort, dport: pkt.DstPort}
			got, hits, err := simulate(rs, sp)
			if err != nil {
				t.Fatalf("flow %+v: %v", f, err)
			}
			accept := true
			var wantHits []RuleKey
			for _, d := range want {
				if d.Reason == policy.ByRule {
					wantHits = append(wantHits, RuleKey{d.Rule.GroupID, d.Rule.RuleID})
				}
				if d.Verdict == policy.Drop {
					accept = false
					break
				}
			}
			if got != accept || fmt.Sprint(hits) != fmt.Sprint(wantHits) {
				t.Errorf("flow %+v as %v: got accept=%v hits %v; policy: %v (decided by %v)", f, sp, got, hits, res.Verdict, wantHits)
			}
			checked++
		}
		switch {
		case src != nil && dst != nil && res.EgressPacket == res.IngressPacket:
			// One crossing of the forward hook: egress chain, then ingress.
			pass(src.Interface, dst.Interface, res.EgressPacket, []*policy.Decision{res.Egress, res.Ingress})
		default:
			if src != nil {
				pass(src.Interface, uplink, res.EgressPacket, []*policy.Decision{res.Egress})
			}
			if dst != nil {
				pass(uplink, dst.Interface, res.IngressPacket, []*policy.Decision{res.Ingress})
			}
		}
	}
	return checked
}

// TestBuildMatchesPolicy plays random flows over random clouds through Build
// and BuildLinear and holds them against the policy engine.
func TestBuildMatchesPolicy(t *testing.T) {
	builds := map[string]func(*policy.Cloud, string, Options) *Ruleset{"Build": Build, "BuildLinear": BuildLinear,
		"Build+MergeRuns": func(c *policy.Cloud, host string, o Options) *Ruleset {
			o.MergeRuns = true
			return Build(c, host, o)
		}}
	for seed := uint64(1); seed <= 40; seed++ {
		for _, classic := range []bool{false, true} {
			c := genCloud(seed, cloudgen.Small, classic)
			flows := c2flows(seed, c)
			for name, build := range builds {
				t.Run(fmt.Sprintf("%s/seed%d/classic=%v", name, seed, classic), func(t *testing.T) {
					rs := build(c, "h1", Options{InterfacePrefix: "pi-"})
					if n := checkFlows(t, c, rs, "h1", flows); n < 50 {
						t.Fatalf("only %d crossings checked; the generator no longer exercises the host", n)
					}
				})
			}
		}
	}
}

// c2flows draws flows over a placed cloud with cloudgen, in a fixed order.
func c2flows(seed uint64, c *policy.Cloud) []policy.Flow {
	g := &cloudgen.Cloud{Outside: cloudgen.Generate(seed, cloudgen.Small).Outside}
	for _, in := range c.Instances {
		g.Instances = append(g.Instances, in)
	}
	slices.SortFunc(g.Instances, func(a, b *model.Instance) int { return strings.Compare(a.ID, b.ID) })
	return g.AtMoreIPv6(g.Flows(seed, 400), seed)
}
