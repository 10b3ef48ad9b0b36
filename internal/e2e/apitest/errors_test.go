package apitest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/alibabacloud-go/tea/tea"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// errCase is a call that must fail with this HTTP status and code.
type errCase struct {
	name   string
	call   func() error
	status int
	code   string
}

// runErrCases runs each case as a subtest and checks, after each, that
// snapshot (the state the cases could touch) is what it was before.
func runErrCases(t *testing.T, snapshot func(t testing.TB) string, cases []errCase) {
	t.Helper()
	before := snapshot(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.call(), tc.status, tc.code)
			if after := snapshot(t); after != before {
				t.Errorf("the refused call changed state:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// groupState renders groups (attributes and all rules of both NIC types) and
// the region's group list for before/after comparisons.
func groupState(c *ecs.Client, ids ...string) func(t testing.TB) string {
	return func(t testing.TB) string {
		t.Helper()
		var b strings.Builder
		fmt.Fprintf(&b, "groups %v\n", sorted(groupIDs(t, c, nil)...))
		for _, id := range ids {
			for _, nic := range []string{"intranet", "internet"} {
				a := attr(t, c, id, nic)
				fmt.Fprintf(&b, "%s %s %q %q %s:", id, nic, a.SecurityGroupName, a.Description, a.InnerAccessPolicy)
				ps := slices.Clone(a.Permissions.Permission)
				slices.SortFunc(ps, func(x, y ecs.Permission) int { return strings.Compare(x.SecurityGroupRuleId, y.SecurityGroupRuleId) })
				for _, p := range ps {
					fmt.Fprintf(&b, " %+v", p)
				}
				b.WriteString("\n")
			}
		}
		return b.String()
	}
}

// authorizeErr is AuthorizeSecurityGroup with the given permissions.
func authorizeErr(c *ecs.Client, sg string, perms ...ecs.AuthorizeSecurityGroupPermissions) func() error {
	return func() error { return authorize(c, sg, perms...) }
}

func egressErr(c *ecs.Client, sg string, perms ...ecs.AuthorizeSecurityGroupEgressPermissions) func() error {
	return func() error {
		r := ecs.CreateAuthorizeSecurityGroupEgressRequest()
		r.SecurityGroupId, r.Permissions = sg, &perms
		_, err := c.AuthorizeSecurityGroupEgress(r)
		return err
	}
}

type perm = ecs.AuthorizeSecurityGroupPermissions

// v3Rule is Authorize (or AuthorizeSecurityGroupEgress) of one TCP 80
// rule with these further fields, through CallApi, which sends any field.
func v3Rule(e *env, action, sg string, fields map[string]any) func() error {
	return func() error {
		p := map[string]any{"IpProtocol": "TCP", "PortRange": "80/80"}
		for k, v := range fields {
			p[k] = v
		}
		_, err := call(e.v3, ecsVersion, action, map[string]any{"SecurityGroupId": sg, "Permissions": []any{p}}, nil)
		return err
	}
}

func TestAuthorizeErrors(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	otherVPC := createVPC(t, e.vpc, "10.1.0.0/16")
	sg := createGroup(t, c, "target", v, "")
	peer := createGroup(t, c, "peer", v, "")
	farPeer := createGroup(t, c, "far", otherVPC, "")
	ent := createGroup(t, c, "ent", v, "enterprise")
	classic := createGroup(t, c, "classic", "", "")
	classicPeer := createGroup(t, c, "classic-peer", "", "")
	noErr(t, authorize(c, sg, cidrIngress("TCP", "22/22", "10.0.0.0/8")))
	pl6 := func() string {
		r := ecs.CreateCreatePrefixListRequest()
		r.AddressFamily, r.MaxEntries, r.PrefixListName = "IPv6", "5", "six"
		return must(c.CreatePrefixList(r))(t).PrefixListId
	}()
	v4 := func(mod func(p *perm)) perm {
		p := cidrIngress("TCP", "80/80", "192.168.0.0/16")
		mod(&p)
		return p
	}
	var many []perm
	for i := range 101 {
		many = append(many, cidrIngress("TCP", fmt.Sprintf("%d/%d", 1000+i, 1000+i), "1.1.1.1/32"))
	}

	runErrCases(t, groupState(c, sg, ent, classic), []errCase{
		{"protocol not supported", authorizeErr(c, sg, v4(func(p *perm) { p.IpProtocol = "SCTP" })), 400, "InvalidIpProtocol.ValueNotSupported"},
		{"protocol missing", authorizeErr(c, sg, v4(func(p *perm) { p.IpProtocol = "" })), 400, "MissingParameter"},
		{"PortRange missing", authorizeErr(c, sg, v4(func(p *perm) { p.PortRange = "" })), 400, "InvalidPortRange.Malformed"},
		{"PortRange single port", authorizeErr(c, sg, v4(func(p *perm) { p.PortRange = "22" })), 400, "InvalidParam.PortRange"},
		{"PortRange start after end", authorizeErr(c, sg, v4(func(p *perm) { p.PortRange = "200/100" })), 400, "InvalidParam.PortRange"},
		{"PortRange port 0", authorizeErr(c, sg, v4(func(p *perm) { p.PortRange = "0/22" })), 400, "InvalidParam.PortRange"},
		{"PortRange port 65536", authorizeErr(c, sg, v4(func(p *perm) { p.PortRange = "1/65536" })), 400, "InvalidParam.PortRange"},
		{"ICMP with ports", authorizeErr(c, sg, v4(func(p *perm) { p.IpProtocol = "ICMP" })), 400, "InvalidIpProtocol.Malformed"},
		{"TCP with -1/-1", authorizeErr(c, sg, v4(func(p *perm) { p.PortRange = "-1/-1" })), 400, "InvalidIpProtocol.Malformed"},
		{"bad SourceCidrIp", authorizeErr(c, sg, v4(func(p *perm) { p.SourceCidrIp = "10.0.0.300/8" })), 400, "InvalidSourceCidrIp.Malformed"},
		{"IPv6 block as SourceCidrIp", authorizeErr(c, sg, v4(func(p *perm) { p.SourceCidrIp = "2001:db8::/32" })), 400, "InvalidSourceCidrIp.Malformed"},
		{"bad Ipv6SourceCidrIp", authorizeErr(c, sg, v4(func(p *perm) { p.SourceCidrIp, p.Ipv6SourceCidrIp = "", "2001:zz::/32" })), 400, "InvalidParam.Ipv6SourceCidrIp"},
		{"IPv4 and IPv6 source", authorizeErr(c, sg, v4(func(p *perm) { p.Ipv6SourceCidrIp = "2001:db8::/32" })), 400, "InvalidParam.SourceIp"},
		{"no source", authorizeErr(c, sg, v4(func(p *perm) { p.SourceCidrIp = "" })), 400, "MissingParameter.Source"},
		{"Policy allow", authorizeErr(c, sg, v4(func(p *perm) { p.Policy = "allow" })), 400, "InvalidPolicy.Malformed"},
		{"Priority text", authorizeErr(c, sg, v4(func(p *perm) { p.Priority = "high" })), 400, "InvalidPriority.Malformed"},
		{"Priority 0", authorizeErr(c, sg, v4(func(p *perm) { p.Priority = "0" })), 400, "InvalidPriority.ValueNotSupported"},
		{"Priority 101", authorizeErr(c, sg, v4(func(p *perm) { p.Priority = "101" })), 400, "InvalidPriority.ValueNotSupported"},
		{"NicType wan", authorizeErr(c, sg, v4(func(p *perm) { p.NicType = "wan" })), 400, "InvalidNicType.ValueNotSupported"},
		{"SourcePortRange text", authorizeErr(c, sg, v4(func(p *perm) { p.SourcePortRange = "abc" })), 400, "InvalidSourcePortRange.Malformed"},
		{"Description of 513", authorizeErr(c, sg, v4(func(p *perm) { p.Description = strings.Repeat("d", 513) })), 400, "InvalidSecurityGroupDiscription.Malformed"},
		{"DestCidrIp equal to SourceCidrIp", authorizeErr(c, sg, v4(func(p *perm) { p.DestCidrIp = p.SourceCidrIp })), 400, "InvalidParamter.Conflict"},
		{"IPv4 peer with IPv6 local", authorizeErr(c, sg, v4(func(p *perm) { p.Ipv6DestCidrIp = "2001:db8::1" })), 400, "InvalidParameter.Conflict"},
		{"ICMP with IPv6", authorizeErr(c, sg, perm{IpProtocol: "ICMP", PortRange: "-1/-1", Ipv6SourceCidrIp: "2001:db8::/32"}), 400, "InvalidParam.Ipv4ProtocolConflictWithIpv6Address"},
		{"ICMPv6 with IPv4", authorizeErr(c, sg, perm{IpProtocol: "ICMPv6", PortRange: "-1/-1", SourceCidrIp: "10.0.0.0/8"}), 400, "InvalidParam.Ipv6ProtocolConflictWithIpv4Address"},
		{"unknown peer group", authorizeErr(c, sg, perm{IpProtocol: "TCP", PortRange: "80/80", SourceGroupId: "sg-doesnotexist0000000"}), 404, "InvalidSourceGroupId.NotFound"},
		{"SourceGroupOwnerId not numeric", authorizeErr(c, sg, perm{IpProtocol: "TCP", PortRange: "80/80", SourceGroupId: peer, SourceGroupOwnerId: "alice"}), 400, "InvalidParameter"},
		{"peer in another VPC", authorizeErr(c, sg, perm{IpProtocol: "TCP", PortRange: "80/80", SourceGroupId: farPeer}), 400, "InvalidSourceGroupId.Mismatch"},
		{"enterprise peer", authorizeErr(c, sg, perm{IpProtocol: "TCP", PortRange: "80/80", SourceGroupId: ent}), 400, "InvalidGroupAuthParameter.OperationDenied"},
		{"classic peer of a VPC group", authorizeErr(c, sg, perm{IpProtocol: "TCP", PortRange: "80/80", SourceGroupId: classicPeer}), 403, "InvalidNetworkType.Mismatch"},
		{"unknown prefix list", authorizeErr(c, sg, perm{IpProtocol: "TCP", PortRange: "80/80", SourcePrefixListId: "pl-doesnotexist0000000"}), 404, "InvalidPrefixListId.NotFound"},
		{"IPv6 prefix list with ICMP", authorizeErr(c, sg, perm{IpProtocol: "ICMP", PortRange: "-1/-1", SourcePrefixListId: pl6}), 400, "InvalidParam.PrefixListAddressFamilyMismatch"},
		{"duplicate in one request", authorizeErr(c, sg, v4(func(*perm) {}), v4(func(*perm) {})), 400, "InvalidParam.DuplicatePermissions"},
		// The whole request is checked before anything is applied.
		{"valid then invalid", authorizeErr(c, sg, v4(func(*perm) {}), v4(func(p *perm) { p.PortRange = "x" })), 400, "InvalidParam.PortRange"},
		{"101 permissions", authorizeErr(c, sg, many...), 400, "InvalidParam.Permissions"},
		{"Permissions and the flat form", func() error {
			r := ecs.CreateAuthorizeSecurityGroupRequest()
			r.SecurityGroupId, r.IpProtocol, r.PortRange, r.SourceCidrIp = sg, "TCP", "81/81", "1.1.1.1"
			r.Permissions = &[]perm{v4(func(*perm) {})}
			_, err := c.AuthorizeSecurityGroup(r)
			return err
		}, 400, "InvalidParam.Permissions"},
		{"no rule at all", authorizeErr(c, sg), 400, "MissingParameter"},
		{"unknown group", authorizeErr(c, "sg-doesnotexist0000000", v4(func(*perm) {})), 404, "InvalidSecurityGroupId.NotFound"},
		{"malformed group ID", authorizeErr(c, "web-1", v4(func(*perm) {})), 400, "InvalidSecurityGroupId.Malformed"},
		{"no group ID", authorizeErr(c, "", v4(func(*perm) {})), 400, "MissingParameter"},
		{"enterprise group names a group", authorizeErr(c, ent, perm{IpProtocol: "TCP", PortRange: "80/80", SourceGroupId: peer}), 400, "InvalidGroupParameter.OperationDenied"},
		{"classic group with a prefix list", authorizeErr(c, classic, perm{IpProtocol: "TCP", PortRange: "80/80", SourcePrefixListId: pl6}), 400, "NotSupported.ClassicNetworkPrefixList"},
		{"classic group peer on the internet NIC", authorizeErr(c, classic, perm{IpProtocol: "TCP", PortRange: "80/80", SourceGroupId: classicPeer, NicType: "internet"}), 403, "InvalidSourceGroupId.Mismatch"},
		{"egress without destination", egressErr(c, sg, ecs.AuthorizeSecurityGroupEgressPermissions{IpProtocol: "TCP", PortRange: "80/80"}), 400, "MissingParameter.Dest"},
		{"egress bad DestCidrIp", egressErr(c, sg, ecs.AuthorizeSecurityGroupEgressPermissions{IpProtocol: "TCP", PortRange: "80/80", DestCidrIp: "300.0.0.0/8"}), 400, "InvalidDestCidrIp.Malformed"},
		{"egress peer in another VPC", egressErr(c, sg, ecs.AuthorizeSecurityGroupEgressPermissions{IpProtocol: "TCP", PortRange: "80/80", DestGroupId: farPeer}), 400, "InvalidDestGroupId.Mismatch"},
		{"egress unknown peer", egressErr(c, sg, ecs.AuthorizeSecurityGroupEgressPermissions{IpProtocol: "TCP", PortRange: "80/80", DestGroupId: "sg-doesnotexist0000000"}), 404, "InvalidDestGroupId.NotFound"},
		// A group or prefix list on the local side (which takes a CIDR
		// block only) was ignored: the rule admitted more than written.
		// The typed requests have no such field; a raw one can send it.
		{"ingress group on the local side", v3Rule(e, "AuthorizeSecurityGroup", sg, map[string]any{"SourceCidrIp": "10.0.0.0/8", "DestGroupId": peer}), 400, "InvalidSourceOrDestGroupId.DirectionMissmatch"},
		{"ingress group alone on the local side", v3Rule(e, "AuthorizeSecurityGroup", sg, map[string]any{"DestGroupId": peer}), 400, "InvalidSourceOrDestGroupId.DirectionMissmatch"},
		{"ingress prefix list on the local side", v3Rule(e, "AuthorizeSecurityGroup", sg, map[string]any{"SourceCidrIp": "10.0.0.0/8", "DestPrefixListId": pl6}), 400, "InvalidParameter"},
		{"egress group on the local side", v3Rule(e, "AuthorizeSecurityGroupEgress", sg, map[string]any{"DestCidrIp": "10.0.0.0/8", "SourceGroupId": peer}), 400, "InvalidSourceOrDestGroupId.DirectionMissmatch"},
		{"egress prefix list on the local side", v3Rule(e, "AuthorizeSecurityGroupEgress", sg, map[string]any{"DestCidrIp": "10.0.0.0/8", "SourcePrefixListId": pl6}), 400, "InvalidParameter"},
		{"unknown region", func() error {
			r := ecs.CreateAuthorizeSecurityGroupRequest()
			r.RegionId, r.SecurityGroupId = "xx-nowhere-1", sg
			r.Permissions = &[]perm{v4(func(*perm) {})}
			_, err := c.AuthorizeSecurityGroup(r)
			return err
		}, 404, "InvalidRegionId.NotFound"},
		{"group of another region", func() error {
			r := ecs.CreateAuthorizeSecurityGroupRequest()
			r.RegionId, r.SecurityGroupId = "cn-shanghai", sg
			r.Permissions = &[]perm{v4(func(*perm) {})}
			_, err := c.AuthorizeSecurityGroup(r)
			return err
		}, 404, "InvalidSecurityGroupId.NotFound"},
	})
}

func TestRevokeAndModifyRuleErrors(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	far := createVPC(t, e.vpc, "10.1.0.0/16")
	sg := createGroup(t, c, "target", v, "")
	peer := createGroup(t, c, "peer", v, "")
	farPeer := createGroup(t, c, "far", far, "")
	classic := createGroup(t, c, "classic", "", "")
	noErr(t, authorize(c, sg, cidrIngress("TCP", "22/22", "10.0.0.0/8"), cidrIngress("TCP", "80/80", "10.0.0.0/8")))
	noErr(t, authorize(c, classic, cidrIngress("TCP", "22/22", "1.2.3.4")))
	ids := map[string]string{}
	for _, p := range rules(t, c, sg, "") {
		ids[p.PortRange] = p.SecurityGroupRuleId
	}
	classicRule := rules(t, c, classic, "internet")[0].SecurityGroupRuleId

	revokeIDs := func(egress bool, rs ...string) func() error {
		return func() error {
			if egress {
				r := ecs.CreateRevokeSecurityGroupEgressRequest()
				r.SecurityGroupId, r.SecurityGroupRuleId = sg, &rs
				_, err := c.RevokeSecurityGroupEgress(r)
				return err
			}
			r := ecs.CreateRevokeSecurityGroupRequest()
			r.SecurityGroupId, r.SecurityGroupRuleId = sg, &rs
			_, err := c.RevokeSecurityGroup(r)
			return err
		}
	}
	modify := func(set func(r *ecs.ModifySecurityGroupRuleRequest)) func() error {
		return func() error {
			r := ecs.CreateModifySecurityGroupRuleRequest()
			r.SecurityGroupId = sg
			set(r)
			_, err := c.ModifySecurityGroupRule(r)
			return err
		}
	}
	runErrCases(t, groupState(c, sg, classic), []errCase{
		{"revoke unknown rule ID", revokeIDs(false, "sgr-doesnotexist000000"), 404, "InvalidSecurityGroupRuleId.NotFound"},
		{"revoke known and unknown rule IDs", revokeIDs(false, ids["22/22"], "sgr-doesnotexist000000"), 404, "InvalidSecurityGroupRuleId.NotFound"},
		{"revoke an ingress rule as egress", revokeIDs(true, ids["22/22"]), 404, "InvalidSecurityGroupRuleId.NotFound"},
		{"revoke a rule ID twice", revokeIDs(false, ids["22/22"], ids["22/22"]), 400, "InvalidParam.SecurityGroupRuleIdRepeated"},
		{"revoke a rule that does not exist", func() error {
			r := ecs.CreateRevokeSecurityGroupRequest()
			r.SecurityGroupId = sg
			r.Permissions = &[]ecs.RevokeSecurityGroupPermissions{{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8", Priority: "2"}}
			_, err := c.RevokeSecurityGroup(r)
			return err
		}, 400, "InvalidSecurityGroupRule.RuleNotExist"},
		{"revoke by ID and Permissions", func() error {
			r := ecs.CreateRevokeSecurityGroupRequest()
			r.SecurityGroupId, r.SecurityGroupRuleId = sg, &[]string{ids["80/80"]}
			r.Permissions = &[]ecs.RevokeSecurityGroupPermissions{{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}}
			_, err := c.RevokeSecurityGroup(r)
			return err
		}, 400, "InvalidParam.Permissions"},
		{"revoke nothing", revokeIDs(false), 400, "MissingParameter"},
		{"modify unknown rule ID", modify(func(r *ecs.ModifySecurityGroupRuleRequest) {
			r.SecurityGroupRuleId, r.Description = "sgr-doesnotexist000000", "x"
		}), 404, "InvalidSecurityGroupRuleId.NotFound"},
		{"modify the kind of peer", modify(func(r *ecs.ModifySecurityGroupRuleRequest) {
			r.SecurityGroupRuleId, r.SourceGroupId = ids["22/22"], peer
		}), 400, "InvalidOperation.ModifySgRuleEntityType"},
		{"modify into a duplicate", modify(func(r *ecs.ModifySecurityGroupRuleRequest) {
			r.SecurityGroupRuleId, r.PortRange = ids["22/22"], "80/80"
		}), 400, "InvalidOperation.RuleDuplicate"},
		{"modify to a bad priority", modify(func(r *ecs.ModifySecurityGroupRuleRequest) {
			r.SecurityGroupRuleId, r.Priority = ids["22/22"], "500"
		}), 400, "InvalidPriority.ValueNotSupported"},
		{"modify to a bad port range", modify(func(r *ecs.ModifySecurityGroupRuleRequest) {
			r.SecurityGroupRuleId, r.PortRange = ids["22/22"], "99999/99999"
		}), 400, "InvalidParam.PortRange"},
		{"legacy modify without a match", modify(func(r *ecs.ModifySecurityGroupRuleRequest) {
			r.IpProtocol, r.PortRange, r.SourceCidrIp, r.Description = "TCP", "443/443", "10.0.0.0/8", "x"
		}), 404, "SecurityGroupRule.NotFound"},
		{"modify with a group on the local side", func() error {
			_, err := call(e.v3, ecsVersion, "ModifySecurityGroupRule", map[string]any{"SecurityGroupId": sg, "SecurityGroupRuleId": ids["22/22"], "DestGroupId": peer}, nil)
			return err
		}, 400, "InvalidSourceOrDestGroupId.DirectionMissmatch"},
		{"legacy modify with a group on the local side", func() error {
			_, err := call(e.v3, ecsVersion, "ModifySecurityGroupRule", map[string]any{"SecurityGroupId": sg, "IpProtocol": "TCP", "PortRange": "22/22",
				"SourceCidrIp": "10.0.0.0/8", "DestGroupId": peer, "Description": "x"}, nil)
			return err
		}, 400, "InvalidSourceOrDestGroupId.DirectionMissmatch"},
		{"modify egress with an ingress rule ID", func() error {
			r := ecs.CreateModifySecurityGroupEgressRuleRequest()
			r.SecurityGroupId, r.SecurityGroupRuleId, r.Description = sg, ids["22/22"], "x"
			_, err := c.ModifySecurityGroupEgressRule(r)
			return err
		}, 404, "InvalidSecurityGroupRuleId.NotFound"},
		{"modify the NicType of a classic rule", func() error {
			r := ecs.CreateModifySecurityGroupRuleRequest()
			r.SecurityGroupId, r.SecurityGroupRuleId, r.NicType = classic, classicRule, "intranet"
			_, err := c.ModifySecurityGroupRule(r)
			return err
		}, 400, "InvalidOperation.ModifyNicType"},
		{"revoke by peer in another VPC", func() error {
			r := ecs.CreateRevokeSecurityGroupRequest()
			r.SecurityGroupId = sg
			r.Permissions = &[]ecs.RevokeSecurityGroupPermissions{{IpProtocol: "TCP", PortRange: "22/22", SourceGroupId: farPeer}}
			_, err := c.RevokeSecurityGroup(r)
			return err
		}, 400, "InvalidSourceGroupId.Mismatch"},
	})
}

func TestGroupErrors(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	sg := createGroup(t, c, "basic", v, "")
	ent := createGroup(t, c, "ent", v, "enterprise")

	create := func(set func(r *ecs.CreateSecurityGroupRequest)) func() error {
		return func() error {
			r := ecs.CreateCreateSecurityGroupRequest()
			set(r)
			_, err := c.CreateSecurityGroup(r)
			return err
		}
	}
	describe := func(set func(r *ecs.DescribeSecurityGroupsRequest)) func() error {
		return func() error {
			r := ecs.CreateDescribeSecurityGroupsRequest()
			set(r)
			_, err := c.DescribeSecurityGroups(r)
			return err
		}
	}
	attribute := func(set func(r *ecs.DescribeSecurityGroupAttributeRequest)) func() error {
		return func() error {
			r := ecs.CreateDescribeSecurityGroupAttributeRequest()
			r.SecurityGroupId = sg
			set(r)
			_, err := c.DescribeSecurityGroupAttribute(r)
			return err
		}
	}
	policy := func(id, p string) func() error {
		return func() error {
			r := ecs.CreateModifySecurityGroupPolicyRequest()
			r.SecurityGroupId, r.InnerAccessPolicy = id, p
			_, err := c.ModifySecurityGroupPolicy(r)
			return err
		}
	}
	rename := func(id, name, desc string) func() error {
		return func() error {
			r := ecs.CreateModifySecurityGroupAttributeRequest()
			r.SecurityGroupId, r.SecurityGroupName, r.Description = id, name, desc
			_, err := c.ModifySecurityGroupAttribute(r)
			return err
		}
	}
	references := func(ids ...string) func() error {
		return func() error {
			r := ecs.CreateDescribeSecurityGroupReferencesRequest()
			r.SecurityGroupId = &ids
			_, err := c.DescribeSecurityGroupReferences(r)
			return err
		}
	}
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = sg
	}
	runErrCases(t, groupState(c, sg, ent), []errCase{
		{"name starting with a digit", create(func(r *ecs.CreateSecurityGroupRequest) { r.SecurityGroupName = "1web" }), 400, "InvalidSecurityGroupName.Malformed"},
		{"name with a URL", create(func(r *ecs.CreateSecurityGroupRequest) { r.SecurityGroupName = "http://web" }), 400, "InvalidSecurityGroupName.Malformed"},
		{"name of 129", create(func(r *ecs.CreateSecurityGroupRequest) { r.SecurityGroupName = "w" + strings.Repeat("x", 128) }), 400, "InvalidSecurityGroupName.Malformed"},
		{"description of 1", create(func(r *ecs.CreateSecurityGroupRequest) { r.Description = "x" }), 400, "InvalidSecurityGroupDiscription.Malformed"},
		{"unknown group type", create(func(r *ecs.CreateSecurityGroupRequest) { r.SecurityGroupType = "advanced" }), 400, "InvalidParams.GroupType"},
		{"enterprise without a VPC", create(func(r *ecs.CreateSecurityGroupRequest) { r.SecurityGroupType = "enterprise" }), 400, "InvalidParams.VpcIdGroupType"},
		{"unknown VPC", create(func(r *ecs.CreateSecurityGroupRequest) { r.VpcId = "vpc-doesnotexist000000" }), 404, "InvalidVpcId.NotFound"},
		{"reserved tag key", create(func(r *ecs.CreateSecurityGroupRequest) {
			r.Tag = &[]ecs.CreateSecurityGroupTag{{Key: "acs:owner", Value: "x"}}
		}), 400, "InvalidTagKey.Malformed"},
		{"unknown region", create(func(r *ecs.CreateSecurityGroupRequest) { r.RegionId = "xx-nowhere-1" }), 404, "InvalidRegionId.NotFound"},
		{"no region (V3)", func() error {
			_, err := call(e.v3, ecsVersion, "CreateSecurityGroup", map[string]any{"RegionId": ""}, nil)
			return err
		}, 400, "MissingParameter"},
		{"rename to a bad name", rename(sg, "-x", ""), 400, "InvalidSecurityGroupName.Malformed"},
		{"rename an unknown group", rename("sg-doesnotexist0000000", "fine", ""), 404, "InvalidSecurityGroupId.NotFound"},
		{"bad description", rename(sg, "", "https://example.com"), 400, "InvalidSecurityGroupDiscription.Malformed"},
		{"InnerAccessPolicy Reject", policy(sg, "Reject"), 400, "InvalidPolicy.Malformed"},
		{"InnerAccessPolicy missing", policy(sg, ""), 400, "MissingParameter"},
		{"InnerAccessPolicy of an enterprise group", policy(ent, "Accept"), 404, "InvalidParameter.InnerAccessPolicy"},
		{"Direction sideways", attribute(func(r *ecs.DescribeSecurityGroupAttributeRequest) { r.Direction = "sideways" }), 400, "InvalidParamter"},
		{"NicType wan", attribute(func(r *ecs.DescribeSecurityGroupAttributeRequest) { r.NicType = "wan" }), 400, "InvalidNicType.ValueNotSupported"},
		{"attribute MaxResults 5", attribute(func(r *ecs.DescribeSecurityGroupAttributeRequest) { r.MaxResults = "5" }), 400, "InvalidParameter.MaxResults"},
		{"attribute of a malformed ID", attribute(func(r *ecs.DescribeSecurityGroupAttributeRequest) { r.SecurityGroupId = "group-1" }), 400, "InvalidSecurityGroupId.Malformed"},
		{"PageSize 51", describe(func(r *ecs.DescribeSecurityGroupsRequest) { r.PageSize = "51" }), 400, "InvalidPageSize.Malformed"},
		{"PageNumber 0", describe(func(r *ecs.DescribeSecurityGroupsRequest) { r.PageNumber = "0" }), 400, "InvalidPageNumber.Malformed"},
		{"MaxResults 101", describe(func(r *ecs.DescribeSecurityGroupsRequest) { r.MaxResults = "101" }), 400, "InvalidParameter.MaxResults"},
		{"NextToken garbage", describe(func(r *ecs.DescribeSecurityGroupsRequest) { r.NextToken = "garbage" }), 400, "InvalidNextToken.Malformed"},
		{"NetworkType wan", describe(func(r *ecs.DescribeSecurityGroupsRequest) { r.NetworkType = "wan" }), 400, "InvalidNetworkType.ValueNotSupported"},
		{"SecurityGroupType filter", describe(func(r *ecs.DescribeSecurityGroupsRequest) { r.SecurityGroupType = "x" }), 400, "InvalidParams.GroupType"},
		{"SecurityGroupIds not JSON", describe(func(r *ecs.DescribeSecurityGroupsRequest) { r.SecurityGroupIds = "sg-a,sg-b" }), 400, "InvalidParameter"},
		{"101 SecurityGroupIds", describe(func(r *ecs.DescribeSecurityGroupsRequest) {
			r.SecurityGroupIds = `["` + strings.TrimSuffix(strings.Repeat(sg+`","`, 101), `","`) + `"]`
		}), 400, "InvalidSecurityGroupIds.Malformed"},
		{"DryRun", describe(func(r *ecs.DescribeSecurityGroupsRequest) { r.DryRun = "true" }), 400, "DryRunOperation"},
		{"describe in an unknown region", describe(func(r *ecs.DescribeSecurityGroupsRequest) { r.RegionId = "xx-nowhere-1" }), 404, "InvalidRegionId.NotFound"},
		{"references of 11 groups", references(eleven...), 400, "InvalidSecurityGroupId.Malformed"},
		{"references of none", references(), 400, "InvalidSecurityGroupId.Malformed"},
		{"references of an unknown group", references("sg-doesnotexist0000000"), 404, "InvalidSecurityGroupId.NotFound"},
	})
}

// TestDeleteDependencies: a group with members, or named by another group's
// rule (either direction), cannot be deleted; a rule naming the group itself
// does not hold it.
func TestDeleteDependencies(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	n := newNetwork(t, e, "10.0.0.0/16")
	inst := runInstance(t, c, n.vsw, n.sgA)
	referenced := createGroup(t, c, "referenced", n.vpc, "")
	egressRef := createGroup(t, c, "egress-referenced", n.vpc, "")
	self := createGroup(t, c, "self", n.vpc, "")
	noErr(t, authorize(c, n.sgB, perm{IpProtocol: "TCP", PortRange: "22/22", SourceGroupId: referenced}))
	noErr(t, egressErr(c, n.sgB, ecs.AuthorizeSecurityGroupEgressPermissions{IpProtocol: "TCP", PortRange: "22/22", DestGroupId: egressRef})())
	noErr(t, authorize(c, self, perm{IpProtocol: "TCP", PortRange: "22/22", SourceGroupId: self}))

	del := func(id string) func() error {
		return func() error {
			r := ecs.CreateDeleteSecurityGroupRequest()
			r.SecurityGroupId = id
			_, err := c.DeleteSecurityGroup(r)
			return err
		}
	}
	runErrCases(t, groupState(c, n.sgA, n.sgB, referenced, egressRef), []errCase{
		{"with a member", del(n.sgA), 403, "DependencyViolation"},
		{"named by an ingress rule", del(referenced), 403, "DependencyViolation"},
		{"named by an egress rule", del(egressRef), 403, "DependencyViolation"},
		{"unknown", del("sg-doesnotexist0000000"), 404, "InvalidSecurityGroupId.NotFound"},
	})

	rr := ecs.CreateDescribeSecurityGroupReferencesRequest()
	rr.SecurityGroupId = &[]string{referenced, egressRef, n.sgA}
	refs := must(c.DescribeSecurityGroupReferences(rr))(t).SecurityGroupReferences.SecurityGroupReference
	got := map[string][]string{}
	for _, r := range refs {
		for _, g := range r.ReferencingSecurityGroups.ReferencingSecurityGroup {
			got[r.SecurityGroupId] = append(got[r.SecurityGroupId], g.SecurityGroupId+"@"+g.AliUid)
		}
	}
	want := n.sgB + "@" + e.srv.UID
	if len(refs) != 3 || !slices.Equal(got[referenced], []string{want}) || !slices.Equal(got[egressRef], []string{want}) || len(got[n.sgA]) != 0 {
		t.Errorf("DescribeSecurityGroupReferences: %v", got)
	}

	noErr(t, del(self)())
	// Once the member and the rules are gone, the groups can be deleted.
	mr := ecs.CreateModifyInstanceAttributeRequest()
	mr.InstanceId, mr.SecurityGroupIds = inst, &[]string{n.sgB}
	must(c.ModifyInstanceAttribute(mr))(t)
	noErr(t, del(n.sgA)())
	rv := ecs.CreateRevokeSecurityGroupRequest()
	rv.SecurityGroupId = n.sgB
	rv.SecurityGroupRuleId = &[]string{}
	for _, p := range rules(t, c, n.sgB, "") {
		if p.Direction == "ingress" {
			*rv.SecurityGroupRuleId = append(*rv.SecurityGroupRuleId, p.SecurityGroupRuleId)
		}
	}
	must(c.RevokeSecurityGroup(rv))(t)
	noErr(t, del(referenced)())
	wantErr(t, del(egressRef)(), 403, "DependencyViolation")
}

// TestErrorEnvelope: both SDKs find the ECS error fields they parse.
func TestErrorEnvelope(t *testing.T) {
	e := newEnv(t)
	r := ecs.CreateDescribeSecurityGroupAttributeRequest()
	r.SecurityGroupId = "sg-doesnotexist0000000"
	_, err := e.ecs.DescribeSecurityGroupAttribute(r)
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("error %T %v", err, err)
	}
	if !guid.MatchString(se.RequestId()) || se.HostId() != e.addr || !strings.Contains(se.Message(), "sg-doesnotexist0000000") ||
		!strings.Contains(se.Recommend(), "InvalidSecurityGroupId.NotFound") || !strings.Contains(se.Recommend(), se.RequestId()) {
		t.Errorf("classic SDK error: RequestId %q HostId %q Message %q Recommend %q", se.RequestId(), se.HostId(), se.Message(), se.Recommend())
	}

	_, err = call(e.v3, ecsVersion, "DescribeSecurityGroupAttribute", map[string]any{"SecurityGroupId": "sg-doesnotexist0000000"}, nil)
	var te *tea.SDKError
	if !errors.As(err, &te) {
		t.Fatalf("error %T %v", err, err)
	}
	data := tea.StringValue(te.Data)
	if !strings.Contains(data, `"HostId":"`+e.addr+`"`) || !strings.Contains(data, `"RequestId"`) || !strings.Contains(tea.StringValue(te.Message), "sg-doesnotexist0000000") {
		t.Errorf("darabonba error: Message %q Data %s", tea.StringValue(te.Message), data)
	}

	// Methods other than GET and POST are refused before anything else.
	pr := ecs.CreateDescribeRegionsRequest()
	pr.Method = "PUT"
	_, err = e.ecs.DescribeRegions(pr)
	wantErr(t, err, 403, "UnsupportedHTTPMethod")
}

// TestErrorMessagesNameTheInput: a refused rule is named in the message as
// the client sent it, Permissions.N with its own N (gaps and all) and the
// legacy flat form without one, and the hints of a message fit the request
// (no -1/-1 for TCP, MaxResults 10 to 1000 where the action starts at 10).
func TestErrorMessagesNameTheInput(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	sg := createGroup(t, c, "target", createVPC(t, e.vpc, "10.0.0.0/16"), "")
	// common sends any parameters through the SDK's CommonRequest, as the
	// aliyun CLI does: a typed request always numbers Permissions 1, 2, ….
	common := func(action string, q map[string]string) func() error {
		return func() error {
			q["SecurityGroupId"] = sg
			_, err := cliCall(&c.Client, e.addr, "POST", ecsVersion, action, q)
			return err
		}
	}
	rule := func(n int, ports, cidr string) map[string]string {
		k := fmt.Sprintf("Permissions.%d.", n)
		return map[string]string{k + "IpProtocol": "TCP", k + "PortRange": ports, k + "SourceCidrIp": cidr}
	}
	join := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	flat := func(egress bool, proto, ports string) func() error {
		if egress {
			r := ecs.CreateAuthorizeSecurityGroupEgressRequest()
			r.SecurityGroupId, r.IpProtocol, r.PortRange, r.DestCidrIp = sg, proto, ports, "10.0.0.0/8"
			return func() error { _, err := c.AuthorizeSecurityGroupEgress(r); return err }
		}
		r := ecs.CreateAuthorizeSecurityGroupRequest()
		r.SecurityGroupId, r.IpProtocol, r.PortRange, r.SourceCidrIp = sg, proto, ports, "10.0.0.0/8"
		return func() error { _, err := c.AuthorizeSecurityGroup(r); return err }
	}
	attrPage := func(max string) func() error {
		r := ecs.CreateDescribeSecurityGroupAttributeRequest()
		r.SecurityGroupId = sg
		r.QueryParams["MaxResults"] = max // the classic SDK's request has no MaxResults field
		return func() error { _, err := c.DescribeSecurityGroupAttribute(r); return err }
	}
	for _, tc := range []struct {
		name        string
		do          func() error
		status      int
		code        string
		want, never []string // in the message, and never in it
	}{
		{"second rule sent as Permissions.3", common("AuthorizeSecurityGroup", join(rule(1, "80/80", "10.0.0.0/8"), rule(3, "81/81", "10.0.0.0/33"))),
			400, "InvalidSourceCidrIp.Malformed", []string{"Permissions.3:"}, []string{"Permissions.2"}},
		{"repeat sent as Permissions.7", common("AuthorizeSecurityGroup", join(rule(5, "80/80", "10.0.0.0/8"), rule(7, "80/80", "10.0.0.0/8"))),
			400, "InvalidParam.DuplicatePermissions", []string{"Permissions.7 repeats"}, []string{"Permissions.2"}},
		{"revoke of missing Permissions.2", common("RevokeSecurityGroup", join(rule(2, "80/80", "10.0.0.0/8"), rule(4, "81/81", "10.0.0.0/8"))),
			400, "InvalidSecurityGroupRule.RuleNotExist", []string{"Permissions.2"}, []string{"Permissions.1"}},
		{"flat form, bad range", flat(false, "TCP", "22/21"), 400, "InvalidParam.PortRange", []string{`"22/21"`}, []string{"Permissions"}},
		{"flat form, TCP without ports", flat(false, "TCP", ""), 400, "InvalidPortRange.Malformed", []string{"1/65535"}, []string{"-1/-1", "Permissions"}},
		{"flat egress, UDP without ports", flat(true, "UDP", ""), 400, "InvalidPortRange.Malformed", []string{"1/65535"}, []string{"-1/-1", "Permissions"}},
		{"flat form, ICMP without ports", flat(false, "ICMP", ""), 400, "InvalidPortRange.Malformed", []string{"-1/-1 for ICMP"}, []string{"Permissions"}},
		{"MaxResults above 1000", attrPage("1001"), 400, "InvalidParameter.MaxResults", []string{"10 to 1000"}, nil},
		{"MaxResults 0", attrPage("0"), 400, "InvalidParameter.MaxResults", []string{"10 to 1000"}, nil},
		{"MaxResults 9", attrPage("9"), 400, "InvalidParameter.MaxResults", []string{"10 to 1000"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			wantErr(t, err, tc.status, tc.code)
			var se *sdkerrors.ServerError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v", err, err)
			}
			for _, s := range tc.want {
				if !strings.Contains(se.Message(), s) {
					t.Errorf("message %q lacks %q", se.Message(), s)
				}
			}
			for _, s := range tc.never {
				if strings.Contains(se.Message(), s) {
					t.Errorf("message %q has %q", se.Message(), s)
				}
			}
		})
	}
	if n := len(rules(t, c, sg, "")); n != 0 {
		t.Errorf("the refused calls left %d rules", n)
	}
}
