package model

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// ValidText reports whether s may be stored and shown: valid UTF-8, with no
// control characters (NUL, CR, LF, tab, escape, DEL, the C1 set), no line
// or paragraph separators (U+2028, U+2029: line breaks to a log reader or
// a browser) and no bidirectional formatting characters, which make a
// text read differently than it is stored (a description that hides what
// follows it in a terminal or console). Joiners stay: emoji sequences and
// Persian words need them. Every stored free text is checked with it.
func ValidText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if unicode.IsControl(c) || c == '\u2028' || c == '\u2029' || isBidiControl(c) {
			return false
		}
	}
	return true
}

// isBidiControl reports the characters that change the display order of
// text: the embeddings, overrides and isolates, and the directional marks.
func isBidiControl(c rune) bool {
	switch {
	case c == 0x061C, c == 0x200E, c == 0x200F: // ALM, LRM, RLM
		return true
	case c >= 0x202A && c <= 0x202E: // LRE, RLE, PDF, LRO, RLO
		return true
	case c >= 0x2066 && c <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	}
	return false
}

// MaxIDLength bounds every resource ID a request names.
const MaxIDLength = 128

// ValidResourceGroupID reports whether s is shaped like a resource group ID:
// "rg-" and 1 to 60 lower-case letters and digits (rg-acfmykd63gtrpoy).
func ValidResourceGroupID(s string) bool {
	rest, ok := cutPrefix(s, "rg-")
	return ok && len(rest) >= 1 && len(rest) <= 60 && allOf(rest, func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' })
}

// ValidImageID reports whether s is shaped like an image ID: 1 to 128 ASCII
// letters, digits, '_', '.' and '-', starting with a letter or digit
// (m-bp1g7004ksh0oeuc, ubuntu_22_04_x64_20G_alibase_20230907.vhd).
func ValidImageID(s string) bool {
	return len(s) >= 1 && len(s) <= 128 && isAlnum(s[0]) &&
		allOf(s, func(c byte) bool { return isAlnum(c) || c == '_' || c == '.' || c == '-' })
}

// ValidInterfaceName reports whether s is a name a host interface an
// instance is bound to may have: 1 to 15 ASCII letters, digits, '.', '_',
// '@' and '-', starting with a letter or digit (pi-a1b2, veth0@if3). The
// kernel compares names NUL-padded to 16 bytes: a name with a NUL in it
// would be another's.
func ValidInterfaceName(s string) bool {
	return len(s) >= 1 && len(s) <= 15 && isAlnum(s[0]) &&
		allOf(s, func(c byte) bool { return isAlnum(c) || c == '.' || c == '_' || c == '@' || c == '-' })
}

// ValidInstanceType reports whether s is shaped like an instance type: 1 to
// 64 lower-case letters, digits, '.', '-' and '_', starting with a letter
// or digit (ecs.g7.large, ecs.t5-lc1m1.small). Palisade has no catalogue of
// types, so the shape is all it checks.
func ValidInstanceType(s string) bool {
	return len(s) >= 1 && len(s) <= 64 && (s[0] >= 'a' && s[0] <= 'z' || s[0] >= '0' && s[0] <= '9') &&
		allOf(s, func(c byte) bool {
			return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
		})
}

// ValidateImageID returns the ECS error for a malformed ImageId.
func ValidateImageID(s string) *ecserr.Error {
	if !ValidImageID(s) {
		return ecserr.BadRequest("InvalidImageId.Malformed", "ImageId %q is not valid: 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit, such as ubuntu_22_04_x64_20G_alibase_20230907.vhd.", Clip(s)).At("ImageId")
	}
	return nil
}

// ValidateInstanceType returns the ECS error for a malformed InstanceType.
func ValidateInstanceType(s string) *ecserr.Error {
	if !ValidInstanceType(s) {
		return ecserr.BadRequest("InvalidInstanceType.ValueNotSupported", "InstanceType %q is not valid: 1 to 64 lower-case letters, digits, '.', '-' or '_', such as ecs.g7.large.", Clip(s)).At("InstanceType")
	}
	return nil
}

// ParseCanonicalInt parses a decimal integer written in its one canonical
// form: an optional '-', then digits without leading zeros ("0", "22",
// "-1"); no '+', no spaces, no "010". It refuses values outside
// [min, max] instead of wrapping, so no request integer can overflow.
func ParseCanonicalInt(s string, min, max int64) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != s || n < min || n > max {
		return 0, false
	}
	return n, true
}

// Clip shortens a text quoted back in an error message, so an error never
// echoes a megabyte.
func Clip(s string) string { return Cut(s, 64, "…") }

// Cut returns s, or when it is longer than n bytes its start of at most n
// bytes, whole characters, followed by mark.
func Cut(s string, n int, mark string) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + mark
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) < len(p) || s[:len(p)] != p {
		return s, false
	}
	return s[len(p):], true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func allOf(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// PortWanted is what a flow's port must be, in the words of every refusal
// of one: the analysis actions' Port (verify, reachability, flow records)
// and the console's forms that ask them, which worded it two ways.
const PortWanted = "a port is a number from 1 to 65535"

// ParsePort reads a flow's port: plain decimal (ParseCanonicalInt), 1 to
// 65535; not ok is refused as PortWanted says.
func ParsePort(s string) (uint16, bool) {
	n, ok := ParseCanonicalInt(s, 1, 65535)
	return uint16(n), ok
}
