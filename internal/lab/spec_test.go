package lab

import (
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

func TestSpecFromCloud(t *testing.T) {
	s := SpecFromCloud(handCloud(), "x", 2, []netip.Addr{outside4})
	if want := []string{"h0", "h1"}; !reflect.DeepEqual(s.Hosts, want) {
		t.Errorf("hosts %v, want %v", s.Hosts, want)
	}
	var got []string
	for _, in := range s.Instances {
		got = append(got, in.ID+"@"+in.Host)
	}
	want := []string{"i-a1@h0", "i-a2@h1", "i-a3@h0", "i-b1@h1", "i-b2@h0", "i-b3@h1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("placement %v, want %v", got, want)
	}
	if in := s.Instances[0]; in.VPC != "vpc-a" || in.PrivateIP.String() != "10.1.0.11" || in.IPv6.String() != "2001:db8:a::11" || in.PublicIP.String() != "192.0.2.11" {
		t.Errorf("i-a1 copied as %+v", in)
	}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
	if again := SpecFromCloud(handCloud(), "x", 2, []netip.Addr{outside4}); !reflect.DeepEqual(again, s) {
		t.Error("SpecFromCloud is not deterministic")
	}
}

func TestValidate(t *testing.T) {
	a := netip.MustParseAddr
	base := func() Spec { return SpecFromCloud(handCloud(), "x", 2, []netip.Addr{outside4, outside6}) }
	cases := []struct {
		name   string
		change func(*Spec)
		want   string // part of the error; "" for none
	}{
		{"valid", func(*Spec) {}, ""},
		{"long name", func(s *Spec) { s.Name = "abcdefghijklm" }, "lab name"},
		{"dash in name", func(s *Spec) { s.Name = "a-b" }, "lab name"},
		{"no hosts", func(s *Spec) { s.Hosts = nil }, "hosts"},
		{"duplicate host", func(s *Spec) { s.Hosts = []string{"h0", "h0", "h1"} }, "twice"},
		{"slash in host", func(s *Spec) { s.Hosts[0] = "a/b" }, "host name"},
		{"unknown host", func(s *Spec) { s.Instances[0].Host = "h9" }, "not in Hosts"},
		{"duplicate ID", func(s *Spec) { s.Instances[1].ID = s.Instances[0].ID }, "twice"},
		// A scenario's IDs are its own names: the namespace takes a hash
		// of one it cannot hold (see TestNsSafe).
		{"ID with a space and a slash", func(s *Spec) { s.Instances[0].ID = "web server/1" }, ""},
		{"empty ID", func(s *Spec) { s.Instances[0].ID = "" }, "no ID"},
		{"shared private across VPCs", func(s *Spec) { s.Instances[3].PrivateIP = s.Instances[0].PrivateIP }, "share the private address"},
		{"shared private in a VPC", func(s *Spec) { s.Instances[1].PrivateIP = s.Instances[0].PrivateIP }, "share the private address"},
		{"public is a private", func(s *Spec) { s.Instances[0].PublicIP = s.Instances[1].PrivateIP }, "used by"},
		{"outside is a public", func(s *Spec) { s.Outside[0] = s.Instances[0].PublicIP }, "used by"},
		{"IPv6 private", func(s *Spec) { s.Instances[0].PrivateIP = a("2001:db8::1") }, "not IPv4"},
		{"IPv4 in IPv6", func(s *Spec) { s.Instances[0].IPv6 = a("192.0.2.99") }, "not IPv6"},
		{"a second IPv6", func(s *Spec) { s.Instances[0].MoreIPv6 = []netip.Addr{a("2001:db8:a::99")} }, ""},
		{"a second IPv6 another's", func(s *Spec) { s.Instances[0].MoreIPv6 = []netip.Addr{s.Instances[2].IPv6} }, "used by"},
		{"a second IPv6 twice", func(s *Spec) { s.Instances[0].MoreIPv6 = []netip.Addr{s.Instances[0].IPv6} }, "used by"},
		{"a second IPv6 without a first", func(s *Spec) { s.Instances[1].MoreIPv6 = []netip.Addr{a("2001:db8:a::98")} }, "no first one"},
		{"IPv4 as a second IPv6", func(s *Spec) { s.Instances[0].MoreIPv6 = []netip.Addr{a("192.0.2.99")} }, "not IPv6"},
		{"mapped", func(s *Spec) { s.Instances[0].PrivateIP = a("::ffff:10.0.0.1") }, "plain IPv4"},
		{"link-local", func(s *Spec) { s.Instances[0].PrivateIP = a("169.254.1.1") }, "link-local"},
		{"missing private", func(s *Spec) { s.Instances[0].PrivateIP = netip.Addr{} }, "missing"},
		{"loopback outside", func(s *Spec) { s.Outside[0] = a("127.0.0.1") }, "unicast"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base()
			c.change(&s)
			err := s.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestIfaceNames(t *testing.T) {
	got := ifaceNames([]string{"i-web1", "web1", "i-bp1abcdefghijklmnop", "i-a:b", "i-123456789012"})
	want := map[string]string{
		"i-web1":         "pi-web1",
		"i-123456789012": "pi-123456789012",
	}
	for id, name := range want {
		if got[id] != name {
			t.Errorf("%s: %q, want %q", id, got[id], name)
		}
	}
	seen := map[string]string{}
	for id, name := range got {
		if len(name) > 15 || !strings.HasPrefix(name, IfacePrefix) || !ifaceSafe.MatchString(name) {
			t.Errorf("%s: bad interface name %q", id, name)
		}
		if other, ok := seen[name]; ok {
			t.Errorf("%s and %s share %q", id, other, name)
		}
		seen[name] = id
	}
}

// The addresses a probe uses mirror policy.Evaluate's (the lab tests check
// them against it too; this names the cases).
func TestPlanAddresses(t *testing.T) {
	l := newLab(SpecFromCloud(handCloud(), "x", 2, []netip.Addr{outside4, outside6}))
	cases := []struct {
		probe    ProbeSpec
		src, dst string
		noPath   bool
		err      string
	}{
		{probe: ProbeSpec{From: "i-a1", To: "i-a2", Proto: model.TCP, Port: 22}, src: "10.1.0.11", dst: "10.1.0.12"},
		{probe: ProbeSpec{From: "i-a1", To: "i-b1", Proto: model.TCP, Port: 22}, src: "10.1.0.11", dst: "192.0.2.21"},
		{probe: ProbeSpec{From: "i-a1", To: "i-b3", Proto: model.UDP, Port: 53}, src: "10.1.0.11", dst: "10.2.0.23"},
		{probe: ProbeSpec{From: "198.51.100.7", To: "i-a1", Proto: model.ICMP}, src: "198.51.100.7", dst: "192.0.2.11"},
		{probe: ProbeSpec{From: "198.51.100.7", To: "i-a2", Proto: model.GRE}, src: "198.51.100.7", dst: "10.1.0.12"},
		{probe: ProbeSpec{From: "i-a2", To: "198.51.100.7", Proto: model.TCP, Port: 80}, src: "10.1.0.12", dst: "198.51.100.7"},
		{probe: ProbeSpec{From: "i-a1", To: "i-b1", Proto: model.ICMPv6, IPVersion: 6}, src: "2001:db8:a::11", dst: "2001:db8:b::21"},
		{probe: ProbeSpec{From: "2001:db8:ffff::7", To: "i-a3", Proto: model.TCP, Port: 22}, src: "2001:db8:ffff::7", dst: "2001:db8:a::13"},
		{probe: ProbeSpec{From: "2001:db8:ffff::7", To: "i-a2", Proto: model.TCP, Port: 22}, noPath: true},
		{probe: ProbeSpec{From: "i-a2", To: "i-a1", Proto: model.GRE, IPVersion: 6}, noPath: true},
		{probe: ProbeSpec{From: "203.0.113.9", To: "i-a1", Proto: model.ICMP}, err: "not in lab"},
		{probe: ProbeSpec{From: "i-zz", To: "i-a1", Proto: model.ICMP}, err: "neither"},
		{probe: ProbeSpec{From: "i-a1", To: "i-a1", Proto: model.ICMP}, err: "same instance"},
		{probe: ProbeSpec{From: "198.51.100.7", To: "2001:db8:ffff::7", Proto: model.ICMP}, err: "instance at one end"},
		{probe: ProbeSpec{From: "i-a1", To: "2001:db8:ffff::7", Proto: model.ICMP}, err: "ICMPv6"},
		{probe: ProbeSpec{From: "i-a1", To: "198.51.100.7", Proto: model.TCP, Port: 80, IPVersion: 6}, err: "not IPv6"},
		{probe: ProbeSpec{From: "i-a1", To: "i-a2", Proto: model.ALL}, err: "one of"},
		{probe: ProbeSpec{From: "i-a1", To: "i-a2", Proto: model.TCP}, err: "port"},
	}
	for _, c := range cases {
		p, err := l.plan(c.probe)
		name := c.probe.From + "->" + c.probe.To + " " + string(c.probe.Proto)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one mentioning %q", name, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", name, err)
		case c.noPath:
			if p.noPath == "" {
				t.Errorf("%s: planned %s -> %s, want no path", name, p.src, p.dst)
			}
		case p.noPath != "" || p.src.String() != c.src || p.dst.String() != c.dst:
			t.Errorf("%s: planned %s -> %s (%s), want %s -> %s", name, p.src, p.dst, p.noPath, c.src, c.dst)
		}
	}
}

// TestPlanNamedIPv6: a probe naming one of an instance end's IPv6
// addresses is sent from or to it; one naming another's is refused.
func TestPlanNamedIPv6(t *testing.T) {
	a := netip.MustParseAddr
	l := newLab(Spec{Name: "x", Hosts: []string{"h0"}, Outside: []netip.Addr{outside6}, Instances: []Instance{
		{ID: "i-a", VPC: "vpc-a", PrivateIP: a("10.1.0.11"), IPv6: a("2001:db8:a::11"), MoreIPv6: []netip.Addr{a("2001:db8:a::21")}, Host: "h0"},
		{ID: "i-b", VPC: "vpc-a", PrivateIP: a("10.1.0.12"), IPv6: a("2001:db8:a::12"), MoreIPv6: []netip.Addr{a("2001:db8:a::22"), a("2001:db8:a::32")}, Host: "h0"},
	}})
	tcp6 := func(from, to string, fromAddr, toAddr string) ProbeSpec {
		p := ProbeSpec{From: from, To: to, Proto: model.TCP, Port: 80, IPVersion: 6}
		if fromAddr != "" {
			p.FromAddr = a(fromAddr)
		}
		if toAddr != "" {
			p.ToAddr = a(toAddr)
		}
		return p
	}
	for _, c := range []struct {
		name     string
		probe    ProbeSpec
		src, dst string
		err      string
	}{
		{"none named", tcp6("i-a", "i-b", "", ""), "2001:db8:a::11", "2001:db8:a::12", ""},
		{"from a further one", tcp6("i-a", "i-b", "2001:db8:a::21", ""), "2001:db8:a::21", "2001:db8:a::12", ""},
		{"to a further one", tcp6("i-a", "i-b", "", "2001:db8:a::32"), "2001:db8:a::11", "2001:db8:a::32", ""},
		{"the first named", tcp6("i-a", "i-b", "2001:db8:a::11", "2001:db8:a::12"), "2001:db8:a::11", "2001:db8:a::12", ""},
		{"to the outside", tcp6("i-b", outside6.String(), "2001:db8:a::22", ""), "2001:db8:a::22", outside6.String(), ""},
		{"another's", tcp6("i-a", "i-b", "2001:db8:a::22", ""), "", "", "not an IPv6 address"},
		{"an outside end", tcp6(outside6.String(), "i-b", outside6.String(), ""), "", "", "not an IPv6 address"},
		{"IPv4", ProbeSpec{From: "i-a", To: "i-b", Proto: model.TCP, Port: 80, FromAddr: a("2001:db8:a::21")}, "", "", "only an IPv6 probe"},
	} {
		p, err := l.plan(c.probe)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case p.noPath != "" || p.src.String() != c.src || p.dst.String() != c.dst:
			t.Errorf("%s: planned %s -> %s (%s), want %s -> %s", c.name, p.src, p.dst, p.noPath, c.src, c.dst)
		}
	}
}

func TestRulesets(t *testing.T) {
	s := SpecFromCloud(handCloud(), "x", 2, nil)
	host := hostRuleset(&s)
	for _, want := range []string{
		"table inet palisade_lab",
		"set vpc_0 { type ipv4_addr; elements = { 10.1.0.11, 10.1.0.12, 10.1.0.13 }; }",
		"10.2.0.23 : jump from_vpc_1",
		"chain from_vpc_1 { ip daddr @private ip daddr != @vpc_1 drop; }",
		"hook forward priority -10",
	} {
		if !strings.Contains(host, want) {
			t.Errorf("host ruleset lacks %q:\n%s", want, host)
		}
	}
	inet := internetRuleset(&s)
	for _, want := range []string{
		"set unnated { type ipv4_addr; elements = { 10.1.0.12, 10.1.0.13, 10.2.0.23 }; }",
		"192.0.2.11 : 10.1.0.11",
		"10.1.0.11 : 192.0.2.11",
	} {
		if !strings.Contains(inet, want) {
			t.Errorf("internet ruleset lacks %q:\n%s", want, inet)
		}
	}
	if strings.Contains(host+inet, "table inet palisade ") || strings.Contains(host+inet, "table ip palisade ") {
		t.Error("the lab's rules touch the agent's table")
	}
}

func TestFlowBatches(t *testing.T) {
	f := func(from, to string, proto model.Protocol, port, sport uint16) policy.Flow {
		return policy.Flow{From: from, To: to, Protocol: proto, Port: port, SourcePort: sport}
	}
	cases := []struct {
		name  string
		flows []policy.Flow
		want  [][]int
	}{
		{"GRE both ways", []policy.Flow{f("i-a", "i-b", model.GRE, 0, 0), f("i-b", "i-a", model.GRE, 0, 0)}, [][]int{{0}, {1}}},
		{"GRE to others", []policy.Flow{f("i-a", "i-b", model.GRE, 0, 0), f("i-a", "i-c", model.GRE, 0, 0)}, [][]int{{0, 1}}},
		{"TCP other ports", []policy.Flow{f("i-a", "i-b", model.TCP, 22, 0), f("i-a", "i-b", model.TCP, 80, 0), f("i-b", "i-a", model.TCP, 22, 0)}, [][]int{{0, 1, 2}}},
		{"UDP reply ports", []policy.Flow{f("i-a", "i-b", model.UDP, 53, 0), f("i-b", "i-a", model.UDP, 40000, 53)}, [][]int{{0}, {1}}},
		{"default source port", []policy.Flow{f("i-a", "i-b", model.TCP, 22, 0), f("i-a", "i-b", model.TCP, 22, 40000)}, [][]int{{0}, {1}}},
		{"same flow thrice", []policy.Flow{f("i-a", "i-b", model.UDP, 53, 0), f("i-a", "i-b", model.UDP, 53, 0), f("i-a", "i-b", model.UDP, 53, 0)}, [][]int{{0}, {1}, {2}}},
		{"echoes never", []policy.Flow{f("i-a", "i-b", model.ICMP, 0, 0), f("i-b", "i-a", model.ICMP, 0, 0), f("i-a", "i-b", model.ICMP, 0, 0)}, [][]int{{0, 1, 2}}},
		{"families apart", []policy.Flow{f("i-a", "i-b", model.GRE, 0, 0), {From: "i-b", To: "i-a", Protocol: model.GRE, IPVersion: 6}}, [][]int{{0, 1}}},
	}
	for _, c := range cases {
		if got := flowBatches(c.flows); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: batches %v, want %v", c.name, got, c.want)
		}
	}
}

// TestNsSafe: an instance's namespace name holds its ID when it can, and a
// hash otherwise; names stay distinct, of the namespace's characters, and
// short enough for any ID.
func TestNsSafe(t *testing.T) {
	ids := []string{"i-a", "web.1", "Web_1", "-x", strings.Repeat("i", 64), strings.Repeat("i", 65), "web 1", "a/b", "../etc", "wéb", "a\tb", ""}
	seen := map[string]string{}
	for _, id := range ids {
		name := nsSafe(id)
		if !regexp.MustCompile(`^#?[A-Za-z0-9_.-]{1,64}$`).MatchString(name) || name == "." || name == ".." {
			t.Errorf("ID %q: namespace part %q", id, name)
		}
		if nameChar.MatchString(id) != (name == id) {
			t.Errorf("ID %q: namespace part %q; want the ID itself exactly when it is safe", id, name)
		}
		if prev, ok := seen[name]; ok {
			t.Errorf("IDs %q and %q share the namespace part %q", prev, id, name)
		}
		seen[name] = id
	}
}
