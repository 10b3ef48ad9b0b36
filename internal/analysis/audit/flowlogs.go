package audit

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// SGA-033 and SGA-034 judge what flow logs saw, which is not in the cloud
// but in the server (its flow logs and the records its agents shipped): the
// server passes it as plain data in Options.FlowLogs, and an offline audit,
// which does not know, says nothing.
//
// SGA-033: a VPC with instances exposed to the internet that no active
// flow log covers. SGA-034: a rule no flow record named over the window the
// user sets (Options.UnusedRuleDays): a candidate for removal only where
// flow logs recorded every member of its group, for its kind of traffic,
// through the whole window, and the server kept every record of it;
// otherwise a candidate for review, said to be no evidence of disuse.

func init() {
	register(
		Check{ID: "SGA-033", Title: "Internet-exposed instances without a flow log", Severity: Medium, Run: flowLogMissing},
		Check{ID: "SGA-034", Title: "Rules no flow matched over the review window", Severity: Info, Run: unusedRules},
	)
}

// FlowLogs are the flow-log facts of a server at one time.
type FlowLogs struct {
	// Now is when the facts were taken.
	Now time.Time
	// Accepts and Drops map each NIC (a key of Cloud.Instances) an active
	// flow log covers, for accepted or dropped traffic, to the time since
	// when it has been covered without a gap; a NIC not there is not
	// covered.
	Accepts, Drops map[string]time.Time
	// LastHit maps a rule ("groupID/ruleID") to the End of the newest
	// record that named it; a rule not there has none.
	LastHit map[string]time.Time
	// RecordsSince is the time since when the server holds every record
	// of the audited account shipped to it (retention by age, size and the
	// account's count drops older ones, and none predates the store);
	// zero: since the first.
	RecordsSince time.Time
	// Partial says other servers hold records too (a cluster), so a rule
	// without a record here may have some elsewhere.
	Partial bool
}

// DefaultUnusedRuleDays is SGA-034's default window.
const DefaultUnusedRuleDays = 30

func flowLogMissing(in *Input) []Finding {
	fl := in.Options.FlowLogs
	if fl == nil {
		return nil
	}
	byVPC := map[string][]string{} // exposed NICs no flow log covers
	seen := map[string]bool{}
	for _, x := range engineFor(in).exposed() {
		id := x.inst.ID
		if x.latent || seen[id] {
			continue
		}
		seen[id] = true
		_, acc := fl.Accepts[id]
		_, drop := fl.Drops[id]
		if !acc && !drop && x.inst.VpcID != "" {
			byVPC[x.inst.VpcID] = append(byVPC[x.inst.VpcID], id)
		}
	}
	var out []Finding
	for vpc, ids := range byVPC {
		slices.Sort(ids)
		out = append(out, Finding{Check: "SGA-033", Severity: Medium, Resource: vpc,
			Message: fmt.Sprintf("VPC %s has instances open to the internet (%s) that no active flow log records, so what reaches them, and which rules are still needed, goes unseen.", vpc, strings.Join(ids, ", ")),
			Fix:     fmt.Sprintf("Create a flow log for the VPC (VPC CreateFlowLog ResourceType=VPC ResourceId=%s TrafficType=All), or activate the one there is.", vpc)})
	}
	return out
}

func unusedRules(in *Input) []Finding {
	fl := in.Options.FlowLogs
	if fl == nil {
		return nil
	}
	days := in.Options.UnusedRuleDays
	if days <= 0 {
		days = DefaultUnusedRuleDays
	}
	from := fl.Now.Add(-time.Duration(days) * 24 * time.Hour)
	members := map[string][]string{} // group → its NICs
	for id, inst := range in.Cloud.Instances {
		for _, g := range inst.SecurityGroups {
			members[g] = append(members[g], id)
		}
	}
	var out []Finding
	eachGroupRule(in.Cloud, func(g *model.SecurityGroup, r *model.Rule) {
		nics := members[g.ID]
		if len(nics) == 0 {
			return // no instance: nothing could match it (other checks say so)
		}
		last, hit := fl.LastHit[g.ID+"/"+r.ID]
		if hit && !last.Before(from) {
			return
		}
		covered := fl.Accepts
		if r.Policy != model.Accept {
			covered = fl.Drops
		}
		whole, some := true, false
		for _, id := range nics {
			since, ok := covered[id]
			some = some || ok
			whole = whole && ok && !since.After(from)
		}
		if !some {
			return // no flow log records its traffic: nothing is known (SGA-033)
		}
		whole = whole && !fl.Partial && !fl.RecordsSince.After(from)
		lastText := "no flow record names it"
		if hit {
			lastText = "its last flow record ended " + last.UTC().Format("2006-01-02 15:04") + " UTC"
		}
		f := Finding{Check: "SGA-034", Severity: Info, Resource: g.ID, RuleID: r.ID}
		if whole {
			f.Message = fmt.Sprintf("Rule %s of %s matched no flow in the last %d days (%s) while flow logs recorded every member of the group, so it is a candidate for removal.", r.ID, g.ID, days, lastText)
			f.Fix = "Review it with its owner before deleting it: traffic that comes rarely (a yearly job, a failover) may still need it; palisade plan shows what deleting it would close."
		} else {
			f.Message = fmt.Sprintf("Rule %s of %s has no flow recorded in the last %d days (%s), but flow logs did not record every member of the group through the whole window (or this server does not hold every record of it), so this is no evidence that it is unused.", r.ID, g.ID, days, lastText)
			f.Fix = "Review it, but do not delete it on this ground: cover every member with a flow log (VPC CreateFlowLog) and audit again after a full window."
		}
		out = append(out, f)
	})
	return out
}
