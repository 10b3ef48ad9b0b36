package model

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

func hasURLPrefix(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// ValidName checks a resource name: 2–128 characters, starting with a letter
// (any script), then letters, digits, ':', '_', '.' or '-', and no URL prefix.
func ValidName(s string) bool {
	n := utf8.RuneCountInString(s)
	if n < 2 || n > 128 || hasURLPrefix(s) || !ValidText(s) {
		return false
	}
	for i, c := range s {
		if i == 0 && !unicode.IsLetter(c) {
			return false
		}
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !strings.ContainsRune(":_.-", c) {
			return false
		}
	}
	return true
}

// ValidDescription checks a description: 2–256 characters, no URL prefix,
// valid UTF-8 without control or bidi characters (ValidText).
func ValidDescription(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= 2 && n <= 256 && !hasURLPrefix(s) && ValidText(s)
}

// ValidateGroupName returns the ECS error for a bad security-group name.
func ValidateGroupName(s string) *ecserr.Error {
	if !ValidName(s) {
		return ecserr.BadRequest("InvalidSecurityGroupName.Malformed", "The security group name %q is not valid: it must be 2 to 128 characters, start with a letter, contain only letters, digits, ':', '_', '.' or '-', and not start with http:// or https://.", Clip(s))
	}
	return nil
}

// ValidateGroupDescription returns the ECS error for a bad group description.
func ValidateGroupDescription(s string) *ecserr.Error {
	if !ValidDescription(s) {
		return ecserr.BadRequest("InvalidSecurityGroupDiscription.Malformed", "The description must be 2 to 256 characters of valid UTF-8 without control or bidirectional formatting characters, and not start with http:// or https://.")
	}
	return nil
}

// ParseGroupType parses normal or enterprise; empty means normal.
func ParseGroupType(s string) (GroupType, *ecserr.Error) {
	switch strings.ToLower(s) {
	case "", "normal":
		return Normal, nil
	case "enterprise":
		return Enterprise, nil
	}
	return "", ecserr.BadRequest("InvalidParams.GroupType", "SecurityGroupType %q is not valid; use normal or enterprise.", s)
}

// ParseInnerAccessPolicy parses Accept or Drop in any case.
func ParseInnerAccessPolicy(s string) (string, *ecserr.Error) {
	switch strings.ToLower(s) {
	case "accept":
		return InnerAccept, nil
	case "drop":
		return InnerDrop, nil
	}
	return "", ecserr.BadRequest("InvalidPolicy.Malformed", "The Policy %q is invalid. Only 'Accept' and 'Drop' are supported. Ignore case.", s)
}

// MaxTags is the number of tags a resource may carry.
const MaxTags = 20

// ValidateTags checks tag keys and values and that keys are unique.
func ValidateTags(tags []Tag) *ecserr.Error {
	if len(tags) > MaxTags {
		return ecserr.BadRequest("NumberExceed.Tags", "At most %d tags are allowed; %d were given.", MaxTags, len(tags))
	}
	seen := map[string]bool{}
	for _, t := range tags {
		k := t.Key
		if k == "" || utf8.RuneCountInString(k) > 128 || !ValidText(k) || strings.HasPrefix(strings.ToLower(k), "aliyun") ||
			strings.HasPrefix(strings.ToLower(k), "acs:") || strings.Contains(k, "http://") || strings.Contains(k, "https://") {
			return ecserr.BadRequest("InvalidTagKey.Malformed", "Tag key %q is not valid: 1 to 128 characters of valid UTF-8 without control or bidirectional formatting characters, not starting with aliyun or acs:, and without http:// or https://.", Clip(k))
		}
		if utf8.RuneCountInString(t.Value) > 128 || !ValidText(t.Value) || strings.Contains(t.Value, "http://") || strings.Contains(t.Value, "https://") {
			return ecserr.BadRequest("InvalidTagValue.Malformed", "Tag value %q is not valid: at most 128 characters of valid UTF-8 without control or bidirectional formatting characters, and without http:// or https://.", Clip(t.Value))
		}
		if seen[k] {
			return ecserr.BadRequest("Duplicate.TagKey", "Tag key %q is given more than once.", k)
		}
		seen[k] = true
	}
	return nil
}

// MergeTags sets tags on top of existing ones (same key: new value).
func MergeTags(old, add []Tag) []Tag {
	out := append([]Tag(nil), old...)
	for _, t := range add {
		replaced := false
		for i := range out {
			if out[i].Key == t.Key {
				out[i].Value, replaced = t.Value, true
			}
		}
		if !replaced {
			out = append(out, t)
		}
	}
	return out
}

// ParseMaintenanceWindow checks a maintenance window as ECS takes it: both
// ends "HH:00:00" (on the hour), the end 1 to 23 hours after the start
// (past midnight if it is earlier).
func ParseMaintenanceWindow(start, end string) (MaintenanceWindow, *ecserr.Error) {
	hour := func(name, s string) (int, *ecserr.Error) {
		if len(s) == 8 && s[2:] == ":00:00" && s[0] >= '0' && s[0] <= '2' && s[1] >= '0' && s[1] <= '9' {
			if h := int(s[0]-'0')*10 + int(s[1]-'0'); h <= 23 {
				return h, nil
			}
		}
		return 0, ecserr.InvalidParameter("MaintenanceWindow.1."+name, fmt.Sprintf("%q is a time on the hour, HH:00:00 (UTC+8)", Clip(s)))
	}
	switch {
	case start == "" && end == "":
		return MaintenanceWindow{}, ecserr.MissingParameter("MaintenanceWindow.1.StartTime")
	case start == "" || end == "":
		return MaintenanceWindow{}, ecserr.InvalidParameter("MaintenanceWindow.1", "give both StartTime and EndTime")
	}
	s, err := hour("StartTime", start)
	if err != nil {
		return MaintenanceWindow{}, err
	}
	e, err := hour("EndTime", end)
	if err != nil {
		return MaintenanceWindow{}, err
	}
	if (e-s+24)%24 == 0 {
		return MaintenanceWindow{}, ecserr.InvalidParameter("MaintenanceWindow.1.EndTime", "it is 1 to 23 hours after StartTime")
	}
	return MaintenanceWindow{Start: start, End: end}, nil
}
