package audit

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Builders for small clouds: modeltest's, with the audit's owner, names and
// descriptions.

const testOwner = "1000000000000001"

// rl builds rule id from "dir policy priority protocol ports peer [key=value…]"
// (see modeltest.Rule: keys desc, owner, nic, local…).
//
//	rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0 desc=ssh_from_anywhere")
var rl = modeltest.Rule

// grp builds a group of testOwner, named and described; vpc "" is the
// classic network. Basic groups start with InnerAccessPolicy Accept, as ECS
// creates them.
func grp(id, vpc string, typ model.GroupType, rules ...model.Rule) *model.SecurityGroup {
	kind := "basic"
	if typ == model.Enterprise {
		kind = "enterprise"
	}
	g := modeltest.Group(id, vpc, kind, rules...)
	g.Owner, g.Name, g.Description = testOwner, id[3:]+"-group", "test group "+id
	return g
}

// described returns the rules with a description each, so that SGA-018
// does not fire on them.
func described(rules ...model.Rule) []model.Rule {
	for i := range rules {
		if rules[i].Description == "" {
			rules[i].Description = "test rule"
		}
	}
	return rules
}

// vm builds an instance of testOwner with a private address (and an IPv6
// address after a comma: "10.0.1.5,2001:db8::5").
func vm(id, vpc, addrs string, groups ...string) *model.Instance {
	in := modeltest.Instance(id, vpc, addrs, groups...)
	in.Owner = testOwner
	return in
}

func plist(id string, maxEntries int, cidrs ...string) *model.PrefixList {
	pl := modeltest.PrefixList(id, maxEntries, cidrs...)
	pl.Owner = testOwner
	return pl
}

// world is a cloud under construction.
type world struct {
	groups []*model.SecurityGroup
	insts  []*model.Instance
	pls    []*model.PrefixList
}

func (w world) cloud() *policy.Cloud { return policy.NewCloud(w.groups, w.insts, w.pls) }

// checkCase is one run of one check and the findings it must give, each as
// "resource ruleID severity" (ruleID "-" for none); no want: must not fire.
type checkCase struct {
	name  string
	check string
	w     world
	opts  Options
	want  []string
	// contains, if set, must appear in every finding's message.
	contains string
}

func runCheck(t *testing.T, id string, c *policy.Cloud, o Options) []Finding {
	t.Helper()
	for _, ch := range Checks() {
		if ch.ID == id {
			return ch.Run(&Input{Cloud: c, Options: o.withDefaults()})
		}
	}
	t.Fatalf("check %s is not registered", id)
	return nil
}

func runCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.check+"/"+tc.name, func(t *testing.T) {
			fs := runCheck(t, tc.check, tc.w.cloud(), tc.opts)
			var got []string
			for _, f := range fs {
				rule := f.RuleID
				if rule == "" {
					rule = "-"
				}
				got = append(got, fmt.Sprintf("%s %s %s", f.Resource, rule, f.Severity))
				checkWording(t, f)
				if tc.contains != "" && !strings.Contains(f.Message, tc.contains) {
					t.Errorf("message %q does not mention %q", f.Message, tc.contains)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("findings:\n got %q\nwant %q", got, want)
				for _, f := range fs {
					t.Logf("%s: %s", f.Resource, f.Message)
				}
			}
		})
	}
}

// checkWording holds a finding to the catalogue's form: its own check ID,
// one sentence saying what is wrong, and a fix.
func checkWording(t *testing.T, f Finding) {
	t.Helper()
	if !strings.HasPrefix(f.Check, "SGA-") || f.Resource == "" {
		t.Errorf("finding lacks its check or resource: %+v", f)
	}
	if !strings.HasSuffix(f.Message, ".") || strings.Contains(f.Message, ". ") {
		t.Errorf("message is not one sentence: %q", f.Message)
	}
	if len(f.Fix) < 20 || !strings.HasSuffix(f.Fix, ".") {
		t.Errorf("fix does not say how to fix: %q", f.Fix)
	}
}
