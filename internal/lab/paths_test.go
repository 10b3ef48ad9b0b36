package lab

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// With no filter but the lab's own, the kernel must deliver exactly the
// flows the model's network carries: every protocol between every pair of
// endpoints of a hand-made cloud.
func TestPathsMatchModel(t *testing.T) {
	needRoot(t)
	cloud := handCloud()
	l := upLab(t, SpecFromCloud(cloud, testLabName(t, "p"), 2, []netip.Addr{outside4, outside6}))
	checkAgainstModel(t, l, cloud, everyFlow(cloud, l.Spec.Outside))
}

// The same with random flows (source ports, repeated flows, further IPv6
// addresses) over a random cloud on three hosts, its groups replaced by
// open ones.
func TestRandomPathsMatchModel(t *testing.T) {
	needRoot(t)
	gen := cloudgen.Generate(7, cloudgen.Small)
	var groups []*model.SecurityGroup
	for _, v := range gen.VPCs {
		groups = append(groups, openGroup("sg-open-"+v.ID, v.ID))
	}
	for _, in := range gen.Instances {
		in.SecurityGroups = []string{"sg-open-" + in.VpcID}
	}
	cloud := policy.NewCloud(groups, gen.Instances, nil)
	l := upLab(t, SpecFromCloud(cloud, testLabName(t, "r"), 3, gen.Outside))
	checkAgainstModel(t, l, cloud, gen.AtMoreIPv6(gen.Flows(7, 400), 7)) // some at further IPv6 addresses
}

// everyFlow lists each protocol, in each family the ends allow, between
// every ordered pair of endpoints with an instance at one end at least.
func everyFlow(c *policy.Cloud, outside []netip.Addr) []policy.Flow {
	var ends []string
	for id := range c.Instances {
		ends = append(ends, id)
	}
	slices.Sort(ends)
	for _, a := range outside {
		ends = append(ends, a.String())
	}
	var out []policy.Flow
	for _, from := range ends {
		for _, to := range ends {
			_, fromInst := c.Instances[from]
			_, toInst := c.Instances[to]
			if from == to || !fromInst && !toInst {
				continue
			}
			for _, v := range []int{4, 6} {
				if !fromInst && netip.MustParseAddr(from).Is6() != (v == 6) ||
					!toInst && netip.MustParseAddr(to).Is6() != (v == 6) {
					continue
				}
				echo := model.ICMP
				if v == 6 {
					echo = model.ICMPv6
				}
				out = append(out,
					policy.Flow{From: from, To: to, Protocol: model.TCP, Port: 22, IPVersion: v},
					policy.Flow{From: from, To: to, Protocol: model.UDP, Port: 53, IPVersion: v},
					policy.Flow{From: from, To: to, Protocol: echo, IPVersion: v},
					policy.Flow{From: from, To: to, Protocol: model.GRE, IPVersion: v})
			}
		}
	}
	return out
}

// checkAgainstModel probes every flow (as first packets, in batches that
// conntrack cannot tie together) and compares with policy.Evaluate:
// delivered exactly when accepted, with the addresses the model says each
// side sees (GRE probes read what arrived, after NAT).
func checkAgainstModel(t *testing.T, l *Lab, c *policy.Cloud, flows []policy.Flow) {
	t.Helper()
	results, err := ProbeFlows(context.Background(), l, flows, ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dec := policy.NewLinear(c)
	expected := make([]bool, len(flows))
	for i, f := range flows {
		res, err := policy.Evaluate(dec, f)
		expected[i] = err == nil && res.Verdict == policy.Accept
	}
	if err := Recheck(context.Background(), l, flows, results, expected); err != nil {
		t.Fatal(err)
	}
	var delivered, lost int
	for i, f := range flows {
		res, err := policy.Evaluate(dec, f)
		if err != nil {
			t.Fatalf("evaluate %+v: %v", f, err)
		}
		r := results[i]
		name := scenario.FlowText(f)
		if r.Err != nil {
			t.Errorf("%s: probe failed: %v", name, r.Err)
			continue
		}
		if want := res.Verdict == policy.Accept; r.Delivered != want {
			t.Errorf("%s: delivered %v (%s, %s -> %s), model says %s %s", name, r.Delivered, r.Detail, r.Src, r.Dst, res.Verdict, res.Path)
			continue
		}
		if !r.Delivered {
			lost++
			continue
		}
		delivered++
		src, dst := res.EgressPacket.Src, res.EgressPacket.Dst
		if res.Egress == nil { // from outside: it targets the public address
			src, dst = netip.MustParseAddr(f.From), l.byID[f.To].PublicIP
			if f.IPVersion == 6 || src.Is6() {
				dst = res.IngressPacket.Dst
			}
		}
		if r.Src != src || r.Dst != dst {
			t.Errorf("%s: sent %s -> %s, model says %s -> %s", name, r.Src, r.Dst, src, dst)
		}
		if f.Protocol != model.GRE {
			continue
		}
		seenSrc, seenDst := res.IngressPacket.Src, res.IngressPacket.Dst
		if res.Ingress == nil { // to outside: the sender's public address (IPv4) arrives
			seenSrc, seenDst = res.EgressPacket.Src, res.EgressPacket.Dst
			if seenSrc.Is4() {
				seenSrc = l.byID[f.From].PublicIP
			}
		}
		if r.SeenSrc != seenSrc || r.SeenDst != seenDst {
			t.Errorf("%s: destination saw %s -> %s, model says %s -> %s", name, r.SeenSrc, r.SeenDst, seenSrc, seenDst)
		}
	}
	t.Logf("%d flows: %d delivered, %d not", len(flows), delivered, lost)
	if delivered == 0 || lost == 0 {
		t.Errorf("expected both delivered and lost flows, got %d and %d: the comparison proves little", delivered, lost)
	}
}
