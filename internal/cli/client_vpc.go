package cli

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

var vpcCommands = []command{
	{name: "list", synopsis: "", summary: "list VPCs", min: 0, max: 0, setup: vpcList},
	{name: "create", synopsis: "[--cidr C] [--name N] [--ipv6]", summary: "create a VPC and print its ID", min: 0, max: 0, setup: vpcCreate},
	{name: "delete", synopsis: "ID", summary: "delete a VPC", min: 1, max: 1, setup: vpcDelete},
	{name: "vswitch-create", synopsis: "--vpc ID --zone Z --cidr C [--name N] [--ipv6-block N]", summary: "create a vSwitch and print its ID",
		min: 0, max: 0, setup: vswitchCreate},
	{name: "vswitch-list", synopsis: "[--vpc ID]", summary: "list vSwitches", min: 0, max: 0, setup: vswitchList},
	{name: "vswitch-delete", synopsis: "ID", summary: "delete a vSwitch", min: 1, max: 1, setup: vswitchDelete},
}

func vpcList(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		var all []vpc.Vpc
		var last *vpc.DescribeVpcsResponse
		for page := 1; ; page++ {
			req := vpc.CreateDescribeVpcsRequest()
			c.prep(req)
			req.PageNumber, req.PageSize = requests.NewInteger(page), requests.NewInteger(50)
			resp, err := c.vpc.DescribeVpcs(req)
			if err != nil {
				return c.fail(err)
			}
			last = resp
			all = append(all, resp.Vpcs.Vpc...)
			if len(resp.Vpcs.Vpc) == 0 || len(all) >= resp.TotalCount {
				break
			}
		}
		if c.json {
			last.Vpcs.Vpc = nonNil(all)
			last.PageNumber, last.PageSize = 1, len(all)
			return c.printJSON(last)
		}
		var rows [][]string
		for _, v := range all {
			rows = append(rows, []string{v.VpcId, v.VpcName, v.CidrBlock, v.Status, strconv.Itoa(len(v.VSwitchIds.VSwitchId)), v.Description})
		}
		return c.table([]string{"ID", "NAME", "CIDR", "STATUS", "VSWITCHES", "DESCRIPTION"}, rows)
	}
}

func vpcCreate(fs *flag.FlagSet) func(c *call) int {
	cidr := fs.String("cidr", "", "IPv4 `CIDR` block, e.g. 172.16.0.0/12 (default: the server's choice)")
	name := fs.String("name", "", "VPC `name`")
	ipv6 := fs.Bool("ipv6", false, "also give the VPC an IPv6 block (EnableIpv6)")
	return func(c *call) int {
		req := vpc.CreateCreateVpcRequest()
		c.prep(req)
		req.CidrBlock, req.VpcName = *cidr, *name
		if *ipv6 {
			req.EnableIpv6 = requests.NewBoolean(true)
		}
		resp, err := c.vpc.CreateVpc(req)
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(resp)
		}
		fmt.Fprintln(c.stdout, resp.VpcId)
		return 0
	}
}

func vpcDelete(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		req := vpc.CreateDeleteVpcRequest()
		c.prep(req)
		req.VpcId = c.args[0]
		resp, err := c.vpc.DeleteVpc(req)
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(resp)
		}
		return 0
	}
}

func vswitchCreate(fs *flag.FlagSet) func(c *call) int {
	vpcID := fs.String("vpc", "", "VPC `ID` (required)")
	zone := fs.String("zone", "", "zone `ID`, e.g. cn-hangzhou-h (required)")
	cidr := fs.String("cidr", "", "IPv4 `CIDR` block inside the VPC's (required)")
	name := fs.String("name", "", "vSwitch `name`")
	six := fs.Int("ipv6-block", -1, "give the vSwitch the IPv6 /64 number `N` (0-255) of its VPC's /56 (the VPC needs --ipv6)")
	return func(c *call) int {
		for _, f := range []struct{ flag, v string }{{"--vpc", *vpcID}, {"--zone", *zone}, {"--cidr", *cidr}} {
			if f.v == "" {
				return c.usageErr("%s is required", f.flag)
			}
		}
		if *six < -1 || *six > 255 {
			return c.usageErr("--ipv6-block must be from 0 to 255")
		}
		req := vpc.CreateCreateVSwitchRequest()
		c.prep(req)
		req.VpcId, req.ZoneId, req.CidrBlock, req.VSwitchName = *vpcID, *zone, *cidr, *name
		if *six >= 0 {
			req.Ipv6CidrBlock = requests.NewInteger(*six)
		}
		resp, err := c.vpc.CreateVSwitch(req)
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(resp)
		}
		fmt.Fprintln(c.stdout, resp.VSwitchId)
		return 0
	}
}

func vswitchList(fs *flag.FlagSet) func(c *call) int {
	vpcID := fs.String("vpc", "", "only vSwitches of this VPC `ID`")
	return func(c *call) int {
		var all []vpc.VSwitch
		var last *vpc.DescribeVSwitchesResponse
		for page := 1; ; page++ {
			req := vpc.CreateDescribeVSwitchesRequest()
			c.prep(req)
			req.VpcId = *vpcID
			req.PageNumber, req.PageSize = requests.NewInteger(page), requests.NewInteger(50)
			resp, err := c.vpc.DescribeVSwitches(req)
			if err != nil {
				return c.fail(err)
			}
			last = resp
			all = append(all, resp.VSwitches.VSwitch...)
			if len(resp.VSwitches.VSwitch) == 0 || len(all) >= resp.TotalCount {
				break
			}
		}
		if c.json {
			last.VSwitches.VSwitch = nonNil(all)
			last.PageNumber, last.PageSize = 1, len(all)
			return c.printJSON(last)
		}
		var rows [][]string
		for _, v := range all {
			rows = append(rows, []string{v.VSwitchId, v.VSwitchName, v.VpcId, v.ZoneId, v.CidrBlock, v.Ipv6CidrBlock, v.Status})
		}
		return c.table([]string{"ID", "NAME", "VPC", "ZONE", "CIDR", "IPV6 CIDR", "STATUS"}, rows)
	}
}

func vswitchDelete(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		req := vpc.CreateDeleteVSwitchRequest()
		c.prep(req)
		req.VSwitchId = c.args[0]
		resp, err := c.vpc.DeleteVSwitch(req)
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(resp)
		}
		return 0
	}
}
