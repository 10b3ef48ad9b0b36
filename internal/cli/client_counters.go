package cli

import (
	"encoding/json"
	"flag"
	"strconv"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
)

// sgCounters shows how many packets and bytes each rule of a group decided
// on every host, as the agents last reported: the rules at zero are the ones
// no traffic has needed.
func sgCounters(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		req := requests.NewCommonRequest()
		req.Method, req.Scheme, req.Domain = "POST", c.scheme, c.ecs.Domain
		req.Version, req.ApiName, req.Product = "2014-05-26", "PalisadeDescribeRuleCounters", "Ecs"
		req.QueryParams["RegionId"] = c.region
		req.QueryParams["SecurityGroupId"] = c.args[0]
		resp, err := c.ecs.ProcessCommonRequest(req)
		if err != nil {
			return c.fail(err)
		}
		var out struct {
			SecurityGroupId string
			RuleCounters    struct {
				RuleCounter []struct {
					SecurityGroupRuleId, Direction, Policy string
					Priority                               int
					Packets, Bytes                         uint64
				}
			}
		}
		if err := json.Unmarshal(resp.GetHttpContentBytes(), &out); err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(out)
		}
		var rows [][]string
		for _, r := range out.RuleCounters.RuleCounter {
			rows = append(rows, []string{r.SecurityGroupRuleId, r.Direction, r.Policy, strconv.Itoa(r.Priority),
				strconv.FormatUint(r.Packets, 10), strconv.FormatUint(r.Bytes, 10)})
		}
		return c.table([]string{"RULE", "DIR", "POLICY", "PRIO", "PACKETS", "BYTES"}, rows)
	}
}
