package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// needRoot skips tests that build namespaces unless they can.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to build network namespaces")
	}
}

// labName is unique per process and test, so parallel runs do not collide.
func testLabName(t *testing.T, tag string) string {
	return fmt.Sprintf("t%d%s", os.Getpid()%1000000, tag)
}

// upLab builds a lab that is taken down when the test ends, pass or fail.
func upLab(t *testing.T, s Spec) *Lab {
	t.Helper()
	needRoot(t)
	t.Cleanup(func() {
		if err := Remove(s.Name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	l, err := Up(context.Background(), s)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	return l
}

var (
	outside4 = netip.MustParseAddr("198.51.100.7")
	outside6 = netip.MustParseAddr("2001:db8:ffff::7")
)

// openGroup accepts everything in both directions, for both families: with
// it every verdict is the network's (path) verdict, so comparing the lab to
// policy.Evaluate is a comparison of the networks.
func openGroup(id, vpc string) *model.SecurityGroup {
	var rules []model.Rule
	for i, spec := range []string{"in accept 1 ALL -1/-1 0.0.0.0/0", "in accept 1 ALL -1/-1 ::/0",
		"out accept 1 ALL -1/-1 0.0.0.0/0", "out accept 1 ALL -1/-1 ::/0"} {
		rules = append(rules, modeltest.Rule(fmt.Sprintf("sgr-%s-%d", id, i), spec))
	}
	return modeltest.Group(id, vpc, "isolated", rules...)
}

// handCloud has two VPCs, public addresses and IPv6 on some instances only,
// all in open groups. Spread over two hosts by ID it puts same-VPC and
// cross-VPC pairs both on one host and across hosts.
func handCloud() *policy.Cloud {
	a := netip.MustParseAddr
	mk := func(id, vpc, ip, v6, public string) *model.Instance {
		in := &model.Instance{ID: id, VpcID: vpc, PrivateIP: a(ip), SecurityGroups: []string{"sg-" + vpc}}
		if v6 != "" {
			in.IPv6 = a(v6)
		}
		if public != "" {
			in.PublicIP = a(public)
		}
		return in
	}
	return policy.NewCloud(
		[]*model.SecurityGroup{openGroup("sg-vpc-a", "vpc-a"), openGroup("sg-vpc-b", "vpc-b")},
		[]*model.Instance{
			mk("i-a1", "vpc-a", "10.1.0.11", "2001:db8:a::11", "192.0.2.11"), // h0
			mk("i-a2", "vpc-a", "10.1.0.12", "", ""),                         // h1
			mk("i-a3", "vpc-a", "10.1.0.13", "2001:db8:a::13", ""),           // h0
			mk("i-b1", "vpc-b", "10.2.0.21", "2001:db8:b::21", "192.0.2.21"), // h1
			mk("i-b2", "vpc-b", "10.2.0.22", "", "192.0.2.22"),               // h0
			mk("i-b3", "vpc-b", "10.2.0.23", "", ""),                         // h1
		}, nil)
}
