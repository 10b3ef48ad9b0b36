package verify

import (
	"path/filepath"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// TestNamesTheDecidingRule checks, for every flow of every scenario file,
// that the rule verify names is the first rule in evaluation order that
// matches the packet as that side sees it (and that no intra-group grant
// came first), and that the reference evaluator agrees.
func TestNamesTheDecidingRule(t *testing.T) {
	files, _ := filepath.Glob("../../../testdata/scenarios/*.yaml")
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	for _, file := range files {
		s, err := scenario.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		c := s.Cloud()
		comp, lin := policy.Compile(c), policy.NewLinear(c)
		for _, f := range s.Flows {
			r, err := Flow(comp, f.Flow)
			if err != nil {
				t.Fatalf("%s:%d: %v", file, f.Line, err)
			}
			if r.Verdict != string(f.Expect) {
				t.Errorf("%s:%d %s: verdict %s, the file expects %s", file, f.Line, r.Flow, r.Verdict, f.Expect)
			}
			ref, _ := Flow(lin, f.Flow)
			if r.Verdict != ref.Verdict || r.Path != ref.Path || !sameSide(r.Egress, ref.Egress) || !sameSide(r.Ingress, ref.Ingress) {
				t.Errorf("%s:%d: compiled and reference disagree:\n%+v\n%+v", file, f.Line, r, ref)
			}
			res, _ := policy.Evaluate(comp, f.Flow)
			checkSide(t, c, file, f.Line, r.Egress, model.Egress, res.EgressPacket)
			checkSide(t, c, file, f.Line, r.Ingress, model.Ingress, res.IngressPacket)
		}
	}
}

func sameSide(a, b *Side) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func checkSide(t *testing.T, c *policy.Cloud, file string, line int, s *Side, dir model.Direction, pkt policy.Packet) {
	t.Helper()
	if s == nil || s.RuleId == "" {
		return
	}
	in := c.Instances[s.Instance]
	prog := c.Program(in, dir, c.PathOf(in, dir, pkt))
	for _, g := range prog.Intra {
		for _, a := range c.GroupAddrs(g) {
			if a == pkt.Src && dir == model.Ingress || a == pkt.Dst && dir == model.Egress {
				t.Errorf("%s:%d: %s names rule %s but intra-group access in %s comes first", file, line, dir, s.RuleId, g)
			}
		}
	}
	for _, r := range prog.Rules {
		if c.RuleMatches(r.Rule, pkt, dir) {
			if r.Rule.ID != s.RuleId || r.Group.ID != s.GroupId || r.Rule.Priority != s.Priority || r.Rule.Policy.Display() != s.Policy {
				t.Errorf("%s:%d: %s names %s/%s, but the first matching rule is %s/%s", file, line, dir, s.GroupId, s.RuleId, r.Group.ID, r.Rule.ID)
			}
			return
		}
	}
	t.Errorf("%s:%d: %s names %s, which does not match the packet", file, line, dir, s.RuleId)
}

func TestReportsNameRulesAndReasons(t *testing.T) {
	s, err := scenario.Load("../../../testdata/scenarios/09-redis-deny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := policy.Compile(s.Cloud())
	for _, tt := range []struct {
		from, to, proto, port string
		verdict, ingressRule  string
		ingressReason         string
	}{
		{"i-web", "i-redis", "tcp", "6379", "Accept", "sgr-redis-2", "rule"},
		{"i-web", "i-redis", "tcp", "6380", "Drop", "sgr-redis-4", "rule"}, // the tie goes to the drop
		{"i-web2", "i-redis", "tcp", "6380", "Accept", "sgr-redis-3", "rule"},
		{"198.51.100.7", "i-redis", "tcp", "6379", "Drop", "sgr-redis-1", "rule"},
		{"i-web", "i-redis", "tcp", "22", "Drop", "", "default inbound drop"},
		{"i-redis", "i-web", "udp", "53", "Drop", "", "default inbound drop"},
	} {
		f, err := ParseFlow(tt.from, tt.to, tt.proto, tt.port, "", "")
		if err != nil {
			t.Fatal(err)
		}
		r, err := Flow(d, f)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != tt.verdict || r.Ingress == nil || r.Ingress.RuleId != tt.ingressRule || r.Ingress.Reason != tt.ingressReason {
			t.Errorf("%s: got %s, ingress %+v; want %s by %q (%s)", r.Flow, r.Verdict, r.Ingress, tt.verdict, tt.ingressRule, tt.ingressReason)
		}
	}
}

func TestParseFlowRefuses(t *testing.T) {
	for _, tt := range [][6]string{
		{"", "i-b", "tcp", "80", "", ""},
		{"i-a", "i-b", "tcp", "", "", ""},
		{"i-a", "i-b", "all", "80", "", ""},
		{"i-a", "i-b", "sctp", "80", "", ""},
		{"i-a", "i-b", "tcp", "65536", "", ""},
		{"i-a", "i-b", "tcp", "80", "-1", ""},
		{"i-a", "i-b", "tcp", "80", "", "5"},
	} {
		if _, err := ParseFlow(tt[0], tt[1], tt[2], tt[3], tt[4], tt[5]); err == nil {
			t.Errorf("ParseFlow%q: accepted", tt)
		}
	}
}

// TestICMPv6NeedsNoVersion: an ICMPv6 flow between two instances is their
// IPv6 flow without IPVersion (it was refused as "ICMPv6 in IPv4", and the
// console's form, which has no version, could not ask it at all); ICMP and
// a version given stay as they were.
func TestICMPv6NeedsNoVersion(t *testing.T) {
	s, err := scenario.Load("../../../testdata/scenarios/22-ipv6-one-subnet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var six []string // two instances with IPv6 addresses
	for _, in := range s.Cloud().Instances {
		if in.IPv6.IsValid() && len(six) < 2 {
			six = append(six, in.ID)
		}
	}
	if len(six) < 2 {
		t.Fatal("the scenario has no two instances with IPv6 addresses")
	}
	d := policy.Compile(s.Cloud())
	for _, tt := range []struct {
		proto, version string
		want           int // the flow's IP version; 0: refused
	}{
		{"icmpv6", "", 6},
		{"icmpv6", "6", 6},
		{"icmp", "", 4},
		{"icmpv6", "4", 0},
		{"icmp", "6", 0},
	} {
		f, err := ParseFlow(six[0], six[1], tt.proto, "", "", tt.version)
		if err == nil {
			_, err = Flow(d, f)
		}
		switch {
		case tt.want == 0 && err == nil:
			t.Errorf("%s IPv%q: judged, want refused", tt.proto, tt.version)
		case tt.want != 0 && err != nil:
			t.Errorf("%s IPv%q: %v", tt.proto, tt.version, err)
		case tt.want != 0 && f.IPVersion != tt.want && !(tt.want == 4 && f.IPVersion == 0):
			t.Errorf("%s IPv%q: IPv%d, want IPv%d", tt.proto, tt.version, f.IPVersion, tt.want)
		}
	}
}
