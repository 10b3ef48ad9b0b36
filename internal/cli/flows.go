package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
)

// flowsCommand is "palisade flows": the flow records the agents shipped
// for the account's flow logs (PalisadeDescribeFlowRecords), newest first,
// each with the rule (or implicit reason) that decided it on its side.
var flowsCommand = command{
	synopsis: "[--instance ID] [--group ID] [--rule ID] [--verdict accept|reject] [--address IP] [--port PORT] [--since DURATION] [--max N] [--follow] [--json]",
	summary:  "show the flow records of your flow logs (VPC CreateFlowLog), newest first, each with the rule that decided it",
	max:      0,
	setup: func(fs *flag.FlagSet) func(c *call) int {
		instance := fs.String("instance", "", "only flows of instance `ID`")
		group := fs.String("group", "", "only flows decided by a rule of (or intra-group access in) group `ID`")
		rule := fs.String("rule", "", "only flows decided by rule `ID` (sgr-…)")
		verdict := fs.String("verdict", "", "`accept|reject`: only the accepted, or only the rejected, flows")
		address := fs.String("address", "", "only flows from or to `IP`")
		port := portFlag(fs, "port", "only flows from or to `PORT`")
		since := fs.Duration("since", time.Hour, "flows of the last `DURATION`")
		limit := fs.Int("max", 100, "show at most `N` records")
		follow := fs.Bool("follow", false, "then keep polling (every 2 s) and print new records as they arrive, oldest first (one JSON object a line with --json), until interrupted")
		return func(c *call) int {
			if *since <= 0 || *limit <= 0 {
				return c.usageErr("--since and --max must be positive")
			}
			v := strings.ToUpper(*verdict)
			if v != "" && v != "ACCEPT" && v != "REJECT" {
				return c.usageErr("--verdict is accept or reject")
			}
			q := map[string]string{"InstanceId": *instance, "SecurityGroupId": *group, "SecurityGroupRuleId": *rule,
				"Verdict": v, "Address": *address, "StartTime": time.Now().UTC().Add(-*since).Format(time.RFC3339)}
			if *port != 0 {
				q["Port"] = strconv.Itoa(*port)
			}
			if *follow {
				return c.followFlows(q, *since)
			}
			return c.flows(q, *limit)
		}
	},
}

func flowsCmd(args []string, stdout, stderr io.Writer) int {
	return runCommand("flows", &flowsCommand, args, stdout, stderr)
}

// flowRecord is a record as PalisadeDescribeFlowRecords answers.
type flowRecord struct {
	Version                                     int
	AccountId, RegionId, VpcId, VSwitchId, VmId string
	EniId, HostName                             string
	SrcAddr                                     string
	SrcPort                                     int
	DstAddr                                     string
	DstPort, Protocol                           int
	Direction                                   string
	Packets, Bytes                              uint64
	Start, End                                  int64
	Action, LogStatus                           string
	TcpFlags                                    int
	Reason                                      string
	SecurityGroupId                             string `json:",omitempty"`
	SecurityGroupRuleId                         string `json:",omitempty"`
	Priority                                    int    `json:",omitempty"`
	Policy                                      string `json:",omitempty"`
}

func (c *call) flows(q map[string]string, limit int) int {
	recs, err := c.flowRecords(q, limit)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		if recs == nil {
			recs = []flowRecord{}
		}
		return c.printJSON(recs)
	}
	rows := make([][]string, 0, len(recs))
	for _, r := range recs {
		rows = append(rows, flowRow(r))
	}
	code := c.table(flowHeader, rows)
	if len(recs) == 0 {
		fmt.Fprintln(c.stdout, "No flow records: create a flow log (VPC CreateFlowLog) for a VPC, vSwitch or ENI whose hosts run agents.")
	}
	return code
}

var flowHeader = []string{"START", "INSTANCE", "DIR", "SOURCE", "DESTINATION", "PROTO", "PACKETS", "BYTES", "ACTION", "STATUS", "DECIDED BY"}

func flowRow(r flowRecord) []string {
	return []string{time.Unix(r.Start, 0).UTC().Format("2006-01-02T15:04:05Z"), r.VmId, r.Direction,
		hostPort(r.SrcAddr, r.SrcPort), hostPort(r.DstAddr, r.DstPort), protoName(r.Protocol),
		strconv.FormatUint(r.Packets, 10), strconv.FormatUint(r.Bytes, 10), r.Action, r.LogStatus, decidedBy(r)}
}

// followEvery is how often --follow polls; followContext ends the follow
// (on an interrupt). Tests shorten and end it.
var (
	followEvery   = 2 * time.Second
	followContext = func() (context.Context, context.CancelFunc) {
		return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	}
)

// followFlows prints the records that match q as they arrive, until the
// process is interrupted. It says so first (on stderr, so stdout stays
// records only): a follow with no traffic yet printed nothing at all, and
// looked hung.
func (c *call) followFlows(q map[string]string, since time.Duration) int {
	ctx, stop := followContext()
	defer stop()
	if !c.json {
		fmt.Fprintln(c.stdout, strings.Join(flowHeader, "  "))
	}
	fmt.Fprintf(c.stderr, "Following the flow records of the last %s and new ones as agents ship them (polled every %s); interrupt (Ctrl-C) to stop.\n", since, followEvery)
	seen := map[flowRecord]bool{}
	for {
		recs, err := c.flowRecords(q, 5000)
		if err != nil {
			return c.fail(err)
		}
		// Only this poll's records are remembered: one that left the
		// newest ones never comes back, so older memories are not needed.
		now := make(map[flowRecord]bool, len(recs))
		for i := len(recs) - 1; i >= 0; i-- { // oldest first
			r := recs[i]
			now[r] = true
			if seen[r] {
				continue
			}
			if c.json {
				b, _ := json.Marshal(r)
				fmt.Fprintln(c.stdout, string(b))
			} else {
				row := flowRow(r)
				for i := range row {
					row[i] = dash(row[i]) // as a table's cells: what a host reported is printed inert
				}
				fmt.Fprintln(c.stdout, strings.Join(row, "  "))
			}
		}
		seen = now
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(followEvery):
		}
	}
}

// flowRecords reads up to limit records matching q, newest first.
func (c *call) flowRecords(q map[string]string, limit int) ([]flowRecord, error) {
	var recs []flowRecord
	token := ""
	for len(recs) < limit {
		req := requests.NewCommonRequest()
		req.Method, req.Scheme, req.Domain = "POST", c.scheme, c.ecs.Domain
		req.Version, req.ApiName, req.Product = "2014-05-26", "PalisadeDescribeFlowRecords", "Ecs"
		req.QueryParams["RegionId"] = c.region
		for k, v := range q {
			if v != "" {
				req.QueryParams[k] = v
			}
		}
		req.QueryParams["MaxResults"] = strconv.Itoa(min(500, limit-len(recs)))
		if token != "" {
			req.QueryParams["NextToken"] = token
		}
		resp, err := c.ecs.ProcessCommonRequest(req)
		if err != nil {
			return nil, err
		}
		var out struct {
			NextToken   string
			FlowRecords struct{ FlowRecord []flowRecord }
		}
		if err := json.Unmarshal(resp.GetHttpContentBytes(), &out); err != nil {
			return nil, err
		}
		recs = append(recs, out.FlowRecords.FlowRecord...)
		c.warnMissing(resp.GetHttpContentBytes(), "flow records")
		if out.NextToken == "" || len(out.FlowRecords.FlowRecord) == 0 && out.NextToken == token {
			break // the end, or a page that would only repeat
		}
		token = out.NextToken
	}
	return recs, nil
}

func hostPort(addr string, port int) string {
	if strings.Contains(addr, ":") {
		return "[" + addr + "]:" + strconv.Itoa(port)
	}
	return addr + ":" + strconv.Itoa(port)
}

func protoName(p int) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmpv6"
	}
	return strconv.Itoa(p)
}

// decidedBy names the deciding rule, or the implicit reason.
func decidedBy(r flowRecord) string {
	switch {
	case r.SecurityGroupRuleId != "":
		return fmt.Sprintf("%s/%s (priority %d, %s)", r.SecurityGroupId, r.SecurityGroupRuleId, r.Priority, r.Policy)
	case r.SecurityGroupId != "":
		return r.Reason + " in " + r.SecurityGroupId
	}
	return r.Reason
}

// warnMissing says on stderr that a server of the installation did not
// give its part of an answer (PalisadeMissingServers): what is printed
// lacks what it holds.
func (c *call) warnMissing(body []byte, what string) {
	var out struct{ PalisadeMissingServers []string }
	if json.Unmarshal(body, &out) == nil {
		warnMissingServers(c.stderr, c.name, out.PalisadeMissingServers, "their "+what+" are not listed")
	}
}

// warnMissingServers says on w that the servers missing did not give
// their part, and what the answer lacks for it (nothing when none is missing).
func warnMissingServers(w io.Writer, command string, missing []string, lacks string) {
	if len(missing) > 0 {
		// "In time" was wrong for a server that is down; the answering
		// server's log names each (by ID, with its address) and why.
		fmt.Fprintf(w, "palisade %s: warning: servers %s did not give their part (down, unreachable or slower than --peer-timeout; "+
			"the answering server's log says which and why); %s\n", command, strings.Join(missing, ", "), lacks)
	}
}
