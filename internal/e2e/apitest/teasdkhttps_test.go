package apitest

import (
	"strings"
	"testing"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	ecs3 "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestTeaSDKOverHTTPS drives the typed ECS client over HTTPS, as a user
// of `serve --tls-self-signed` does: trusting the server's certificate
// (Config.Ca), it creates a group, authorizes a rule and reads both back;
// without the certificate, or speaking plain HTTP to the TLS listener, it
// fails and creates nothing.
//
// The SDK keeps one HTTP client per endpoint for the whole process and
// builds its TLS settings at the first request: a later client with
// another Ca reuses the first one's. The untrusted client therefore has a
// server of its own.
func TestTeaSDKOverHTTPS(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet(), TLS: true})
	other := testenv.Start(t, testenv.Config{Log: testenv.Quiet(), TLS: true})
	client := func(srv *testenv.Server, protocol string, ca []byte) *ecs3.Client {
		t.Helper()
		cfg := &openapiutil.Config{AccessKeyId: str(srv.KeyID), AccessKeySecret: str(srv.Secret),
			Endpoint: str(srv.Addr), Protocol: str(protocol), RegionId: str(region)}
		if ca != nil {
			cfg.Ca = str(string(ca))
		}
		c, err := ecs3.NewClient(cfg)
		if err != nil {
			t.Fatalf("typed ECS client: %v", err)
		}
		return c
	}
	count := func(c *ecs3.Client) int32 {
		t.Helper()
		return dara.Int32Value(must(c.DescribeSecurityGroups(&ecs3.DescribeSecurityGroupsRequest{RegionId: str(region)}))(t).Body.TotalCount)
	}
	untrusted := client(other, "HTTPS", nil)
	c := client(srv, "HTTPS", srv.CA)
	before := count(c)

	for _, tt := range []struct {
		name   string
		client *ecs3.Client
		want   string // in the error
	}{
		{"the certificate not trusted", untrusted, "certificate"},
		{"plain HTTP to the TLS listener", client(srv, "HTTP", nil), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.CreateSecurityGroup(&ecs3.CreateSecurityGroupRequest{RegionId: str(region), SecurityGroupName: str("refused")})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CreateSecurityGroup: %v; want an error naming %q", err, tt.want)
			}
		})
	}
	if n := count(c); n != before {
		t.Fatalf("%d groups after the refused calls, %d before", n, before)
	}
	req := ecs.CreateDescribeSecurityGroupsRequest()
	req.RegionId = region
	if got, err := other.ECS(t).DescribeSecurityGroups(req); err != nil || got.TotalCount != 0 {
		t.Fatalf("the untrusted client's server: %v groups, %v", got.TotalCount, err)
	}

	id := dara.StringValue(must(c.CreateSecurityGroup(&ecs3.CreateSecurityGroupRequest{RegionId: str(region), SecurityGroupName: str("tls")}))(t).Body.SecurityGroupId)
	must(c.AuthorizeSecurityGroup(&ecs3.AuthorizeSecurityGroupRequest{RegionId: str(region), SecurityGroupId: str(id),
		Permissions: []*ecs3.AuthorizeSecurityGroupRequestPermissions{{IpProtocol: str("TCP"), PortRange: str("443/443"), SourceCidrIp: str("10.0.0.0/8")}}}))(t)
	attr := must(c.DescribeSecurityGroupAttribute(&ecs3.DescribeSecurityGroupAttributeRequest{RegionId: str(region), SecurityGroupId: str(id)}))(t).Body
	if p := attr.Permissions.Permission; len(p) != 1 || dara.StringValue(p[0].PortRange) != "443/443" || dara.StringValue(p[0].SourceCidrIp) != "10.0.0.0/8" ||
		dara.StringValue(attr.SecurityGroupName) != "tls" {
		t.Fatalf("DescribeSecurityGroupAttribute over HTTPS: %v", attr)
	}
	if n := count(c); n != before+1 {
		t.Fatalf("%d groups after one was created, %d before", n, before)
	}
}
