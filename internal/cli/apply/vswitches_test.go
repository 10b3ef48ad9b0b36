package apply

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// TestBuildVSwitches checks the vSwitches apply makes for a file's
// addresses: a VPC's vSwitches may not overlap and each has one IPv6 /64,
// so addresses of one /64 share a vSwitch that holds all of their /24s.
func TestBuildVSwitches(t *testing.T) {
	const head = `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16, ipv6CidrBlock: "2001:db8::/56"}
  - {vpcId: vpc-b, cidrBlock: 10.1.0.0/26}
securityGroups:
  - {securityGroupId: sg-a, vpcId: vpc-a}
  - {securityGroupId: sg-b, vpcId: vpc-b}
instances:
`
	tests := []struct {
		name      string
		instances string
		want      []string // CreateVSwitch: CidrBlock, then Ipv6CidrBlock if any
	}{
		{"one /24 each", `
  - {instanceId: i-1, vpcId: vpc-a, privateIpAddress: 10.0.1.10, securityGroupIds: [sg-a]}
  - {instanceId: i-2, vpcId: vpc-a, privateIpAddress: 10.0.2.10, securityGroupIds: [sg-a]}
  - {instanceId: i-3, vpcId: vpc-a, privateIpAddress: 10.0.1.20, securityGroupIds: [sg-a]}`,
			[]string{"10.0.1.0/24", "10.0.2.0/24"}},
		{"the VPC's block when smaller than a /24", `
  - {instanceId: i-1, vpcId: vpc-b, privateIpAddress: 10.1.0.10, securityGroupIds: [sg-b]}`,
			[]string{"10.1.0.0/26"}},
		{"one /64 in two /24s shares a vSwitch", `
  - {instanceId: i-1, vpcId: vpc-a, privateIpAddress: 10.0.1.10, ipv6Address: "2001:db8::a", securityGroupIds: [sg-a]}
  - {instanceId: i-2, vpcId: vpc-a, privateIpAddress: 10.0.2.10, ipv6Address: "2001:db8::b", securityGroupIds: [sg-a]}`,
			[]string{"10.0.0.0/22 0"}},
		{"the grown block takes in a /24 it covers", `
  - {instanceId: i-1, vpcId: vpc-a, privateIpAddress: 10.0.1.10, ipv6Address: "2001:db8::a", securityGroupIds: [sg-a]}
  - {instanceId: i-2, vpcId: vpc-a, privateIpAddress: 10.0.2.10, ipv6Address: "2001:db8::b", securityGroupIds: [sg-a]}
  - {instanceId: i-3, vpcId: vpc-a, privateIpAddress: 10.0.3.10, securityGroupIds: [sg-a]}
  - {instanceId: i-4, vpcId: vpc-a, privateIpAddress: 10.0.9.10, ipv6Address: "2001:db8:0:7::a", securityGroupIds: [sg-a]}
  - {instanceId: i-5, vpcId: vpc-a, privateIpAddress: 10.0.5.10, securityGroupIds: [sg-a]}`,
			[]string{"10.0.0.0/22 0", "10.0.5.0/24", "10.0.9.0/24 7"}},
		{"one /24 with addresses of one /64", `
  - {instanceId: i-1, vpcId: vpc-a, privateIpAddress: 10.0.4.10, ipv6Address: "2001:db8:0:4::a", securityGroupIds: [sg-a]}
  - {instanceId: i-2, vpcId: vpc-a, privateIpAddress: 10.0.4.20, ipv6Address: "2001:db8:0:4::b", securityGroupIds: [sg-a]}`,
			[]string{"10.0.4.0/24 4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := scenario.Parse("t.yaml", []byte(head+strings.TrimPrefix(tt.instances, "\n")+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Build(sc, emptyState(), Options{Region: "cn-hangzhou"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			refs := map[string]bool{}
			for _, s := range p.Steps {
				switch s.Action {
				case "CreateVSwitch":
					v := s.Params["CidrBlock"]
					if six, ok := s.Params["Ipv6CidrBlock"]; ok {
						v += " " + six
					}
					got = append(got, v)
				case "RunInstances":
					refs[s.Params["VSwitchId"]] = true
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("vSwitches %q, want %q", got, tt.want)
			}
			if len(refs) != len(tt.want) {
				t.Errorf("instances launch into %d vSwitches, want %d", len(refs), len(tt.want))
			}
		})
	}
}

// TestBuildVSwitchConflicts: a plan the API would refuse midway (an
// address in an existing vSwitch's /64 but not its IPv4 block; addresses
// of two /64s that must share a vSwitch) is refused before anything runs.
func TestBuildVSwitchConflicts(t *testing.T) {
	const file = `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16, ipv6CidrBlock: "2001:db8::/56"}
securityGroups:
  - {securityGroupId: sg-a, vpcId: vpc-a}
instances:
  - {instanceId: i-1, vpcId: vpc-a, privateIpAddress: 10.0.1.10, ipv6Address: "2001:db8::a", securityGroupIds: [sg-a]}
`
	tests := []struct {
		name, more string
		existing   bool // the account has vpc-a with i-1's vSwitch
		wantErr    string
	}{
		{"a later instance in the existing vSwitch", "  - {instanceId: i-2, vpcId: vpc-a, privateIpAddress: 10.0.1.20, ipv6Address: \"2001:db8::b\", securityGroupIds: [sg-a]}\n", true, ""},
		{"a later instance in its /64 but another /24", "  - {instanceId: i-2, vpcId: vpc-a, privateIpAddress: 10.0.2.10, ipv6Address: \"2001:db8::b\", securityGroupIds: [sg-a]}\n", true, "cannot grow"},
		{"two /64s in one vSwitch", "  - {instanceId: i-2, vpcId: vpc-a, privateIpAddress: 10.0.1.20, ipv6Address: \"2001:db8:0:1::b\", securityGroupIds: [sg-a]}\n", false, "2 /64s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := scenario.Parse("t.yaml", []byte(file+tt.more))
			if err != nil {
				t.Fatal(err)
			}
			st := emptyState()
			if tt.existing {
				st.VPCs = append(st.VPCs, VPC{ID: "vpc-real", FileID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16"), IPv6CIDR: netip.MustParsePrefix("2001:db8::/56")})
				st.VSwitches = append(st.VSwitches, VSwitch{ID: "vsw-real", VpcID: "vpc-real", FileVPC: "vpc-a",
					CIDR: netip.MustParsePrefix("10.0.1.0/24"), IPv6CIDR: netip.MustParsePrefix("2001:db8::/64")})
			}
			_, err = Build(sc, st, Options{Region: "cn-hangzhou"})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Build: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestBuildReservedAddress: a vSwitch does not assign the first address of
// its block or the last three, and FORMAT.md does not keep a file from
// using them; apply stopped at RunInstances (InvalidPrivateIpAddress.Malformed)
// with the steps before it applied. It refuses such a file up front, by the
// block of the vSwitch the instance would launch into.
func TestBuildReservedAddress(t *testing.T) {
	for _, tc := range []struct {
		vpc, addr string
		held      string // an account vSwitch's block ("" none)
		was       string // the instance's address in the account ("": it is new)
		refused   bool
	}{
		{"10.53.0.0/16", "10.53.1.0", "", "", true},
		{"10.53.0.0/16", "10.53.1.255", "", "", true},
		{"10.53.0.0/16", "10.53.1.253", "", "", true},
		{"10.53.0.0/16", "10.53.1.252", "", "", false},
		{"10.53.0.0/16", "10.53.1.1", "", "", false},
		{"10.54.0.0/28", "10.54.0.13", "", "", true},
		{"10.54.0.0/28", "10.54.0.12", "", "", false},
		{"10.53.0.0/16", "10.53.1.0", "10.53.0.0/23", "", false},
		{"10.53.0.0/16", "10.53.1.255", "10.53.0.0/22", "", false},
		{"10.53.0.0/16", "10.53.1.254", "10.53.0.0/23", "", true},
		// An instance that exists and moves (apply replaces it: the
		// delete came before the refused launch).
		{"10.53.0.0/16", "10.53.1.254", "10.53.0.0/23", "10.53.1.10", true},
		{"10.53.0.0/16", "10.53.1.11", "10.53.0.0/23", "10.53.1.10", false},
		{"10.53.0.0/16", "10.53.1.10", "10.53.0.0/23", "10.53.1.10", false},
	} {
		t.Run(tc.addr+" in "+tc.vpc+" "+tc.held+" was "+tc.was, func(t *testing.T) {
			src := "vpcs:\n  - {vpcId: vpc-r, cidrBlock: " + tc.vpc + "}\nsecurityGroups:\n  - {securityGroupId: sg-r, vpcId: vpc-r}\n" +
				"instances:\n  - {instanceId: i-r, vpcId: vpc-r, privateIpAddress: " + tc.addr + ", securityGroupIds: [sg-r]}\n"
			sc, err := scenario.Parse("r.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			st := emptyState()
			if tc.held != "" {
				st = accountOf(sc)
				if tc.was == "" {
					st.Account.Instances = nil
				} else {
					st.Account.Instances[0].PrivateIP = netip.MustParseAddr(tc.was)
					st.Account.Instances[0].VSwitchID = "vsw-held"
				}
				st.VSwitches = append(st.VSwitches, VSwitch{ID: "vsw-held", VpcID: st.VPCs[0].ID, CIDR: netip.MustParsePrefix(tc.held)})
			}
			_, err = Build(sc, st, Options{Region: "cn-hangzhou"})
			var fe *FileError
			if got := errors.As(err, &fe); got != tc.refused || err != nil && !tc.refused {
				t.Errorf("Build: %v, want refused %v", err, tc.refused)
			}
		})
	}
}
