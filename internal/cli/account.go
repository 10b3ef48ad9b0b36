package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// The operator's commands: tenants (palisade account) and host keys
// (palisade host), with Palisade's own actions, signed with the operator's
// key (PALISADE_ACCESS_KEY_ID/_SECRET set to the pair PALISADE_OPERATOR_KEY_*
// gave serve, or the one it printed).

var accountCommands = []command{
	{name: "create", synopsis: "NAME [--json]", summary: "create a tenant with a first key pair, whose secret is shown only this once (operator)", min: 1, max: 1, setup: accountCreate},
	{name: "list", synopsis: "[--json]", summary: "list the tenants (operator)", max: 0, setup: accountList},
	{name: "disable", synopsis: "ACCOUNT_ID", summary: "disable a tenant: its keys are refused from the next request on (operator)", min: 1, max: 1, setup: accountDisable},
	{name: "quota", synopsis: "ACCOUNT_ID [--NAME N]... [--reset NAME|all]... [--json]", summary: "show a tenant's quotas in force and which are its own; set its own (--security-groups 200) or return them to serve's --quota-* (--reset); one lowered below what it holds refuses its creates and deletes nothing (operator)", min: 1, max: 1, setup: accountQuota},
}

var hostCommands = []command{
	{name: "register", synopsis: "NAME [--json]", summary: "issue a key for host NAME's agent that may call only the host actions, for that host; registering again replaces it (operator)", min: 1, max: 1, setup: hostRegister},
	{name: "deregister", synopsis: "NAME [--json]", summary: "delete host NAME's key: refused from its next request (its agent keeps the last policy and logs the refusal until given a key); its instances stay bound (operator)", min: 1, max: 1, setup: hostDeregister},
	{name: "list", synopsis: "[--json]", summary: "list the registered hosts and their keys' IDs (operator)", max: 0, setup: hostList},
}

// palisade calls one of Palisade's own actions and decodes its answer.
func (c *call) palisade(action string, params map[string]string, out any) error {
	req := requests.NewCommonRequest()
	req.Method, req.Scheme, req.Domain = "POST", c.scheme, c.ecs.Domain
	req.Version, req.ApiName, req.Product = "2014-05-26", action, "Ecs"
	req.QueryParams["RegionId"] = c.region
	for k, v := range params {
		req.QueryParams[k] = v
	}
	resp, err := c.ecs.ProcessCommonRequest(req)
	if err != nil {
		return err
	}
	return json.Unmarshal(resp.GetHttpContentBytes(), out)
}

func accountCreate(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		var out struct{ AccountId, AccountName, AccessKeyId, AccessKeySecret string }
		if err := c.palisade("PalisadeCreateAccount", map[string]string{"AccountName": c.args[0]}, &out); err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(out)
		}
		c.fields([][2]string{{"AccountId", out.AccountId}, {"AccountName", out.AccountName},
			{"AccessKeyId", out.AccessKeyId}, {"AccessKeySecret", out.AccessKeySecret}})
		c.note("The secret is shown only this once; hand the pair to the tenant (PALISADE_ACCESS_KEY_ID/_SECRET).")
		return 0
	}
}

func accountList(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		var out struct {
			Accounts struct {
				Account []struct {
					AccountId, AccountName, Status, CreateTime string
					QuotaOverrides                             struct {
						QuotaOverride []struct {
							QuotaName string
							Value     int
						}
					}
				}
			}
		}
		if err := c.palisade("PalisadeListAccounts", nil, &out); err != nil {
			return c.fail(err)
		}
		if c.json {
			// The account's own quotas, by the names of `account quota`'s flags.
			type item struct {
				AccountId, AccountName, Status, CreateTime string
				QuotaOverrides                             map[string]int
			}
			items := []item{}
			for _, a := range out.Accounts.Account {
				it := item{a.AccountId, a.AccountName, a.Status, a.CreateTime, map[string]int{}}
				for _, q := range a.QuotaOverrides.QuotaOverride {
					it.QuotaOverrides[quotaFlag(q.QuotaName)] = q.Value
				}
				items = append(items, it)
			}
			return c.printJSON(items)
		}
		var rows [][]string
		for _, a := range out.Accounts.Account {
			rows = append(rows, []string{a.AccountId, a.AccountName, a.Status, a.CreateTime})
		}
		return c.table([]string{"ACCOUNT", "NAME", "STATUS", "CREATED"}, rows)
	}
}

func accountDisable(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		var out struct{ RequestId string }
		if err := c.palisade("PalisadeDisableAccount", map[string]string{"AccountId": c.args[0]}, &out); err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(map[string]string{"AccountId": c.args[0], "Status": "Disabled"})
		}
		c.note("Account " + c.args[0] + " is disabled; its keys are refused from now on.")
		return 0
	}
}

func hostRegister(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		var out struct{ HostName, AccessKeyId, AccessKeySecret string }
		if err := c.palisade("PalisadeRegisterHost", map[string]string{"HostName": c.args[0]}, &out); err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(out)
		}
		c.fields([][2]string{{"HostName", out.HostName}, {"AccessKeyId", out.AccessKeyId}, {"AccessKeySecret", out.AccessKeySecret}})
		c.note("The secret is shown only this once. Run the host's agent with it:\n  PALISADE_ACCESS_KEY_ID=" + out.AccessKeyId +
			" PALISADE_ACCESS_KEY_SECRET=… palisade agent --server HOST:PORT --host " + out.HostName)
		return 0
	}
}

func hostDeregister(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		if err := c.palisade("PalisadeDeregisterHost", map[string]string{"HostName": c.args[0]}, &struct{}{}); err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(map[string]string{"HostName": c.args[0], "Status": "Deregistered"})
		}
		c.note("Host " + c.args[0] + "'s key is deleted; it is refused from now on. Its instances stay bound: move or unbind them.")
		return 0
	}
}

func hostList(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		var out struct {
			Hosts struct {
				Host []struct{ HostName, AccessKeyId, CreateTime string }
			}
		}
		if err := c.palisade("PalisadeListHosts", nil, &out); err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(out.Hosts.Host)
		}
		var rows [][]string
		for _, h := range out.Hosts.Host {
			rows = append(rows, []string{h.HostName, h.AccessKeyId, h.CreateTime})
		}
		return c.table([]string{"HOST", "ACCESS KEY", "CREATED"}, rows)
	}
}

// quotaFlag is the flag name of a quota the API names param.
func quotaFlag(param string) string {
	for _, n := range service.QuotaNames {
		if n.Param == param {
			return n.Flag
		}
	}
	return param
}

func accountQuota(fs *flag.FlagSet) func(c *call) int {
	values := make([]int, len(service.QuotaNames))
	for i, n := range service.QuotaNames {
		fs.IntVar(&values[i], n.Flag, 0, "set the tenant's own quota of "+n.Flag+" to `N` (serve's --quota-"+n.Flag+" for the others)")
	}
	var reset []string
	fs.Func("reset", "return quota `NAME` (a flag's name above, or all) to the server's; repeat for more", func(v string) error {
		if v != "all" && !slices.ContainsFunc(service.QuotaNames[:], func(n service.QuotaName) bool { return n.Flag == v }) {
			return fmt.Errorf("no quota %q: give one of the flags' names above, or all", v)
		}
		reset = append(reset, v)
		return nil
	})
	return func(c *call) int {
		params := map[string]string{"AccountId": c.args[0]}
		action := "PalisadeDescribeAccountQuotas"
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		for i, n := range service.QuotaNames {
			r := slices.Contains(reset, n.Flag) || slices.Contains(reset, "all")
			switch {
			case given[n.Flag] && r:
				return c.usageErr("--%s and --reset %s: give one", n.Flag, n.Flag)
			case given[n.Flag] && values[i] < 1:
				return c.usageErr("--%s %d: give a positive number (--reset %s returns it to the server's)", n.Flag, values[i], n.Flag)
			case given[n.Flag]:
				params[n.Param] = strconv.Itoa(values[i])
			case r:
				params[n.Param] = strconv.Itoa(service.ClearQuota)
			default:
				continue
			}
			action = "PalisadeSetAccountQuotas"
		}
		var out struct {
			AccountId string
			Quotas    struct {
				Quota []struct {
					QuotaName string
					Value     int
					Source    string
				}
			}
		}
		if err := c.palisade(action, params, &out); err != nil {
			return c.fail(err)
		}
		if c.json {
			type item struct {
				Quota  string
				Value  int
				Source string // account (its own) or server
			}
			items := []item{}
			for _, q := range out.Quotas.Quota {
				items = append(items, item{quotaFlag(q.QuotaName), q.Value, strings.ToLower(q.Source)})
			}
			return c.printJSON(map[string]any{"AccountId": out.AccountId, "Quotas": items})
		}
		var rows [][]string
		for _, q := range out.Quotas.Quota {
			rows = append(rows, []string{quotaFlag(q.QuotaName), strconv.Itoa(q.Value), strings.ToLower(q.Source)})
		}
		return c.table([]string{"QUOTA", "VALUE", "SOURCE"}, rows)
	}
}
