package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

var flowNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func daysAgo(n int) time.Time { return flowNow.Add(-time.Duration(n) * 24 * time.Hour) }

// exposedWeb: i-web, with a public address, open to the internet on 443;
// i-db, private, in the same VPC.
func exposedWeb() world {
	return world{groups: []*model.SecurityGroup{grp("sg-web", vpcA, model.Normal, described(rl("sgr-https", "in accept 1 TCP 443/443 0.0.0.0/0"))...)},
		insts: []*model.Instance{modeltest.Public(vm("i-web", vpcA, "10.0.1.5", "sg-web"), "47.1.1.1"), vm("i-db", vpcA, "10.0.1.6", "sg-web")}}
}

func TestFlowLogMissing(t *testing.T) {
	covered := func(ids ...string) *FlowLogs {
		f := &FlowLogs{Now: flowNow, Accepts: map[string]time.Time{}, Drops: map[string]time.Time{}}
		for _, id := range ids {
			f.Accepts[id] = daysAgo(1)
		}
		return f
	}
	drops := covered()
	drops.Drops["i-web"] = daysAgo(1)
	private := world{groups: exposedWeb().groups, insts: []*model.Instance{vm("i-db", vpcA, "10.0.1.6", "sg-web")}}
	runCases(t, []checkCase{
		{name: "exposed, no flow log", check: "SGA-033", w: exposedWeb(), opts: Options{FlowLogs: covered()}, want: []string{vpcA + " - medium"}, contains: "i-web"},
		{name: "only the private one covered", check: "SGA-033", w: exposedWeb(), opts: Options{FlowLogs: covered("i-db")}, want: []string{vpcA + " - medium"}, contains: "i-web"},
		{name: "exposed and covered", check: "SGA-033", w: exposedWeb(), opts: Options{FlowLogs: covered("i-web")}},
		{name: "covered for drops only", check: "SGA-033", w: exposedWeb(), opts: Options{FlowLogs: drops}},
		{name: "nothing exposed", check: "SGA-033", w: private, opts: Options{FlowLogs: covered()}},
		{name: "not known (offline)", check: "SGA-033", w: exposedWeb()},
	})
}

func TestUnusedRules(t *testing.T) {
	w := world{groups: []*model.SecurityGroup{
		grp("sg-web", vpcA, model.Normal, described(rl("sgr-https", "in accept 1 TCP 443/443 0.0.0.0/0"), rl("sgr-telnet", "in drop 1 TCP 23/23 0.0.0.0/0"))...),
		grp("sg-empty", vpcA, model.Normal, described(rl("sgr-x", "in accept 1 TCP 80/80 0.0.0.0/0"))...)},
		insts: []*model.Instance{vm("i-a", vpcA, "10.0.1.5", "sg-web"), vm("i-b", vpcA, "10.0.1.6", "sg-web")}}
	facts := func(edit func(f *FlowLogs)) *FlowLogs {
		f := &FlowLogs{Now: flowNow, LastHit: map[string]time.Time{},
			Accepts: map[string]time.Time{"i-a": daysAgo(60), "i-b": daysAgo(60)}, Drops: map[string]time.Time{"i-a": daysAgo(60), "i-b": daysAgo(60)}}
		if edit != nil {
			edit(f)
		}
		return f
	}
	hitBoth := func(f *FlowLogs) {
		f.LastHit["sg-web/sgr-https"], f.LastHit["sg-web/sgr-telnet"] = daysAgo(2), daysAgo(3)
	}
	runCases(t, []checkCase{
		{name: "both hit lately", check: "SGA-034", w: w, opts: Options{FlowLogs: facts(hitBoth)}},
		{name: "never hit, covered the whole window", check: "SGA-034", w: w, opts: Options{FlowLogs: facts(nil)},
			want: []string{"sg-web sgr-https info", "sg-web sgr-telnet info"}, contains: "candidate for removal"},
		{name: "last hit before the window", check: "SGA-034", w: w, opts: Options{FlowLogs: facts(func(f *FlowLogs) {
			hitBoth(f)
			f.LastHit["sg-web/sgr-https"] = daysAgo(45)
		})}, want: []string{"sg-web sgr-https info"}, contains: "last flow record ended"},
		{name: "a shorter window the user set", check: "SGA-034", w: w, opts: Options{UnusedRuleDays: 2, FlowLogs: facts(hitBoth)},
			want: []string{"sg-web sgr-telnet info"}},
		{name: "one member covered since less than the window", check: "SGA-034", w: w, opts: Options{FlowLogs: facts(func(f *FlowLogs) { f.Accepts["i-b"] = daysAgo(5) })},
			want: []string{"sg-web sgr-https info", "sg-web sgr-telnet info"}},
		{name: "a member not covered for accepts", check: "SGA-034", w: w, opts: Options{FlowLogs: facts(func(f *FlowLogs) { delete(f.Accepts, "i-b") })},
			want: []string{"sg-web sgr-https info", "sg-web sgr-telnet info"}},
		{name: "no flow log records accepts", check: "SGA-034", w: w, opts: Options{FlowLogs: facts(func(f *FlowLogs) { f.Accepts = nil })},
			want: []string{"sg-web sgr-telnet info"}},
		{name: "records older than the window dropped", check: "SGA-034", w: w, opts: Options{FlowLogs: facts(func(f *FlowLogs) { f.RecordsSince = daysAgo(10) })},
			want: []string{"sg-web sgr-https info", "sg-web sgr-telnet info"}, contains: "no evidence"},
		{name: "a cluster: other servers hold records", check: "SGA-034", w: w, opts: Options{FlowLogs: facts(func(f *FlowLogs) { f.Partial = true })},
			want: []string{"sg-web sgr-https info", "sg-web sgr-telnet info"}, contains: "no evidence"},
		{name: "not known (offline)", check: "SGA-034", w: w},
	})
	// Never "candidate for removal" where the window was not covered whole.
	for _, edit := range []func(f *FlowLogs){
		func(f *FlowLogs) { f.Accepts["i-b"] = daysAgo(5) },
		func(f *FlowLogs) { f.RecordsSince = daysAgo(10) },
		func(f *FlowLogs) { f.Partial = true },
	} {
		for _, f := range runCheck(t, "SGA-034", w.cloud(), Options{FlowLogs: facts(edit)}) {
			if f.RuleID == "sgr-https" && !strings.Contains(f.Message, "no evidence") {
				t.Errorf("a partly covered window called a removal candidate: %s", f.Message)
			}
		}
	}
	if _, err := ParseConfig([]byte(`unusedRuleDays: -1`)); err == nil {
		t.Error("a negative unusedRuleDays was accepted")
	}
	if o, err := ParseConfig([]byte(`unusedRuleDays: 7`)); err != nil || o.UnusedRuleDays != 7 {
		t.Errorf("unusedRuleDays: 7 read as %d (%v)", o.UnusedRuleDays, err)
	}
}
