package audit_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// TestAuditNamesTheENI checks that an exposure of a secondary ENI is judged
// with the ENI's groups and named by the ENI: SSH from anywhere over IPv6
// is open on the management ENI only.
func TestAuditNamesTheENI(t *testing.T) {
	s, err := scenario.Parse("eni.yaml", []byte(`
vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16, ipv6CidrBlock: "2001:db8:a::/56"}
securityGroups:
  - securityGroupId: sg-web
    vpcId: vpc-a
    description: web
    permissions:
      - {direction: ingress, policy: Accept, ipProtocol: TCP, portRange: 443/443, ipv6SourceCidrIp: "::/0", description: https}
  - securityGroupId: sg-mgmt
    vpcId: vpc-a
    description: management
    permissions:
      - {direction: ingress, policy: Accept, ipProtocol: TCP, portRange: 22/22, ipv6SourceCidrIp: "::/0", description: ssh}
instances:
  - instanceId: i-web
    vpcId: vpc-a
    privateIpAddress: 10.0.1.10
    ipv6Address: "2001:db8:a::10"
    securityGroupIds: [sg-web]
    networkInterfaces:
      - {networkInterfaceId: eni-mgmt, primaryIpAddress: 10.0.2.10, ipv6Address: "2001:db8:a::20", securityGroupIds: [sg-mgmt]}
`))
	if err != nil {
		t.Fatal(err)
	}
	var ssh []string
	for _, f := range audit.Run(s.Cloud(), audit.Options{}) {
		if f.Check == "SGA-002" {
			ssh = append(ssh, f.Resource+" "+f.Message)
		}
	}
	if len(ssh) == 0 {
		t.Fatal("no SGA-002 finding for the ENI's SSH")
	}
	for _, f := range ssh {
		if !strings.Contains(f, "eni-mgmt") || strings.Contains(f, "i-web") {
			t.Errorf("SGA-002 %q: want the ENI named, not its instance", f)
		}
	}
}

// TestAuditENIEIP checks that an EIP bound to a secondary ENI exposes the
// ENI, judged by its own groups, and not its instance: SSH open to the
// internet on the ENI's group is reported on the ENI (SGA-002) with its
// EIP (SGA-027, high), while the instance, with no public address of its
// own, is not exposed by the RDP its group opens (SGA-003 only warns, no
// member having a public address). Without the EIP on the ENI's NIC
// neither finding on the ENI is made.
func TestAuditENIEIP(t *testing.T) {
	web := &model.SecurityGroup{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerAccept, Rules: []model.Rule{
		modeltest.Rule("sgr-rdp", "in accept 1 TCP 3389/3389 0.0.0.0/0"),
	}}
	mgmt := &model.SecurityGroup{ID: "sg-mgmt", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerAccept, Rules: []model.Rule{
		modeltest.Rule("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0"),
	}}
	inst := modeltest.Instance("i-web", "vpc-a", "10.0.1.10", "sg-web")
	eni := &model.NetworkInterface{ID: "eni-mgmt", Type: model.ENISecondary, Status: model.ENIInUse, InstanceID: "i-web", VpcID: "vpc-a",
		PrivateIP: netip.MustParseAddr("10.0.2.10"), SecurityGroups: []string{"sg-mgmt"}, PublicIP: netip.MustParseAddr("203.0.113.5"), EipID: "eip-mgmt"}
	cloud := policy.NewCloud([]*model.SecurityGroup{web, mgmt}, model.NICs([]*model.Instance{inst}, []*model.NetworkInterface{eni}), nil)
	var got []string
	for _, f := range audit.Run(cloud, audit.Options{}) {
		if f.Check == "SGA-002" || f.Check == "SGA-003" || f.Check == "SGA-027" {
			got = append(got, fmt.Sprintf("%s %s %s %s", f.Check, f.Severity, f.Resource, f.Message))
		}
	}
	has := func(check, what string) bool {
		return slices.ContainsFunc(got, func(f string) bool { return strings.HasPrefix(f, check+" ") && strings.Contains(f, what) })
	}
	if !has("SGA-002 high", "on eni-mgmt") {
		t.Errorf("no high SGA-002 naming the ENI: %q", got)
	}
	if !has("SGA-027 high eni-mgmt", "Network interface eni-mgmt has the EIP eip-mgmt (203.0.113.5)") {
		t.Errorf("no high SGA-027 for the ENI's EIP: %q", got)
	}
	if has("SGA-003 high", "") || has("SGA-002", "i-web") || has("SGA-027", "i-web") {
		t.Errorf("the instance, with no public address, is reported: %q", got)
	}
}
