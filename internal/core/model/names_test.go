package model_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// wantCode fails unless err is nil (code "") or carries code.
func wantCode(t *testing.T, what string, err *ecserr.Error, code string) {
	t.Helper()
	switch {
	case code == "" && err != nil:
		t.Errorf("%s: refused with %s (%s)", what, err.Code, err.Message)
	case code != "" && err == nil:
		t.Errorf("%s: accepted; want %s", what, code)
	case code != "" && err.Code != code:
		t.Errorf("%s: got %s; want %s (%s)", what, err.Code, code, err.Message)
	}
}

func TestGroupNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		code string
	}{
		{"web", ""},
		{"web-1_a.b:c", ""},
		{"安全组", ""}, // letters of any script
		{"w" + strings.Repeat("x", 127), ""},
		{"w", "InvalidSecurityGroupName.Malformed"},
		{"w" + strings.Repeat("x", 128), "InvalidSecurityGroupName.Malformed"},
		{"1web", "InvalidSecurityGroupName.Malformed"},
		{"-web", "InvalidSecurityGroupName.Malformed"},
		{"web server", "InvalidSecurityGroupName.Malformed"},
		{"web/1", "InvalidSecurityGroupName.Malformed"},
		{"http://web", "InvalidSecurityGroupName.Malformed"},
		{"HTTPS://web", "InvalidSecurityGroupName.Malformed"},
	} {
		wantCode(t, "name "+tc.name, model.ValidateGroupName(tc.name), tc.code)
	}
}

func TestGroupDescriptions(t *testing.T) {
	for _, tc := range []struct {
		desc string
		code string
	}{
		{"ok", ""},
		{"a description with spaces, and 1 digit", ""},
		{strings.Repeat("x", 256), ""},
		{"x", "InvalidSecurityGroupDiscription.Malformed"},
		{strings.Repeat("x", 257), "InvalidSecurityGroupDiscription.Malformed"},
		{"https://example.com", "InvalidSecurityGroupDiscription.Malformed"},
	} {
		wantCode(t, "description "+tc.desc, model.ValidateGroupDescription(tc.desc), tc.code)
	}
}

func TestGroupTypeAndInnerPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want model.GroupType
		code string
	}{
		{"", model.Normal, ""},
		{"normal", model.Normal, ""},
		{"Enterprise", model.Enterprise, ""},
		{"basic", "", "InvalidParams.GroupType"},
	} {
		got, err := model.ParseGroupType(tc.in)
		wantCode(t, "type "+tc.in, err, tc.code)
		if got != tc.want {
			t.Errorf("type %q parsed as %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in, want, code string
	}{
		{"accept", model.InnerAccept, ""},
		{"DROP", model.InnerDrop, ""},
		{"", "", "InvalidPolicy.Malformed"},
		{"deny", "", "InvalidPolicy.Malformed"},
	} {
		got, err := model.ParseInnerAccessPolicy(tc.in)
		wantCode(t, "inner policy "+tc.in, err, tc.code)
		if got != tc.want {
			t.Errorf("inner policy %q parsed as %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTags(t *testing.T) {
	tags := func(kv ...string) []model.Tag {
		var out []model.Tag
		for i := 0; i < len(kv); i += 2 {
			out = append(out, model.Tag{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	many := func(n int) []model.Tag {
		var out []model.Tag
		for i := range n {
			out = append(out, model.Tag{Key: "k" + strings.Repeat("x", i)})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		tags []model.Tag
		code string
	}{
		{"none", nil, ""},
		{"two", tags("env", "prod", "team", ""), ""},
		{"twenty", many(model.MaxTags), ""},
		{"twenty-one", many(model.MaxTags + 1), "NumberExceed.Tags"},
		{"empty key", tags("", "v"), "InvalidTagKey.Malformed"},
		{"key of 129", tags(strings.Repeat("k", 129), "v"), "InvalidTagKey.Malformed"},
		{"reserved aliyun", tags("Aliyun-x", "v"), "InvalidTagKey.Malformed"},
		{"reserved acs:", tags("acs:x", "v"), "InvalidTagKey.Malformed"},
		{"URL in key", tags("see http://x", "v"), "InvalidTagKey.Malformed"},
		{"value of 129", tags("k", strings.Repeat("v", 129)), "InvalidTagValue.Malformed"},
		{"URL in value", tags("k", "https://x"), "InvalidTagValue.Malformed"},
		{"repeated key", tags("k", "1", "k", "2"), "Duplicate.TagKey"},
	} {
		wantCode(t, "tags "+tc.name, model.ValidateTags(tc.tags), tc.code)
	}

	got := model.MergeTags(tags("a", "1", "b", "2"), tags("b", "3", "c", "4"))
	if want := tags("a", "1", "b", "3", "c", "4"); !equalTags(got, want) {
		t.Errorf("MergeTags = %v, want %v", got, want)
	}
}

func equalTags(a, b []model.Tag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestIDs(t *testing.T) {
	shape := regexp.MustCompile(`^sg-[a-z0-9]{20}$`)
	a, b := model.NewID("sg"), model.NewID("sg")
	if !shape.MatchString(a) || a == b {
		t.Errorf("NewID gave %q and %q; want distinct sg- and 20 lower-case alphanumerics", a, b)
	}
	for _, tc := range []struct {
		id, prefix string
		want       bool
	}{
		{a, "sg", true},
		{"sg-a", "sg", true},
		{"sg-web_1-A", "sg", true},
		{"sg-", "sg", false},
		{"sg", "sg", false},
		{"sgr-a", "sg", false},
		{"vpc-a", "sg", false},
		{"sg-a b", "sg", false},
		{"sg-" + strings.Repeat("a", 126), "sg", false}, // 129 characters
	} {
		if got := model.HasPrefix(tc.id, tc.prefix); got != tc.want {
			t.Errorf("HasPrefix(%q, %q) = %v, want %v", tc.id, tc.prefix, got, tc.want)
		}
	}
}

func TestRegions(t *testing.T) {
	r, ok := model.LookupRegion("cn-hangzhou")
	if !ok || !r.HasZone("cn-hangzhou-h") || r.HasZone("cn-shanghai-e") {
		t.Errorf("cn-hangzhou: %+v %v", r, ok)
	}
	if _, ok := model.LookupRegion("xx-nowhere-1"); ok {
		t.Error("an unknown region was found")
	}
}
