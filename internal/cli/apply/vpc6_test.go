package apply

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// TestBuildVPCIPv6Block: CreateVpc takes an IPv6 /56 only, and the API
// gives NICs IPv6 addresses from their VPC's block, but a file may give a
// block of another length, or none beside NICs with IPv6 addresses (FORMAT.md
// allows both). apply of such a file failed at CreateVpc, CreateVSwitch
// (VpcNotEnableIpv6) or RunInstances, with the steps before it applied.
func TestBuildVPCIPv6Block(t *testing.T) {
	file := func(block, ip1, ip2 string) string {
		s := "vpcs:\n  - {vpcId: vpc-s, cidrBlock: 10.9.0.0/16"
		if block != "" {
			s += `, ipv6CidrBlock: "` + block + `"`
		}
		s += "}\nsecurityGroups:\n  - {securityGroupId: sg-s, vpcId: vpc-s}\ninstances:\n" +
			"  - instanceId: i-s\n    vpcId: vpc-s\n    privateIpAddress: 10.9.1.10\n    securityGroupIds: [sg-s]\n"
		if ip1 != "" {
			s += `    ipv6Address: "` + ip1 + "\"\n"
		}
		if ip2 != "" {
			s += "    networkInterfaces:\n      - {networkInterfaceId: eni-s, primaryIpAddress: 10.9.2.10, ipv6Address: \"" + ip2 + "\", securityGroupIds: [sg-s]}\n"
		}
		return s
	}
	for _, tc := range []struct {
		name           string
		block, ip, ip2 string
		account        string // the VPC's IPv6 block in the account: "" = no VPC yet, "none" = a VPC without one
		want           string // CreateVpc's Ipv6CidrBlock ("-" none), or "refused" / "conflict"
	}{
		{"a /56", "2001:db8:5::/56", "2001:db8:5:1::10", "", "", "2001:db8:5::/56"},
		{"a /48, the NICs' /56", "2001:db8:52::/48", "2001:db8:52:1277::10", "2001:db8:52:1201::10", "", "2001:db8:52:1200::/56"},
		{"a /48 without NICs' addresses", "2001:db8:52::/48", "", "", "", "2001:db8:52::/56"},
		{"a /64", "2001:db8:9:5::/64", "2001:db8:9:5::10", "", "", "2001:db8:9::/56"},
		{"none, the NICs' /56", "", "2001:db8:7:1::1", "2001:db8:7:2::1", "", "2001:db8:7::/56"},
		{"none, no IPv6", "", "", "", "", "-"},
		{"none, two /56s", "", "2001:db8:1::10", "2001:db9::30", "", "refused"},
		{"a /48, two /56s", "2001:db8:52::/48", "2001:db8:52::10", "2001:db8:52:100::10", "", "refused"},
		{"the account's VPC has none", "", "2001:db8:7:1::1", "", "none", "conflict"},
		{"the account's VPC has the /56", "2001:db8:52::/48", "2001:db8:52:1277::10", "", "2001:db8:52:1200::/56", "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := scenario.Parse("v6.yaml", []byte(file(tc.block, tc.ip, tc.ip2)))
			if err != nil {
				t.Fatal(err)
			}
			st := emptyState()
			if tc.account != "" {
				st = accountOf(sc)
				st.VPCs[0].IPv6CIDR = netip.Prefix{}
				if tc.account != "none" {
					st.VPCs[0].IPv6CIDR = netip.MustParsePrefix(tc.account)
				}
			}
			p, err := Build(sc, st, Options{Region: "cn-hangzhou"})
			var fe *FileError
			var ce *ConflictError
			switch {
			case tc.want == "refused":
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), "/56") {
					t.Fatalf("Build: %v, want a FileError naming the /56", err)
				}
				return
			case tc.want == "conflict":
				if !errors.As(err, &ce) || ce.Field != "ipv6CidrBlock" {
					t.Fatalf("Build: %v, want a conflict on ipv6CidrBlock", err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			got := "-"
			for _, s := range p.Steps {
				if s.Action == "CreateVpc" {
					if b, ok := s.Params["Ipv6CidrBlock"]; ok {
						got = b
					}
				}
			}
			if got != tc.want {
				t.Errorf("CreateVpc Ipv6CidrBlock %s, want %s", got, tc.want)
			}
		})
	}
}

// TestBuildVPCBlockTheAPITakes: CreateVpc takes a block of the private
// ranges with a mask from /8 to /28; a scenario file may give any IPv4
// block (FORMAT.md), which check and lab play judge. apply stopped at that
// VPC's CreateVpc, the VPCs before it made; it refuses the file first.
func TestBuildVPCBlockTheAPITakes(t *testing.T) {
	for _, tc := range []struct {
		block   string
		refused bool
	}{
		{"10.0.0.0/8", false},
		{"192.168.7.0/28", false},
		{"192.168.7.0/29", true},
		{"100.64.0.0/16", true},
		{"198.18.0.0/16", true},
		{"172.32.0.0/16", true},
	} {
		t.Run(tc.block, func(t *testing.T) {
			ip := netip.MustParsePrefix(tc.block).Addr().Next().Next()
			src := "vpcs:\n  - {vpcId: vpc-ok, cidrBlock: 10.61.0.0/16}\n  - {vpcId: vpc-b, cidrBlock: " + tc.block + "}\n" +
				"securityGroups:\n  - {securityGroupId: sg-b, vpcId: vpc-b}\n" +
				"instances:\n  - {instanceId: i-b, vpcId: vpc-b, privateIpAddress: " + ip.String() + ", securityGroupIds: [sg-b]}\n"
			sc, err := scenario.Parse("b.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Build(sc, emptyState(), Options{Region: "cn-hangzhou"})
			var fe *FileError
			if got := errors.As(err, &fe) && strings.Contains(err.Error(), "vpc-b"); got != tc.refused || !tc.refused && err != nil {
				t.Errorf("Build: %v, want refused %v", err, tc.refused)
			}
		})
	}
}

// TestBuildTagRoom: a file may give a group or an instance 20 tags, and
// apply adds its marker: CreateSecurityGroup (or RunInstances) refused the
// 21st after the steps before it ran. apply refuses such a file first.
func TestBuildTagRoom(t *testing.T) {
	tags := func(n int) string {
		var kv []string
		for i := range n {
			kv = append(kv, fmt.Sprintf("k%d: v", i))
		}
		return "{" + strings.Join(kv, ", ") + "}"
	}
	for _, tc := range []struct {
		group, instance int
		refused         bool
	}{
		{19, 19, false},
		{20, 0, true},
		{0, 20, true},
	} {
		t.Run(fmt.Sprintf("%d/%d", tc.group, tc.instance), func(t *testing.T) {
			src := "vpcs:\n  - {vpcId: vpc-t, cidrBlock: 10.62.0.0/16}\nsecurityGroups:\n  - {securityGroupId: sg-t, vpcId: vpc-t, tags: " + tags(tc.group) +
				"}\ninstances:\n  - {instanceId: i-t, vpcId: vpc-t, privateIpAddress: 10.62.1.10, securityGroupIds: [sg-t], tags: " + tags(tc.instance) + "}\n"
			sc, err := scenario.Parse("t.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Build(sc, emptyState(), Options{Region: "cn-hangzhou"})
			var fe *FileError
			if got := errors.As(err, &fe) && strings.Contains(err.Error(), Marker); got != tc.refused || !tc.refused && err != nil {
				t.Errorf("Build: %v, want refused %v", err, tc.refused)
			}
		})
	}
}
