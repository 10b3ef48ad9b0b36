package kerneltest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"net/netip"

	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// played is a cloud placed in a lab with its policies in the hosts' kernels.
type played struct {
	lab      *lab.Lab
	cloud    *policy.Cloud // with every instance bound to its host and interface
	rulesets map[string]*nft.Ruleset
}

// play builds a lab for the cloud and applies each host's ruleset, built by
// the agent's compiler, straight to the host's kernel.
func play(t *testing.T, c *policy.Cloud, hosts int, outside []netip.Addr, o nft.Options) *played {
	t.Helper()
	l := testenv.UpLab(t, lab.SpecFromCloud(c, testenv.LabName("k"), hosts, outside))
	p := &played{lab: l, cloud: lab.Bind(c, l), rulesets: map[string]*nft.Ruleset{}}
	for _, h := range l.Spec.Hosts {
		k, err := nft.Open(l.HostNetns(h), o)
		if err != nil {
			t.Fatal(err)
		}
		rs := nft.Build(p.cloud, h, o)
		if len(rs.Problems) > 0 {
			t.Fatalf("host %s: the compiler left instances out: %s", h, strings.Join(rs.Problems, "; "))
		}
		if _, err := k.Apply(rs); err != nil {
			k.Close()
			t.Fatalf("host %s: apply: %v", h, err)
		}
		k.Close()
		p.rulesets[h] = rs
	}
	return p
}

// disagreement is one flow where the kernel and the engine differ.
type disagreement struct {
	flow   policy.Flow
	engine policy.Result
	kernel lab.ProbeResult
}

func (d disagreement) String() string {
	return fmt.Sprintf("%s v%d: engine %s (%s), kernel delivered=%v (%s)",
		scenario.FlowText(d.flow), d.flow.IPVersion,
		d.engine.Verdict, (&scenario.Scenario{}).Explain(d.engine), d.kernel.Delivered, d.kernel.Detail)
}

// compare sends every flow as a real packet (as first packets: see
// lab.ProbeFlows) and returns the flows where the kernel's verdict differs
// from the engine's.
func (p *played) compare(t *testing.T, flows []policy.Flow) (engine []policy.Result, kernel []lab.ProbeResult, diffs []disagreement) {
	t.Helper()
	d := policy.Compile(p.cloud)
	kernel, err := lab.ProbeFlows(context.Background(), p.lab, flows, lab.ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expected := make([]bool, len(flows))
	for i, f := range flows {
		res, err := policy.Evaluate(d, f)
		if err != nil {
			t.Fatalf("flow %d: %v", i, err)
		}
		engine = append(engine, res)
		expected[i] = res.Verdict == policy.Accept
	}
	if err := lab.Recheck(context.Background(), p.lab, flows, kernel, expected); err != nil {
		t.Fatal(err)
	}
	for i, f := range flows {
		res := engine[i]
		if kernel[i].Err != nil {
			t.Fatalf("flow %d (%s -> %s): probe: %v", i, f.From, f.To, kernel[i].Err)
		}
		if kernel[i].Delivered != (res.Verdict == policy.Accept) {
			diffs = append(diffs, disagreement{f, res, kernel[i]})
		}
	}
	return engine, kernel, diffs
}
