package audit

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestShadowed(t *testing.T) {
	runCases(t, []checkCase{
		{name: "an allow hidden by an earlier drop", check: "SGA-022", w: one(
			rl("sgr-hide", "in drop 1 TCP 1/1024 0.0.0.0/0"), rl("sgr-ssh", "in accept 2 TCP 22/22 10.0.0.0/8")), want: []string{"sg-a sgr-ssh high"}, contains: "sgr-hide"},
		{name: "a deny hidden by an earlier allow", check: "SGA-022", w: one(
			rl("sgr-all", "in accept 1 TCP 1/65535 0.0.0.0/0"), rl("sgr-deny", "in drop 2 TCP 3306/3306 0.0.0.0/0")), want: []string{"sg-a sgr-deny high"}},
		{name: "an allow repeated by the union of two allows", check: "SGA-022", w: one(
			rl("sgr-lo", "in accept 1 TCP 80/80 10.0.0.0/9"), rl("sgr-hi", "in accept 1 TCP 80/80 10.128.0.0/9"), rl("sgr-all", "in accept 2 TCP 80/80 10.0.0.0/8")),
			want: []string{"sg-a sgr-all medium"}},

		{name: "partly covered", check: "SGA-022", w: one(
			rl("sgr-hide", "in drop 1 TCP 1/1024 0.0.0.0/0"), rl("sgr-web", "in accept 2 TCP 80/8080 0.0.0.0/0"))},
		{name: "a peer group without members matches nothing, it is not shadowed", check: "SGA-022", w: world{
			groups: append(one().groups, grp("sg-empty", vpcA, model.Normal)),
			insts:  one().insts}},
	})
	// The peer group without members, with a rule naming it.
	w := one(rl("sgr-empty", "in accept 1 TCP 22/22 sg-empty"))
	w.groups = append(w.groups, grp("sg-empty", vpcA, model.Normal))
	runCases(t, []checkCase{{name: "a rule naming an empty group", check: "SGA-022", w: w}})
}

func TestRedundant(t *testing.T) {
	runCases(t, []checkCase{
		{name: "a narrow allow before a broad one", check: "SGA-023", w: one(
			rl("sgr-office", "in accept 1 TCP 443/443 203.0.113.0/24"), rl("sgr-any", "in accept 2 TCP 443/443 0.0.0.0/0")), want: []string{"sg-a sgr-office low"}},
		{name: "a final deny the default repeats", check: "SGA-023", w: one(
			rl("sgr-web", "in accept 1 TCP 80/80 0.0.0.0/0"), rl("sgr-rest", "in drop 100 ALL -1/-1 0.0.0.0/0")), want: []string{"sg-a sgr-rest low"}},

		{name: "both needed", check: "SGA-023", w: one(
			rl("sgr-office", "in accept 1 TCP 22/22 203.0.113.0/24"), rl("sgr-web", "in accept 2 TCP 443/443 0.0.0.0/0"))},
		{name: "a deny that carves an exception is needed", check: "SGA-023", w: one(
			rl("sgr-bad", "in drop 1 TCP 443/443 198.51.100.0/24"), rl("sgr-any", "in accept 2 TCP 443/443 0.0.0.0/0"))},
	})
}

func TestConflicts(t *testing.T) {
	runCases(t, []checkCase{
		{name: "drop and accept of one priority overlap", check: "SGA-024", w: one(
			rl("sgr-allow", "in accept 5 TCP 1/1024 0.0.0.0/0"), rl("sgr-deny", "in drop 5 TCP 22/22 10.0.0.0/8")), want: []string{"sg-a sgr-allow info"}, contains: "sgr-deny"},

		{name: "different priorities", check: "SGA-024", w: one(
			rl("sgr-allow", "in accept 5 TCP 1/1024 0.0.0.0/0"), rl("sgr-deny", "in drop 4 TCP 22/22 10.0.0.0/8"))},
		{name: "same priority, no overlap", check: "SGA-024", w: one(
			rl("sgr-allow", "in accept 5 TCP 80/80 0.0.0.0/0"), rl("sgr-deny", "in drop 5 TCP 22/22 0.0.0.0/0"))},
	})
}

func TestDefeatedDeny(t *testing.T) {
	runCases(t, []checkCase{
		{name: "a deny at 10 behind an allow at 5", check: "SGA-025", w: web(true,
			rl("sgr-allow", "in accept 5 TCP 3306/3306 0.0.0.0/0"), rl("sgr-hide", "in drop 10 TCP 3306/3306 0.0.0.0/0")), want: []string{"sg-web sgr-hide high"}, contains: "sgr-allow"},
		{name: "the allow is in another group", check: "SGA-025", w: world{
			groups: []*model.SecurityGroup{grp("sg-web", vpcA, model.Normal, rl("sgr-hide", "in drop 100 TCP 6379/6379 0.0.0.0/0")),
				grp("sg-dev", vpcA, model.Normal, rl("sgr-dev", "in accept 1 TCP 1/65535 0.0.0.0/0"))},
			insts: []*model.Instance{facing(vm("i-web", vpcA, "10.0.1.5", "sg-web", "sg-dev"), "47.96.0.10")}}, want: []string{"sg-web sgr-hide high"}},

		{name: "the deny comes first", check: "SGA-025", w: web(true,
			rl("sgr-allow", "in accept 10 TCP 3306/3306 0.0.0.0/0"), rl("sgr-hide", "in drop 5 TCP 3306/3306 0.0.0.0/0"))},
		{name: "the earlier allow is for the office only", check: "SGA-025", w: web(true,
			rl("sgr-office", "in accept 5 TCP 3306/3306 203.0.113.0/24"), rl("sgr-hide", "in drop 10 TCP 3306/3306 0.0.0.0/0"))},
		{name: "no public address", check: "SGA-025", w: web(false,
			rl("sgr-allow", "in accept 5 TCP 3306/3306 0.0.0.0/0"), rl("sgr-hide", "in drop 10 TCP 3306/3306 0.0.0.0/0"))},
	})
}
