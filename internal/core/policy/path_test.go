package policy_test

import (
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

func TestPath(t *testing.T) {
	a := netip.MustParseAddr
	vm := func(vpc, priv, pub, v6 string) *model.Instance {
		in := &model.Instance{ID: "i-" + priv, VpcID: vpc, PrivateIP: a(priv)}
		if pub != "" {
			in.PublicIP = a(pub)
		}
		if v6 != "" {
			in.IPv6 = a(v6)
		}
		return in
	}
	web := vm("vpc-a", "10.0.0.1", "198.51.100.1", "2001:db8::1")
	db := vm("vpc-a", "10.0.0.2", "", "")
	far := vm("vpc-b", "10.1.0.1", "198.51.100.2", "2001:db8:1::1")
	out4, out6 := a("203.0.113.9"), a("2001:db8:ffff::9")
	for _, tt := range []struct {
		name     string
		src, dst *model.Instance
		six      bool
		noPath   policy.Reason
		nic      model.NicType
		eg, ing  [2]string // the packet's addresses on each side
	}{
		{"same VPC meets on private addresses", web, db, false, "", model.Intranet,
			[2]string{"10.0.0.1", "10.0.0.2"}, [2]string{"10.0.0.1", "10.0.0.2"}},
		{"across VPCs through public addresses, NATed", web, far, false, "", model.Internet,
			[2]string{"10.0.0.1", "198.51.100.2"}, [2]string{"198.51.100.1", "10.1.0.1"}},
		{"across VPCs without a public address", db, far, false, policy.DifferentVPC, "", [2]string{}, [2]string{}},
		{"IPv6 across VPCs on the global addresses", web, far, true, "", model.Internet,
			[2]string{"2001:db8::1", "2001:db8:1::1"}, [2]string{"2001:db8::1", "2001:db8:1::1"}},
		{"IPv6 needs both addresses", web, db, true, policy.NoIPv6Address, "", [2]string{}, [2]string{}},
		{"from the internet to the public address", nil, web, false, "", model.Internet,
			[2]string{"203.0.113.9", "198.51.100.1"}, [2]string{"203.0.113.9", "10.0.0.1"}},
		{"from the internet without a public address", nil, db, false, policy.NoPublicAddress, "", [2]string{}, [2]string{}},
		{"to the internet from the private address", web, nil, false, "", model.Internet,
			[2]string{"10.0.0.1", "203.0.113.9"}, [2]string{"198.51.100.1", "203.0.113.9"}},
		{"to the internet over IPv6", far, nil, true, "", model.Internet,
			[2]string{"2001:db8:1::1", "2001:db8:ffff::9"}, [2]string{"2001:db8:1::1", "2001:db8:ffff::9"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rt := policy.PathBetween(tt.src, tt.dst, tt.six)
			if rt.NoPath != tt.noPath {
				t.Fatalf("no path: got %q, want %q", rt.NoPath, tt.noPath)
			}
			if tt.noPath != "" {
				return
			}
			if rt.NIC != tt.nic {
				t.Errorf("path: got %s, want %s", rt.NIC, tt.nic)
			}
			outside := out4
			if tt.six {
				outside = out6
			}
			eg, ing := rt.Packets(tt.src, tt.dst, outside, policy.Packet{})
			if got := [2]string{eg.Src.String(), eg.Dst.String()}; got != tt.eg {
				t.Errorf("egress packet: got %v, want %v", got, tt.eg)
			}
			if got := [2]string{ing.Src.String(), ing.Dst.String()}; got != tt.ing {
				t.Errorf("ingress packet: got %v, want %v", got, tt.ing)
			}
		})
	}
}

func TestKey(t *testing.T) {
	g := func(id, vpc string) *model.SecurityGroup {
		return &model.SecurityGroup{ID: id, VpcID: vpc, Type: model.Normal}
	}
	c := policy.NewCloud([]*model.SecurityGroup{g("sg-a", "vpc-a"), g("sg-b", "vpc-a"), g("sg-c", "")},
		[]*model.Instance{
			{ID: "i-1", VpcID: "vpc-a", SecurityGroups: []string{"sg-a", "sg-b"}},
			{ID: "i-2", VpcID: "vpc-a", SecurityGroups: []string{"sg-a", "sg-b", "sg-gone"}},
			{ID: "i-3", VpcID: "vpc-a", SecurityGroups: []string{"sg-b", "sg-a"}},
			{ID: "i-4", SecurityGroups: []string{"sg-c"}},
		}, nil)
	key := func(id string, dir model.Direction, nic model.NicType) policy.Key {
		return policy.KeyOf(c, c.Instances[id], dir, nic)
	}
	for _, tt := range []struct {
		name string
		a, b policy.Key
		same bool
	}{
		{"the same groups", key("i-1", model.Ingress, model.Intranet), key("i-2", model.Ingress, model.Intranet), true},
		{"groups in another order", key("i-1", model.Ingress, model.Intranet), key("i-3", model.Ingress, model.Intranet), false},
		{"VPC rules apply on every path", key("i-1", model.Ingress, model.Intranet), key("i-1", model.Ingress, model.Internet), true},
		{"classic groups keep a rule set per path", key("i-4", model.Ingress, model.Intranet), key("i-4", model.Ingress, model.Internet), false},
		{"directions differ", key("i-1", model.Ingress, model.Intranet), key("i-1", model.Egress, model.Intranet), false},
	} {
		if got := tt.a == tt.b; got != tt.same {
			t.Errorf("%s: %s == %s is %t", tt.name, tt.a, tt.b, got)
		}
	}
	if k := key("i-4", model.Egress, model.Internet); k.String() != "sg-c|egress|internet" || k.Direction() != model.Egress || k.NIC() != model.Internet {
		t.Errorf("key renders as %s (%s, %s)", k, k.Direction(), k.NIC())
	}
}
