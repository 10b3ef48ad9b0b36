package cli

import (
	"flag"
	"fmt"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// sgClone copies a group and its rules with the official SDK, so a change can
// be tried on the copy first (the ECS guidance). Rules that name the group
// itself as their peer name the copy, so the copy behaves as the original
// does for its own members.
func sgClone(fs *flag.FlagSet) func(c *call) int {
	name := fs.String("name", "", "the copy's `name` (default: the original's name with \"-copy\")")
	vpcID := fs.String("vpc", "", "create the copy in this VPC `ID` (default: the original's VPC)")
	return func(c *call) int {
		src := c.args[0]
		greq := ecs.CreateDescribeSecurityGroupsRequest()
		c.prep(greq)
		greq.SecurityGroupIds = `["` + src + `"]`
		groups, err := c.ecs.DescribeSecurityGroups(greq)
		if err != nil {
			return c.fail(err)
		}
		if len(groups.SecurityGroups.SecurityGroup) != 1 {
			return c.failCode("InvalidSecurityGroupId.NotFound", "security group %s does not exist in region %s", src, c.region)
		}
		g := groups.SecurityGroups.SecurityGroup[0]
		attr, err := c.describeRules(src)
		if err != nil {
			return c.fail(err)
		}
		creq := ecs.CreateCreateSecurityGroupRequest()
		c.prep(creq)
		creq.SecurityGroupName = *name
		if creq.SecurityGroupName == "" && g.SecurityGroupName != "" {
			creq.SecurityGroupName = g.SecurityGroupName + "-copy"
		}
		creq.Description = strings.TrimSpace("Copy of " + src + ". " + g.Description)
		creq.VpcId, creq.SecurityGroupType = g.VpcId, g.SecurityGroupType
		if *vpcID != "" {
			creq.VpcId = *vpcID
		}
		created, err := c.ecs.CreateSecurityGroup(creq)
		if err != nil {
			return c.fail(err)
		}
		dst := created.SecurityGroupId
		// A half-made copy is deleted: the user is left with the whole
		// copy or none.
		undo := func(what string, err error) int {
			dreq := ecs.CreateDeleteSecurityGroupRequest()
			c.prep(dreq)
			dreq.SecurityGroupId = dst
			// c.fail prints a server's error alone: what became of the
			// copy is said first.
			if _, derr := c.ecs.DeleteSecurityGroup(dreq); derr != nil {
				fmt.Fprintf(c.stderr, "palisade %s: %s failed; the half-made copy %s is left, as deleting it failed too (%v)\n", c.name, what, dst, derr)
			} else {
				fmt.Fprintf(c.stderr, "palisade %s: %s failed, so the copy was deleted\n", c.name, what)
			}
			return c.fail(err)
		}
		if attr.InnerAccessPolicy != "" && g.SecurityGroupType != "enterprise" {
			preq := ecs.CreateModifySecurityGroupPolicyRequest()
			c.prep(preq)
			preq.SecurityGroupId, preq.InnerAccessPolicy = dst, attr.InnerAccessPolicy
			if _, err := c.ecs.ModifySecurityGroupPolicy(preq); err != nil {
				return undo("setting the copy's InnerAccessPolicy", err)
			}
		}
		self := func(id string) string {
			if id == src {
				return dst
			}
			return id
		}
		var in []ecs.AuthorizeSecurityGroupPermissions
		var out []ecs.AuthorizeSecurityGroupEgressPermissions
		var inLists, outLists []string // each rule's port range list, if any
		for _, p := range attr.Permissions.Permission {
			list := attr.portLists[p.SecurityGroupRuleId]
			if list != "" {
				p.PortRange = "" // the list stands for the ports
			}
			if strings.EqualFold(p.Direction, "egress") {
				outLists = append(outLists, list)
				out = append(out, ecs.AuthorizeSecurityGroupEgressPermissions{Policy: p.Policy, Priority: p.Priority,
					IpProtocol: p.IpProtocol, PortRange: p.PortRange, SourcePortRange: p.SourcePortRange,
					DestCidrIp: p.DestCidrIp, Ipv6DestCidrIp: p.Ipv6DestCidrIp, DestGroupId: self(p.DestGroupId),
					DestGroupOwnerAccount: p.DestGroupOwnerAccount, DestPrefixListId: p.DestPrefixListId,
					SourceCidrIp: p.SourceCidrIp, Ipv6SourceCidrIp: p.Ipv6SourceCidrIp, NicType: p.NicType, Description: p.Description})
				continue
			}
			inLists = append(inLists, list)
			in = append(in, ecs.AuthorizeSecurityGroupPermissions{Policy: p.Policy, Priority: p.Priority,
				IpProtocol: p.IpProtocol, PortRange: p.PortRange, SourcePortRange: p.SourcePortRange,
				SourceCidrIp: p.SourceCidrIp, Ipv6SourceCidrIp: p.Ipv6SourceCidrIp, SourceGroupId: self(p.SourceGroupId),
				SourceGroupOwnerAccount: p.SourceGroupOwnerAccount, SourcePrefixListId: p.SourcePrefixListId,
				DestCidrIp: p.DestCidrIp, Ipv6DestCidrIp: p.Ipv6DestCidrIp, NicType: p.NicType, Description: p.Description})
		}
		const batch = 100 // the most Permissions one call takes
		for i := 0; i < len(in); i += batch {
			req := ecs.CreateAuthorizeSecurityGroupRequest()
			c.prep(req)
			req.SecurityGroupId = dst
			part := in[i:min(i+batch, len(in))]
			req.Permissions = &part
			setPortLists(req.QueryParams, inLists[i:min(i+batch, len(in))])
			if _, err := c.ecs.AuthorizeSecurityGroup(req); err != nil {
				return undo("copying "+src+"'s inbound rules", err)
			}
		}
		for i := 0; i < len(out); i += batch {
			req := ecs.CreateAuthorizeSecurityGroupEgressRequest()
			c.prep(req)
			req.SecurityGroupId = dst
			part := out[i:min(i+batch, len(out))]
			req.Permissions = &part
			setPortLists(req.QueryParams, outLists[i:min(i+batch, len(out))])
			if _, err := c.ecs.AuthorizeSecurityGroupEgress(req); err != nil {
				return undo("copying "+src+"'s outbound rules", err)
			}
		}
		if c.json {
			return c.printJSON(map[string]any{"SecurityGroupId": dst, "CopiedFrom": src, "Rules": len(in) + len(out)})
		}
		fmt.Fprintln(c.stdout, dst)
		return 0
	}
}

// setPortLists names each rule's port range list in a request's
// parameters (Permissions.N.PortRangeListId), which the SDK's Permissions
// structs have no field for.
func setPortLists(params map[string]string, lists []string) {
	for i, l := range lists {
		if l != "" {
			params[fmt.Sprintf("Permissions.%d.PortRangeListId", i+1)] = l
		}
	}
}
