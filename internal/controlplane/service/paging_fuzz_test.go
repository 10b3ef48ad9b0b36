package service

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// FuzzParseToken: any NextToken a client sends is refused or read as an
// offset and a cursor that resume a listing inside it: no panic, no page
// beyond the listing, nothing at or before the cursor listed again,
// whichever listing the token came from (another action's, another
// tenant's, one made up). Its seeds run in every `go test`; run it longer
// with `go test -run '^$' -fuzz FuzzParseToken ./internal/controlplane/service`.
func FuzzParseToken(f *testing.F) {
	for _, s := range []string{
		"", "0", "25", "-0", "+3", "-3", "03", "x", " 1", "1 ", "3.", "3.!!", ".c2ctYg", "3..c2ctYg", "3.c2ctYg.c2ctYg",
		"3.c2ctYg==", "3.c2+tYg", "3.c2/tYg", "2147483647", "2147483648", "9223372036854775807", "9223372036854775808",
		"1.AA", "1._w", "1./w", "1.\x00", "1.\xff", "\u00a01", "१",
		cursorToken(3, "sg-b"), cursorToken(7, descending("sg-z")), cursorToken(1, descending("")),
		cursorToken(2, newestKey(-1, 0, "i-a")), cursorToken(math.MaxInt32, "\xff\xff"),
		"1." + strings.Repeat("A", MaxTokenLength-2), "1." + strings.Repeat("A", MaxTokenLength-1),
	} {
		f.Add(s)
	}
	ids := []string{"sg-a", "sg-b", "sg-bb", "sg-c", "sg-d"} // ascending, as the view's index
	f.Fuzz(func(t *testing.T, tok string) {
		off, after, ok := ParseToken(tok)
		if !ok {
			if off != 0 || after != "" {
				t.Fatalf("ParseToken(%q) refused it but read %d, %q", tok, off, after)
			}
			return
		}
		if len(tok) > MaxTokenLength || off < 0 {
			t.Fatalf("ParseToken(%q) = %d, %q: accepted", tok, off, after)
		}
		if after != "" {
			if o, a, ok := ParseToken(cursorToken(off, after)); !ok || o != off || a != after {
				t.Fatalf("ParseToken(cursorToken(%d, %q)) = %d, %q, %v", off, after, o, a, ok)
			}
		}
		if off > math.MaxInt32 { // the api refuses it (maxOffset)
			return
		}
		for size := 1; size <= 3; size++ {
			pg := Page{Tokens: true, Size: size, Offset: off, After: after}
			page, _ := paginateBy(slices.Clone(ids), pg, func(s string) string { return s })
			if len(page) > size {
				t.Fatalf("paginateBy(%q, size %d): %d items", tok, size, len(page))
			}
			for _, id := range page {
				if after != "" && id <= after {
					t.Fatalf("paginateBy(%q) listed %q, at or before its cursor %q", tok, id, after)
				}
			}
			var next string
			start, end := highestFirst(ids, pg, &next)
			if start < 0 || end < start || end > len(ids) || end-start > size {
				t.Fatalf("highestFirst(%q, size %d) = %d, %d of %d", tok, size, start, end, len(ids))
			}
			if id := ascendingOf(after); id != "" {
				for k := start; k < end; k++ {
					if ids[len(ids)-1-k] >= id {
						t.Fatalf("highestFirst(%q) listed %q, at or above its cursor %q", tok, ids[len(ids)-1-k], id)
					}
				}
			}
		}
	})
}
