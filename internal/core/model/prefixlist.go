package model

import (
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// Prefix-list error codes chosen where the ECS documentation names none, kept
// together so they are easy to align with the real service later.
const (
	CodePrefixListCIDR      = "InvalidParam.Cidr"
	CodePrefixListFamily    = "InvalidParam.AddressFamilyMismatch"
	CodePrefixListDuplicate = "InvalidParam.DuplicateCidr"
	CodePrefixListTooMany   = "InvalidParam.EntriesExceedMaxEntries"
)

// maxEntryDescription is the longest entry description ECS accepts.
const maxEntryDescription = 32

// ParseAddressFamily accepts IPv4 or IPv6 in any case.
func ParseAddressFamily(s string) (string, *ecserr.Error) {
	switch strings.ToLower(s) {
	case "":
		return "", ecserr.MissingParameter("AddressFamily").At("AddressFamily")
	case "ipv4":
		return "IPv4", nil
	case "ipv6":
		return "IPv6", nil
	}
	return "", ecserr.BadRequest("InvalidParameter.AddressFamily", "AddressFamily %q is not valid; use IPv4 or IPv6.", s).At("AddressFamily")
}

// ValidatePrefixListName checks a prefix-list name: a resource name that also
// must not claim the namespaces Alibaba Cloud reserves for its own lists.
func ValidatePrefixListName(s string) *ecserr.Error {
	if !validListName(s) {
		return ecserr.BadRequest("InvalidPrefixListName.Malformed", "The prefix list name %q is not valid: it must be 2 to 128 characters, start with a letter, contain only letters, digits, ':', '_', '.' or '-', and not start with http://, https://, com.aliyun or com.alibabacloud.", s).At("PrefixListName")
	}
	return nil
}

// validListName reports whether s is a resource name outside the
// namespaces Alibaba Cloud reserves for its own prefix and port range lists.
func validListName(s string) bool {
	l := strings.ToLower(s)
	return ValidName(s) && !strings.HasPrefix(l, "com.aliyun") && !strings.HasPrefix(l, "com.alibabacloud")
}

// ValidatePrefixListDescription checks a prefix list's description.
func ValidatePrefixListDescription(s string) *ecserr.Error {
	if !ValidDescription(s) {
		return ecserr.BadRequest("InvalidDescription.Malformed", "The prefix list description must be 2 to 256 characters and not start with http:// or https://.").At("Description")
	}
	return nil
}

// ValidateEntryDescription checks the description of one entry.
func ValidateEntryDescription(s string) *ecserr.Error {
	n := utf8.RuneCountInString(s)
	if n < 2 || n > maxEntryDescription || hasURLPrefix(s) || !ValidText(s) {
		return ecserr.BadRequest("InvalidEntryDescription.Malformed", "The entry description %q is not valid: it must be 2 to %d characters of valid UTF-8 without control or bidirectional formatting characters, and not start with http:// or https://.", Clip(s), maxEntryDescription).At("Description")
	}
	return nil
}

// ValidateMaxEntries checks a list's capacity.
func ValidateMaxEntries(n int) *ecserr.Error {
	if n < 1 || n > MaxPrefixListEntries {
		return ecserr.BadRequest("InvalidParameter.MaxEntries", "MaxEntries must be from 1 to %d, got %d.", MaxPrefixListEntries, n).At("MaxEntries")
	}
	return nil
}

// ParsePrefixListCIDR parses an entry's CIDR block of the list's family. A
// bare address is a host prefix. With strict (the API and scenario files:
// one canonical form, as for rules), host bits must be zero; otherwise
// (imports of a real account's saved state) they are cleared.
func ParsePrefixListCIDR(s, family, param string, strict bool) (netip.Prefix, *ecserr.Error) {
	if s == "" {
		return netip.Prefix{}, ecserr.MissingParameter(param).At("Cidr")
	}
	p, ok := ParseCIDR(s)
	if !ok {
		return p, ecserr.BadRequest(CodePrefixListCIDR, "%s %q is not a valid CIDR block or IP address.", param, s).At("Cidr")
	}
	if p.Addr().Is6() != (family == "IPv6") {
		return p, ecserr.BadRequest(CodePrefixListFamily, "%s %q is not an %s block; a prefix list holds blocks of its own address family only.", param, s, family).At("Cidr")
	}
	if strict && p != p.Masked() {
		return p, ecserr.BadRequest(CodePrefixListCIDR, "%s %q has host bits set; give the network address, e.g. %s.", param, s, p.Masked()).At("Cidr")
	}
	return p.Masked(), nil
}

// EntryIndex returns the position of cidr in entries, -1 if absent.
func EntryIndex(entries []PrefixEntry, cidr netip.Prefix) int {
	return slices.IndexFunc(entries, func(e PrefixEntry) bool { return e.CIDR == cidr })
}

// AddEntry appends a new entry, refusing a block the list already has.
func (pl *PrefixList) AddEntry(e PrefixEntry) *ecserr.Error {
	if EntryIndex(pl.Entries, e.CIDR) >= 0 {
		return ecserr.BadRequest(CodePrefixListDuplicate, "The CIDR block %s is given more than once; each entry needs a distinct block.", e.CIDR).At("Cidr")
	}
	pl.Entries = append(pl.Entries, e)
	return nil
}

// CheckEntryCount checks that n entries fit the list.
func (pl *PrefixList) CheckEntryCount(n int) *ecserr.Error {
	if n > pl.MaxEntries {
		return ecserr.BadRequest(CodePrefixListTooMany, "The prefix list would hold %d entries but its MaxEntries is %d; remove entries or create a list with a larger MaxEntries.", n, pl.MaxEntries).At("MaxEntries")
	}
	return nil
}
