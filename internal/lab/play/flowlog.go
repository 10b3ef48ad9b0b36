package play

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// FlowCheck is what a played scenario's flow log recorded, held to the
// engine: Flows is the flows whose sides a flow log covered (a flow the
// network cannot carry, or between NICs no flow log can cover, such as
// classic-network ones, consults no policy or has nothing to record);
// Recorded those with a record for every side the engine decided; Agree
// those whose records name the engine's deciding rule on each side and
// whose actions make the kernel's verdict.
type FlowCheck struct {
	Flows, Recorded, Agree int
	Problems               []string // one line per flow that is not recorded or does not agree
}

// flowLogs turns a flow log on for the scenario's NICs: one per VPC (All,
// the shortest window), or one per ENI where the VPC is not a record of the
// NIC's owner. A flow log and its records are the NIC's owner's, so each
// account of the file has its own (the first tenant stands for the default
// owner, as Import makes it): with one for the first tenant alone, the NICs
// in another account's groups had no record, and a file whose every flow
// passed failed. It returns the callers who own them, to read the records.
func flowLogs(ctx context.Context, srv *server.Server, s *scenario.Scenario) ([]service.Caller, error) {
	first, err := srv.Ops.CallerOf(ctx, srv.Key.ID, Region, true)
	if err != nil {
		return nil, err
	}
	callers := map[string]service.Caller{scenario.DefaultOwner: first}
	var owners []service.Caller
	done := map[[2]string]bool{} // owner, VPC
	logged := loggedNICs(s)
	for _, nic := range s.NICs() {
		if !logged[nic.ID] || done[[2]string{nic.Owner, nic.VpcID}] {
			continue // not logged (see loggedNICs), or its VPC's flow log covers it
		}
		c, ok := callers[nic.Owner]
		if !ok {
			c = service.Caller{Account: nic.Owner, Region: Region}
			callers[nic.Owner] = c
		}
		if !slices.Contains(owners, c) {
			owners = append(owners, c)
		}
		create := func(typ, id string) error {
			_, err := srv.Ops.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: c, ResourceType: typ, ResourceID: id,
				TrafficType: model.TrafficAll, Interval: 1, Name: "lab-play"})
			return err
		}
		if err := create(model.FlowLogVPC, nic.VpcID); err == nil {
			done[[2]string{nic.Owner, nic.VpcID}] = true
			continue
		}
		if err := create(model.FlowLogENI, model.NICENI(nic)); err != nil {
			return nil, fmt.Errorf("flow log for %s: %w", nic.ID, err)
		}
	}
	return owners, nil
}

// loggedNICs are the NICs a flow log can cover; the others are played
// without one (check judges them all). A NIC is logged in a VPC, where the
// API names its ENI and traces the name back to it alone (a primary ENI
// eni-X leads to instance i-X: not to instances web1, web-1 or eni-X; a
// secondary ENI is named eni-…, and not eni-X beside an instance i-X), in
// groups of its own account whose IDs a record can carry
// (service.FlowRecordID: not "web tier"). Else its records were refused or filed under another NIC, and lab
// play failed files whose every flow passed.
func loggedNICs(s *scenario.Scenario) map[string]bool {
	secondary := map[string]bool{}
	for _, n := range s.ENIs {
		secondary[n.ID] = true
	}
	nics := s.NICs()
	named := map[string]int{}
	for _, nic := range nics {
		named[model.NICENI(nic)]++
	}
	recordable := func(nic *model.Instance) bool {
		for _, g := range s.Groups {
			if !slices.Contains(nic.SecurityGroups, g.ID) {
				continue
			}
			if g.Owner != nic.Owner || !service.FlowRecordID(g.ID) || slices.ContainsFunc(g.Rules, func(r model.Rule) bool { return !service.FlowRecordID(r.ID) }) {
				return false
			}
		}
		return true
	}
	out := map[string]bool{}
	for _, nic := range nics {
		eni := model.NICENI(nic)
		traced := eni == nic.ID && secondary[nic.ID] || !secondary[nic.ID] && model.DerivedID("i", eni) == nic.ID
		if nic.VpcID != "" && model.HasPrefix(eni, "eni") && traced && named[eni] == 1 && recordable(nic) {
			out[nic.ID] = true
		}
	}
	return out
}

// checkFlows holds the records to the engine's decisions and the kernel's
// verdicts of the rows.
func checkFlows(s *scenario.Scenario, rows []Row, results []policy.Result, recs []service.FlowRecord) *FlowCheck {
	// Each side's NIC is the flow's end, not the NIC holding the packet's
	// address: two VPCs may give theirs the same addresses.
	cloud := s.Cloud()
	logged := loggedNICs(s)
	nicOf := func(end string) (string, bool) {
		nic := cloud.Instances[end]
		if nic == nil || !logged[nic.ID] {
			return "", false // outside, or its records, if any, name an ENI ID it shares with others
		}
		return model.NICENI(nic), true
	}
	type side struct {
		eni, dir string
		dec      policy.Decision
	}
	out := &FlowCheck{}
	for i, res := range results {
		if res.Path != "" || rows[i].NotPlayed != "" {
			continue // no policy consulted, or no packet sent
		}
		pkts := []policy.Packet{res.EgressPacket, res.IngressPacket}
		var sides []side
		decided := 0 // sides the engine decided (an egress drop: the ingress side never sees it)
		if d := res.Egress; d != nil {
			decided++
			if eni, ok := nicOf(s.Flows[i].From); ok {
				sides = append(sides, side{eni, "out", *d})
			}
		}
		if d := res.Ingress; d != nil && (res.Egress == nil || res.Egress.Verdict == policy.Accept) {
			decided++
			if eni, ok := nicOf(s.Flows[i].To); ok {
				sides = append(sides, side{eni, "in", *d})
			}
		}
		if len(sides) == 0 {
			continue
		}
		out.Flows++
		var missing, wrong []string
		accepted := true
		for _, sd := range sides {
			i := slices.IndexFunc(recs, func(r service.FlowRecord) bool {
				if r.EniId != sd.eni || r.Direction != sd.dir {
					return false
				}
				for _, pk := range pkts {
					if r.SrcAddr == pk.Src.String() && r.DstAddr == pk.Dst.String() && r.Protocol == int(pk.Proto) &&
						r.DstPort == int(pk.DstPort) && r.SrcPort == int(pk.SrcPort) {
						return true
					}
				}
				return false
			})
			if i < 0 {
				missing = append(missing, sd.eni+" "+sd.dir)
				continue
			}
			r := recs[i]
			accepted = accepted && r.Action == "ACCEPT"
			if got := recordDecision(r); !sameDecision(got, sd.dec) || r.Action != actionOf(sd.dec.Verdict) {
				wrong = append(wrong, fmt.Sprintf("%s %s: record %s %s, engine %s", sd.eni, sd.dir, r.Action, got, sd.dec))
			}
		}
		row := rows[i]
		switch {
		case len(missing) > 0:
			out.Problems = append(out.Problems, fmt.Sprintf("line %d %s: no record of %s", row.Line, row.Flow, strings.Join(missing, ", ")))
			continue
		case len(sides) == decided && (row.Kernel == policy.Accept) != accepted:
			wrong = append(wrong, fmt.Sprintf("the records say %s, the kernel %s", map[bool]string{true: "ACCEPT", false: "REJECT"}[accepted], row.Kernel))
		}
		out.Recorded++
		if len(wrong) > 0 {
			out.Problems = append(out.Problems, fmt.Sprintf("line %d %s: %s", row.Line, row.Flow, strings.Join(wrong, "; ")))
			continue
		}
		out.Agree++
	}
	return out
}

// recordDecision is a record's deciding entry as the engine states it.
func recordDecision(r service.FlowRecord) policy.Decision {
	d := policy.Decision{Reason: policy.Reason(r.Reason), Verdict: policy.Drop}
	if r.Action == "ACCEPT" {
		d.Verdict = policy.Accept
	}
	switch d.Reason {
	case policy.ByRule:
		d.Rule = &policy.RuleRef{GroupID: r.SecurityGroupId, RuleID: r.SecurityGroupRuleId, Priority: r.Priority, Policy: model.Policy(strings.ToLower(r.Policy))}
	case policy.IntraGroup:
		d.Group = r.SecurityGroupId
	}
	return d
}

func sameDecision(a, b policy.Decision) bool {
	if a.Reason != b.Reason || a.Verdict != b.Verdict || a.Group != b.Group || (a.Rule == nil) != (b.Rule == nil) {
		return false
	}
	return a.Rule == nil || a.Rule.GroupID == b.Rule.GroupID && a.Rule.RuleID == b.Rule.RuleID &&
		a.Rule.Priority == b.Rule.Priority && a.Rule.Policy == b.Rule.Policy
}

func actionOf(v policy.Verdict) string {
	if v == policy.Accept {
		return "ACCEPT"
	}
	return "REJECT"
}
