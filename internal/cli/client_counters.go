package cli

import (
	"flag"
	"fmt"
	"strconv"
)

// sgCounters shows how many packets and bytes each rule of a group decided
// on every host, as the agents last reported, and how many hosts reported
// each. A zero means "not needed" only where some agent reported the rule;
// with no report it means nothing, and the command says so.
func sgCounters(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		var out struct {
			SecurityGroupId string
			RuleCounters    struct {
				RuleCounter []struct {
					SecurityGroupRuleId, Direction, Policy string
					Priority                               int
					Packets, Bytes                         uint64
					Hosts                                  int
					FlowRecords                            int
					LastHitTime                            string
				}
			}
			PalisadeMissingServers []string `json:",omitempty"`
		}
		if err := c.palisade("PalisadeDescribeRuleCounters", map[string]string{"SecurityGroupId": c.args[0]}, &out); err != nil {
			return c.fail(err)
		}
		warnMissingServers(c.stderr, c.name, out.PalisadeMissingServers, "PACKETS, BYTES and HOSTS do not count their agents, FLOWS and LAST HIT the flow records they keep")
		if c.json {
			return c.printJSON(out)
		}
		var rows [][]string
		unreported := 0
		for _, r := range out.RuleCounters.RuleCounter {
			packets, bytes := strconv.FormatUint(r.Packets, 10), strconv.FormatUint(r.Bytes, 10)
			if r.Hosts == 0 {
				packets, bytes = "-", "-" // no agent reported it: not a zero
				unreported++
			}
			rows = append(rows, []string{r.SecurityGroupRuleId, r.Direction, r.Policy, strconv.Itoa(r.Priority),
				packets, bytes, strconv.Itoa(r.Hosts), strconv.Itoa(r.FlowRecords), dash(r.LastHitTime)})
		}
		code := c.table([]string{"RULE", "DIR", "POLICY", "PRIO", "PACKETS", "BYTES", "HOSTS", "FLOWS", "LAST HIT"}, rows)
		switch n := len(out.RuleCounters.RuleCounter); {
		case n > 0 && unreported == n:
			fmt.Fprintf(c.stdout, "No agent has reported counters for %s: no host enforces it yet, or its agents have not reported (they do every 10 s). The counts are unknown, not zero.\n", out.SecurityGroupId)
		case unreported > 0:
			fmt.Fprintf(c.stdout, "%d rule(s) shown with - were not reported by any agent: their counts are unknown, not zero.\n", unreported)
		}
		return code
	}
}
