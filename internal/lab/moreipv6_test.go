package lab

import (
	"context"
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestMoreIPv6Delivered sends real TCP probes to and from a NIC's further
// IPv6 addresses: i-a's second address (its primary NIC, on h0) and the
// second address of its ENI eth1, from i-b on the other host and back.
// Each NIC holds every address and the fabric routes each to its host;
// without that the probes to and from the second addresses go nowhere.
func TestMoreIPv6Delivered(t *testing.T) {
	a := netip.MustParseAddr
	s := Spec{Name: testLabName(t, "v6"), Hosts: []string{"h0", "h1"}, Instances: []Instance{
		{ID: "i-a", VPC: "vpc-a", PrivateIP: a("10.1.0.11"), IPv6: a("2001:db8:a::11"), MoreIPv6: []netip.Addr{a("2001:db8:a::21")}, Host: "h0"},
		{ID: "eni-a", VPC: "vpc-a", PrivateIP: a("10.1.0.31"), IPv6: a("2001:db8:a::31"), MoreIPv6: []netip.Addr{a("2001:db8:a::41")}, Host: "h0"},
		{ID: "i-b", VPC: "vpc-a", PrivateIP: a("10.1.0.12"), IPv6: a("2001:db8:a::12"), Host: "h1"},
	}}
	s.AttachENIs([]*model.NetworkInterface{{ID: "eni-a", InstanceID: "i-a", DeviceIndex: 1}})
	upLab(t, s)
	n := s.Name
	for _, tt := range []struct {
		name         string
		srcNs, dstNs string
		src, dst     string
	}{
		{"to i-a's second address", instanceNs(n, "i-b"), instanceNs(n, "i-a"), "2001:db8:a::12", "2001:db8:a::21"},
		{"from i-a's second address", instanceNs(n, "i-a"), instanceNs(n, "i-b"), "2001:db8:a::21", "2001:db8:a::12"},
		{"to the ENI's second address", instanceNs(n, "i-b"), instanceNs(n, "i-a"), "2001:db8:a::12", "2001:db8:a::41"},
		{"from the ENI's second address", instanceNs(n, "i-a"), instanceNs(n, "i-b"), "2001:db8:a::41", "2001:db8:a::12"},
		{"to i-a's first address", instanceNs(n, "i-b"), instanceNs(n, "i-a"), "2001:db8:a::12", "2001:db8:a::11"},
	} {
		p := plan{proto: model.TCP, six: true, srcNs: tt.srcNs, dstNs: tt.dstNs, src: a(tt.src), dst: a(tt.dst), sport: 40000, dport: 80}
		r, err := send(context.Background(), &p, DefaultProbeTimeout)
		if err != nil || !r.delivered {
			t.Errorf("%s (%s → %s): delivered %v (%s), err %v", tt.name, tt.src, tt.dst, r.delivered, r.detail, err)
		}
	}
}
