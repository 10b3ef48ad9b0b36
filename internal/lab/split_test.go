package lab

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
)

// TestSplit: a spec without a shared private address is one lab, itself,
// with every flow; one with shared addresses is cut into labs that each
// pass Validate and hold both ends of their flows, every playable flow in
// exactly one; a flow between two holders of one address is in none.
func TestSplit(t *testing.T) {
	a := netip.MustParseAddr
	inst := func(id, vpc, ip string) Instance {
		return Instance{ID: id, VPC: vpc, PrivateIP: a(ip), Host: "h0"}
	}
	eni := func(id, of, ip string, dev int) Instance {
		in := inst(id, "", ip)
		in.VPC, in.NICOf, in.Device = "vpc-a", of, dev
		return in
	}
	out := "198.51.100.7"
	cases := []struct {
		name       string
		instances  []Instance
		ends       [][2]string
		labs       [][]string // each lab's instances
		unplayable []int
	}{
		{"no shared address",
			[]Instance{inst("a1", "vpc-a", "10.0.0.1"), inst("a2", "vpc-a", "10.0.0.2"), inst("b1", "vpc-b", "10.1.0.1")},
			[][2]string{{"a1", "a2"}, {out, "b1"}, {"b1", "a1"}},
			[][]string{{"a1", "a2", "b1"}}, nil},
		{"copied VPCs",
			[]Instance{inst("a1", "vpc-a", "10.0.0.1"), inst("a2", "vpc-a", "10.0.0.2"), inst("b1", "vpc-b", "10.0.0.1"), inst("b2", "vpc-b", "10.0.0.2"), inst("c", "vpc-c", "10.9.0.1")},
			[][2]string{{"a1", "a2"}, {"b1", "b2"}, {"a1", "b2"}, {"b1", "a1"}, {out, "b2"}, {"c", "b1"}, {"b2", out}},
			[][]string{{"a1", "a2", "c"}, {"b1", "b2", "c"}, {"a1", "b2"}}, []int{3}},
		{"an ENI goes with its instance",
			[]Instance{inst("a1", "vpc-a", "10.0.0.1"), eni("e1", "a1", "10.0.0.9", 1), inst("b1", "vpc-b", "10.0.0.9"), inst("b2", "vpc-b", "10.0.0.2")},
			[][2]string{{"e1", "b2"}, {"b1", "b2"}, {"b2", "a1"}, {"e1", "b1"}},
			[][]string{{"a1", "e1", "b2"}, {"b1", "b2"}}, []int{3}},
		{"nothing to play",
			[]Instance{inst("a1", "vpc-a", "10.0.0.1"), inst("b1", "vpc-b", "10.0.0.1")},
			[][2]string{{"a1", "b1"}},
			[][]string{{"a1"}}, []int{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec{Name: "ov", Hosts: []string{"h0"}, Instances: tc.instances, Outside: []netip.Addr{a(out)}}
			parts, unplayable := s.Split(tc.ends)
			var labs [][]string
			played := map[int]int{}
			for _, p := range parts {
				var ids []string
				for _, in := range p.Spec.Instances {
					ids = append(ids, in.ID)
				}
				labs = append(labs, ids)
				if err := p.Spec.Validate(); err != nil {
					t.Errorf("lab %v: %v", ids, err)
				}
				for _, i := range p.Flows {
					played[i]++
					for _, e := range tc.ends[i] {
						if e != out && !slices.Contains(ids, e) {
							t.Errorf("flow %d %v is in lab %v, which lacks %s", i, tc.ends[i], ids, e)
						}
					}
				}
			}
			if !reflect.DeepEqual(labs, tc.labs) {
				t.Errorf("labs %v, want %v", labs, tc.labs)
			}
			var none []int
			for i := range tc.ends {
				_, bad := unplayable[i]
				switch {
				case bad && played[i] > 0:
					t.Errorf("flow %d is unplayable (%s) yet played", i, unplayable[i])
				case bad:
					none = append(none, i)
				case played[i] != 1:
					t.Errorf("flow %d %v is played %d times", i, tc.ends[i], played[i])
				}
			}
			slices.Sort(none)
			if fmt.Sprint(none) != fmt.Sprint(tc.unplayable) {
				t.Errorf("unplayable %v, want %v", unplayable, tc.unplayable)
			}
			if len(unplayable) == 0 && len(parts) == 1 && !reflect.DeepEqual(parts[0].Spec, s) {
				t.Errorf("a spec without shared addresses changed: %+v", parts[0].Spec)
			}
		})
	}
}
