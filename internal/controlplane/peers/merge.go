// Package peers answers a query over what every live server of an
// installation holds locally (the event trail, the flow records), on etcd,
// where each server keeps its own: the server asked runs the query on its
// own part and asks each other server for its part (Fanin), signed as the
// caller so that each applies the caller's own tenant filter, then merges
// the parts in order (Merge) with a NextToken that holds where each
// server's part continues (Token).
package peers

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"strings"
)

// Pos is where one server's part of a merged listing continues.
type Pos struct {
	After string `json:"a,omitempty"` // the server's own NextToken; "" from its start
	// Done: it had nothing more after After. A listing whose items only
	// come after the start (events, newest first) need not ask it again;
	// one that counts every server's matches asks it from After, which
	// gives no item already listed.
	Done bool `json:"d,omitempty"`
	// Misses counts the pages in a row it was asked for and did not
	// answer: after MaxMisses it no longer holds the listing open (a
	// server that always fails would make a client page forever).
	Misses int `json:"m,omitempty"`
}

// MaxMisses is how many pages in a row a server may miss and still hold a
// listing open for its part.
const MaxMisses = 3

// Token is the position of a merged listing in every server's part,
// keyed by server ID. A server it does not name starts from its start (it
// joined, or did not answer before).
type Token map[string]Pos

// Part is one server's answer: its items in the query's order, and for
// each the server's own token that continues after it.
type Part[T any] struct {
	Server  string
	Items   []T
	Cursors []string // Cursors[i] continues after Items[i]
	More    bool     // the server holds more after its last item
	Total   int      // its matches on all pages, where the query counts them
}

// Merge returns the first max items of the parts, which are each in the
// query's order, merged by before (a k-way merge: a part's items keep
// their order whatever before says, so none is lost or repeated even
// where before is only approximate), the token of the next page, and
// whether there is one. prev is the token the page was asked from: a
// server that did not answer keeps its position there. Ties go to the
// part listed first. missing are the servers still registered that were
// asked and did not answer for a reason that may pass (not a Permanent
// one): while one of them is not done, and has missed fewer than MaxMisses
// pages in a row, the listing has a next page, so their items come later
// instead of never (one that dies leaves the registry within its lease;
// one registered but never answering stops holding it after MaxMisses).
func Merge[T any](prev Token, parts []Part[T], max int, before func(a, b T) bool, missing ...string) (items []T, next Token, more bool) {
	next = maps.Clone(prev)
	if next == nil {
		next = Token{}
	}
	taken := make([]int, len(parts))
	for len(items) < max {
		best := -1
		for i := range parts {
			if taken[i] == len(parts[i].Items) {
				continue
			}
			if best < 0 || before(parts[i].Items[taken[i]], parts[best].Items[taken[best]]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		items = append(items, parts[best].Items[taken[best]])
		taken[best]++
	}
	for i, p := range parts {
		k := taken[i]
		pos := Pos{After: next[p.Server].After} // nothing taken: where it was asked from
		if k > 0 {
			pos.After = p.Cursors[k-1]
		}
		pos.Done = k == len(p.Items) && !p.More
		more = more || !pos.Done
		next[p.Server] = pos
	}
	for _, id := range missing {
		if !ValidID(id) || next[id].Done {
			continue
		}
		p := next[id]                         // never seen: from its start
		p.Misses = min(p.Misses+1, MaxMisses) // the token stays one DecodeToken reads
		next[id] = p
		if p.Misses < MaxMisses {
			more = true
		}
	}
	return items, next, more
}

// tokenPrefix marks a merged token (a server's own tokens never have it).
const tokenPrefix = "m1."

// Limits of a token read from a client: it is hostile input.
const (
	maxTokenLen = 16 << 10
	maxServers  = 64
	maxIDLen    = 64
	maxAfterLen = 256
)

// Encode renders the token for a response's NextToken. It holds positions
// only: each server applies the caller's filter to whatever position it is
// given, so a token made up by a caller shows nothing that caller could
// not list.
func (t Token) Encode() string {
	b, _ := json.Marshal(t)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// DecodeToken reads a token Encode made, or "" (the listing's start: an
// empty Token); ok is false for anything else.
func DecodeToken(s string) (Token, bool) {
	if s == "" {
		return Token{}, true
	}
	if len(s) > maxTokenLen || !strings.HasPrefix(s, tokenPrefix) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s[len(tokenPrefix):])
	if err != nil {
		return nil, false
	}
	var t Token
	if json.Unmarshal(b, &t) != nil || t == nil || len(t) > maxServers {
		return nil, false
	}
	for id, p := range t {
		if !ValidID(id) || len(p.After) > maxAfterLen || p.Misses < 0 || p.Misses > MaxMisses {
			return nil, false
		}
	}
	return t, true
}

// ValidID reports whether id can be a server ID: 1 to 64 letters, digits,
// '-' or '_'.
func ValidID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
