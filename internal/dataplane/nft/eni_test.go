package nft

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestBuildMapsEachENIToItsOwnChain checks that an instance's secondary
// ENI, bound to its own host interface, gets the chain of its own groups,
// not its instance's.
func TestBuildMapsEachENIToItsOwnChain(t *testing.T) {
	web := &model.SecurityGroup{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerAccept}
	mgmt := &model.SecurityGroup{ID: "sg-mgmt", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerAccept,
		Rules: []model.Rule{modeltest.Rule("sgr-ssh", "in Accept 1 TCP 22/22 10.0.9.0/24")}}
	in := &model.Instance{ID: "i-web", VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.1.10"), SecurityGroups: []string{"sg-web"},
		Host: "h1", Interface: "pi-web", Status: model.StatusRunning}
	eni := &model.NetworkInterface{ID: "eni-mgmt", Type: model.ENISecondary, Status: model.ENIInUse, InstanceID: "i-web", DeviceIndex: 1,
		VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.2.10"), SecurityGroups: []string{"sg-mgmt"}, Host: "h1", Interface: "pi-eni-mgmt"}
	c := policy.NewCloud([]*model.SecurityGroup{web, mgmt}, model.NICs([]*model.Instance{in}, []*model.NetworkInterface{eni}), nil)
	rs := Build(c, "h1", Options{})
	for _, m := range rs.Maps {
		if len(m.Elems) != 2 {
			t.Fatalf("map %s: %v, want the instance's and the ENI's interfaces", m.Name, m.Elems)
		}
		if m.Elems[0].Chain == m.Elems[1].Chain {
			t.Errorf("map %s: the ENI and its instance share chain %s; their groups differ", m.Name, m.Elems[0].Chain)
		}
	}
	if len(rs.Problems) > 0 {
		t.Errorf("problems: %v", rs.Problems)
	}
}

// TestSecondaryIPPackets sends real TCP connections from and to a NIC's
// secondary private address: i-app (behind pi-app) holds 10.0.2.10 and the
// secondary 10.0.2.20, i-web (behind pi-web) admits postgres from sg-app
// only. A connection from the secondary address is one from sg-app, and
// one to it is judged by i-app's groups; pi-c is an interface no instance
// owns. Without the secondary address in sg-app's set the first drops.
func TestSecondaryIPPackets(t *testing.T) {
	needKernel(t)
	groups := []*model.SecurityGroup{
		group("sg-web", "vpc-a", model.Normal, model.InnerDrop,
			rule("sgr-pg", model.Ingress, model.Accept, 1, model.TCP, "5432/5432", "sg-app")),
		group("sg-app", "vpc-a", model.Normal, model.InnerDrop,
			rule("sgr-http", model.Ingress, model.Accept, 1, model.TCP, "80/80", "10.0.1.0/24")),
	}
	app := inst("i-app", "vpc-a", "10.0.2.10", "pi-app", "sg-app")
	app.SecondaryIPs = []netip.Addr{netip.MustParseAddr("10.0.2.20")}
	ins := []*model.Instance{inst("i-web", "vpc-a", "10.0.1.10", "pi-web", "sg-web"), app}

	host := newNetns(t, "host")
	run(t, "ip", "netns", "exec", host, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	appNS := plug(t, host, "pi-app", "10.0.2.10", "10.0.2.1")
	run(t, "ip", "-n", appNS, "addr", "add", "10.0.2.20/24", "dev", "eth0")
	webNS := plug(t, host, "pi-web", "10.0.1.10", "10.0.1.1")
	stranger := plug(t, host, "pi-c", "10.0.3.10", "10.0.3.1")
	listen(t, webNS, "10.0.1.10", 5432)
	listen(t, appNS, "10.0.2.20", 80, 81)
	if !connectFrom(t, stranger, "", "10.0.1.10", 5432) {
		t.Fatal("the test network does not forward; no policy was applied yet")
	}
	apply(t, openKernel(t, host), Build(policy.NewCloud(groups, ins, nil), "h1", Options{InterfacePrefix: "pi-"}))
	connects(t, []connectCase{
		{"from i-app's secondary address: a sg-app peer", appNS, "10.0.2.20", "10.0.1.10", 5432, true},
		{"from i-app's primary address: a sg-app peer", appNS, "10.0.2.10", "10.0.1.10", 5432, true},
		{"from an interface no instance owns", stranger, "", "10.0.1.10", 5432, false},
		{"to i-app's secondary address: its http rule", webNS, "", "10.0.2.20", 80, true},
		{"to i-app's secondary address: no rule", webNS, "", "10.0.2.20", 81, false},
	})
}

// TestMoreIPv6Packets sends real TCP connections over IPv6 from and to a
// NIC's second IPv6 address, as TestSecondaryIPPackets does over IPv4:
// i-app (behind pi-app) holds 2408:4000:0:2::10 and 2408:4000:0:2::20,
// i-web (behind pi-web) admits postgres from sg-app only. A connection
// from the second address is one from sg-app, and one to it is judged by
// i-app's groups; pi-c is an interface no instance owns. Without the
// second address in sg-app's set the first drops.
func TestMoreIPv6Packets(t *testing.T) {
	needKernel(t)
	groups := []*model.SecurityGroup{
		group("sg-web", "vpc-a", model.Normal, model.InnerDrop,
			rule("sgr-pg", model.Ingress, model.Accept, 1, model.TCP, "5432/5432", "sg-app")),
		group("sg-app", "vpc-a", model.Normal, model.InnerDrop,
			modeltest.Rule("sgr-http", "in accept 1 TCP 80/80 2408:4000:0:1::/64")),
	}
	app := inst("i-app", "vpc-a", "10.0.2.10", "pi-app", "sg-app")
	app.SetIPv6s([]netip.Addr{netip.MustParseAddr("2408:4000:0:2::10"), netip.MustParseAddr("2408:4000:0:2::20")})
	web := inst("i-web", "vpc-a", "10.0.1.10", "pi-web", "sg-web")
	web.IPv6 = netip.MustParseAddr("2408:4000:0:1::10")
	ins := []*model.Instance{web, app}

	host := newNetns(t, "host")
	run(t, "ip", "netns", "exec", host, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	run(t, "ip", "netns", "exec", host, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	// Each namespace's IPv6 addresses beside its IPv4 one, without
	// duplicate address detection (which would hold them tentative), and
	// the neighbours on both ends of its link written in: neighbour
	// discovery would wait for the link-local addresses' own detection.
	mac := func(ns, dev string) string {
		f := strings.Fields(run(t, "ip", "-n", ns, "-o", "link", "show", dev))
		i := slices.Index(f, "link/ether")
		if i < 0 || i+1 == len(f) {
			t.Fatalf("no MAC address of %s in %s: %v", dev, ns, f)
		}
		return f[i+1]
	}
	six := func(ns, hostIf, gw string, addrs ...string) {
		run(t, "ip", "-n", host, "addr", "add", gw+"/64", "dev", hostIf, "nodad")
		run(t, "ip", "-n", ns, "neigh", "replace", gw, "lladdr", mac(host, hostIf), "dev", "eth0", "nud", "permanent")
		for _, a := range addrs {
			run(t, "ip", "-n", ns, "addr", "add", a+"/64", "dev", "eth0", "nodad")
			run(t, "ip", "-n", host, "neigh", "replace", a, "lladdr", mac(ns, "eth0"), "dev", hostIf, "nud", "permanent")
		}
		run(t, "ip", "-n", ns, "-6", "route", "add", "default", "via", gw)
	}
	appNS := plug(t, host, "pi-app", "10.0.2.10", "10.0.2.1")
	six(appNS, "pi-app", "2408:4000:0:2::1", "2408:4000:0:2::10", "2408:4000:0:2::20")
	webNS := plug(t, host, "pi-web", "10.0.1.10", "10.0.1.1")
	six(webNS, "pi-web", "2408:4000:0:1::1", "2408:4000:0:1::10")
	stranger := plug(t, host, "pi-c", "10.0.3.10", "10.0.3.1")
	six(stranger, "pi-c", "2408:4000:0:3::1", "2408:4000:0:3::10")
	listen(t, webNS, "2408:4000:0:1::10", 5432)
	listen(t, appNS, "2408:4000:0:2::20", 80, 81)
	if !connectFrom(t, stranger, "", "2408:4000:0:1::10", 5432) {
		t.Fatal("the test network does not forward IPv6; no policy was applied yet")
	}
	apply(t, openKernel(t, host), Build(policy.NewCloud(groups, ins, nil), "h1", Options{InterfacePrefix: "pi-"}))
	connects(t, []connectCase{
		{"from i-app's second IPv6 address: a sg-app peer", appNS, "2408:4000:0:2::20", "2408:4000:0:1::10", 5432, true},
		{"from i-app's first IPv6 address: a sg-app peer", appNS, "2408:4000:0:2::10", "2408:4000:0:1::10", 5432, true},
		{"from an interface no instance owns", stranger, "", "2408:4000:0:1::10", 5432, false},
		{"to i-app's second IPv6 address: its http rule", webNS, "", "2408:4000:0:2::20", 80, true},
		{"to i-app's second IPv6 address: no rule", webNS, "", "2408:4000:0:2::20", 81, false},
	})
}

// connectCase is a TCP connection from namespace ns (from address src, ""
// for its own) to to:port, and whether the policy lets it through.
type connectCase struct {
	name        string
	ns, src, to string
	port        int
	want        bool
}

func connects(t *testing.T, cases []connectCase) {
	t.Helper()
	for _, f := range cases {
		if got := connectFrom(t, f.ns, f.src, f.to, f.port); got != f.want {
			t.Errorf("%s: connected=%v, want %v", f.name, got, f.want)
		}
	}
}
