package policy_test

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestPortRangeListRules: a rule with a port range list admits the list's
// ports and nothing in its gaps, in both evaluators; a rule naming an
// unknown list admits nothing; Covers compares lists by identity.
func TestPortRangeListRules(t *testing.T) {
	parse := func(id, proto, list string, pol model.Policy, prio int) model.Rule {
		r, _, err := model.ParseRule(model.Ingress, model.RuleInput{IpProtocol: proto, PortRangeListId: list,
			SourceCidrIp: "0.0.0.0/0", Policy: string(pol), Priority: string(rune('0' + prio))}, false)
		if err != nil {
			t.Fatal(err)
		}
		r.ID = id
		return r
	}
	sg := &model.SecurityGroup{ID: "sg-l", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		parse("sgr-drop-udp", "udp", "prl-web", model.Drop, 1),
		parse("sgr-web", "tcp", "prl-web", model.Accept, 2),
		parse("sgr-ghost", "tcp", "prl-gone", model.Accept, 1),
	}}
	lists := []*model.PortRangeList{{ID: "prl-web", MaxEntries: 5, Entries: []model.PortEntry{
		{Range: model.PortRange{Start: 80, End: 80}}, {Range: model.PortRange{Start: 8000, End: 8080}},
	}}}
	cloud := policy.NewCloud([]*model.SecurityGroup{sg}, []*model.Instance{
		inst("i-1", "vpc-a", "10.0.0.1", "", "sg-l"), inst("i-2", "vpc-a", "10.0.0.2", "", "sg-l")}, nil).WithPortRangeLists(lists)
	for _, ev := range []policy.Decider{policy.NewLinear(cloud), policy.Compile(cloud)} {
		for _, tt := range []struct {
			proto model.Protocol
			port  uint16
			want  policy.Verdict
			rule  string
		}{
			{model.TCP, 80, policy.Accept, "sgr-web"},
			{model.TCP, 81, policy.Drop, ""},
			{model.TCP, 7999, policy.Drop, ""},
			{model.TCP, 8000, policy.Accept, "sgr-web"},
			{model.TCP, 8080, policy.Accept, "sgr-web"},
			{model.TCP, 8081, policy.Drop, ""},
			{model.UDP, 8040, policy.Drop, "sgr-drop-udp"},
			{model.UDP, 443, policy.Drop, ""},
		} {
			res, err := policy.Evaluate(ev, policy.Flow{From: "i-2", To: "i-1", Protocol: tt.proto, Port: tt.port})
			if err != nil || res.Verdict != tt.want {
				t.Errorf("%T %s/%d: %v %v, want %v", ev, tt.proto, tt.port, res.Verdict, err, tt.want)
				continue
			}
			if d := res.Deciding(); tt.rule != "" && (d == nil || d.Rule == nil || d.Rule.RuleID != tt.rule) {
				t.Errorf("%T %s/%d decided by %v, want %s", ev, tt.proto, tt.port, d, tt.rule)
			}
		}
	}
	a, b := sg.Rules[1], sg.Rules[1]
	any := a
	any.PortRangeListID, any.PortRange = "", model.PortRange{Start: 1, End: 65535}
	if !policy.Covers(&a, &b) || policy.Covers(&a, &any) || !policy.Covers(&any, &a) {
		t.Errorf("Covers with lists is wrong")
	}
	narrow := any
	narrow.PortRange = model.PortRange{Start: 80, End: 80}
	if policy.Covers(&narrow, &a) {
		t.Errorf("a single-port rule covers a list rule")
	}
}
