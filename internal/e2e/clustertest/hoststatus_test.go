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
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// hostOnCluster starts two servers with one instance i-web (10.0.0.1, in
// sg-web, which accepts TCP 80 from anywhere) bound to host h1, registers
// h1 through the first, and returns the servers, h1's key and the store's
// revision.
func hostOnCluster(t *testing.T) ([]*testenv.Server, model.AccessKey, int64) {
	t.Helper()
	ss := testenv.StartCluster(t, 2, testenv.Config{Log: testenv.Quiet(), RateLimit: ratelimit.Config{PerAction: -1, PerAccount: -1}})
	ctx := context.Background()
	g := &model.SecurityGroup{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal, Rules: []model.Rule{modeltest.Rule("sgr-http", "in accept 1 TCP 80/80 0.0.0.0/0")}}
	in := &model.Instance{ID: "i-web", VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.0.1"), SecurityGroups: []string{"sg-web"},
		Status: model.StatusRunning, Host: "h1", Interface: "pi-1"}
	if _, err := ss[0].Ops.Import(ctx, testenv.Region, api.Resources{VPCs: []*model.VPC{{ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16")}},
		Groups: []*model.SecurityGroup{g}, Instances: []*model.Instance{in}}); err != nil {
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
	return ss, key, rev
}

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
	ss, key, rev := hostOnCluster(t)
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

type countersAnswer struct {
	RuleCounters struct {
		RuleCounter []struct {
			SecurityGroupRuleId string
			Packets, Bytes      uint64
			Hosts               int
		}
	}
	PalisadeMissingServers []string
}

// TestRuleCountersShared: an agent's rule counters, reported to one
// server, are counted by the other's PalisadeDescribeRuleCounters (it
// said no agent reported them); once the agent reports to the other
// server (it moved), the host counts once, as last reported, not once
// per server that heard it.
func TestRuleCountersShared(t *testing.T) {
	ss, key, rev := hostOnCluster(t)
	report := func(s *testenv.Server, packets int) {
		t.Helper()
		agent := tenantOn(t, s, key.ID, key.Secret)
		var none struct{}
		params := map[string]string{"HostName": "h1", "AppliedRevision": fmt.Sprint(rev),
			"Counters": fmt.Sprintf(`{"sg-web/sgr-http":{"Packets":%d,"Bytes":%d}}`, packets, 100*packets)}
		testenv.Eventually(t, 10*time.Second, func() (bool, string) { // the server's view holds the host key
			code := agent.call(t, api.ECSVersion, "PalisadeReportHostStatus", params, &none)
			return code == "", "PalisadeReportHostStatus: " + code
		})
	}
	for _, tt := range []struct {
		name      string
		reportTo  int // the server the agent reports to
		packets   int
		askOf     int // the server asked
		wantPkts  uint64
		wantHosts int
	}{
		{"reported to the other server", 0, 10, 1, 10, 1},
		{"the agent moved: its latest counters, once", 1, 25, 0, 25, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			report(ss[tt.reportTo], tt.packets)
			tenant := tenantOn(t, ss[tt.askOf], ss[tt.askOf].KeyID, ss[tt.askOf].Secret)
			var a countersAnswer
			if code := tenant.call(t, api.ECSVersion, "PalisadeDescribeRuleCounters", map[string]string{"SecurityGroupId": "sg-web"}, &a); code != "" {
				t.Fatal(code)
			}
			rc := a.RuleCounters.RuleCounter
			if len(rc) != 1 || rc[0].Packets != tt.wantPkts || rc[0].Bytes != 100*tt.wantPkts || rc[0].Hosts != tt.wantHosts || len(a.PalisadeMissingServers) != 0 {
				t.Errorf("server %d answers %+v (missing %v), want %d packets from %d host", tt.askOf, rc, a.PalisadeMissingServers, tt.wantPkts, tt.wantHosts)
			}
		})
	}
}
