package policy_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestSecondaryENIOwnGroups checks that the engine judges a secondary ENI
// with its own groups, not its instance's: each flow here gets the other
// verdict if the ENI took the instance's groups (or the reverse).
func TestSecondaryENIOwnGroups(t *testing.T) {
	web := &model.SecurityGroup{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		rule("sgr-http", model.Ingress, model.Accept, 1, model.TCP, "80/80", "192.168.0.0/16"),
	}}
	mgmt := &model.SecurityGroup{ID: "sg-mgmt", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		rule("sgr-ssh", model.Ingress, model.Accept, 1, model.TCP, "22/22", "192.168.9.0/24"),
		rule("sgr-out", model.Egress, model.Drop, 1, model.TCP, "5432/5432", "0.0.0.0/0"),
	}}
	db := &model.SecurityGroup{ID: "sg-db", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		rule("sgr-from-web", model.Ingress, model.Accept, 1, model.TCP, "5432/5432", "sg-web"),
		rule("sgr-metrics", model.Ingress, model.Accept, 1, model.TCP, "9100/9100", "sg-mgmt"),
	}}
	admin := &model.SecurityGroup{ID: "sg-admin", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop}
	webInst := modeltest.Instance("i-web", "vpc-a", "192.168.1.10", "sg-web")
	eni := &model.NetworkInterface{ID: "eni-mgmt", Type: model.ENISecondary, Status: model.ENIInUse, InstanceID: "i-web",
		VpcID: "vpc-a", PrivateIP: modeltest.Addr("192.168.2.10"), SecurityGroups: []string{"sg-mgmt"}}
	loose := &model.NetworkInterface{ID: "eni-loose", Type: model.ENISecondary, Status: model.ENIAvailable,
		VpcID: "vpc-a", PrivateIP: modeltest.Addr("192.168.2.11"), SecurityGroups: []string{"sg-mgmt"}}
	instances := []*model.Instance{webInst,
		modeltest.Instance("i-db", "vpc-a", "192.168.3.10", "sg-db"),
		modeltest.Instance("i-admin", "vpc-a", "192.168.9.10", "sg-admin")}
	cloud := policy.NewCloud([]*model.SecurityGroup{web, mgmt, db, admin}, model.NICs(instances, []*model.NetworkInterface{eni, loose}), nil)
	if _, ok := cloud.Instances["eni-loose"]; ok {
		t.Fatal("an unattached ENI is a NIC of the policy; it carries no traffic")
	}
	tests := []struct {
		name     string
		flow     policy.Flow
		want     policy.Verdict
		deciding string
	}{
		{"SSH to the management ENI", policy.Flow{From: "i-admin", To: "eni-mgmt", Protocol: model.TCP, Port: 22}, policy.Accept, "sgr-ssh"},
		{"no SSH to the primary", policy.Flow{From: "i-admin", To: "i-web", Protocol: model.TCP, Port: 22}, policy.Drop, string(policy.DefaultIngressDrop)},
		{"HTTP to the primary", policy.Flow{From: "i-admin", To: "i-web", Protocol: model.TCP, Port: 80}, policy.Accept, "sgr-http"},
		{"no HTTP to the management ENI", policy.Flow{From: "i-admin", To: "eni-mgmt", Protocol: model.TCP, Port: 80}, policy.Drop, string(policy.DefaultIngressDrop)},
		{"the primary is a web peer", policy.Flow{From: "i-web", To: "i-db", Protocol: model.TCP, Port: 5432}, policy.Accept, "sgr-from-web"},
		{"the ENI is not a web peer and its egress drops", policy.Flow{From: "eni-mgmt", To: "i-db", Protocol: model.TCP, Port: 5432}, policy.Drop, "sgr-out"},
		{"the ENI is a management peer", policy.Flow{From: "eni-mgmt", To: "i-db", Protocol: model.TCP, Port: 9100}, policy.Accept, "sgr-metrics"},
		{"the primary is not a management peer", policy.Flow{From: "i-web", To: "i-db", Protocol: model.TCP, Port: 9100}, policy.Drop, string(policy.DefaultIngressDrop)},
	}
	for _, ev := range []policy.Decider{policy.NewLinear(cloud), policy.Compile(cloud)} {
		for _, tt := range tests {
			res, err := policy.Evaluate(ev, tt.flow)
			if err != nil {
				t.Fatalf("%T %s: %v", ev, tt.name, err)
			}
			d := res.Deciding()
			got := string(d.Reason)
			if d.Rule != nil {
				got = d.Rule.RuleID
			}
			if res.Verdict != tt.want || got != tt.deciding {
				t.Errorf("%T %s: %s by %s, want %s by %s", ev, tt.name, res.Verdict, got, tt.want, tt.deciding)
			}
		}
	}
}

// TestSecondaryIPsAreTheNICs checks that a NIC's secondary private
// addresses are its addresses wherever its primary one is: a packet to or
// from one is judged by the NIC's groups, the NIC is a group peer and an
// intra-group member on them, and they are addresses of its network (the
// intranet path). Each case gets the other verdict, or the other path, if
// the secondary addresses were left out (Addresses, NewCloud, Next).
func TestSecondaryIPsAreTheNICs(t *testing.T) {
	app := &model.SecurityGroup{ID: "sg-app", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerAccept, Rules: []model.Rule{
		// Only the secondary address of the ENI listens on 8080.
		modeltest.Rule("sgr-8080", "in accept 1 TCP 8080/8080 192.168.0.0/16 local=192.168.2.21/32"),
	}}
	db := &model.SecurityGroup{ID: "sg-db", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		rule("sgr-from-app", model.Ingress, model.Accept, 1, model.TCP, "5432/5432", "sg-app"),
	}}
	web := modeltest.Instance("i-web", "vpc-a", "192.168.1.10", "sg-app")
	web.SecondaryIPs = []netip.Addr{modeltest.Addr("192.168.1.20")}
	eni := &model.NetworkInterface{ID: "eni-app", Type: model.ENISecondary, Status: model.ENIInUse, InstanceID: "i-web",
		VpcID: "vpc-a", PrivateIP: modeltest.Addr("192.168.2.11"), SecondaryIPs: []netip.Addr{modeltest.Addr("192.168.2.21")},
		SecurityGroups: []string{"sg-app"}}
	dbInst := modeltest.Instance("i-db", "vpc-a", "192.168.3.10", "sg-db")
	other := modeltest.Instance("i-other", "vpc-a", "192.168.4.10", "sg-db")
	groups := []*model.SecurityGroup{app, db}
	nics := model.NICs([]*model.Instance{web, dbInst, other}, []*model.NetworkInterface{eni})
	pkt := func(src, dst string, port uint16) policy.Packet {
		return policy.Packet{Src: modeltest.Addr(src), Dst: modeltest.Addr(dst), Proto: 6, SrcPort: 40000, DstPort: port}
	}
	nicAddrCases(t, groups, nics, "sg-app", []netip.Addr{modeltest.Addr("192.168.2.21"), modeltest.Addr("192.168.1.20")}, []nicAddrCase{
		{"from the primary ENI's secondary address: a sg-app peer", "i-db", model.Ingress, pkt("192.168.1.20", "192.168.3.10", 5432), model.Intranet, policy.Accept, "sgr-from-app"},
		{"from the ENI's secondary address: a sg-app peer", "i-db", model.Ingress, pkt("192.168.2.21", "192.168.3.10", 5432), model.Intranet, policy.Accept, "sgr-from-app"},
		{"from an address no NIC holds: no peer", "i-db", model.Ingress, pkt("192.168.1.30", "192.168.3.10", 5432), model.Internet, policy.Drop, string(policy.DefaultIngressDrop)},
		{"to the ENI's secondary address: its local rule", "eni-app", model.Ingress, pkt("192.168.4.10", "192.168.2.21", 8080), model.Intranet, policy.Accept, "sgr-8080"},
		{"to the ENI's primary address: not its local rule", "eni-app", model.Ingress, pkt("192.168.4.10", "192.168.2.11", 8080), model.Intranet, policy.Drop, string(policy.DefaultIngressDrop)},
		{"between secondary addresses of one group: intra-group", "eni-app", model.Ingress, pkt("192.168.1.20", "192.168.2.21", 9000), model.Intranet, policy.Accept, string(policy.IntraGroup)},
	})
}

// TestMoreIPv6AreTheNICs checks, as TestSecondaryIPsAreTheNICs does for
// secondary IPv4 addresses, that a NIC's further IPv6 addresses are its
// addresses wherever its first one is: a packet to or from one is judged
// by the NIC's groups, the NIC is a group peer and an intra-group member
// on them, and they are addresses of its network (the intranet path).
// Each case gets the other verdict, or the other path, if they were left
// out (Addresses, NewCloud, Next).
func TestMoreIPv6AreTheNICs(t *testing.T) {
	app := &model.SecurityGroup{ID: "sg-app", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerAccept, Rules: []model.Rule{
		// Only the ENI's second IPv6 address listens on 8080.
		modeltest.Rule("sgr-8080", "in accept 1 TCP 8080/8080 2408:4000::/56 local=2408:4000:0:2::21/128"),
	}}
	db := &model.SecurityGroup{ID: "sg-db", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		rule("sgr-from-app", model.Ingress, model.Accept, 1, model.TCP, "5432/5432", "sg-app"),
	}}
	web := modeltest.Instance("i-web", "vpc-a", "192.168.1.10,2408:4000:0:1::10", "sg-app")
	web.MoreIPv6 = []netip.Addr{modeltest.Addr("2408:4000:0:1::20")}
	eni := &model.NetworkInterface{ID: "eni-app", Type: model.ENISecondary, Status: model.ENIInUse, InstanceID: "i-web",
		VpcID: "vpc-a", PrivateIP: modeltest.Addr("192.168.2.11"), IPv6: modeltest.Addr("2408:4000:0:2::11"),
		MoreIPv6: []netip.Addr{modeltest.Addr("2408:4000:0:2::21")}, SecurityGroups: []string{"sg-app"}}
	dbInst := modeltest.Instance("i-db", "vpc-a", "192.168.3.10,2408:4000:0:3::10", "sg-db")
	other := modeltest.Instance("i-other", "vpc-a", "192.168.4.10,2408:4000:0:4::10", "sg-db")
	groups := []*model.SecurityGroup{app, db}
	nics := model.NICs([]*model.Instance{web, dbInst, other}, []*model.NetworkInterface{eni})
	pkt := func(src, dst string, port uint16) policy.Packet {
		return policy.Packet{Src: modeltest.Addr(src), Dst: modeltest.Addr(dst), Proto: 6, SrcPort: 40000, DstPort: port}
	}
	nicAddrCases(t, groups, nics, "sg-app", []netip.Addr{modeltest.Addr("2408:4000:0:2::21"), modeltest.Addr("2408:4000:0:1::20")}, []nicAddrCase{
		{"from the primary ENI's second IPv6: a sg-app peer", "i-db", model.Ingress, pkt("2408:4000:0:1::20", "2408:4000:0:3::10", 5432), model.Intranet, policy.Accept, "sgr-from-app"},
		{"from the ENI's second IPv6: a sg-app peer", "i-db", model.Ingress, pkt("2408:4000:0:2::21", "2408:4000:0:3::10", 5432), model.Intranet, policy.Accept, "sgr-from-app"},
		{"from an address no NIC holds: no peer", "i-db", model.Ingress, pkt("2408:4000:0:1::30", "2408:4000:0:3::10", 5432), model.Internet, policy.Drop, string(policy.DefaultIngressDrop)},
		{"to the ENI's second IPv6: its local rule", "eni-app", model.Ingress, pkt("2408:4000:0:4::10", "2408:4000:0:2::21", 8080), model.Intranet, policy.Accept, "sgr-8080"},
		{"to the ENI's first IPv6: not its local rule", "eni-app", model.Ingress, pkt("2408:4000:0:4::10", "2408:4000:0:2::11", 8080), model.Intranet, policy.Drop, string(policy.DefaultIngressDrop)},
		{"between second IPv6 addresses of one group: intra-group", "eni-app", model.Ingress, pkt("2408:4000:0:1::20", "2408:4000:0:2::21", 9000), model.Intranet, policy.Accept, string(policy.IntraGroup)},
	})
}

// TestSecondaryENIEIP checks that an EIP bound to a secondary ENI makes
// that ENI, not its instance, reachable from the internet and decided by
// the ENI's groups: the internet reaches the ENI's private address
// through the EIP (and the ENI reaches out as the EIP), while the instance
// without a public address of its own has no path. Without the ENI's
// public address on its NIC every flow here has no path.
func TestSecondaryENIEIP(t *testing.T) {
	web := &model.SecurityGroup{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		rule("sgr-https", model.Ingress, model.Accept, 1, model.TCP, "443/443", "0.0.0.0/0"),
	}}
	mgmt := &model.SecurityGroup{ID: "sg-mgmt", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		rule("sgr-ssh", model.Ingress, model.Accept, 1, model.TCP, "22/22", "198.51.100.0/24"),
		rule("sgr-no-dns", model.Egress, model.Drop, 1, model.UDP, "53/53", "0.0.0.0/0"),
	}}
	webInst := modeltest.Instance("i-web", "vpc-a", "192.168.1.10", "sg-web")
	eip := modeltest.Addr("203.0.113.5")
	eni := &model.NetworkInterface{ID: "eni-mgmt", Type: model.ENISecondary, Status: model.ENIInUse, InstanceID: "i-web",
		VpcID: "vpc-a", PrivateIP: modeltest.Addr("192.168.2.10"), SecurityGroups: []string{"sg-mgmt"}, PublicIP: eip, EipID: "eip-mgmt"}
	cloud := policy.NewCloud([]*model.SecurityGroup{web, mgmt}, model.NICs([]*model.Instance{webInst}, []*model.NetworkInterface{eni}), nil)
	tests := []struct {
		name     string
		flow     policy.Flow
		want     policy.Verdict
		deciding string // a rule, a reason, or the path's reason
		src, dst string // the ENI's side of the packet, when it is judged
	}{
		{"SSH from the internet to the EIP", policy.Flow{From: "198.51.100.7", To: "eni-mgmt", Protocol: model.TCP, Port: 22}, policy.Accept, "sgr-ssh", "198.51.100.7", "192.168.2.10"},
		{"the instance's HTTPS rule is not the ENI's", policy.Flow{From: "198.51.100.7", To: "eni-mgmt", Protocol: model.TCP, Port: 443}, policy.Drop, string(policy.DefaultIngressDrop), "198.51.100.7", "192.168.2.10"},
		{"SSH from elsewhere", policy.Flow{From: "192.0.2.9", To: "eni-mgmt", Protocol: model.TCP, Port: 22}, policy.Drop, string(policy.DefaultIngressDrop), "192.0.2.9", "192.168.2.10"},
		{"the ENI's egress to the internet", policy.Flow{From: "eni-mgmt", To: "198.51.100.7", Protocol: model.UDP, Port: 53}, policy.Drop, "sgr-no-dns", "192.168.2.10", "198.51.100.7"},
		{"the instance has no public address", policy.Flow{From: "198.51.100.7", To: "i-web", Protocol: model.TCP, Port: 443}, policy.Drop, string(policy.NoPublicAddress), "", ""},
	}
	for _, ev := range []policy.Decider{policy.NewLinear(cloud), policy.Compile(cloud)} {
		for _, tt := range tests {
			res, err := policy.Evaluate(ev, tt.flow)
			if err != nil {
				t.Fatalf("%T %s: %v", ev, tt.name, err)
			}
			got := string(res.Path)
			if res.Path == "" {
				d := res.Deciding()
				got = string(d.Reason)
				if d.Rule != nil {
					got = d.Rule.RuleID
				}
			}
			if res.Verdict != tt.want || got != tt.deciding {
				t.Errorf("%T %s: %s by %s, want %s by %s", ev, tt.name, res.Verdict, got, tt.want, tt.deciding)
				continue
			}
			pk := res.IngressPacket
			if res.Ingress == nil {
				pk = res.EgressPacket
			}
			if tt.src != "" && (pk.Src.String() != tt.src || pk.Dst.String() != tt.dst) {
				t.Errorf("%T %s: the ENI sees %s -> %s, want %s -> %s", ev, tt.name, pk.Src, pk.Dst, tt.src, tt.dst)
			}
		}
	}
	// The internet side of the packets is the EIP.
	nic, out := cloud.Instances["eni-mgmt"], modeltest.Addr("198.51.100.7")
	if sent, _ := policy.PathBetween(nil, nic, false).Packets(nil, nic, out, policy.Packet{}); sent.Dst != eip {
		t.Errorf("from the internet the packet is sent to %s, want the EIP %s", sent.Dst, eip)
	}
	if _, seen := policy.PathBetween(nic, nil, false).Packets(nic, nil, out, policy.Packet{}); seen.Src != eip {
		t.Errorf("the internet sees the ENI's packet from %s, want the EIP %s", seen.Src, eip)
	}
}

// nicAddrCase is a packet at one NIC and how both evaluators, on a cloud
// built whole (NewCloud) and one built by an edit (Next), judge it.
type nicAddrCase struct {
	name     string
	nic      string
	dir      model.Direction
	p        policy.Packet
	path     model.NicType
	want     policy.Verdict
	deciding string
}

// nicAddrCases runs the cases on groups and nics, and checks that group
// stands for the addresses members (the NICs' further addresses).
func nicAddrCases(t *testing.T, groups []*model.SecurityGroup, nics []*model.Instance, group string, members []netip.Addr, tests []nicAddrCase) {
	t.Helper()
	// Next must index the further addresses as NewCloud does: the cloud
	// built from nothing but the groups, then the NICs added by an edit.
	edit := policy.Edit{Instances: map[string]*model.Instance{}}
	for _, n := range nics {
		edit.Instances[n.ID] = n
	}
	clouds := map[string]*policy.Cloud{
		"NewCloud": policy.NewCloud(groups, nics, nil),
		"Next":     policy.NewCloud(groups, nil, nil).Next(edit),
	}
	for cname, cloud := range clouds {
		for _, ev := range []policy.Decider{policy.NewLinear(cloud), policy.Compile(cloud)} {
			for _, tt := range tests {
				nic := cloud.Instances[tt.nic]
				if path := cloud.PathOf(nic, tt.dir, tt.p); path != tt.path {
					t.Errorf("%s %T %s: path %s, want %s", cname, ev, tt.name, path, tt.path)
				}
				d := ev.Decide(nic, tt.dir, tt.path, tt.p)
				got := string(d.Reason)
				if d.Rule != nil {
					got = d.Rule.RuleID
				}
				if d.Verdict != tt.want || got != tt.deciding {
					t.Errorf("%s %T %s: %s by %s, want %s by %s", cname, ev, tt.name, d.Verdict, got, tt.want, tt.deciding)
				}
			}
		}
		for _, a := range members {
			if got := cloud.GroupAddrs(group); !slices.Contains(got, a) {
				t.Errorf("%s: %s stands for %v; want its members' further address %s too", cname, group, got, a)
			}
		}
	}
}
