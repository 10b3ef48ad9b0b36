package service

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// A listing whose keys do not ascend panics in this package's tests.
func init() { strictOrder = true }

func TestParseToken(t *testing.T) {
	for _, tc := range []struct {
		token  string
		offset int
		after  string
		ok     bool
	}{
		{"0", 0, "", true},
		{"25", 25, "", true},
		{cursorToken(3, "sg-b"), 3, "sg-b", true},
		{cursorToken(7, descending("sg-z")), 7, descending("sg-z"), true},
		{"-3", 0, "", false},
		{"x", 0, "", false},
		{"3.", 0, "", false},      // a cursor of nothing
		{"3.!!", 0, "", false},    // not base64url
		{".c2ctYg", 0, "", false}, // no offset
		{"3." + strings.Repeat("A", MaxTokenLength), 0, "", false},
	} {
		off, after, ok := ParseToken(tc.token)
		if off != tc.offset || after != tc.after || ok != tc.ok {
			t.Errorf("ParseToken(%.40q) = %d, %q, %v; want %d, %q, %v", tc.token, off, after, ok, tc.offset, tc.after, tc.ok)
		}
	}
}

// TestOrderKeys: each key ascends exactly as its listing's order runs.
func TestOrderKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		b := make([]byte, r.IntN(4))
		for i := range b {
			b[i] = "ab\x01\xff"[r.IntN(4)] // IDs hold no NUL
		}
		return string(b)
	}
	for range 2000 {
		a, b := word(), word()
		if got, want := strings.Compare(descending(a), descending(b)), strings.Compare(b, a); got != want {
			t.Fatalf("descending(%q) vs descending(%q): %d, want %d", a, b, got, want)
		}
		if ascendingOf(descending(a)) != a {
			t.Fatalf("ascendingOf(descending(%q)) = %q", a, ascendingOf(descending(a)))
		}
	}
	// Instances newest first, then by ID; whole seconds only for
	// byCreation's listings.
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var insts []*model.Instance
	for i := range 300 {
		at := base.Add(time.Duration(r.IntN(5)-2)*time.Second + time.Duration(r.IntN(3))*time.Millisecond)
		if i%50 == 0 {
			at = time.Unix(-int64(r.IntN(1000)), 0) // before 1970 too
		}
		insts = append(insts, &model.Instance{ID: "i-" + strconv.Itoa(r.IntN(1000)) + "-" + strconv.Itoa(i), Created: at})
	}
	newestFirst(insts)
	for i := 1; i < len(insts); i++ {
		if instanceKey(insts[i-1]) >= instanceKey(insts[i]) {
			t.Fatalf("instance keys do not ascend at %d: %v then %v", i, insts[i-1], insts[i])
		}
	}
	byCreation(insts, func(in *model.Instance) (int64, string) { return in.Created.Unix(), in.ID })
	for i := 1; i < len(insts); i++ {
		if a, b := createdKey(insts[i-1].Created, insts[i-1].ID), createdKey(insts[i].Created, insts[i].ID); a >= b {
			t.Fatalf("created keys do not ascend at %d: %q then %q", i, a, b)
		}
	}
}

// TestPaginateBy pages while the list changes between pages: what stayed
// is listed once, wherever the changes fell.
func TestPaginateBy(t *testing.T) {
	key := func(s string) string { return s }
	all := func() []string { return []string{"a", "b", "c", "d", "e", "f", "g", "h"} }
	for _, tc := range []struct {
		name    string
		between func(list []string, page []string) []string // the change after each page
		want    []string
	}{
		{"no change", func(l, _ []string) []string { return l }, all()},
		{"the page deleted", func(l, p []string) []string {
			return slices.DeleteFunc(l, func(s string) bool { return slices.Contains(p, s) })
		}, all()},
		{"one before the cursor added", func(l, p []string) []string {
			return append([]string{"0" + p[0]}, l...)
		}, all()},
		{"the next item deleted", func(l, p []string) []string {
			i := slices.Index(l, p[len(p)-1])
			if i+1 < len(l) {
				return slices.Delete(l, i+1, i+2)
			}
			return l
		}, []string{"a", "b", "c", "e", "f", "g"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, token := all(), ""
			var seen []string
			for range 10 {
				pg := Page{Tokens: true, Size: 3}
				if token != "" {
					off, after, ok := ParseToken(token)
					if !ok {
						t.Fatalf("token %q does not parse", token)
					}
					pg.Offset, pg.After = off, after
				}
				page, next := paginateBy(slices.Clone(list), pg, key)
				seen = append(seen, page...)
				if token = next; token == "" {
					break
				}
				list = tc.between(list, page)
				slices.Sort(list)
			}
			if !slices.Equal(seen, tc.want) {
				t.Errorf("listed %v, want %v", seen, tc.want)
			}
		})
	}
	t.Run("keys out of order", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic for keys that do not ascend (in a test binary)")
			}
		}()
		paginateBy([]string{"b", "a"}, Page{Tokens: true, Size: 1, After: "a"}, key)
	})
}
