package audit_test

import (
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
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
