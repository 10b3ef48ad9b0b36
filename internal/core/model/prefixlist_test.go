package model_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestPrefixListFields(t *testing.T) {
	for _, tc := range []struct {
		in, want, code string
	}{
		{"ipv4", "IPv4", ""},
		{"IPv6", "IPv6", ""},
		{"", "", "MissingParameter"},
		{"ipv5", "", "InvalidParameter.AddressFamily"},
	} {
		got, err := model.ParseAddressFamily(tc.in)
		wantCode(t, "family "+tc.in, err, tc.code)
		if got != tc.want {
			t.Errorf("family %q parsed as %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ name, code string }{
		{"office", ""},
		{"com.example.list", ""},
		{"com.aliyun.list", "InvalidPrefixListName.Malformed"},
		{"Com.AlibabaCloud.x", "InvalidPrefixListName.Malformed"},
		{"1list", "InvalidPrefixListName.Malformed"},
	} {
		wantCode(t, "name "+tc.name, model.ValidatePrefixListName(tc.name), tc.code)
	}
	wantCode(t, "list description", model.ValidatePrefixListDescription("x"), "InvalidDescription.Malformed")
	wantCode(t, "list description", model.ValidatePrefixListDescription("the office"), "")
	for _, tc := range []struct{ desc, code string }{
		{"ok", ""},
		{strings.Repeat("x", 32), ""},
		{strings.Repeat("x", 33), "InvalidEntryDescription.Malformed"},
		{"x", "InvalidEntryDescription.Malformed"},
		{"http://x", "InvalidEntryDescription.Malformed"},
	} {
		wantCode(t, "entry description "+tc.desc, model.ValidateEntryDescription(tc.desc), tc.code)
	}
	for _, tc := range []struct {
		n    int
		code string
	}{{1, ""}, {model.MaxPrefixListEntries, ""}, {0, "InvalidParameter.MaxEntries"}, {model.MaxPrefixListEntries + 1, "InvalidParameter.MaxEntries"}} {
		wantCode(t, "max entries", model.ValidateMaxEntries(tc.n), tc.code)
	}
}

func TestPrefixListCIDR(t *testing.T) {
	for _, tc := range []struct {
		in, family string
		strict     bool
		want, code string
	}{
		{"10.0.0.0/8", "IPv4", true, "10.0.0.0/8", ""},
		{"10.1.2.3", "IPv4", true, "10.1.2.3/32", ""},
		{"10.1.2.3/8", "IPv4", false, "10.0.0.0/8", ""}, // Create clears host bits
		{"10.1.2.3/8", "IPv4", true, "", model.CodePrefixListCIDR},
		{"2001:db8::/32", "IPv6", true, "2001:db8::/32", ""},
		{"2001:db8::/32", "IPv4", false, "", model.CodePrefixListFamily},
		{"10.0.0.0/8", "IPv6", false, "", model.CodePrefixListFamily},
		{"ten", "IPv4", false, "", model.CodePrefixListCIDR},
		{"", "IPv4", false, "", "MissingParameter"},
	} {
		got, err := model.ParsePrefixListCIDR(tc.in, tc.family, "Entry.1.Cidr", tc.strict)
		wantCode(t, "cidr "+tc.in, err, tc.code)
		if err == nil && got.String() != tc.want {
			t.Errorf("cidr %q parsed as %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestPrefixListEntries(t *testing.T) {
	pl := &model.PrefixList{ID: "pl-a", MaxEntries: 2, AddressFamily: "IPv4"}
	p := netip.MustParsePrefix
	wantCode(t, "first entry", pl.AddEntry(model.PrefixEntry{CIDR: p("10.0.0.0/8")}), "")
	wantCode(t, "repeated entry", pl.AddEntry(model.PrefixEntry{CIDR: p("10.0.0.0/8")}), model.CodePrefixListDuplicate)
	if model.EntryIndex(pl.Entries, p("10.0.0.0/8")) != 0 || model.EntryIndex(pl.Entries, p("10.0.0.0/9")) != -1 {
		t.Errorf("EntryIndex in %v", pl.Entries)
	}
	wantCode(t, "two entries", pl.CheckEntryCount(2), "")
	wantCode(t, "three entries", pl.CheckEntryCount(3), model.CodePrefixListTooMany)
}
