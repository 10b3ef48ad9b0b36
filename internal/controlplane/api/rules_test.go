package api

import (
	"fmt"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func isCode(err error, code string) bool { return ecserr.Is(err, code) }

func TestAuthorizeValidation(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpcFor("192.168.0.0/16")
	otherVPC := e.vpcFor("10.0.0.0/16")
	sg := e.newGroup(map[string]string{"VpcId": vpc})
	ent := e.newGroup(map[string]string{"VpcId": vpc, "SecurityGroupType": "enterprise"})
	far := e.newGroup(map[string]string{"VpcId": otherVPC})
	classic := e.newGroup(nil)
	rule := func(extra map[string]string) map[string]string {
		p := map[string]string{"SecurityGroupId": sg, "Permissions.1.IpProtocol": "TCP", "Permissions.1.PortRange": "22/22", "Permissions.1.SourceCidrIp": "10.0.0.0/8"}
		for k, v := range extra {
			if v == "" {
				delete(p, k)
			} else {
				p[k] = v
			}
		}
		return p
	}
	tests := []struct {
		name   string
		action string
		params map[string]string
		code   string
		status int
	}{
		{"bad protocol", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.IpProtocol": "SCTP"}), "InvalidIpProtocol.ValueNotSupported", 400},
		{"no port range", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.PortRange": ""}), "InvalidPortRange.Malformed", 400},
		{"malformed port range", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.PortRange": "22"}), "InvalidParam.PortRange", 400},
		{"reversed port range", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.PortRange": "200/1"}), "InvalidParam.PortRange", 400},
		{"ports for ICMP", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.IpProtocol": "ICMP"}), "InvalidIpProtocol.Malformed", 400},
		{"-1/-1 for TCP", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.PortRange": "-1/-1"}), "InvalidIpProtocol.Malformed", 400},
		{"bad source ports", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.SourcePortRange": "x/y"}), "InvalidSourcePortRange.Malformed", 400},
		{"bad CIDR", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.SourceCidrIp": "10.0.0.0/33"}), "InvalidSourceCidrIp.Malformed", 400},
		{"bad IPv6 CIDR", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.SourceCidrIp": "", "Permissions.1.Ipv6SourceCidrIp": "2001:db8::/129"}), "InvalidParam.Ipv6SourceCidrIp", 400},
		{"both families", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.Ipv6SourceCidrIp": "2001:db8::/32"}), "InvalidParam.SourceIp", 400},
		{"ICMP with IPv6", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.IpProtocol": "ICMP", "Permissions.1.PortRange": "-1/-1", "Permissions.1.SourceCidrIp": "", "Permissions.1.Ipv6SourceCidrIp": "::/0"}), "InvalidParam.Ipv4ProtocolConflictWithIpv6Address", 400},
		{"no peer", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.SourceCidrIp": ""}), "MissingParameter.Source", 400},
		{"no egress peer", "AuthorizeSecurityGroupEgress", rule(nil), "MissingParameter.Dest", 400},
		{"bad policy", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.Policy": "allow"}), "InvalidPolicy.Malformed", 400},
		{"priority 0", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.Priority": "0"}), "InvalidPriority.ValueNotSupported", 400},
		{"priority text", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.Priority": "high"}), "InvalidPriority.Malformed", 400},
		{"bad NicType", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.NicType": "wan"}), "InvalidNicType.ValueNotSupported", 400},
		{"local equals peer", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.DestCidrIp": "10.0.0.0/8"}), "InvalidParamter.Conflict", 400},
		{"mixed forms", "AuthorizeSecurityGroup", rule(map[string]string{"IpProtocol": "TCP"}), "InvalidParam.Permissions", 400},
		{"duplicates in one call", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.2.IpProtocol": "TCP", "Permissions.2.PortRange": "22/22", "Permissions.2.SourceCidrIp": "10.0.0.0/8"}), "InvalidParam.DuplicatePermissions", 400},
		{"unknown peer group", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.SourceCidrIp": "", "Permissions.1.SourceGroupId": "sg-nothere"}), "InvalidSourceGroupId.NotFound", 404},
		{"peer group in another VPC", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.SourceCidrIp": "", "Permissions.1.SourceGroupId": far}), "InvalidSourceGroupId.Mismatch", 400},
		{"peer group on the classic network", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.SourceCidrIp": "", "Permissions.1.SourceGroupId": classic}), "InvalidNetworkType.Mismatch", 403},
		{"enterprise peer group", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.SourceCidrIp": "", "Permissions.1.SourceGroupId": ent}), "InvalidGroupAuthParameter.OperationDenied", 400},
		{"enterprise group with a group peer", "AuthorizeSecurityGroup", rule(map[string]string{"SecurityGroupId": ent, "Permissions.1.SourceCidrIp": "", "Permissions.1.SourceGroupId": sg}), "InvalidGroupParameter.OperationDenied", 400},
		{"egress peer group unknown", "AuthorizeSecurityGroupEgress", rule(map[string]string{"Permissions.1.SourceCidrIp": "", "Permissions.1.DestGroupId": "sg-nothere"}), "InvalidDestGroupId.NotFound", 404},
		{"unknown prefix list", "AuthorizeSecurityGroup", rule(map[string]string{"Permissions.1.SourceCidrIp": "", "Permissions.1.SourcePrefixListId": "pl-nothere"}), "InvalidPrefixListId.NotFound", 404},
		{"prefix list in a classic group", "AuthorizeSecurityGroup", rule(map[string]string{"SecurityGroupId": classic, "Permissions.1.SourceCidrIp": "", "Permissions.1.SourcePrefixListId": "pl-x"}), "NotSupported.ClassicNetworkPrefixList", 400},
		{"no permissions", "AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg}, "MissingParameter", 400},
		{"unknown group", "AuthorizeSecurityGroup", rule(map[string]string{"SecurityGroupId": "sg-nothere"}), "InvalidSecurityGroupId.NotFound", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { e.ecsErr(tt.code, tt.status, tt.action, tt.params) })
	}
	if n := len(e.group(sg).Rules) + len(e.group(ent).Rules); n != 0 {
		t.Fatalf("refused calls left %d rules behind", n)
	}
}

func TestAuthorizeRevokeModify(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpcFor("192.168.0.0/16")
	sg := e.newGroup(map[string]string{"VpcId": vpc})
	app := e.newGroup(map[string]string{"VpcId": vpc, "SecurityGroupName": "app"})
	e.ecs("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg,
		"Permissions.1.IpProtocol": "tcp", "Permissions.1.PortRange": "22/22", "Permissions.1.SourceCidrIp": "10.0.0.1", "Permissions.1.Description": "ssh",
		"Permissions.2.IpProtocol": "TCP", "Permissions.2.PortRange": "5432/5432", "Permissions.2.SourceGroupId": app, "Permissions.2.Priority": "5",
		"Permissions.3.IpProtocol": "ALL", "Permissions.3.PortRange": "-1/-1", "Permissions.3.SourceCidrIp": "0.0.0.0/0", "Permissions.3.Policy": "drop", "Permissions.3.Priority": "100",
	})
	// Legacy flat form, egress, IPv6 echoed compressed.
	e.ecs("AuthorizeSecurityGroupEgress", map[string]string{"SecurityGroupId": sg, "IpProtocol": "udp", "PortRange": "53/53", "Ipv6DestCidrIp": "2001:DB8:0:0::/64"})
	// The same rule again adds nothing but updates the description.
	e.ecs("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "10.0.0.1/32", "Description": "admin ssh"})
	attr := e.ecs("DescribeSecurityGroupAttribute", map[string]string{"SecurityGroupId": sg}).(*describeSecurityGroupAttributeResponse)
	perms := attr.Permissions.Permission
	if len(perms) != 4 {
		t.Fatalf("%d rules, want 4: %+v", len(perms), perms)
	}
	byPort := map[string]permissionItem{}
	for _, p := range perms {
		byPort[p.PortRange] = p
	}
	ssh := byPort["22/22"]
	if ssh.SourceCidrIp != "10.0.0.1" || ssh.Description != "admin ssh" || ssh.Priority != "1" || ssh.Policy != "Accept" || ssh.IpProtocol != "TCP" || ssh.NicType != "intranet" {
		t.Fatalf("ssh rule %+v", ssh)
	}
	if pg := byPort["5432/5432"]; pg.SourceGroupId != app || pg.SourceGroupName != "app" || pg.SourceGroupOwnerAccount != "" { // same account: no owner, as ECS
		t.Fatalf("group-peer rule %+v", pg)
	}
	if dns := byPort["53/53"]; dns.Direction != "egress" || dns.Ipv6DestCidrIp != "2001:db8::/64" {
		t.Fatalf("egress rule %+v", dns)
	}
	if perms[0].Direction != "ingress" || perms[len(perms)-1].Direction != "egress" {
		t.Fatal("ingress rules come first")
	}
	// DeleteSecurityGroup refuses a group another rule names.
	e.ecsErr("DependencyViolation", 403, "DeleteSecurityGroup", map[string]string{"SecurityGroupId": app})
	refs := e.ecs("DescribeSecurityGroupReferences", map[string]string{"SecurityGroupId.1": app}).(*describeSecurityGroupReferencesResponse)
	if r := refs.SecurityGroupReferences.SecurityGroupReference; len(r) != 1 || r[0].ReferencingSecurityGroups.ReferencingSecurityGroup[0].SecurityGroupId != sg {
		t.Fatalf("references %+v", refs)
	}

	// Modify by ID: port changes, peer kind may not.
	e.ecs("ModifySecurityGroupRule", map[string]string{"SecurityGroupId": sg, "SecurityGroupRuleId": ssh.SecurityGroupRuleId, "PortRange": "2222/2222"})
	e.ecsErr("InvalidOperation.ModifySgRuleEntityType", 400, "ModifySecurityGroupRule", map[string]string{"SecurityGroupId": sg, "SecurityGroupRuleId": ssh.SecurityGroupRuleId, "SourceGroupId": app})
	e.ecsErr("InvalidSecurityGroupRuleId.NotFound", 404, "ModifySecurityGroupRule", map[string]string{"SecurityGroupId": sg, "SecurityGroupRuleId": "sgr-nothere", "PortRange": "1/2"})
	e.ecs("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "TCP", "PortRange": "3333/3333", "SourceCidrIp": "10.0.0.1"})
	e.ecsErr("InvalidOperation.RuleDuplicate", 400, "ModifySecurityGroupRule", map[string]string{"SecurityGroupId": sg, "SecurityGroupRuleId": ssh.SecurityGroupRuleId, "PortRange": "3333/3333"})
	e.ecs("RevokeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "TCP", "PortRange": "3333/3333", "SourceCidrIp": "10.0.0.1"})
	// Legacy modify: find by fields, change the description.
	e.ecs("ModifySecurityGroupEgressRule", map[string]string{"SecurityGroupId": sg, "IpProtocol": "UDP", "PortRange": "53/53", "Ipv6DestCidrIp": "2001:db8::/64", "Description": "dns"})
	e.ecsErr("SecurityGroupRule.NotFound", 404, "ModifySecurityGroupEgressRule", map[string]string{"SecurityGroupId": sg, "IpProtocol": "UDP", "PortRange": "54/54", "Ipv6DestCidrIp": "2001:db8::/64", "Description": "dns"})

	// Revoke by fields and by ID; missing rules are errors.
	e.ecsErr("InvalidSecurityGroupRule.RuleNotExist", 400, "RevokeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "10.0.0.1"})
	e.ecs("RevokeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "TCP", "PortRange": "2222/2222", "SourceCidrIp": "10.0.0.1"})
	e.ecsErr("InvalidSecurityGroupRuleId.NotFound", 404, "RevokeSecurityGroupEgress", map[string]string{"SecurityGroupId": sg, "SecurityGroupRuleId.1": byPort["5432/5432"].SecurityGroupRuleId})
	e.ecsErr("InvalidParam.SecurityGroupRuleIdRepeated", 400, "RevokeSecurityGroup", map[string]string{"SecurityGroupId": sg, "SecurityGroupRuleId.1": byPort["5432/5432"].SecurityGroupRuleId, "SecurityGroupRuleId.2": byPort["5432/5432"].SecurityGroupRuleId})
	e.ecs("RevokeSecurityGroup", map[string]string{"SecurityGroupId": sg, "SecurityGroupRuleId.1": byPort["5432/5432"].SecurityGroupRuleId})
	g := e.group(sg)
	if len(g.Rules) != 2 {
		t.Fatalf("%d rules left, want 2", len(g.Rules))
	}
	for _, r := range g.Rules {
		if r.Direction == model.Egress && r.Description != "dns" {
			t.Fatalf("legacy modify lost: %+v", r)
		}
	}
	e.ecs("DeleteSecurityGroup", map[string]string{"SecurityGroupId": app})
}

func TestGroupPeerQuota(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpcFor("192.168.0.0/16")
	sg := e.newGroup(map[string]string{"VpcId": vpc})
	peer := e.newGroup(map[string]string{"VpcId": vpc})
	for i := range model.MaxGroupPeerRules {
		e.ecs("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "TCP",
			"PortRange": fmt.Sprintf("%d/%d", 100+i, 100+i), "SourceGroupId": peer})
	}
	e.ecsErr("AuthorizedGroupRule.LimitExceed", 400, "AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "TCP", "PortRange": "99/99", "SourceGroupId": peer})
	// CIDR rules are not limited by it.
	e.ecs("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "TCP", "PortRange": "99/99", "SourceCidrIp": "10.0.0.0/8"})
}
