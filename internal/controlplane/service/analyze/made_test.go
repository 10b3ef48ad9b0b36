package analyze

import (
	"context"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestDryRunMade: a dry run reports what the change itself made, from its
// own writes, in the order it made them: a rule that repeats one the group
// has adds nothing, and what other requests committed after the revision
// the preview started from (another tenant's group, the same account's
// group made in another tab, a rule added to the same group) is not the
// change's, though the cloud after holds it: the preview called those
// "new group 1" and "new rule 1" too, as it compared the whole clouds
// before and after. Both dry runs (over the view, in the store) agree.
func TestDryRunMade(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	other := service.Caller{Account: "1000000000000002", Region: "cn-hangzhou"}
	existing := model.RuleInput{IpProtocol: "tcp", PortRange: "5432/5432", SourceCidrIp: "10.0.0.0/8"}
	if err := n.svc.Authorize(ctx, service.RulesInput{Caller: n.c, SecurityGroupID: n.sgDB, Direction: model.Ingress, Permissions: []model.RuleInput{existing}}); err != nil {
		t.Fatal(err)
	}
	rdp := model.RuleInput{IpProtocol: "tcp", PortRange: "3389/3389", SourceCidrIp: "0.0.0.0/0"}
	ssh := model.RuleInput{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0"}
	authorize := func(ctx context.Context, svc *service.Service) error {
		return svc.Authorize(ctx, service.RulesInput{Caller: n.c, SecurityGroupID: n.sgDB, Direction: model.Ingress, Permissions: []model.RuleInput{existing, rdp, ssh}})
	}
	create := func(ctx context.Context, svc *service.Service) error {
		_, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: n.c, Name: "made"})
		return err
	}
	keyOf := func(in model.RuleInput) string {
		r, _, e := model.ParseRule(model.Ingress, in, false)
		if e != nil {
			t.Fatal(e)
		}
		return r.Key()
	}
	viaStore := New(n.svc)
	viaStore.storeDryRun = true
	for _, tc := range []struct {
		name   string
		change Change
		groups int      // groups made
		rules  []string // the keys of the rules made, in order
	}{
		{"authorize", authorize, 0, []string{keyOf(rdp), keyOf(ssh)}},
		{"create", create, 1, nil},
	} {
		for _, dry := range []struct {
			name string
			a    *Service
		}{{"view", n.a}, {"store", viaStore}} {
			t.Run(tc.name+" "+dry.name, func(t *testing.T) {
				// The preview's state, and then other requests' commits.
				var (
					before *policy.Cloud
					rev    int64
				)
				if err := dry.a.state(ctx, func(st liveState) error { before, rev = st.cloud, st.rev; return nil }); err != nil {
					t.Fatal(err)
				}
				for _, c := range []service.Caller{other, n.c} {
					if _, err := n.svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: c, Name: "meanwhile"}); err != nil {
						t.Fatal(err)
					}
				}
				if err := n.svc.Authorize(ctx, service.RulesInput{Caller: n.c, SecurityGroupID: n.sgDB, Direction: model.Egress,
					Permissions: []model.RuleInput{{IpProtocol: "udp", PortRange: "53/53", DestCidrIp: "10.0.0.0/8", Description: tc.name + dry.name}}}); err != nil {
					t.Fatal(err)
				}
				after, _, made, err := dry.a.dryRun(ctx, tc.change, before, rev)
				if err != nil {
					t.Fatal(err)
				}
				if len(after.Groups) < len(before.Groups)+2 {
					t.Fatalf("the cloud after has %d groups, %d before: the commits meanwhile are not in it, and the test shows nothing", len(after.Groups), len(before.Groups))
				}
				var keys []string
				for _, r := range made.Rules {
					keys = append(keys, r.Rule.Key())
					if r.Group != n.sgDB {
						t.Errorf("a rule made in %s: %+v", r.Group, r.Rule)
					}
				}
				if len(made.Groups) != tc.groups || !slices.Equal(keys, tc.rules) {
					t.Errorf("made groups %q, rules %q; want %d groups, rules %q", made.Groups, keys, tc.groups, tc.rules)
				}
				for _, id := range made.Groups {
					if g := after.Groups[id]; g == nil || g.Name != "made" {
						t.Errorf("made group %s is not the change's: %+v", id, g)
					}
				}
			})
		}
	}
}

// TestNumbered: what a change made is numbered in the order it made it,
// not by ID (the second rule of an authorization, whose ID may be the
// smaller, was "new rule 1").
func TestNumbered(t *testing.T) {
	m := Made{Groups: []string{"sg-dry9", "sg-dry1"}, Rules: []MadeRule{{Group: "sg-dry9", Rule: model.Rule{ID: "sgr-dry9"}}, {Group: "sg-dry9", Rule: model.Rule{ID: "sgr-dry1"}}}}
	got := Numbered(m)
	want := map[string]string{"sg-dry9": "new group 1", "sg-dry1": "new group 2", "sgr-dry9": "new rule 1", "sgr-dry1": "new rule 2"}
	for id, name := range want {
		if got[id] != name {
			t.Errorf("%s is %q, want %q", id, got[id], name)
		}
	}
}
