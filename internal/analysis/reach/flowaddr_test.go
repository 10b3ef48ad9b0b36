package reach_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestAllowsRefusesFurtherAddress: reach holds each NIC at its first
// addresses, so a flow naming a further IPv6 address is refused rather
// than answered as if it came from the first; naming the first is fine.
func TestAllowsRefusesFurtherAddress(t *testing.T) {
	var gen *cloudgen.Cloud
	var in, peer *model.Instance
	for seed := uint64(0); seed < 20 && (in == nil || peer == nil); seed++ {
		gen, in, peer = cloudgen.Generate(seed, cloudgen.Small), nil, nil
		for _, x := range gen.Instances {
			switch {
			case in == nil && len(x.MoreIPv6) > 0:
				in = x
			case peer == nil && x.IPv6.IsValid() && len(x.MoreIPv6) == 0:
				peer = x
			}
		}
	}
	if in == nil || peer == nil {
		t.Fatal("the cloud has no NIC with further IPv6 addresses, or none without")
	}
	r := reach.Compute(gen.Snapshot(), reach.Options{})
	f := policy.Flow{From: in.ID, To: peer.ID, Protocol: model.GRE, IPVersion: 6}
	for _, tt := range []struct {
		name     string
		from, to netip.Addr
		refused  bool
	}{
		{"none named", netip.Addr{}, netip.Addr{}, false},
		{"the first named", in.IPv6, peer.IPv6, false},
		{"a further one", in.MoreIPv6[0], netip.Addr{}, true},
		{"another NIC's", netip.Addr{}, in.IPv6, true},
	} {
		f.FromAddr, f.ToAddr = tt.from, tt.to
		_, err := r.Allows(f)
		if tt.refused != (err != nil) || err != nil && !strings.Contains(err.Error(), "first addresses") {
			t.Errorf("%s: error %v, want refused=%v", tt.name, err, tt.refused)
		}
	}
}
