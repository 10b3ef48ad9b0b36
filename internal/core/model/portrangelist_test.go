package model_test

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/ecserr"

	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestParseListPortRange(t *testing.T) {
	for _, c := range []struct {
		in   string
		want model.PortRange
		code string
	}{
		{"80/80", model.PortRange{Start: 80, End: 80}, ""},
		{"1/65535", model.PortRange{Start: 1, End: 65535}, ""},
		{"8000/8080", model.PortRange{Start: 8000, End: 8080}, ""},
		{"0/80", model.PortRange{}, model.CodePortRangeMalformed},
		{"80/65536", model.PortRange{}, model.CodePortRangeMalformed},
		{"90/80", model.PortRange{}, model.CodePortRangeMalformed},
		{"-1/-1", model.PortRange{}, model.CodePortRangeMalformed},
		{"80", model.PortRange{}, model.CodePortRangeMalformed},
		{"", model.PortRange{}, "MissingParameter"},
	} {
		got, err := model.ParseListPortRange(c.in, "Entry.1.PortRange")
		if code := codeOf(err); code != c.code || got != c.want {
			t.Errorf("ParseListPortRange(%q) = %v, %q; want %v, %q", c.in, got, code, c.want, c.code)
		}
	}
}

func codeOf(err *ecserr.Error) string {
	if err == nil {
		return ""
	}
	return err.Code
}

func TestPortRangeListValidate(t *testing.T) {
	base := func(f func(*model.PortRangeList)) *model.PortRangeList {
		l := &model.PortRangeList{ID: "prl-1", Name: "web-ports", MaxEntries: 3, Entries: []model.PortEntry{
			{Range: model.PortRange{Start: 80, End: 80}, Description: "http"},
			{Range: model.PortRange{Start: 8000, End: 8080}},
		}}
		if f != nil {
			f(l)
		}
		return l
	}
	for _, c := range []struct {
		name string
		l    *model.PortRangeList
		code string
	}{
		{"ok", base(nil), ""},
		{"bad name", base(func(l *model.PortRangeList) { l.Name = "1abc" }), "InvalidPortRangeListName.Malformed"},
		{"reserved name", base(func(l *model.PortRangeList) { l.Name = "com.aliyun.x" }), "InvalidPortRangeListName.Malformed"},
		{"max entries 0", base(func(l *model.PortRangeList) { l.MaxEntries = 0 }), "InvalidParameter.MaxEntries"},
		{"max entries 2001", base(func(l *model.PortRangeList) { l.MaxEntries = 2001 }), "InvalidParameter.MaxEntries"},
		{"too many", base(func(l *model.PortRangeList) { l.MaxEntries = 1 }), model.CodePortRangeTooMany},
		{"duplicate", base(func(l *model.PortRangeList) { l.Entries = append(l.Entries, l.Entries[0]) }), model.CodePortRangeDuplicate},
		{"port 0", base(func(l *model.PortRangeList) { l.Entries[0].Range.Start = 0 }), model.CodePortRangeMalformed},
		{"reversed", base(func(l *model.PortRangeList) { l.Entries[1].Range = model.PortRange{Start: 9, End: 8} }), model.CodePortRangeMalformed},
		{"entry description", base(func(l *model.PortRangeList) { l.Entries[0].Description = "x" }), "InvalidEntryDescription.Malformed"},
	} {
		if code := codeOf(c.l.Validate()); code != c.code {
			t.Errorf("%s: code %q, want %q", c.name, code, c.code)
		}
	}
	l := base(nil)
	if !l.Contains(80) || !l.Contains(8040) || l.Contains(443) || l.Contains(81) {
		t.Errorf("Contains is wrong for %v", l.Ranges())
	}
}

func TestParseRulePortRangeList(t *testing.T) {
	in := model.RuleInput{IpProtocol: "tcp", PortRangeListId: "prl-1", SourceCidrIp: "10.0.0.0/8"}
	r, _, err := model.ParseRule(model.Ingress, in, false)
	if err != nil || r.PortRangeListID != "prl-1" || r.PortRange.IsSet() {
		t.Fatalf("list rule: %+v, %v", r, err)
	}
	plain := in
	plain.PortRangeListId = ""
	plain.PortRange = "1/65535"
	r2, _, _ := model.ParseRule(model.Ingress, plain, false)
	if r.Key() == r2.Key() {
		t.Errorf("a list rule and a range rule share the key %s", r.Key())
	}
	// PortRange wins over the list, as ECS does.
	both := in
	both.PortRange = "22/22"
	if r, _, err := model.ParseRule(model.Ingress, both, false); err != nil || r.PortRangeListID != "" || r.PortRange != (model.PortRange{Start: 22, End: 22}) {
		t.Errorf("PortRange and list: %+v, %v", r, err)
	}
	for _, c := range []struct {
		proto   string
		classic bool
		code    string
	}{
		{"icmp", false, model.CodeProtocolNoPortList},
		{"all", false, model.CodeProtocolNoPortList},
		{"gre", false, model.CodeProtocolNoPortList},
		{"udp", true, "NotSupported.ClassicNetworkPortRangeList"},
	} {
		x := in
		x.IpProtocol = c.proto
		if _, _, err := model.ParseRule(model.Ingress, x, c.classic); codeOf(err) != c.code {
			t.Errorf("%s classic=%v: %v, want %s", c.proto, c.classic, err, c.code)
		}
	}
}

// TestPortListWeight: a rule naming a port range list weighs the list's
// MaxEntries in the group's quota and in the NIC's, as prefix lists do.
func TestPortListWeight(t *testing.T) {
	ports := map[string]*model.PortRangeList{"prl-big": {ID: "prl-big", MaxEntries: 150}}
	prefixes := map[string]*model.PrefixList{"pl-ten": {ID: "pl-ten", MaxEntries: 10}}
	lists := model.Lists{
		Prefix: func(id string) *model.PrefixList { return prefixes[id] },
		Ports:  func(id string) *model.PortRangeList { return ports[id] },
	}
	g := &model.SecurityGroup{ID: "sg-q"}
	for range 50 {
		g.Rules = append(g.Rules, model.Rule{Protocol: model.TCP, PortRange: model.PortRange{Start: 1, End: 1}})
	}
	g.Rules = append(g.Rules, model.Rule{Protocol: model.TCP, PortRangeListID: "prl-big"})
	if n := model.RuleCount(g, lists); n != 200 {
		t.Errorf("RuleCount of 50 rules and a 150-entry list = %d, want 200", n)
	}
	if e := model.CheckRuleQuotas(g, lists); e != nil {
		t.Errorf("50 rules and a 150-entry list (200): %v", e)
	}
	both := model.Rule{Protocol: model.TCP, PortRangeListID: "prl-big", Peer: model.Peer{PrefixListID: "pl-ten"}}
	if w := model.Weight(&both, lists); w != 159 {
		t.Errorf("a rule naming a 150-entry port list and a 10-entry prefix list weighs %d, want 159", w)
	}
	if w := model.Weight(&g.Rules[50], model.Lists{Prefix: lists.Prefix}); w != 1 {
		t.Errorf("without a port-list lookup a port-list rule weighs %d, want 1", w)
	}
	five := []*model.SecurityGroup{g, g, g, g, g} // 1,000
	if e := model.CheckNICRules("i-a", five, lists); e != nil {
		t.Errorf("five groups of weight 200 (1,000): %v", e)
	}
	g.Rules = append(g.Rules, model.Rule{Protocol: model.UDP, PortRange: model.PortRange{Start: 1, End: 1}})
	if e := model.CheckRuleQuotas(g, lists); codeOf(e) != "AuthorizationLimitExceed" {
		t.Errorf("201: %v, want AuthorizationLimitExceed", e)
	}
	if e := model.CheckNICRules("i-a", five, lists); codeOf(e) != "AclLimitExceed" {
		t.Errorf("five groups of weight 201 (1,005): %v, want AclLimitExceed", e)
	}
	g.Rules[50].PortRangeListID = "prl-unknown"
	if e := model.CheckRuleQuotas(g, lists); e != nil {
		t.Errorf("an unknown list weighs 1: %v", e)
	}
}
