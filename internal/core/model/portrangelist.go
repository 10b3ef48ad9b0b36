package model

import (
	"slices"
	"time"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// PortRangeList is a named set of destination port ranges (prl-…) that a
// TCP or UDP rule may use in place of its PortRange. A change to its
// entries changes every rule that names it.
type PortRangeList struct {
	ID          string      `json:"id"`
	Region      string      `json:"region"`
	Owner       string      `json:"owner"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	MaxEntries  int         `json:"maxEntries"` // fixed at creation, 1..MaxPortRangeListEntries
	Entries     []PortEntry `json:"entries"`
	Tags        []Tag       `json:"tags,omitempty"`
	Created     time.Time   `json:"created"`
}

// PortEntry is one port range of a port range list.
type PortEntry struct {
	Range       PortRange `json:"range"`
	Description string    `json:"description,omitempty"`
}

// Ranges returns the list's port ranges in entry order.
func (l *PortRangeList) Ranges() []PortRange {
	out := make([]PortRange, len(l.Entries))
	for i, e := range l.Entries {
		out[i] = e.Range
	}
	return out
}

// Contains reports whether a port falls in one of the list's ranges.
func (l *PortRangeList) Contains(port uint16) bool {
	return slices.ContainsFunc(l.Entries, func(e PortEntry) bool { return e.Range.Contains(port) })
}

// Malformed says which of the list's entries no request that
// ParseListPortRange accepts gives ("" when none): see Rule.Malformed.
func (l *PortRangeList) Malformed() string {
	for _, e := range l.Entries {
		if why := e.Malformed(); why != "" {
			return why
		}
	}
	return ""
}

// Malformed says why no request that ParseListPortRange accepts gives the
// entry ("" when one does): its range admits every port, or ports outside
// 1-65535, or starts after its end.
func (e PortEntry) Malformed() string {
	if e.Range.IsAny() || !e.Range.inPorts() {
		return "entry " + e.Range.String()
	}
	return ""
}

// Port range list limits (ECS: MaxEntries 1–2000, 200 entries per call; the
// lists per region and uses per list are unconfirmed, so prefix lists' are
// taken).
const (
	MaxPortRangeListEntries = 2000
	MaxPortEntriesPerCall   = 200
	MaxPortRangeListsRegion = 100
	MaxPortRangeListUses    = 1000
)

// Port range list error codes, from the ECS reference's table.
const (
	CodePortRangeMalformed    = "InvalidPortRange.Malformed"
	CodePortRangeDuplicate    = "InvalidParam.DuplicatePortRange"
	CodePortRangeTooMany      = "InvalidParam.MaxEntries"
	CodePortRangeListNotFound = "InvalidPortRangeListId.NotFound"
	CodePortRangeListInUse    = "InvalidPortRangeListId.AssociationExist"
	CodeProtocolNoPortList    = "InvalidParam.ProtocolNotSupportPortRangeList"
)

// ValidatePortRangeListName checks a port range list's name: the rules of a
// prefix list's.
func ValidatePortRangeListName(s string) *ecserr.Error {
	if !validListName(s) {
		return ecserr.BadRequest("InvalidPortRangeListName.Malformed", "The port range list name %q is not valid: it must be 2 to 128 characters, start with a letter, contain only letters, digits, ':', '_', '.' or '-', and not start with http://, https://, com.aliyun or com.alibabacloud.", s).At("PortRangeListName")
	}
	return nil
}

// ValidatePortRangeListDescription checks a port range list's description.
func ValidatePortRangeListDescription(s string) *ecserr.Error {
	if !ValidDescription(s) {
		return ecserr.BadRequest("InvalidDescription.Malformed", "The port range list description must be 2 to 256 characters and not start with http:// or https://.").At("Description")
	}
	return nil
}

// ValidatePortRangeListMaxEntries checks a port range list's capacity.
func ValidatePortRangeListMaxEntries(n int) *ecserr.Error {
	if n < 1 || n > MaxPortRangeListEntries {
		return ecserr.BadRequest("InvalidParameter.MaxEntries", "MaxEntries must be from 1 to %d, got %d.", MaxPortRangeListEntries, n).At("MaxEntries")
	}
	return nil
}

// ParseListPortRange parses an entry's "start/end", ports 1 to 65535 with
// start <= end (a single port is "80/80").
func ParseListPortRange(s, param string) (PortRange, *ecserr.Error) {
	if s == "" {
		return PortRange{}, ecserr.MissingParameter(param).At("PortRange")
	}
	start, end, ok := parsePortText(s)
	if !ok || start < 1 || end > 65535 || start > end {
		return PortRange{}, ecserr.BadRequest(CodePortRangeMalformed, "%s %q is not valid: write start/end in plain decimal with ports from 1 to 65535 and start not above end, for example 80/80 or 8000/8080.", param, Clip(s)).At("PortRange")
	}
	return PortRange{int32(start), int32(end)}, nil
}

// PortEntryIndex returns the position of r in entries, -1 if absent.
func PortEntryIndex(entries []PortEntry, r PortRange) int {
	return slices.IndexFunc(entries, func(e PortEntry) bool { return e.Range == r })
}

// AddEntry appends a new entry, refusing a range the list already has.
func (l *PortRangeList) AddEntry(e PortEntry) *ecserr.Error {
	if PortEntryIndex(l.Entries, e.Range) >= 0 {
		return ecserr.BadRequest(CodePortRangeDuplicate, "The port range %s is given more than once; each entry needs a distinct range.", e.Range).At("PortRange")
	}
	l.Entries = append(l.Entries, e)
	return nil
}

// CheckEntryCount checks that n entries fit the list.
func (l *PortRangeList) CheckEntryCount(n int) *ecserr.Error {
	if n > l.MaxEntries {
		return ecserr.BadRequest(CodePortRangeTooMany, "The port range list would hold %d entries but its MaxEntries is %d; remove entries or create a list with a larger MaxEntries.", n, l.MaxEntries).At("MaxEntries")
	}
	return nil
}

// Validate checks a whole list as a scenario file or an import gives it.
func (l *PortRangeList) Validate() *ecserr.Error {
	if e := ValidatePortRangeListName(l.Name); e != nil {
		return e
	}
	if l.Description != "" {
		if e := ValidatePortRangeListDescription(l.Description); e != nil {
			return e
		}
	}
	if e := ValidatePortRangeListMaxEntries(l.MaxEntries); e != nil {
		return e
	}
	seen := map[PortRange]bool{}
	for _, e := range l.Entries {
		r := e.Range
		if r.Start < 1 || r.End > 65535 || r.Start > r.End {
			return ecserr.BadRequest(CodePortRangeMalformed, "Port range %s of list %s is not valid: ports run from 1 to 65535, start not above end.", r, l.ID).At("PortRange")
		}
		if seen[r] {
			return ecserr.BadRequest(CodePortRangeDuplicate, "Port range %s is given more than once in list %s.", r, l.ID).At("PortRange")
		}
		seen[r] = true
		if e.Description != "" {
			if err := ValidateEntryDescription(e.Description); err != nil {
				return err
			}
		}
	}
	return l.CheckEntryCount(len(l.Entries))
}

// CheckPortRangeListRule checks that a rule may use a port range list: TCP
// or UDP only, and not in a classic-network group.
func CheckPortRangeListRule(r *Rule, classic bool) *ecserr.Error {
	if !r.Protocol.HasPorts() {
		return ecserr.BadRequest(CodeProtocolNoPortList, "IpProtocol %s carries no ports, so it cannot use port range list %s; use TCP or UDP, or give PortRange -1/-1 instead.", r.Protocol, r.PortRangeListID).At("PortRangeListId")
	}
	if classic {
		return ecserr.BadRequest("NotSupported.ClassicNetworkPortRangeList", "Port range lists can only be used in rules of VPC security groups.").At("PortRangeListId")
	}
	return nil
}
