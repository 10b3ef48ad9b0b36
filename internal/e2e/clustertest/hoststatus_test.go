package clustertest

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/ratelimit"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

type instancesAnswer struct {
	Instances struct {
		Instance []struct {
			InstanceId            string
			PalisadePolicyInForce bool
		}
	}
}

type hostsAnswer struct {
	Hosts struct {
		Host []struct {
			HostName        string
			AppliedRevision int64
		}
	}
}

// TestHostStatusShared: an agent reports to one server, and every server
// answers for it: on the other, the instance's PalisadePolicyInForce and
// PalisadeListHosts' AppliedRevision are what the agent reported (they
// were false and 0 there, so a client behind a load balancer saw its
// policy in force and then not); a host deregistered through the other
// server is forgotten by the first too.
func TestHostStatusShared(t *testing.T) {
	ss := testenv.StartCluster(t, 2, testenv.Config{Log: testenv.Quiet(), RateLimit: ratelimit.Config{PerAction: -1, PerAccount: -1}})
	ctx := context.Background()
	in := &model.Instance{ID: "i-web", VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.0.1"), SecurityGroups: []string{"sg-web"},
		Status: model.StatusRunning, Host: "h1", Interface: "pi-1"}
	if _, err := ss[0].Ops.Import(ctx, testenv.Region, api.Resources{VPCs: []*model.VPC{{ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16")}},
		Groups: []*model.SecurityGroup{{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal}}, Instances: []*model.Instance{in}}); err != nil {
		t.Fatal(err)
	}
	op, err := ss[0].Ops.CallerOf(ctx, ss[0].OperatorKeyID, testenv.Region, false)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ss[0].Ops.RegisterHost(ctx, op, "h1")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := ss[0].Store.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var none struct{}
	agent := tenantOn(t, ss[0], key.ID, key.Secret)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) { // the first server's view holds the host key
		code := agent.call(t, api.ECSVersion, "PalisadeReportHostStatus", map[string]string{"HostName": "h1", "AppliedRevision": fmt.Sprint(rev)}, &none)
		return code == "", "PalisadeReportHostStatus: " + code
	})

	other := tenantOn(t, ss[1], ss[1].KeyID, ss[1].Secret)
	operator := tenantOn(t, ss[1], ss[1].OperatorKeyID, ss[1].OperatorSecret)
	for _, tt := range []struct {
		name string
		ok   func() (bool, string)
	}{
		{"PalisadePolicyInForce", func() (bool, string) {
			var a instancesAnswer
			if code := other.call(t, api.ECSVersion, "DescribeInstances", nil, &a); code != "" {
				return false, code
			}
			return len(a.Instances.Instance) == 1 && a.Instances.Instance[0].PalisadePolicyInForce, fmt.Sprintf("the other server answers %+v", a.Instances)
		}},
		{"PalisadeListHosts", func() (bool, string) {
			var a hostsAnswer
			if code := operator.call(t, api.ECSVersion, "PalisadeListHosts", nil, &a); code != "" {
				return false, code
			}
			return len(a.Hosts.Host) == 1 && a.Hosts.Host[0].AppliedRevision == rev, fmt.Sprintf("the other server answers %+v, want h1 at %d", a.Hosts, rev)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) { testenv.Eventually(t, 10*time.Second, tt.ok) })
	}

	if code := operator.call(t, api.ECSVersion, "PalisadeDeregisterHost", map[string]string{"HostName": "h1"}, &none); code != "" {
		t.Fatalf("PalisadeDeregisterHost: %s", code)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		got := ss[0].Ops.AppliedRevision("h1")
		return got == 0, fmt.Sprintf("the first server still holds h1 at %d after its deregistration through the other", got)
	})
}
