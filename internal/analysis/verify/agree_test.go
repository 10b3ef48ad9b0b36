package verify

import (
	"fmt"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestAgreesOnRandomClouds holds verify, the linear reference evaluator
// and reach to one another on random clouds (the classic network,
// secondary ENIs and addresses, another account's groups included), with
// flows at the edges of the rules' ports and source ports: verify names
// the side's first matching rule and the reference's decision, and reach
// says the flow passes exactly when verify accepts it.
func TestAgreesOnRandomClouds(t *testing.T) {
	seeds := 150
	if testing.Short() {
		seeds = 30
	}
	accepted, total := 0, 0
	for seed := range uint64(seeds) {
		cfg := cloudgen.Full
		switch {
		case seed%2 == 1:
			cfg = cloudgen.Small
		case seed%4 == 2: // rules that tell a NIC's IPv6 addresses apart
			cfg = cloudgen.MoreIPv6
		}
		gen := cloudgen.Generate(seed+4000, cfg)
		c := gen.Snapshot()
		comp, lin := policy.Compile(c), policy.NewLinear(c)
		results := map[uint16]*reach.Result{}
		for _, f := range gen.AtMoreIPv6(gen.EdgeFlows(c, seed, 300), seed) {
			name := fmt.Sprintf("seed %d %s", seed+4000, fmtFlow(f))
			r, err := Flow(comp, f)
			ref, rerr := Flow(lin, f)
			if (err == nil) != (rerr == nil) {
				t.Fatalf("%s: verify error %v, reference error %v", name, err, rerr)
			}
			if err != nil {
				continue
			}
			if r.Verdict != ref.Verdict || r.Path != ref.Path || !sameSide(r.Egress, ref.Egress) || !sameSide(r.Ingress, ref.Ingress) {
				t.Fatalf("%s: verify and the reference disagree:\n%+v\n%+v", name, r, ref)
			}
			res, _ := policy.Evaluate(lin, f)
			checkSide(t, c, name, 0, r.Egress, model.Egress, res.EgressPacket)
			checkSide(t, c, name, 0, r.Ingress, model.Ingress, res.IngressPacket)

			total++
			if r.Verdict == string(policy.Accept) {
				accepted++
			}
			if f.FromAddr.IsValid() || f.ToAddr.IsValid() {
				continue // reach holds NICs at their first addresses only
			}
			sport := f.SourcePort
			if !f.Protocol.HasPorts() || sport == 0 {
				sport = policy.DefaultSourcePort
			}
			if results[sport] == nil {
				results[sport] = reach.Compute(c, reach.Options{SourcePort: sport})
			}
			pass, err := results[sport].Allows(f)
			if err != nil {
				t.Fatalf("%s: reach: %v", name, err)
			}
			if pass != (r.Verdict == string(policy.Accept)) {
				t.Fatalf("%s: reach says pass=%v, verify %s (egress %+v, ingress %+v)", name, pass, r.Verdict, r.Egress, r.Ingress)
			}
		}
	}
	if accepted < total/20 || accepted > total*19/20 {
		t.Errorf("%d of %d flows accepted: the clouds do not exercise both verdicts", accepted, total)
	}
}

func fmtFlow(f policy.Flow) string {
	return fmt.Sprintf("%s -> %s %s IPv%d port %d sport %d from %v to %v", f.From, f.To, f.Protocol, f.IPVersion, f.Port, f.SourcePort, f.FromAddr, f.ToAddr)
}

// TestPortZeroRefused: a TCP or UDP flow to port 0 is refused by verify,
// the engine and reach alike. The engine judged it (by the defaults: no
// rule can name port 0) while reach said it never passes; seed 4000 of
// the random clouds found it (i-gen1-4 -> 203.0.113.200 TCP 0: Accept by
// default outbound accept, reach: no).
func TestPortZeroRefused(t *testing.T) {
	gen := cloudgen.Generate(4000, cloudgen.Full)
	c := gen.Snapshot()
	r := reach.Compute(c, reach.Options{SourcePort: 1023})
	for _, proto := range []model.Protocol{model.TCP, model.UDP} {
		f := policy.Flow{From: "i-gen1-4", To: "203.0.113.200", Protocol: proto, Port: 0, SourcePort: 1023, IPVersion: 4}
		if _, err := ParseFlow(f.From, f.To, string(proto), "0", "1023", "4"); err == nil {
			t.Errorf("ParseFlow took %s port 0", proto)
		}
		if res, err := policy.Evaluate(policy.NewLinear(c), f); err == nil {
			t.Errorf("the engine judged %s port 0: %s", proto, res.Verdict)
		}
		if pass, err := r.Allows(f); err == nil {
			t.Errorf("reach judged %s port 0: pass=%v", proto, pass)
		}
		f.Port = 1
		if _, err := policy.Evaluate(policy.NewLinear(c), f); err != nil {
			t.Errorf("%s port 1: %v", proto, err)
		}
	}
}
