package audit

import (
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestInternetIsWhatIsAdmitted: the exposure checks judge the public
// addresses a port admits, whatever rules admit them: 0.0.0.0/1 and
// 128.0.0.0/1 (two rules, a prefix list, two groups, ::/1 and 8000::/1)
// are the whole internet as 0.0.0.0/0 is, and the finding names the rules
// that open it together; a /1 alone is a wide range (SGA-007), and
// 0.0.0.0/0 behind a higher-priority drop of most of it is not the
// internet, while a drop of a few blocks leaves it open.
func TestInternetIsWhatIsAdmitted(t *testing.T) {
	halves := func(ports string) []model.Rule {
		return []model.Rule{rl("sgr-lo", "in accept 1 TCP "+ports+" 0.0.0.0/1"), rl("sgr-hi", "in accept 1 TCP "+ports+" 128.0.0.0/1")}
	}
	listed := web(true, rl("sgr-pl", "in accept 1 TCP 22/22 pl-halves"))
	listed.pls = append(listed.pls, plist("pl-halves", 5, "0.0.0.0/1", "128.0.0.0/1"))
	six := web(false, rl("sgr-lo6", "in accept 1 TCP 22/22 ::/1"), rl("sgr-hi6", "in accept 1 TCP 22/22 8000::/1"))
	six.insts[0].IPv6 = netip.MustParseAddr("2001:db8::5")
	sixHalf := web(false, rl("sgr-hi6", "in accept 1 TCP 22/22 8000::/1"))
	sixHalf.insts[0].IPv6 = netip.MustParseAddr("2001:db8::5")
	// The halves in two groups of one instance.
	twoGroups := world{
		groups: []*model.SecurityGroup{grp("sg-web", vpcA, model.Normal, rl("sgr-lo", "in accept 1 TCP 22/22 0.0.0.0/1")),
			grp("sg-more", vpcA, model.Normal, rl("sgr-hi", "in accept 1 TCP 22/22 128.0.0.0/1"))},
		insts: []*model.Instance{facing(vm("i-web", vpcA, "10.0.1.5", "sg-web", "sg-more"), "47.96.0.10")}}
	// A classic instance, its internet rules split.
	classic := world{
		groups: []*model.SecurityGroup{grp("sg-c", "", model.Normal,
			rl("sgr-lo", "in accept 1 TCP 22/22 0.0.0.0/1 nic=internet"), rl("sgr-hi", "in accept 1 TCP 22/22 128.0.0.0/1 nic=internet"))},
		insts: []*model.Instance{facing(vm("i-c", "", "10.116.0.5", "sg-c"), "47.96.0.20")}}
	enterprise := world{
		groups: []*model.SecurityGroup{grp("sg-e", vpcA, model.Enterprise, halves("3306/3306")...)},
		insts:  []*model.Instance{facing(vm("i-e", vpcA, "10.0.1.7", "sg-e"), "47.96.0.30")}}
	runCases(t, []checkCase{
		{name: "halves as two rules", check: "SGA-002", w: web(true, halves("22/22")...), want: []string{"sg-web sgr-hi high"}, contains: "together with sgr-lo of sg-web"},
		{name: "halves in a prefix list", check: "SGA-002", w: listed, want: []string{"sg-web sgr-pl high"}},
		{name: "IPv6 halves", check: "SGA-002", w: six, want: []string{"sg-web sgr-lo6 high"}, contains: "together with sgr-hi6 of sg-web"},
		{name: "halves in two groups", check: "SGA-002", w: twoGroups, want: []string{"sg-more sgr-hi high"}, contains: "sgr-lo of sg-web"},
		{name: "halves on the classic network", check: "SGA-002", w: classic, want: []string{"sg-c sgr-hi high"}},
		{name: "halves in an enterprise group", check: "SGA-004", w: enterprise, want: []string{"sg-e sgr-hi high"}, contains: "MySQL"},
		{name: "halves of every port", check: "SGA-001", w: web(true, halves("1/65535")...), want: []string{"sg-web sgr-hi critical"}, contains: "sgr-lo"},
		{name: "halves of an off-list port", check: "SGA-006", w: web(true, halves("8443/8443")...), want: []string{"sg-web sgr-hi high"}},
		{name: "halves, instance exposed", check: "SGA-028", w: web(true, halves("22/22")...), want: []string{"i-web - high"}, contains: "sgr-lo of sg-web"},
		{name: "halves, no public address yet", check: "SGA-002", w: web(false, halves("22/22")...), want: []string{"sg-web sgr-hi medium"}},
		{name: "halves, one hidden by a drop of equal priority", check: "SGA-002",
			w: web(true, append(halves("22/22"), rl("sgr-d", "in drop 1 TCP 22/22 128.0.0.0/1"))...)},

		{name: "a /1 alone", check: "SGA-002", w: web(true, rl("sgr-hi", "in accept 1 TCP 22/22 128.0.0.0/1"))},
		{name: "a /1 alone is a wide range", check: "SGA-007", w: web(true, rl("sgr-hi", "in accept 1 TCP 22/22 128.0.0.0/1")), want: []string{"sg-web sgr-hi medium"}},
		{name: "an IPv6 /1 alone", check: "SGA-002", w: sixHalf},
		{name: "a /1 alone, no public address yet", check: "SGA-002", w: web(false, rl("sgr-hi", "in accept 1 TCP 22/22 128.0.0.0/1"))},
		{name: "anywhere behind a drop of three quarters", check: "SGA-002",
			w: web(true, rl("sgr-ssh", "in accept 10 TCP 22/22 0.0.0.0/0"), rl("sgr-d1", "in drop 1 TCP 22/22 0.0.0.0/1"), rl("sgr-d2", "in drop 1 TCP 22/22 128.0.0.0/2"))},
		{name: "anywhere behind a drop of half", check: "SGA-001",
			w: web(true, rl("sgr-all", "in accept 10 ALL -1/-1 0.0.0.0/0"), rl("sgr-d", "in drop 1 ALL -1/-1 0.0.0.0/1"))},
		{name: "anywhere behind a drop of three quarters, no public address yet", check: "SGA-004",
			w: web(false, rl("sgr-db", "in accept 10 TCP 3306/3306 0.0.0.0/0"), rl("sgr-d1", "in drop 1 TCP 3306/3306 0.0.0.0/1"), rl("sgr-d2", "in drop 1 TCP 3306/3306 192.0.0.0/2"))},
		{name: "anywhere behind a drop of a few blocks", check: "SGA-002",
			w: web(true, rl("sgr-ssh", "in accept 10 TCP 22/22 0.0.0.0/0"), rl("sgr-d", "in drop 1 TCP 22/22 1.0.0.0/8"), rl("sgr-d2", "in drop 1 TCP 22/22 203.0.113.0/24")),
			want: []string{"sg-web sgr-ssh high"}},
	})
}
