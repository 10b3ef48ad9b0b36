package lab

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestAttachENIs(t *testing.T) {
	a := netip.MustParseAddr
	s := Spec{Name: "x", Hosts: []string{"h0", "h1"}, Instances: []Instance{
		{ID: "eni-m", VPC: "vpc-a", PrivateIP: a("10.0.2.10"), Host: "h0"},
		{ID: "i-web", VPC: "vpc-a", PrivateIP: a("10.0.1.10"), Host: "h1"},
	}}
	s.AttachENIs([]*model.NetworkInterface{{ID: "eni-m", InstanceID: "i-web", DeviceIndex: 1}})
	if in := s.Instances[0]; in.NICOf != "i-web" || in.Device != 1 || in.Host != "h1" {
		t.Fatalf("ENI entry %+v: want on i-web's host as eth1", in)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	l := newLab(s)
	if l.InstanceNetns("eni-m") != l.InstanceNetns("i-web") || l.Interface("eni-m") == l.Interface("i-web") {
		t.Errorf("the ENI is in %s behind %s, its instance in %s behind %s: want one namespace, two interfaces",
			l.InstanceNetns("eni-m"), l.Interface("eni-m"), l.InstanceNetns("i-web"), l.Interface("i-web"))
	}
	if got := len(l.Namespaces()); got != 2+2+1 {
		t.Errorf("%d namespaces, want fabric, internet, 2 hosts and one instance", got)
	}
	for _, tt := range []struct {
		name string
		edit func(s *Spec)
		want string
	}{
		{"other host", func(s *Spec) { s.Instances[0].Host = "h0" }, "on its instance's host"},
		{"unknown instance", func(s *Spec) { s.Instances[0].NICOf = "i-gone" }, "not an instance of the lab"},
		{"eth0", func(s *Spec) { s.Instances[0].Device = 0 }, "eth1 to eth15"},
	} {
		bad := s
		bad.Instances = append([]Instance(nil), s.Instances...)
		tt.edit(&bad)
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
