package cli

import (
	"flag"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
)

// palisade key: the caller's own access keys, with RAM's actions
// (2015-05-01) through the official SDK, as on Alibaba Cloud.

var keyCommands = []command{
	{name: "create", synopsis: "[--json]", summary: "make a new key pair of your account, whose secret is shown only this once (at most 2 keys)", max: 0, setup: keyCreate},
	{name: "list", synopsis: "[--json]", summary: "list your account's keys (IDs and status, never secrets)", max: 0, setup: keyList},
	{name: "disable", synopsis: "KEY_ID", summary: "make a key Inactive: it is refused from the next request on", min: 1, max: 1, setup: keyStatus("Inactive")},
	{name: "enable", synopsis: "KEY_ID", summary: "make an Inactive key Active again", min: 1, max: 1, setup: keyStatus("Active")},
	{name: "delete", synopsis: "KEY_ID", summary: "delete a key (not the one signing this command: rotate by creating a new key, switching to it, then deleting the old)", min: 1, max: 1, setup: keyDelete},
}

func keyCreate(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		req := ram.CreateCreateAccessKeyRequest()
		c.prep(req)
		resp, err := c.ram.CreateAccessKey(req)
		if err != nil {
			return c.fail(err)
		}
		k := resp.AccessKey
		if c.json {
			return c.printJSON(k)
		}
		c.fields([][2]string{{"AccessKeyId", k.AccessKeyId}, {"AccessKeySecret", k.AccessKeySecret}, {"Status", k.Status}, {"CreateDate", k.CreateDate}})
		c.note("The secret is shown only this once.")
		return 0
	}
}

func keyList(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		req := ram.CreateListAccessKeysRequest()
		c.prep(req)
		resp, err := c.ram.ListAccessKeys(req)
		if err != nil {
			return c.fail(err)
		}
		type key struct{ AccessKeyId, Status, CreateDate string }
		out := []key{}
		var rows [][]string
		for _, k := range resp.AccessKeys.AccessKey {
			out = append(out, key{k.AccessKeyId, k.Status, k.CreateDate})
			rows = append(rows, []string{k.AccessKeyId, k.Status, k.CreateDate})
		}
		if c.json {
			return c.printJSON(out)
		}
		return c.table([]string{"ACCESS KEY", "STATUS", "CREATED"}, rows)
	}
}

func keyStatus(status string) func(fs *flag.FlagSet) func(c *call) int {
	return func(fs *flag.FlagSet) func(c *call) int {
		return func(c *call) int {
			req := ram.CreateUpdateAccessKeyRequest()
			c.prep(req)
			req.UserAccessKeyId, req.Status = c.args[0], status
			if _, err := c.ram.UpdateAccessKey(req); err != nil {
				return c.fail(err)
			}
			if c.json {
				return c.printJSON(map[string]string{"AccessKeyId": c.args[0], "Status": status})
			}
			c.note("Access key " + c.args[0] + " is " + status + ".")
			return 0
		}
	}
}

func keyDelete(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		req := ram.CreateDeleteAccessKeyRequest()
		c.prep(req)
		req.UserAccessKeyId = c.args[0]
		if _, err := c.ram.DeleteAccessKey(req); err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(map[string]string{"AccessKeyId": c.args[0], "Status": "Deleted"})
		}
		c.note("Access key " + c.args[0] + " is deleted.")
		return 0
	}
}
