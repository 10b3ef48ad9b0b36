package lab

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// A rule in a host (where the agent's table would be) that drops TCP 22 to
// one instance: the probes must report it, and nothing else.
func TestHostRuleDrops(t *testing.T) {
	needRoot(t)
	l := upLab(t, SpecFromCloud(handCloud(), testLabName(t, "d"), 2, []netip.Addr{outside4, outside6}))
	in, _ := l.Instance("i-a1")
	rules := fmt.Sprintf(`table inet lab_test {
	chain forward { type filter hook forward priority 0; policy accept; oifname %q tcp dport 22 drop; }
}
`, l.Interface("i-a1"))
	if err := applyNft(l.HostNetns(in.Host), rules); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		from      string
		proto     model.Protocol
		port      uint16
		six       bool
		delivered bool
	}{
		{"i-a2", model.TCP, 22, false, false}, // same VPC, from the other host
		{"i-a3", model.TCP, 22, false, false}, // same VPC, same host
		{"i-b1", model.TCP, 22, false, false}, // other VPC, through the NAT
		{"i-b1", model.TCP, 22, true, false},
		{"198.51.100.7", model.TCP, 22, false, false},
		{"2001:db8:ffff::7", model.TCP, 22, true, false},
		{"i-a2", model.TCP, 80, false, true},
		{"i-a3", model.TCP, 80, false, true},
		{"i-b1", model.TCP, 80, true, true},
		{"198.51.100.7", model.TCP, 80, false, true},
		{"2001:db8:ffff::7", model.TCP, 80, true, true},
		{"i-a2", model.UDP, 22, false, true}, // only TCP is dropped
	}
	probes := make([]ProbeSpec, len(cases))
	for i, c := range cases {
		probes[i] = ProbeSpec{From: c.from, To: "i-a1", Proto: c.proto, Port: c.port, IPVersion: 4}
		if c.six {
			probes[i].IPVersion = 6
		}
	}
	for i, r := range ProbeWith(context.Background(), l, probes, ProbeOptions{Timeout: RecheckTimeout}) {
		c := cases[i]
		if r.Err != nil || r.Delivered != c.delivered {
			t.Errorf("%s -> i-a1 %s %d IPv6=%v: delivered %v (%s, err %v), want %v", c.from, c.proto, c.port, c.six, r.Delivered, r.Detail, r.Err, c.delivered)
		}
	}
}

// After probes the routers track connections; FlushConntrack forgets them
// in both families. Conntrack only runs for a family some rule needs it for,
// as the agent's rules will: a test table turns it on in one host.
func TestFlushConntrack(t *testing.T) {
	needRoot(t)
	l := upLab(t, SpecFromCloud(handCloud(), testLabName(t, "c"), 2, []netip.Addr{outside4, outside6}))
	in, _ := l.Instance("i-a1")
	host := l.HostNetns(in.Host)
	if err := applyNft(host, "table inet lab_test {\n\tchain forward { type filter hook forward priority 0; ct state new accept; }\n}\n"); err != nil {
		t.Fatal(err)
	}
	probes := []ProbeSpec{
		{From: "198.51.100.7", To: "i-a1", Proto: model.UDP, Port: 53},
		{From: "2001:db8:ffff::7", To: "i-a1", Proto: model.UDP, Port: 53},
	}
	for i, r := range ProbeWith(context.Background(), l, probes, ProbeOptions{Timeout: RecheckTimeout}) {
		if !r.Delivered || r.Err != nil {
			t.Fatalf("probe %d: delivered %v (%s, %v)", i, r.Delivered, r.Detail, r.Err)
		}
	}
	count := func(fam netlink.InetFamily) (n int) {
		err := inNetns(host, func() error {
			flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, fam)
			n = len(flows)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, fam := range []netlink.InetFamily{unix.AF_INET, unix.AF_INET6} {
		if n := count(fam); n != 1 {
			t.Fatalf("the host tracks %d connections of family %d after one probe of it, want 1", n, fam)
		}
	}
	if err := FlushConntrack(l); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []netlink.InetFamily{unix.AF_INET, unix.AF_INET6} {
		if n := count(fam); n != 0 {
			t.Errorf("the host still tracks %d connections of family %d after the flush", n, fam)
		}
	}
}
