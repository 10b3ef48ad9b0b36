package ecsimport

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestText(t *testing.T) {
	tests := []struct {
		in   string
		want text
		err  bool
	}{
		{`"1"`, "1", false},
		{`110`, "110", false},
		{`null`, "", false},
		{`true`, "true", false},
		{`"sg-x"`, "sg-x", false},
		{`{"a":1}`, "", true},
		{`[1]`, "", true},
	}
	for _, tc := range tests {
		var got text
		err := json.Unmarshal([]byte(tc.in), &got)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestDirection(t *testing.T) {
	tests := []struct {
		name string
		p    permission
		want model.Direction
		ok   bool
	}{
		{"given", permission{Direction: "Egress", SourceCidrIp: "10.0.0.0/8"}, model.Egress, true},
		{"source side only", permission{SourceGroupId: "sg-a"}, model.Ingress, true},
		{"destination side only", permission{DestPrefixListId: "pl-a"}, model.Egress, true},
		{"both sides (a quintuple rule)", permission{SourceCidrIp: "10.0.0.0/8", DestCidrIp: "10.1.0.0/16"}, "", false},
		{"neither side", permission{}, "", false},
	}
	for _, tc := range tests {
		got, ok := direction(tc.p)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// attr is a DescribeSecurityGroupAttribute response of a VPC group with
// the given permissions (JSON objects).
func attr(group string, perms ...string) string {
	return `{"RegionId":"cn-hangzhou","SecurityGroupId":"` + group + `","VpcId":"vpc-1","InnerAccessPolicy":"Accept",
		"Permissions":{"Permission":[` + strings.Join(perms, ",") + `]}}`
}

func list(groups ...string) string {
	var items []string
	for _, g := range groups {
		items = append(items, `{"SecurityGroupId":"`+g+`","SecurityGroupType":"normal","VpcId":"vpc-1","Description":"d"}`)
	}
	return `{"RegionId":"cn-hangzhou","SecurityGroups":{"SecurityGroup":[` + strings.Join(items, ",") + `]}}`
}

// build runs responses through the builder, as FromDir and FromECS do.
// build imports responses, with vpc-1's DescribeVpcs (every case's VPC:
// the cases are about what else the responses hold).
func build(t *testing.T, responses ...string) *Account {
	t.Helper()
	b := newBuilder("cn-hangzhou")
	responses = append(slices.Clip(responses), `{"TotalCount":1,"Vpcs":{"Vpc":[{"VpcId":"vpc-1","CidrBlock":"10.0.0.0/16"}]}}`)
	for i, r := range responses {
		if err := b.add("r"+string(rune('1'+i)), json.RawMessage(r)); err != nil {
			t.Fatal(err)
		}
	}
	return b.finish()
}

// TestBuild covers what saved responses may hold beyond the well-formed
// account of testdata: each case gives responses, what the import must
// hold and the warnings it must give (by a word each).
func TestBuild(t *testing.T) {
	tests := []struct {
		name      string
		responses []string
		check     func(a *Account) string // "" if the import is right, else what is wrong
		warnings  []string
	}{
		{
			name: "the same page saved twice",
			responses: []string{list("sg-a"), list("sg-a"),
				attr("sg-a", `{"SecurityGroupRuleId":"sgr-1","Direction":"ingress","IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"10.0.0.0/8","Policy":"Accept","Priority":"1"}`),
				attr("sg-a", `{"SecurityGroupRuleId":"sgr-1","Direction":"ingress","IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"10.0.0.0/8","Policy":"Accept","Priority":"1"}`)},
			check: func(a *Account) string {
				if len(a.Groups) != 1 || len(a.Groups[0].Rules) != 1 {
					return "want one group with one rule"
				}
				return ""
			},
		},
		{
			name: "a rule with no direction, told by its side",
			responses: []string{list("sg-a"),
				attr("sg-a", `{"SecurityGroupRuleId":"sgr-1","IpProtocol":"TCP","PortRange":"443/443","DestCidrIp":"0.0.0.0/0","Policy":"Accept","Priority":"1"}`,
					`{"SecurityGroupRuleId":"sgr-2","IpProtocol":"TCP","PortRange":"443/443","DestCidrIp":"0.0.0.0/0","SourceCidrIp":"10.0.0.0/8","Policy":"Accept","Priority":"1"}`)},
			check: func(a *Account) string {
				if rs := a.Groups[0].Rules; len(rs) != 1 || rs[0].Direction != model.Egress {
					return "want sgr-1 as an egress rule, sgr-2 skipped"
				}
				return ""
			},
			warnings: []string{"fit either direction"},
		},
		{
			name: "source port range -1/-1 on TCP means no filter",
			responses: []string{list("sg-a"),
				attr("sg-a", `{"SecurityGroupRuleId":"sgr-1","Direction":"ingress","IpProtocol":"tcp","PortRange":"22/22","SourcePortRange":"-1/-1","SourceCidrIp":"10.0.0.0/8","Policy":"accept","Priority":"1"}`)},
			check: func(a *Account) string {
				if rs := a.Groups[0].Rules; len(rs) != 1 || rs[0].SourcePortRange.IsSet() || rs[0].Protocol != model.TCP {
					return "want one TCP rule without a source-port filter"
				}
				return ""
			},
		},
		{
			name: "a rule ParseRule refuses",
			responses: []string{list("sg-a"),
				attr("sg-a", `{"SecurityGroupRuleId":"sgr-1","Direction":"ingress","IpProtocol":"ICMP","PortRange":"-1/-1","Ipv6SourceCidrIp":"::/0","Policy":"Accept","Priority":"1"}`)},
			check: func(a *Account) string {
				if len(a.Groups[0].Rules) != 0 {
					return "want the rule skipped"
				}
				return ""
			},
			warnings: []string{"InvalidParam.Ipv4ProtocolConflictWithIpv6Address"},
		},
		{
			name: "an owner named by account name, not UID",
			responses: []string{list("sg-a"),
				attr("sg-a", `{"SecurityGroupRuleId":"sgr-1","Direction":"ingress","IpProtocol":"TCP","PortRange":"22/22","SourceGroupId":"sg-x","SourceGroupOwnerAccount":"ops@example.com","Policy":"Accept","Priority":"1"}`)},
			check: func(a *Account) string {
				if p := a.Groups[0].Rules[0].Peer; p.GroupID != "sg-x" || p.GroupOwner != "ops@example.com" || a.Owner != "" {
					return "want the account name kept as the peer's owner and no account owner"
				}
				return ""
			},
			warnings: []string{"account ops@example.com"},
		},
		{
			name:      "a group only in DescribeSecurityGroupAttribute",
			responses: []string{attr("sg-a")},
			check: func(a *Account) string {
				if g := a.Groups[0]; g.Type != model.Normal || g.VpcID != "vpc-1" || g.InnerAccessPolicy != model.InnerAccept {
					return "want a basic VPC group"
				}
				return ""
			},
			warnings: []string{"type is unknown"},
		},
		{
			name:      "a group only in DescribeSecurityGroups",
			responses: []string{list("sg-a")},
			check: func(a *Account) string {
				if g := a.Groups[0]; len(g.Rules) != 0 || g.InnerAccessPolicy != model.InnerAccept {
					return "want the group without rules"
				}
				return ""
			},
			warnings: []string{"without rules"},
		},
		{
			name: "rules give two owners for the imported groups",
			responses: []string{list("sg-a", "sg-b"),
				attr("sg-a", `{"SecurityGroupRuleId":"sgr-1","Direction":"ingress","IpProtocol":"TCP","PortRange":"22/22","SourceGroupId":"sg-b","SourceGroupOwnerAccount":"111","Policy":"Accept","Priority":"1"}`),
				attr("sg-b", `{"SecurityGroupRuleId":"sgr-2","Direction":"ingress","IpProtocol":"TCP","PortRange":"22/22","SourceGroupId":"sg-a","SourceGroupOwnerAccount":"222","Policy":"Accept","Priority":"1"}`)},
			check: func(a *Account) string {
				if a.Owner != "" || a.Groups[0].Owner != "" {
					return "want no owner"
				}
				return ""
			},
			warnings: []string{"several accounts"},
		},
		{
			name: "instances with more than Palisade models",
			responses: []string{list("sg-a"), attr("sg-a"), `{"Instances":{"Instance":[
				{"InstanceId":"i-1","RegionId":"cn-hangzhou","SecurityGroupIds":{"SecurityGroupId":["sg-a"]},
				 "VpcAttributes":{"VpcId":"vpc-1","PrivateIpAddress":{"IpAddress":["10.0.0.5","10.0.0.6"]}},
				 "NetworkInterfaces":{"NetworkInterface":[
					{"NetworkInterfaceId":"eni-1","PrimaryIpAddress":"10.0.0.5","Ipv6Sets":{"Ipv6Set":[{"Ipv6Address":"2408::5"},{"Ipv6Address":"2408::6"}]},
					 "PrivateIpSets":{"PrivateIpSet":[{"PrivateIpAddress":"10.0.0.5"},{"PrivateIpAddress":"10.0.0.7"}]}},
					{"NetworkInterfaceId":"eni-2","Type":"Secondary","PrimaryIpAddress":"10.0.0.9"}]}},
				{"InstanceId":"i-2","RegionId":"cn-hangzhou","SecurityGroupIds":{"SecurityGroupId":["sg-gone"]},"VpcAttributes":{"VpcId":"vpc-1"}}]}}`},
			check: func(a *Account) string {
				in := a.Instances[0]
				if in.PrivateIP.String() != "10.0.0.5" || fmt.Sprint(in.IPv6s()) != "[2408::5 2408::6]" || a.Instances[1].PrivateIP.IsValid() {
					return "want i-1 at 10.0.0.5, 2408::5 and 2408::6, i-2 without an address"
				}
				// The other private addresses are the primary ENI's secondary
				// ones (its set does not mark the primary: not one of them).
				if fmt.Sprint(in.SecondaryIPs) != "[10.0.0.6 10.0.0.7]" {
					return fmt.Sprintf("i-1's secondary addresses %v, want [10.0.0.6 10.0.0.7]", in.SecondaryIPs)
				}
				return ""
			},
			warnings: []string{"secondary network interface eni-2", "no private IPv4", "group sg-gone"},
		},
		{
			name: "the last page missing",
			responses: []string{`{"RegionId":"cn-hangzhou","NextToken":"t1","SecurityGroups":{"SecurityGroup":[{"SecurityGroupId":"sg-a"}]}}`, attr("sg-a"),
				`{"NextToken":"t2","Instances":{"Instance":[]}}`},
			check:    func(a *Account) string { return "" },
			warnings: []string{"of DescribeSecurityGroups is the last", "of DescribeInstances is the last"},
		},
		{
			name: "page-number paging with a page missing",
			responses: []string{`{"RegionId":"cn-hangzhou","TotalCount":3,"PageNumber":1,"PageSize":1,"SecurityGroups":{"SecurityGroup":[{"SecurityGroupId":"sg-a"}]}}`,
				attr("sg-a"), `{"TotalCount":"1","Instances":{"Instance":[{"InstanceId":"i-1","SecurityGroupIds":{"SecurityGroupId":["sg-a"]},"VpcAttributes":{"VpcId":"vpc-1","PrivateIpAddress":{"IpAddress":["10.0.0.5"]}}}]}}`},
			check:    func(a *Account) string { return "" },
			warnings: []string{"reports 3 resources in all but the saved pages hold 1"},
		},
		{
			name:      "an error response and a foreign file",
			responses: []string{list("sg-a"), attr("sg-a"), `{"RequestId":"x","Code":"Throttling.User","Message":"Request was denied due to user flow control."}`, `{"VSwitches":{"VSwitch":[]}}`, `"text"`},
			check:     func(a *Account) string { return "" },
			warnings:  []string{"Throttling.User", "not an ECS response this import reads", "not an ECS response (a JSON object)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := build(t, tc.responses...)
			if msg := tc.check(a); msg != "" {
				t.Errorf("%s; imported %+v", msg, a)
			}
			got := a.Warnings
			for _, w := range tc.warnings {
				i := -1
				for k, g := range got {
					if strings.Contains(g.String(), w) {
						i = k
						break
					}
				}
				if i < 0 {
					t.Errorf("no warning saying %q", w)
					continue
				}
				got = append(got[:i:i], got[i+1:]...)
			}
			for _, w := range got {
				t.Errorf("unexpected warning: %s", w)
			}
		})
	}
}
