package service

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Page selects part of a list: PageNumber/PageSize paging (Number, Size)
// or NextToken/MaxResults paging (Tokens, Size, Offset, After).
type Page struct {
	Tokens       bool // NextToken/MaxResults paging
	Number, Size int
	Offset       int
	// After is a NextToken's cursor: the order key of the last item of
	// the page before ("": none). A listing with an order key resumes
	// after it, so items added or deleted meanwhile (the page just read,
	// deleted before the next is asked for) neither skip nor repeat what
	// stayed; Offset is its fallback.
	After string
}

// A NextToken is the offset of the next page, or, from a listing with an
// order key, "offset.cursor" with the cursor in base64url: opaque to
// clients, as ECS's tokens are.
const cursorSep = "."

// MaxTokenLength bounds the NextToken a request may send: a cursor is an
// order key of a few IDs.
const MaxTokenLength = 1024

// ParseToken reads a NextToken this server returned: its offset and its
// cursor (""). ok is false for anything else.
func ParseToken(t string) (offset int, after string, ok bool) {
	if len(t) > MaxTokenLength {
		return 0, "", false
	}
	num, cur, keyed := strings.Cut(t, cursorSep)
	off, err := strconv.Atoi(num)
	if err != nil || off < 0 {
		return 0, "", false
	}
	if !keyed {
		return off, "", true
	}
	key, err := base64.RawURLEncoding.DecodeString(cur)
	if err != nil || len(key) == 0 {
		return 0, "", false
	}
	return off, string(key), true
}

func cursorToken(offset int, key string) string {
	return strconv.Itoa(offset) + cursorSep + base64.RawURLEncoding.EncodeToString([]byte(key))
}

// paginate cuts one page out of items and returns the next token ("" on
// the last page, and always with page numbers). The token is an offset:
// for listings without an order key (paginateBy has one).
func paginate[T any](items []T, pg Page) (out []T, next string) {
	return paginateBy(items, pg, nil)
}

// paginateBy is paginate for a listing whose items' keys (key) ascend
// strictly along it: the token carries the last key of the page, and the
// next page starts after it wherever it now stands. Should the keys not
// ascend (a bug in the key), the offset decides, as for paginate.
func paginateBy[T any](items []T, pg Page, key func(T) string) (out []T, next string) {
	start := pg.Offset
	if pg.Tokens && pg.After != "" && key != nil {
		if i, ok := firstAfter(items, key, pg.After); ok {
			start = i
		}
	}
	if start >= len(items) {
		return []T{}, ""
	}
	end := min(start+pg.Size, len(items))
	if pg.Tokens && end < len(items) {
		if key != nil {
			next = cursorToken(end, key(items[end-1]))
		} else {
			next = strconv.Itoa(end)
		}
	}
	return items[start:end], next
}

// strictOrder makes a listing whose keys do not ascend panic, not fall
// back to its offset: this package's tests set it.
var strictOrder bool

// firstAfter is the index of the first item whose key is above cursor;
// false when the keys do not ascend strictly (with strictOrder, a panic:
// the listing's key does not match its order).
func firstAfter[T any](items []T, key func(T) string, cursor string) (int, bool) {
	start, prev := len(items), ""
	for i, it := range items {
		k := key(it)
		if i > 0 && k <= prev {
			if strictOrder {
				panic(fmt.Sprintf("service: a listing's order keys do not ascend: %q after %q", k, prev))
			}
			return 0, false
		}
		if start == len(items) && k > cursor {
			start = i
		}
		prev = k
	}
	return start, true
}

// Listing is one page of a list: its Items, how many match on all pages,
// and the token of the next page ("" on the last page, and always with page
// numbers).
type Listing[T any] struct {
	Items     []T
	Total     int
	NextToken string
}

// pageOf cuts the page pg out of all the matches.
func pageOf[T any](all []T, pg Page) Listing[T] {
	return pageBy(all, pg, nil)
}

// pageBy is pageOf for a listing with an order key (paginateBy).
func pageBy[T any](all []T, pg Page, key func(T) string) Listing[T] {
	out := Listing[T]{Total: len(all)}
	out.Items, out.NextToken = paginateBy(all, pg, key)
	return out
}

// PageOf is pageOf for a list the api layer holds itself (the catalogue's
// instance types).
func PageOf[T any](all []T, pg Page) Listing[T] { return pageOf(all, pg) }

// Order keys: strings that ascend as a listing runs.

// descending is the key of s in a listing sorted by s from the highest:
// each byte complemented, and a 0xFF after them, so that a longer string
// sorts before its prefix. s holds no NUL (an ID: model.HasPrefix).
func descending(s string) string {
	b := make([]byte, len(s)+1)
	for i := range len(s) {
		b[i] = ^s[i]
	}
	b[len(s)] = 0xFF
	return string(b)
}

// ascendingOf undoes descending ("" for what descending never returns).
func ascendingOf(k string) string {
	if k == "" || k[len(k)-1] != 0xFF {
		return ""
	}
	b := []byte(k[:len(k)-1])
	for i := range b {
		b[i] = ^b[i]
	}
	return string(b)
}

// newestKey is the key of an item in a listing newest first (by sec, then
// nsec), then by ID upwards: byCreation's order with nsec 0, newestFirst's
// with the nanoseconds.
func newestKey(sec int64, nsec int, id string) string {
	// Big-endian bytes compare as the numbers do; the sign bit flipped
	// maps int64 order onto uint64 order; the complement makes the
	// newest the lowest.
	b := make([]byte, 0, 12+len(id))
	b = binary.BigEndian.AppendUint64(b, ^(uint64(sec) ^ 1<<63))
	b = binary.BigEndian.AppendUint32(b, ^uint32(nsec))
	return string(append(b, id...))
}

// createdKey is the order key of byCreation's listings (whole seconds).
func createdKey(t time.Time, id string) string { return newestKey(t.Unix(), 0, id) }
