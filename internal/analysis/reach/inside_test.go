package reach

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// TestNotOutsideNamesEveryVPC: an address in a block two VPCs share is
// refused naming both (it named the first only, which read as wrong to a
// user asking about the other), and one of a single VPC names it alone.
func TestNotOutsideNamesEveryVPC(t *testing.T) {
	vpc := func(id, block, owner string) *model.VPC {
		return &model.VPC{ID: id, CIDR: netip.MustParsePrefix(block), Owner: owner}
	}
	vpcs := []*model.VPC{vpc("vpc-b", "10.0.0.0/16", "1"), vpc("vpc-a", "10.0.0.0/16", "1"), vpc("vpc-c", "172.16.0.0/16", "1"), vpc("vpc-x", "10.0.0.0/16", "2")}
	insts := []*model.Instance{modeltest.Instance("i-a", "vpc-a", "10.0.1.11", "sg-a")}
	for _, tt := range []struct {
		addr, want string // want: the VPCs named; "" none
		not        string
	}{
		{"10.0.1.11", "inside vpc-a and vpc-b;", "vpc-x"},
		{"172.16.3.4", "inside vpc-c;", "vpc-a"},
		{"8.8.8.8", "", ""},
	} {
		got := NotOutside("1", vpcs, slices.Values(insts), netip.MustParseAddr(tt.addr))
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) || tt.not != "" && strings.Contains(got, tt.not) {
			t.Errorf("%s: %q, want it to say %q (and not %q)", tt.addr, got, tt.want, tt.not)
		}
	}
}
