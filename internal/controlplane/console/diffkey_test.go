package console

import (
	"context"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestEditKeepsRuleFindings: the audit diff of a rule's edit does not
// list a finding on the rule that the edit keeps (its words name the
// rule's ports, which the edit changes) as both new and resolved: SGA-018
// (no description) was.
func TestEditKeepsRuleFindings(t *testing.T) {
	svc, key, cl := tenantService(t)
	ctx := context.Background()
	g, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, Name: "web", Description: "the web tier"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Authorize(ctx, service.RulesInput{Caller: cl, SecurityGroupID: g.SecurityGroupId, Direction: model.Ingress,
		Permissions: []model.RuleInput{{Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "8080/8080", SourceCidrIp: "10.0.0.0/8"}}}); err != nil {
		t.Fatal(err)
	}
	attr, err := svc.DescribeSecurityGroupAttribute(ctx, allRules(cl, g.SecurityGroupId))
	if err != nil || len(attr.Rules) != 1 {
		t.Fatalf("%v %v", attr, err)
	}
	rule := attr.Rules[0].ID
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.budgets.preview = diffTimeout // the diff in place
	s := c.sessions.add(cl.Account, key.ID, false)
	item := regexp.MustCompile(`<li class="(added|removed)">.*?</li>`)
	for _, tc := range []struct {
		name   string
		edit   url.Values
		listed []string // the diff's items, each by its check: "added SGA-018"
	}{
		{"new ports", url.Values{"r1.ports": {"8081"}}, nil},
		{"new priority and source", url.Values{"r1.priority": {"5"}, "r1.peer": {"10.1.0.0/16"}}, []string{"removed SGA-010"}},
		{"a description", url.Values{"r1.desc": {"the app"}}, []string{"removed SGA-018"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The form shows the whole rule: each field is sent.
			f := url.Values{"op": {"edit-rule"}, "group": {g.SecurityGroupId}, "dir": {"ingress"}, "rule": {rule},
				"r1.policy": {"accept"}, "r1.priority": {"1"}, "r1.protocol": {"TCP"}, "r1.ports": {"8080"}, "r1.peer": {"10.0.0.0/8"}}
			for k, v := range tc.edit {
				f[k] = v
			}
			code, body := previewOf(c, s, f)
			if code != 200 || !strings.Contains(body, `id="audit-section"`) || strings.Contains(body, `id="audit-pending"`) {
				t.Fatalf("preview: %d %.3000s", code, body)
			}
			var got []string
			for _, li := range item.FindAllStringSubmatch(body, -1) {
				check := regexp.MustCompile(`<code>(SGA-[0-9]+)</code>`).FindStringSubmatch(li[0])
				got = append(got, li[1]+" "+check[1])
			}
			if strings.Join(got, ", ") != strings.Join(tc.listed, ", ") {
				t.Errorf("the audit diff lists %q, want %q:\n%s", got, tc.listed, strings.Join(item.FindAllString(body, -1), "\n"))
			}
		})
	}
}

// TestDiffFindingsKeys: findings that a change keeps, in other words, are
// neither new nor resolved; a finding of another severity, rule or
// resource is.
func TestDiffFindingsKeys(t *testing.T) {
	f := func(check string, sev audit.Severity, res, rule, msg string) audit.Finding {
		return audit.Finding{Check: check, Severity: sev, Resource: res, RuleID: rule, Message: msg}
	}
	desc := func(ports string) audit.Finding {
		return f("SGA-018", audit.Low, "sg-a", "sgr-1", "Rule sgr-1 of sg-a (ingress accept "+ports+") has no description.")
	}
	count := func(n string) audit.Finding {
		return f("SGA-020", audit.Medium, "sg-a", "", "Group sg-a has "+n+" rules, more than the 50 this audit allows.")
	}
	peers := f("SGA-020", audit.Medium, "sg-a", "", "Group sg-a has 20 rules whose peer is a security group, of the 20 a basic group may have.")
	exposed := func(ports string) audit.Finding {
		return f("SGA-004", audit.Medium, "sg-a", "sgr-1", "Rule sgr-1 of sg-a opens "+ports+" to the internet.")
	}
	// As the exposure checks write them, with their gist.
	reachingOn := func(port, members string) audit.Finding {
		x := f("SGA-002", audit.High, "sg-a", "sgr-1", "Rule sgr-1 of sg-a lets "+port+" in from the whole internet (0.0.0.0/0) on "+members+".")
		x.Gist = "Rule sgr-1 of sg-a lets " + port + " in from the whole internet (0.0.0.0/0) on its members."
		return x
	}
	reaching := func(members string) audit.Finding { return reachingOn("TCP 22 (SSH)", members) }
	broad := func(sev audit.Severity) audit.Finding {
		return f("SGA-010", sev, "sg-a", "sgr-1", "Rule sgr-1 of sg-a accepts internal traffic from the whole of 10.0.0.0/8.")
	}
	for _, tc := range []struct {
		name                  string
		before, after         []audit.Finding
		wantAdded, wantRemove []audit.Finding
	}{
		{"the same", []audit.Finding{desc("TCP port 22")}, []audit.Finding{desc("TCP port 22")}, nil, nil},
		{"a rule's edit keeps it", []audit.Finding{desc("TCP port 22")}, []audit.Finding{desc("UDP port 53")}, nil, nil},
		{"a count changes", []audit.Finding{count("51"), peers}, []audit.Finding{peers, count("52")}, nil, nil},
		{"another of the check", []audit.Finding{count("51")}, []audit.Finding{count("52"), peers}, []audit.Finding{peers}, nil},
		{"a worse severity", []audit.Finding{broad(audit.Medium)}, []audit.Finding{broad(audit.High)}, []audit.Finding{broad(audit.High)}, []audit.Finding{broad(audit.Medium)}},
		{"another rule", []audit.Finding{desc("TCP port 22")}, []audit.Finding{f("SGA-018", audit.Low, "sg-a", "sgr-2", "Rule sgr-2 of sg-a (ingress accept TCP port 22) has no description.")},
			[]audit.Finding{f("SGA-018", audit.Low, "sg-a", "sgr-2", "Rule sgr-2 of sg-a (ingress accept TCP port 22) has no description.")}, []audit.Finding{desc("TCP port 22")}},
		{"resolved", []audit.Finding{desc("TCP port 22"), count("51")}, []audit.Finding{count("51")}, nil, []audit.Finding{desc("TCP port 22")}},
		{"one of two alike resolved", []audit.Finding{peers, peers}, []audit.Finding{peers}, nil, []audit.Finding{peers}},
		// An exposure is its words: the ports it opens to the internet.
		{"an exposure on other ports", []audit.Finding{exposed("MySQL (TCP 3306)")}, []audit.Finding{exposed("Redis (TCP 6379)")},
			[]audit.Finding{exposed("Redis (TCP 6379)")}, []audit.Finding{exposed("MySQL (TCP 3306)")}},
		{"an exposure on more ports", []audit.Finding{exposed("MySQL (TCP 3306)")}, []audit.Finding{exposed("MySQL (TCP 3306), PostgreSQL (TCP 5432)")},
			[]audit.Finding{exposed("MySQL (TCP 3306), PostgreSQL (TCP 5432)")}, []audit.Finding{exposed("MySQL (TCP 3306)")}},
		// ... but not the members it reaches: one joining keeps it.
		{"an exposure reaching one more member", []audit.Finding{reaching("i-a")}, []audit.Finding{reaching("i-a and i-b")}, nil, nil},
		{"an exposure reaching a member on other ports", []audit.Finding{reaching("i-a")}, []audit.Finding{reachingOn("TCP 3389 (RDP)", "i-a")},
			[]audit.Finding{reachingOn("TCP 3389 (RDP)", "i-a")}, []audit.Finding{reaching("i-a")}},
		{"a group's spread counted again", []audit.Finding{f("SGA-015", audit.Low, "sg-a", "", "Group sg-a holds 5 of the 7 instances of vpc-1.")},
			[]audit.Finding{f("SGA-015", audit.Low, "sg-a", "", "Group sg-a holds 6 of the 8 instances of vpc-1.")}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := diffFindings(tc.before, tc.after)
			if !reflect.DeepEqual(got.Added, tc.wantAdded) || !reflect.DeepEqual(got.Removed, tc.wantRemove) {
				t.Errorf("added %v, removed %v\nwant added %v, removed %v", got.Added, got.Removed, tc.wantAdded, tc.wantRemove)
			}
		})
	}
}
