package model_test

import (
	"math"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestStoredText: every stored free text (names, descriptions, tags, entry
// descriptions) refuses control characters, bidi controls and invalid
// UTF-8 with its field's ECS code; before issue 11 they were stored.
func TestStoredText(t *testing.T) {
	bad := map[string]string{
		"NUL":                  "ab\x00cd",
		"CR/LF":                "ab\r\nX-Injected: 1",
		"tab":                  "ab\tcd",
		"escape":               "ab\x1b[31mred",
		"DEL":                  "ab\x7fcd",
		"C1 CSI":               "ab\u009bcd",
		"RLO":                  "ab\u202ecd",
		"LRI":                  "ab\u2066cd",
		"RLM":                  "ab\u200fcd",
		"line separator":       "ab\u2028X-Injected: 1",
		"paragraph separator":  "ab\u2029cd",
		"invalid UTF8":         "ab\xffcd",
		"lone surrogate bytes": "ab\xed\xa0\x80cd",
	}
	for name, s := range bad {
		if model.ValidText(s) {
			t.Errorf("ValidText accepts %s %q", name, s)
		}
		wantCode(t, "group description with "+name, model.ValidateGroupDescription(s), "InvalidSecurityGroupDiscription.Malformed")
		wantCode(t, "group name with "+name, model.ValidateGroupName("a"+s), "InvalidSecurityGroupName.Malformed")
		wantCode(t, "tag key with "+name, model.ValidateTags([]model.Tag{{Key: s, Value: "v"}}), "InvalidTagKey.Malformed")
		wantCode(t, "tag value with "+name, model.ValidateTags([]model.Tag{{Key: "k", Value: s}}), "InvalidTagValue.Malformed")
		wantCode(t, "entry description with "+name, model.ValidateEntryDescription(s), "InvalidEntryDescription.Malformed")
		wantCode(t, "ENI name with "+name, model.ValidateENIName("a"+s), "InvalidParameter")
		if model.ValidDescription(s) {
			t.Errorf("ValidDescription accepts %s", name)
		}
	}
	for _, s := range []string{"plain text", "安全组 web", "emoji 👍🏽 ok", "café", "a:b_c.d-e", "family 👨\u200d👩\u200d👧", "می\u200cخواهم"} {
		if !model.ValidText(s) {
			t.Errorf("ValidText refuses %q", s)
		}
		wantCode(t, "description "+s, model.ValidateGroupDescription(s), "")
		wantCode(t, "tag "+s, model.ValidateTags([]model.Tag{{Key: s, Value: s}}), "")
	}
}

func TestIDShapes(t *testing.T) {
	for _, tc := range []struct {
		valid func(string) bool
		what  string
		s     string
		want  bool
	}{
		{model.ValidResourceGroupID, "rg", "rg-acfmykd63gtrpoy", true},
		{model.ValidResourceGroupID, "rg", "rg-a", true},
		{model.ValidResourceGroupID, "rg", "rg-", false},
		{model.ValidResourceGroupID, "rg", "acfmykd63gtrpoy", false},
		{model.ValidResourceGroupID, "rg", "rg-ACFM", false},
		{model.ValidResourceGroupID, "rg", "rg-a b", false},
		{model.ValidResourceGroupID, "rg", "rg-" + strings.Repeat("a", 61), false},
		{model.ValidImageID, "image", "ubuntu_22_04_x64_20G_alibase_20230907.vhd", true},
		{model.ValidImageID, "image", "m-bp1g7004ksh0oeuc", true},
		{model.ValidImageID, "image", "img", true},
		{model.ValidImageID, "image", "", false},
		{model.ValidImageID, "image", "-x", false},
		{model.ValidImageID, "image", "a/b", false},
		{model.ValidImageID, "image", "a\x00b", false},
		{model.ValidImageID, "image", strings.Repeat("a", 129), false},
		{model.ValidInstanceType, "type", "ecs.g7.large", true},
		{model.ValidInstanceType, "type", "ecs.t5-lc1m1.small", true},
		{model.ValidInstanceType, "type", "ECS.G7", false},
		{model.ValidInstanceType, "type", "ecs g7", false},
		{model.ValidInstanceType, "type", strings.Repeat("a", 65), false},
	} {
		if got := tc.valid(tc.s); got != tc.want {
			t.Errorf("%s %q valid = %v, want %v", tc.what, tc.s, got, tc.want)
		}
	}
	wantCode(t, "image of 1 MB", model.ValidateImageID(strings.Repeat("a", 1<<20)), "InvalidImageId.Malformed")
	wantCode(t, "type of 1 MB", model.ValidateInstanceType(strings.Repeat("a", 1<<20)), "InvalidInstanceType.ValueNotSupported")
	if e := model.ValidateImageID(strings.Repeat("a", 1<<20)); len(e.Message) > 400 {
		t.Errorf("the error echoes %d bytes of the value", len(e.Message))
	}
}

func TestCanonicalInt(t *testing.T) {
	for _, tc := range []struct {
		s        string
		min, max int64
		want     int64
		ok       bool
	}{
		{"0", 0, 10, 0, true},
		{"22", 0, 65535, 22, true},
		{"-1", -1, 65535, -1, true},
		{"9223372036854775807", 0, math.MaxInt64, math.MaxInt64, true},
		{"+1", 0, 10, 0, false},
		{" 1", 0, 10, 0, false},
		{"1 ", 0, 10, 0, false},
		{"010", 0, 100, 0, false},
		{"-0", -1, 10, 0, false},
		{"11", 0, 10, 0, false},
		{"9223372036854775808", 0, math.MaxInt64, 0, false},
		{"", 0, 10, 0, false},
		{"0x10", 0, 100, 0, false},
	} {
		got, ok := model.ParseCanonicalInt(tc.s, tc.min, tc.max)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseCanonicalInt(%q, %d, %d) = %d, %v; want %d, %v", tc.s, tc.min, tc.max, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		s   string
		six bool
		ok  bool
	}{
		{"10.0.0.1", false, true},
		{"2001:db8::1", true, true},
		{"fe80::1%eth0", true, false},
		{"::ffff:10.0.0.1", true, false},
		{"10.0.0.1", true, false},
		{"010.0.0.1", false, false},
	} {
		if _, ok := model.ParseAddr(tc.s, tc.six); ok != tc.ok {
			t.Errorf("ParseAddr(%q, %v) ok = %v, want %v", tc.s, tc.six, ok, tc.ok)
		}
	}
}

func TestListPortRangeCanonical(t *testing.T) {
	for _, s := range []string{"+1/+65535", " 22 / 22 ", "080/80", "80/080", "4294967376/80"} {
		if _, e := model.ParseListPortRange(s, "Entry.1.PortRange"); e == nil {
			t.Errorf("port range list entry %q accepted", s)
		}
	}
	if r, e := model.ParseListPortRange("80/8080", "Entry.1.PortRange"); e != nil || r != (model.PortRange{Start: 80, End: 8080}) {
		t.Errorf("80/8080: %v %v", r, e)
	}
}

// TestCanonicalize: what an import rewrites (and says so) instead of
// skipping a real account's rule that the API would now refuse.
func TestCanonicalize(t *testing.T) {
	in := model.RuleInput{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.1.2.3/8", DestCidrIp: "192.168.1.7", Description: "ssh\r\nfrom office"}
	notes := model.Canonicalize(&in)
	if in.SourceCidrIp != "10.0.0.0/8" || in.DestCidrIp != "192.168.1.7" || in.Description != "" || len(notes) != 2 {
		t.Fatalf("canonicalized to %+v with notes %q", in, notes)
	}
	if _, _, e := model.ParseRule(model.Ingress, in, false); e != nil {
		t.Fatalf("the canonical rule is refused: %v", e)
	}
	ok := model.RuleInput{IpProtocol: "TCP", PortRange: "22/22", Ipv6SourceCidrIp: "2001:db8::/32", Description: "fine"}
	if notes := model.Canonicalize(&ok); len(notes) != 0 || ok.Ipv6SourceCidrIp != "2001:db8::/32" || ok.Description != "fine" {
		t.Errorf("a canonical rule was changed: %+v %q", ok, notes)
	}
}
