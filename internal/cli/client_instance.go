package cli

import (
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// RunInstances requires an image and a type; Palisade runs no VMs and takes
// any, so these defaults (Alibaba Cloud Linux 3, a small general-purpose
// type) only matter on Alibaba Cloud.
const (
	defaultImage        = "aliyun_3_x64_20G_alibase_20240819.vhd"
	defaultInstanceType = "ecs.g7.large"
)

var instanceCommands = []command{
	{name: "list", synopsis: "[--vpc ID] [--sg ID]", summary: "list instances", min: 0, max: 0, setup: instanceList},
	{name: "show", synopsis: "ID", summary: "show an instance", min: 1, max: 1, setup: instanceShow},
	{name: "create", synopsis: "--vswitch VSW --sg SG [--sg SG]... [--ip A] [--name N] [--image ID] [--type T] [--ipv6]",
		summary: "create an instance (RunInstances) and print its ID", min: 0, max: 0, setup: instanceCreate},
	{name: "delete", synopsis: "ID [--force]", summary: "delete an instance", min: 1, max: 1, setup: instanceDelete},
	{name: "start", synopsis: "ID", summary: "start an instance", min: 1, max: 1, setup: instanceStart},
	{name: "stop", synopsis: "ID", summary: "stop an instance", min: 1, max: 1, setup: instanceStop},
	{name: "set-groups", synopsis: "ID SG...", summary: "replace the security groups an instance is in", min: 2, max: -1, setup: instanceSetGroups},
}

// describeInstances lists instances matching the request's filters,
// following pages.
func (c *call) describeInstances(filter func(*ecs.DescribeInstancesRequest)) (*ecs.DescribeInstancesResponse, error) {
	var all []ecs.Instance
	var last *ecs.DescribeInstancesResponse
	for page := 1; ; page++ {
		req := ecs.CreateDescribeInstancesRequest()
		c.prep(req)
		filter(req)
		req.PageNumber, req.PageSize = requests.NewInteger(page), requests.NewInteger(100)
		resp, err := c.ecs.DescribeInstances(req)
		if err != nil {
			return nil, err
		}
		last = resp
		got := resp.Instances.Instance
		all = append(all, got...)
		if len(got) == 0 || len(all) >= resp.TotalCount {
			break
		}
	}
	last.Instances.Instance = nonNil(all)
	last.PageNumber, last.PageSize, last.NextToken = 1, len(all), ""
	return last, nil
}

// privateIP lists an instance's private IPv4 addresses: the primary, then
// its primary ENI's secondary addresses (AssignPrivateIpAddresses).
func privateIP(in ecs.Instance) string {
	if ips := in.VpcAttributes.PrivateIpAddress.IpAddress; len(ips) > 0 {
		ips = slices.Clone(ips)
		for _, n := range in.NetworkInterfaces.NetworkInterface {
			if n.Type == "Secondary" { // a secondary ENI's addresses are its own, not the instance's
				continue
			}
			for _, p := range n.PrivateIpSets.PrivateIpSet {
				if !p.Primary && !slices.Contains(ips, p.PrivateIpAddress) {
					ips = append(ips, p.PrivateIpAddress)
				}
			}
		}
		return strings.Join(ips, ",")
	}
	if ips := in.InnerIpAddress.IpAddress; len(ips) > 0 {
		return strings.Join(ips, ",")
	}
	for _, n := range in.NetworkInterfaces.NetworkInterface {
		if n.PrimaryIpAddress != "" {
			return n.PrimaryIpAddress
		}
	}
	return ""
}

func ipv6Of(in ecs.Instance) string {
	var out []string
	for _, n := range in.NetworkInterfaces.NetworkInterface {
		if n.Type == "Secondary" { // a secondary ENI's addresses are its own, not the instance's
			continue
		}
		for _, s := range n.Ipv6Sets.Ipv6Set {
			out = append(out, s.Ipv6Address)
		}
	}
	return strings.Join(out, ",")
}

func publicIP(in ecs.Instance) string {
	if in.EipAddress.IpAddress != "" {
		return in.EipAddress.IpAddress
	}
	return strings.Join(in.PublicIpAddress.IpAddress, ",")
}

func instanceList(fs *flag.FlagSet) func(c *call) int {
	vpcID := fs.String("vpc", "", "only instances in this VPC `ID`")
	sg := fs.String("sg", "", "only instances in this security group `ID`")
	return func(c *call) int {
		resp, err := c.describeInstances(func(r *ecs.DescribeInstancesRequest) { r.VpcId, r.SecurityGroupId = *vpcID, *sg })
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(resp)
		}
		var rows [][]string
		for _, in := range resp.Instances.Instance {
			rows = append(rows, []string{in.InstanceId, in.InstanceName, in.Status, in.VpcAttributes.VpcId,
				in.VpcAttributes.VSwitchId, privateIP(in), strings.Join(in.SecurityGroupIds.SecurityGroupId, ",")})
		}
		return c.table([]string{"ID", "NAME", "STATUS", "VPC", "VSWITCH", "PRIVATE IP", "GROUPS"}, rows)
	}
}

func instanceShow(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		id := c.args[0]
		resp, err := c.describeInstances(func(r *ecs.DescribeInstancesRequest) { r.InstanceIds = jsonList(id) })
		if err != nil {
			return c.fail(err)
		}
		var in *ecs.Instance
		for i := range resp.Instances.Instance {
			if resp.Instances.Instance[i].InstanceId == id {
				in = &resp.Instances.Instance[i]
			}
		}
		if in == nil {
			// DescribeInstances answers an unknown ID with an empty list.
			return c.failCode("InvalidInstanceId.NotFound", "The specified InstanceId %q does not exist in this account and region.", id)
		}
		if c.json {
			resp.Instances.Instance = []ecs.Instance{*in}
			resp.TotalCount, resp.PageSize = 1, 1
			return c.printJSON(resp)
		}
		c.fields([][2]string{
			{"ID", in.InstanceId}, {"Name", in.InstanceName}, {"Status", in.Status}, {"Region", in.RegionId},
			{"Zone", in.ZoneId}, {"VPC", in.VpcAttributes.VpcId}, {"vSwitch", in.VpcAttributes.VSwitchId},
			{"Private IP", privateIP(*in)}, {"IPv6", ipv6Of(*in)}, {"Public IP", publicIP(*in)},
			{"Image", in.ImageId}, {"Type", in.InstanceType}, {"Created", in.CreationTime},
			{"Security groups", strings.Join(in.SecurityGroupIds.SecurityGroupId, ",")},
		})
		return 0
	}
}

func instanceCreate(fs *flag.FlagSet) func(c *call) int {
	vsw := fs.String("vswitch", "", "vSwitch `ID` (required)")
	var sgs stringList
	fs.Var(&sgs, "sg", "security group `ID` (required; repeat for several)")
	ip := fs.String("ip", "", "private IPv4 `address` (default: the next free one)")
	name := fs.String("name", "", "instance `name`")
	image := fs.String("image", defaultImage, "image `ID`")
	typ := fs.String("type", defaultInstanceType, "instance `type`")
	ipv6 := fs.Bool("ipv6", false, "give the instance an IPv6 address")
	return func(c *call) int {
		if *vsw == "" {
			return c.usageErr("--vswitch is required")
		}
		if len(sgs) == 0 {
			// RunInstances in a VPC needs one; the API's MissingParameter
			// would name SecurityGroupId, not the flag.
			return c.usageErr("--sg is required: the security group the instance is in (repeat for several)")
		}
		req := ecs.CreateRunInstancesRequest()
		c.prep(req)
		req.VSwitchId, req.PrivateIpAddress, req.InstanceName = *vsw, *ip, *name
		req.ImageId, req.InstanceType = *image, *typ
		req.Amount = requests.NewInteger(1)
		switch len(sgs) {
		case 1:
			req.SecurityGroupId = sgs[0]
		default:
			ids := []string(sgs)
			req.SecurityGroupIds = &ids
		}
		if *ipv6 {
			req.Ipv6AddressCount = requests.NewInteger(1)
		}
		resp, err := c.ecs.RunInstances(req)
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(resp)
		}
		for _, id := range resp.InstanceIdSets.InstanceIdSet {
			fmt.Fprintln(c.stdout, id)
		}
		return 0
	}
}

func instanceDelete(fs *flag.FlagSet) func(c *call) int {
	force := fs.Bool("force", false, "delete even if the instance is running")
	return func(c *call) int {
		req := ecs.CreateDeleteInstanceRequest()
		c.prep(req)
		req.InstanceId = c.args[0]
		if *force {
			req.Force = requests.NewBoolean(true)
		}
		resp, err := c.ecs.DeleteInstance(req)
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(resp)
		}
		return 0
	}
}

func instanceStart(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		req := ecs.CreateStartInstanceRequest()
		c.prep(req)
		req.InstanceId = c.args[0]
		resp, err := c.ecs.StartInstance(req)
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(resp)
		}
		return 0
	}
}

func instanceStop(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		req := ecs.CreateStopInstanceRequest()
		c.prep(req)
		req.InstanceId = c.args[0]
		resp, err := c.ecs.StopInstance(req)
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(resp)
		}
		return 0
	}
}

func instanceSetGroups(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		var sgs stringList
		for _, a := range c.args[1:] {
			sgs.Set(a)
		}
		if len(sgs) == 0 {
			return c.usageErr("give at least one security group ID")
		}
		req := ecs.CreateModifyInstanceAttributeRequest()
		c.prep(req)
		req.InstanceId = c.args[0]
		ids := []string(sgs)
		req.SecurityGroupIds = &ids
		resp, err := c.ecs.ModifyInstanceAttribute(req)
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(resp)
		}
		return 0
	}
}
