package cli

import (
	"encoding/json"
	"flag"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
)

// The operator's commands: tenants (palisade account) and host keys
// (palisade host), with Palisade's own actions, signed with the operator's
// key (PALISADE_ACCESS_KEY_ID/_SECRET set to the pair PALISADE_OPERATOR_KEY_*
// gave serve, or the one it printed).

var accountCommands = []command{
	{name: "create", synopsis: "NAME [--json]", summary: "create a tenant with a first key pair, whose secret is shown only this once (operator)", min: 1, max: 1, setup: accountCreate},
	{name: "list", synopsis: "[--json]", summary: "list the tenants (operator)", max: 0, setup: accountList},
	{name: "disable", synopsis: "ACCOUNT_ID", summary: "disable a tenant: its keys are refused from the next request on (operator)", min: 1, max: 1, setup: accountDisable},
}

var hostCommands = []command{
	{name: "register", synopsis: "NAME [--json]", summary: "issue a key for host NAME's agent that may call only the host actions, for that host; registering again replaces it (operator)", min: 1, max: 1, setup: hostRegister},
	{name: "deregister", synopsis: "NAME [--json]", summary: "delete host NAME's key: refused from its next request, its agent stops; its instances stay bound (operator)", min: 1, max: 1, setup: hostDeregister},
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
				Account []struct{ AccountId, AccountName, Status, CreateTime string }
			}
		}
		if err := c.palisade("PalisadeListAccounts", nil, &out); err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(out.Accounts.Account)
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
