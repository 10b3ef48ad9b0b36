package apitest

import (
	"fmt"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// ingress returns a group's ingress rules.
func ingress(t testing.TB, c *ecs.Client, id string) []ecs.Permission {
	t.Helper()
	r := ecs.CreateDescribeSecurityGroupAttributeRequest()
	r.SecurityGroupId, r.Direction = id, "ingress"
	return must(c.DescribeSecurityGroupAttribute(r))(t).Permissions.Permission
}

// byPort indexes rules by their PortRange, which is unique in these tests.
func byPort(t testing.TB, ps []ecs.Permission) map[string]ecs.Permission {
	t.Helper()
	out := map[string]ecs.Permission{}
	for _, p := range ps {
		if _, dup := out[p.PortRange]; dup {
			t.Fatalf("two rules with PortRange %s", p.PortRange)
		}
		out[p.PortRange] = p
	}
	return out
}

func TestRuleLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	sg := createGroup(t, c, "rules", v, "")
	peer := createGroup(t, c, "peer", v, "")

	// Permissions array: three ingress rules in one call.
	ar := ecs.CreateAuthorizeSecurityGroupRequest()
	ar.SecurityGroupId = sg
	ar.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{
		{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8", Policy: "drop", Priority: "5", Description: "ssh"},
		{IpProtocol: "UDP", PortRange: "53/53", SourceCidrIp: "192.168.1.1", SourcePortRange: "1024/65535"},
		{IpProtocol: "ICMP", PortRange: "-1/-1", SourceGroupId: peer, Priority: "100"},
	}
	must(c.AuthorizeSecurityGroup(ar))(t)
	// Legacy flat form: one rule at the top level.
	fr := ecs.CreateAuthorizeSecurityGroupRequest()
	fr.SecurityGroupId, fr.IpProtocol, fr.PortRange, fr.SourceCidrIp, fr.Priority = sg, "TCP", "80/80", "0.0.0.0/0", "10"
	must(c.AuthorizeSecurityGroup(fr))(t)

	in := byPort(t, rules(t, c, sg, ""))
	if len(in) != 4 {
		t.Fatalf("%d rules after authorizing 4: %v", len(in), in)
	}
	ssh := in["22/22"]
	if !ruleID.MatchString(ssh.SecurityGroupRuleId) || ssh.Direction != "ingress" || ssh.IpProtocol != "TCP" || ssh.Policy != "Drop" ||
		ssh.Priority != "5" || ssh.NicType != "intranet" || ssh.SourceCidrIp != "10.0.0.0/8" || ssh.Description != "ssh" ||
		ssh.SourceGroupId != "" || ssh.SourcePortRange != "" {
		t.Errorf("22/22 decoded as %+v", ssh)
	}
	recent(t, "CreateTime", ssh.CreateTime)
	// The bare address is echoed as submitted, not as 192.168.1.1/32.
	if dns := in["53/53"]; dns.IpProtocol != "UDP" || dns.SourceCidrIp != "192.168.1.1" || dns.SourcePortRange != "1024/65535" ||
		dns.Priority != "1" || dns.Policy != "Accept" {
		t.Errorf("53/53 decoded as %+v", dns)
	}
	if icmp := in["-1/-1"]; icmp.SourceGroupId != peer || icmp.SourceGroupName != "peer" || icmp.SourceGroupOwnerAccount != "" || // same account: no owner
		icmp.SourceCidrIp != "" || icmp.Priority != "100" || icmp.NicType != "intranet" {
		t.Errorf("group-peer rule decoded as %+v", icmp)
	}
	if http := in["80/80"]; http.SourceCidrIp != "0.0.0.0/0" || http.Priority != "10" {
		t.Errorf("flat-form rule decoded as %+v", http)
	}
	list := must(c.DescribeSecurityGroups(func() *ecs.DescribeSecurityGroupsRequest {
		r := ecs.CreateDescribeSecurityGroupsRequest()
		r.SecurityGroupId = sg
		return r
	}()))(t)
	if g := list.SecurityGroups.SecurityGroup[0]; g.RuleCount != 4 || g.GroupToGroupRuleCount != 1 {
		t.Errorf("RuleCount %d GroupToGroupRuleCount %d, want 4 and 1", g.RuleCount, g.GroupToGroupRuleCount)
	}

	// Authorizing an existing rule adds nothing; a new description replaces
	// the old one. (A fresh request: a sent one keeps its Permissions.2 and .3.)
	ar = ecs.CreateAuthorizeSecurityGroupRequest()
	ar.SecurityGroupId = sg
	ar.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{
		{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8", Policy: "Drop", Priority: "5", Description: "ssh, again"}}
	must(c.AuthorizeSecurityGroup(ar))(t)
	again := byPort(t, rules(t, c, sg, ""))
	if len(again) != 4 || again["22/22"].SecurityGroupRuleId != ssh.SecurityGroupRuleId || again["22/22"].Description != "ssh, again" {
		t.Errorf("re-authorizing 22/22: %d rules, 22/22 now %+v", len(again), again["22/22"])
	}

	// Egress, both forms.
	er := ecs.CreateAuthorizeSecurityGroupEgressRequest()
	er.SecurityGroupId = sg
	er.Permissions = &[]ecs.AuthorizeSecurityGroupEgressPermissions{
		{IpProtocol: "ALL", PortRange: "-1/-1", DestCidrIp: "0.0.0.0/0", Policy: "Drop", Priority: "100"},
		{IpProtocol: "TCP", PortRange: "5432/5432", DestGroupId: peer},
	}
	must(c.AuthorizeSecurityGroupEgress(er))(t)
	efr := ecs.CreateAuthorizeSecurityGroupEgressRequest()
	efr.SecurityGroupId, efr.IpProtocol, efr.PortRange, efr.DestCidrIp = sg, "TCP", "443/443", "100.64.0.0/10"
	must(c.AuthorizeSecurityGroupEgress(efr))(t)
	dir := ecs.CreateDescribeSecurityGroupAttributeRequest()
	dir.SecurityGroupId, dir.Direction = sg, "egress"
	out := byPort(t, must(c.DescribeSecurityGroupAttribute(dir))(t).Permissions.Permission)
	if len(out) != 3 {
		t.Fatalf("Direction=egress: %d rules, want 3: %v", len(out), out)
	}
	if all := out["-1/-1"]; all.Direction != "egress" || all.IpProtocol != "ALL" || all.DestCidrIp != "0.0.0.0/0" || all.Policy != "Drop" || all.Priority != "100" {
		t.Errorf("egress ALL decoded as %+v", all)
	}
	if db := out["5432/5432"]; db.DestGroupId != peer || db.DestGroupName != "peer" || db.DestGroupOwnerAccount != "" { // same account: no owner
		t.Errorf("egress group rule decoded as %+v", db)
	}
	if https := out["443/443"]; https.DestCidrIp != "100.64.0.0/10" || https.Priority != "1" {
		t.Errorf("egress flat-form rule decoded as %+v", https)
	}
	dir.Direction = "ingress"
	if n := len(must(c.DescribeSecurityGroupAttribute(dir))(t).Permissions.Permission); n != 4 {
		t.Errorf("Direction=ingress: %d rules, want 4", n)
	}

	// ModifySecurityGroupRule by ID changes the given fields and keeps the
	// rest and the ID.
	mr := ecs.CreateModifySecurityGroupRuleRequest()
	mr.SecurityGroupId, mr.SecurityGroupRuleId, mr.PortRange, mr.Description = sg, ssh.SecurityGroupRuleId, "2222/2222", "ssh moved"
	must(c.ModifySecurityGroupRule(mr))(t)
	in = byPort(t, ingress(t, c, sg))
	if m, ok := in["2222/2222"]; !ok || m.SecurityGroupRuleId != ssh.SecurityGroupRuleId || m.Description != "ssh moved" ||
		m.Priority != "5" || m.Policy != "Drop" || m.SourceCidrIp != "10.0.0.0/8" || len(in) != 4 {
		t.Errorf("after ModifySecurityGroupRule by ID: %+v", in)
	}
	// The legacy form finds the rule by its fields and changes only the
	// description.
	mr = ecs.CreateModifySecurityGroupRuleRequest()
	mr.SecurityGroupId, mr.IpProtocol, mr.PortRange, mr.SourceCidrIp, mr.Priority, mr.Description = sg, "TCP", "80/80", "0.0.0.0/0", "10", "web"
	must(c.ModifySecurityGroupRule(mr))(t)
	if d := byPort(t, ingress(t, c, sg))["80/80"].Description; d != "web" {
		t.Errorf("legacy ModifySecurityGroupRule: description %q, want web", d)
	}
	emr := ecs.CreateModifySecurityGroupEgressRuleRequest()
	emr.SecurityGroupId, emr.SecurityGroupRuleId, emr.Priority = sg, out["-1/-1"].SecurityGroupRuleId, "50"
	must(c.ModifySecurityGroupEgressRule(emr))(t)
	dir.Direction = "egress"
	if p := byPort(t, must(c.DescribeSecurityGroupAttribute(dir))(t).Permissions.Permission)["-1/-1"]; p.Priority != "50" ||
		p.SecurityGroupRuleId != out["-1/-1"].SecurityGroupRuleId {
		t.Errorf("after ModifySecurityGroupEgressRule: %+v", p)
	}

	// Revoke by rule ID, by Permissions fields and by the flat form.
	rr := ecs.CreateRevokeSecurityGroupRequest()
	rr.SecurityGroupId, rr.SecurityGroupRuleId = sg, &[]string{ssh.SecurityGroupRuleId}
	must(c.RevokeSecurityGroup(rr))(t)
	rr = ecs.CreateRevokeSecurityGroupRequest()
	rr.SecurityGroupId = sg
	rr.Permissions = &[]ecs.RevokeSecurityGroupPermissions{
		{IpProtocol: "UDP", PortRange: "53/53", SourceCidrIp: "192.168.1.1", SourcePortRange: "1024/65535"},
		{IpProtocol: "ICMP", PortRange: "-1/-1", SourceGroupId: peer, Priority: "100"},
	}
	must(c.RevokeSecurityGroup(rr))(t)
	if left := ingress(t, c, sg); len(left) != 1 || left[0].PortRange != "80/80" {
		t.Fatalf("after revoking 3 of 4 ingress rules: %+v", left)
	}
	rr = ecs.CreateRevokeSecurityGroupRequest()
	rr.SecurityGroupId, rr.IpProtocol, rr.PortRange, rr.SourceCidrIp, rr.Priority = sg, "tcp", "80/80", "0.0.0.0/0", "10"
	must(c.RevokeSecurityGroup(rr))(t)

	erid := ecs.CreateRevokeSecurityGroupEgressRequest()
	erid.SecurityGroupId, erid.SecurityGroupRuleId = sg, &[]string{out["-1/-1"].SecurityGroupRuleId, out["5432/5432"].SecurityGroupRuleId}
	must(c.RevokeSecurityGroupEgress(erid))(t)
	erv := ecs.CreateRevokeSecurityGroupEgressRequest()
	erv.SecurityGroupId, erv.IpProtocol, erv.PortRange, erv.DestCidrIp = sg, "TCP", "443/443", "100.64.0.0/10"
	must(c.RevokeSecurityGroupEgress(erv))(t)

	if left := rules(t, c, sg, ""); len(left) != 0 {
		t.Errorf("rules left after revoking all: %+v", left)
	}
}

// TestClassicRuleNicTypes: classic groups keep internet and intranet rules
// apart, and DescribeSecurityGroupAttribute shows one set per call.
func TestClassicRuleNicTypes(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	sg := createGroup(t, c, "classic", "", "")
	peer := createGroup(t, c, "classic-peer", "", "")
	noErr(t, authorize(c, sg,
		cidrIngress("TCP", "22/22", "1.2.3.4/32"), // internet by default on classic
		ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "3306/3306", SourceCidrIp: "10.0.0.0/8", NicType: "intranet"},
		ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "6379/6379", SourceGroupId: peer}, // group peers are intranet
	))
	for _, tc := range []struct {
		nic   string
		ports []string
	}{{"", []string{"22/22"}}, {"internet", []string{"22/22"}}, {"intranet", []string{"3306/3306", "6379/6379"}}} {
		got := byPort(t, rules(t, c, sg, tc.nic))
		if len(got) != len(tc.ports) {
			t.Errorf("NicType=%q: %v, want %v", tc.nic, got, tc.ports)
		}
		for _, p := range tc.ports {
			r, ok := got[p]
			want := tc.nic
			if want == "" {
				want = "internet"
			}
			if !ok || r.NicType != want {
				t.Errorf("NicType=%q: rule %s = %+v", tc.nic, p, r)
			}
		}
	}
}

// TestAttributePagingAndVPCNicType: DescribeSecurityGroupAttribute pages
// with MaxResults/NextToken, and VPC groups have only intranet rules whatever
// NicType is sent or asked for.
func TestAttributePagingAndVPCNicType(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	sg := createGroup(t, c, "paged", v, "")
	ps := portRules(1, 25)
	ps[0].NicType = "internet" // coerced: VPC rules are intranet
	noErr(t, authorize(c, sg, ps...))

	seen := map[string]bool{}
	token, pages := "", 0
	for {
		r := ecs.CreateDescribeSecurityGroupAttributeRequest()
		r.SecurityGroupId, r.MaxResults, r.NextToken = sg, "10", token
		resp := must(c.DescribeSecurityGroupAttribute(r))(t)
		pages++
		for _, p := range resp.Permissions.Permission {
			if seen[p.SecurityGroupRuleId] || p.NicType != "intranet" {
				t.Errorf("page %d: rule %+v repeated or not intranet", pages, p)
			}
			seen[p.SecurityGroupRuleId] = true
		}
		if token = resp.NextToken; token == "" || pages > 5 {
			break
		}
	}
	if pages != 3 || len(seen) != 25 {
		t.Errorf("%d pages with %d rules, want 3 and 25", pages, len(seen))
	}
	for _, nic := range []string{"internet", "intranet", ""} {
		if n := len(rules(t, c, sg, nic)); n != 25 {
			t.Errorf("NicType=%q lists %d rules of a VPC group, want all 25", nic, n)
		}
	}
}

// TestAddressEcho: CIDRs come back as submitted, except that IPv6 is
// compressed and lower-cased (Terraform compares against that form).
func TestAddressEcho(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	sg := createGroup(t, c, "echo", v, "")
	noErr(t, authorize(c, sg,
		perm{IpProtocol: "TCP", PortRange: "1/1", SourceCidrIp: "10.1.2.3"},
		perm{IpProtocol: "TCP", PortRange: "2/2", SourceCidrIp: "10.1.2.0/24", DestCidrIp: "10.0.0.5"},
		perm{IpProtocol: "TCP", PortRange: "3/3", Ipv6SourceCidrIp: "2001:DB8:0:0:0:0:0:0/32"},
		perm{IpProtocol: "ICMPv6", PortRange: "-1/-1", Ipv6SourceCidrIp: "2001:db8::1", Ipv6DestCidrIp: "2001:DB8::2"},
	))
	got := byPort(t, rules(t, c, sg, ""))
	for port, want := range map[string][2]string{
		"1/1": {"10.1.2.3", ""}, "2/2": {"10.1.2.0/24", "10.0.0.5"}, "3/3": {"2001:db8::/32", ""}, "-1/-1": {"2001:db8::1", "2001:db8::2"},
	} {
		p := got[port]
		src, dst := p.SourceCidrIp+p.Ipv6SourceCidrIp, p.DestCidrIp+p.Ipv6DestCidrIp
		if src != want[0] || dst != want[1] {
			t.Errorf("%s: source %q dest %q, want %q %q", port, src, dst, want[0], want[1])
		}
	}
	// The same address in another spelling is the same rule.
	noErr(t, authorize(c, sg, perm{IpProtocol: "TCP", PortRange: "3/3", Ipv6SourceCidrIp: "2001:db8::/32"}))
	noErr(t, authorize(c, sg, perm{IpProtocol: "TCP", PortRange: "1/1", SourceCidrIp: "10.1.2.3/32"}))
	if n := len(rules(t, c, sg, "")); n != 4 {
		t.Errorf("%d rules after re-authorizing two in another spelling, want 4", n)
	}
}

// TestModifyRulePeerOwner: ModifySecurityGroupRule and its Egress twin by
// SecurityGroupRuleId move a group peer to a group of another account (or
// back) named by the owner's ID or account name. The stored owner is an ID,
// and it used to win over an account name the request gave: the call
// looked for the new group in the old owner's account (NotFound).
func TestModifyRulePeerOwner(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	bob := e.newAccount(t, "bob")
	sg := createGroup(t, c, "classic", "", "")
	own := createGroup(t, c, "classic-own", "", "")
	bobs := createGroup(t, bob.ecs, "bobs", "", "")

	type peer struct{ group, owner string } // a rule's peer as it reads back
	for i, tc := range []struct {
		name   string
		egress bool
		from   peer // the rule authorized: owner "" is the caller's account
		modify func(ingress *ecs.ModifySecurityGroupRuleRequest, egress *ecs.ModifySecurityGroupEgressRuleRequest)
		want   peer
	}{
		{"to another account's group by account name", false, peer{own, ""}, func(r *ecs.ModifySecurityGroupRuleRequest, _ *ecs.ModifySecurityGroupEgressRuleRequest) {
			r.SourceGroupId, r.SourceGroupOwnerAccount = bobs, "bob"
		}, peer{bobs, bob.uid}},
		{"to another account's group by owner ID", false, peer{own, ""}, func(r *ecs.ModifySecurityGroupRuleRequest, _ *ecs.ModifySecurityGroupEgressRuleRequest) {
			r.SourceGroupId, r.SourceGroupOwnerId = bobs, requests.Integer(bob.uid)
		}, peer{bobs, bob.uid}},
		// The own account named reads back (as Terraform's
		// source_group_owner_account needs); see TestTerraformRuleOwner.
		{"back to an own group by owner ID", false, peer{bobs, bob.uid}, func(r *ecs.ModifySecurityGroupRuleRequest, _ *ecs.ModifySecurityGroupEgressRuleRequest) {
			r.SourceGroupId, r.SourceGroupOwnerId = own, requests.Integer(e.srv.UID)
		}, peer{own, e.srv.UID}},
		{"egress to another account's group by account name", true, peer{own, ""}, func(_ *ecs.ModifySecurityGroupRuleRequest, r *ecs.ModifySecurityGroupEgressRuleRequest) {
			r.DestGroupId, r.DestGroupOwnerAccount = bobs, "bob"
		}, peer{bobs, bob.uid}},
		{"egress to another account's group by owner ID", true, peer{own, ""}, func(_ *ecs.ModifySecurityGroupRuleRequest, r *ecs.ModifySecurityGroupEgressRuleRequest) {
			r.DestGroupId, r.DestGroupOwnerId = bobs, requests.Integer(bob.uid)
		}, peer{bobs, bob.uid}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ports := fmt.Sprintf("%d/%d", 1000+i, 1000+i)
			if tc.egress {
				r := ecs.CreateAuthorizeSecurityGroupEgressRequest()
				r.SecurityGroupId = sg
				r.Permissions = &[]ecs.AuthorizeSecurityGroupEgressPermissions{{IpProtocol: "TCP", PortRange: ports, DestGroupId: tc.from.group, DestGroupOwnerId: tc.from.owner}}
				must(c.AuthorizeSecurityGroupEgress(r))(t)
			} else {
				noErr(t, authorize(c, sg, ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: ports, SourceGroupId: tc.from.group, SourceGroupOwnerId: tc.from.owner}))
			}
			find := func() ecs.Permission {
				t.Helper()
				for _, p := range rules(t, c, sg, "intranet") {
					if p.PortRange == ports {
						return p
					}
				}
				t.Fatalf("no rule %s", ports)
				return ecs.Permission{}
			}
			id := find().SecurityGroupRuleId
			if tc.egress {
				r := ecs.CreateModifySecurityGroupEgressRuleRequest()
				r.SecurityGroupId, r.SecurityGroupRuleId = sg, id
				tc.modify(nil, r)
				must(c.ModifySecurityGroupEgressRule(r))(t)
			} else {
				r := ecs.CreateModifySecurityGroupRuleRequest()
				r.SecurityGroupId, r.SecurityGroupRuleId = sg, id
				tc.modify(r, nil)
				must(c.ModifySecurityGroupRule(r))(t)
			}
			p := find()
			got := peer{p.SourceGroupId, p.SourceGroupOwnerAccount}
			if tc.egress {
				got = peer{p.DestGroupId, p.DestGroupOwnerAccount}
			}
			if got != tc.want || p.SecurityGroupRuleId != id {
				t.Errorf("rule %s reads back with peer %+v; want %+v", p.SecurityGroupRuleId, got, tc.want)
			}
		})
	}
}
