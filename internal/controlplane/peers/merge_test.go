package peers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// item is a listed thing: its server, its local position, its time.
type item struct {
	server string
	seq    int
	time   int
}

// server is one server's listing, already in the query's order (newest
// first): answers pages of it from a local position as a server does.
type server struct {
	id    string
	items []item
}

func (s server) page(after string, max int) Part[item] {
	p := Part[item]{Server: s.id}
	start := 0
	if after != "" {
		n, _ := strconv.Atoi(after)
		start = slices.IndexFunc(s.items, func(it item) bool { return it.seq == n }) + 1
	}
	end := min(start+max, len(s.items))
	for _, it := range s.items[start:end] {
		p.Items = append(p.Items, it)
		p.Cursors = append(p.Cursors, strconv.Itoa(it.seq))
	}
	p.More = end < len(s.items)
	p.Total = len(s.items)
	return p
}

// mk makes a server's items from times, newest first as given.
func mk(id string, times ...int) server {
	s := server{id: id}
	for i, t := range times {
		s.items = append(s.items, item{id, 100 - i, t})
	}
	return s
}

func newer(a, b item) bool { return a.time > b.time }

// pageAll pages through the servers with max per page; down says which
// servers do not answer on which page (0-based).
func pageAll(t *testing.T, servers []server, max int, down map[int][]string) ([][]item, []Token) {
	t.Helper()
	var (
		pages  [][]item
		tokens []Token
		tok    = Token{}
	)
	for n := 0; n < 100; n++ {
		var (
			parts   []Part[item]
			missing []string
		)
		for _, s := range servers {
			if tok[s.id].Done {
				continue
			}
			if slices.Contains(down[n], s.id) {
				missing = append(missing, s.id)
				continue
			}
			parts = append(parts, s.page(tok[s.id].After, max))
		}
		items, next, more := Merge(tok, parts, max, newer, missing...)
		if len(items) > max {
			t.Fatalf("page %d has %d items, max %d", n, len(items), max)
		}
		pages = append(pages, items)
		tokens = append(tokens, next)
		if !more {
			return pages, tokens
		}
		// The token goes to the client and back.
		var ok bool
		if tok, ok = DecodeToken(next.Encode()); !ok {
			t.Fatalf("page %d: the token %q does not decode", n, next.Encode())
		}
	}
	t.Fatal("no last page after 100")
	return nil, nil
}

func TestMerge(t *testing.T) {
	for _, tc := range []struct {
		name    string
		servers []server
		max     int
		down    map[int][]string
		lost    int // items never listed
		pages   int
	}{
		{name: "one server", servers: []server{mk("a", 9, 8, 7, 6, 5)}, max: 2, pages: 3},
		{name: "interleaved", servers: []server{mk("a", 10, 7, 4, 1), mk("b", 9, 6, 3), mk("c", 8, 5, 2)}, max: 3, pages: 4},
		{name: "one server holds the newest", servers: []server{mk("a", 20, 19, 18, 17, 16, 15), mk("b", 5, 4), mk("c", 3)}, max: 4, pages: 3},
		{name: "ties keep each server's order", servers: []server{mk("a", 5, 5, 5), mk("b", 5, 5), mk("c", 5)}, max: 2, pages: 3},
		{name: "empty servers", servers: []server{mk("a"), mk("b", 3, 2, 1), mk("c")}, max: 2, pages: 2},
		{name: "nothing anywhere", servers: []server{mk("a"), mk("b")}, max: 5, pages: 1},
		{name: "page size one", servers: []server{mk("a", 4, 2), mk("b", 3, 1)}, max: 1, pages: 4},
		{name: "exact fit ends the listing", servers: []server{mk("a", 4, 2), mk("b", 3, 1)}, max: 4, pages: 1},
		{name: "a server down on the first page starts later", servers: []server{mk("a", 6, 4, 2), mk("b", 5, 3, 1)}, max: 2,
			down: map[int][]string{0: {"b"}}, pages: 3},
		{name: "a server down mid-way resumes where it was", servers: []server{mk("a", 6, 4, 2, 0), mk("b", 5, 3, 1)}, max: 2,
			down: map[int][]string{1: {"b"}}, pages: 4},
		{name: "a server down when the others end comes on a later page", servers: []server{mk("a", 6, 4, 2), mk("b", 5, 3, 1)}, max: 2,
			down: map[int][]string{1: {"b"}}, pages: 3},
		{name: "a server down on the only page comes on a later page", servers: []server{mk("a", 6, 4), mk("b", 5, 3)}, max: 2,
			down: map[int][]string{0: {"b"}}, pages: 2},
		{name: "a server down on several pages", servers: []server{mk("a", 6), mk("b", 5, 3)}, max: 2,
			down: map[int][]string{0: {"b"}, 1: {"b"}}, pages: 3},
		{name: "a server never answering stops holding the listing open", servers: []server{mk("a", 6, 4, 2), mk("b", 5, 3, 1)}, max: 2,
			down: always("b"), lost: 3, pages: MaxMisses},
		{name: "a server never answering, the others done at once", servers: []server{mk("a", 6), mk("b", 5)}, max: 2,
			down: always("b"), lost: 1, pages: MaxMisses},
		{name: "misses in a row only", servers: []server{mk("a", 9, 8, 7, 6, 5, 4, 3, 2), mk("b", 1)}, max: 1,
			down: map[int][]string{0: {"b"}, 1: {"b"}, 3: {"b"}, 4: {"b"}, 6: {"b"}, 7: {"b"}}, pages: 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pages, _ := pageAll(t, tc.servers, tc.max, tc.down)
			if len(pages) != tc.pages {
				t.Errorf("%d pages, want %d", len(pages), tc.pages)
			}
			seen := map[string]int{}
			var all []item
			for _, p := range pages {
				for _, it := range p {
					seen[fmt.Sprint(it.server, it.seq)]++
					all = append(all, it)
				}
			}
			var want []item
			for _, s := range tc.servers {
				want = append(want, s.items...)
				// Each server's items come in its order.
				var got []item
				for _, it := range all {
					if it.server == s.id {
						got = append(got, it)
					}
				}
				if !slices.Equal(got, s.items[:len(got)]) || len(got) < len(s.items)-tc.lost {
					t.Errorf("server %s's items came as %v, want %v", s.id, got, s.items)
				}
			}
			lost := 0
			for _, it := range want {
				switch n := seen[fmt.Sprint(it.server, it.seq)]; n {
				case 0:
					lost++
				case 1:
				default:
					t.Errorf("item %v listed %d times", it, n)
				}
			}
			if lost != tc.lost {
				t.Errorf("%d items never listed, want %d", lost, tc.lost)
			}
			if tc.down == nil {
				// Without a server down, the pages are the newest first.
				if !slices.IsSortedFunc(all, func(a, b item) int { return b.time - a.time }) {
					t.Errorf("pages not newest first: %v", all)
				}
			}
		})
	}
}

// TestMergeKeepsMissingServersPosition: a server that does not answer a
// page keeps the position the page was asked from.
func TestMergeKeepsMissingServersPosition(t *testing.T) {
	prev := Token{"a": {After: "7"}, "b": {After: "3"}}
	a := mk("a", 9, 8, 7, 6, 5)
	_, next, more := Merge(prev, []Part[item]{a.page("", 2)}, 2, newer)
	if next["b"] != (Pos{After: "3"}) || !more {
		t.Errorf("next %v (more %v), want b kept at 3", next, more)
	}
}

// always is a down map with id down on every page.
func always(id string) map[int][]string {
	m := map[int][]string{}
	for n := range 100 {
		m[n] = []string{id}
	}
	return m
}

// TestMergeMisses: a server not answering counts its misses in a row in
// the token, holds the listing open until MaxMisses, and starts counting
// again once it answers.
func TestMergeMisses(t *testing.T) {
	b := mk("b", 5, 3)
	for _, tc := range []struct {
		name    string
		prev    Token
		parts   []Part[item]
		missing []string
		want    Pos
		more    bool
	}{
		{"never seen, missing", Token{}, nil, []string{"b"}, Pos{Misses: 1}, true},
		{"missing again", Token{"b": {After: "x", Misses: 1}}, nil, []string{"b"}, Pos{After: "x", Misses: 2}, true},
		{"missing the last time it may", Token{"b": {After: "x", Misses: MaxMisses - 1}}, nil, []string{"b"}, Pos{After: "x", Misses: MaxMisses}, false},
		{"missing past the last time", Token{"b": {After: "x", Misses: MaxMisses}}, nil, []string{"b"}, Pos{After: "x", Misses: MaxMisses}, false},
		{"answers after misses", Token{"b": {Misses: 2}}, []Part[item]{b.page("", 1)}, nil, Pos{After: "100"}, true},
		{"done, missing", Token{"b": {Done: true}}, nil, []string{"b"}, Pos{Done: true}, false},
	} {
		_, next, more := Merge(tc.prev, tc.parts, 1, newer, tc.missing...)
		if _, ok := DecodeToken(next.Encode()); !ok {
			t.Errorf("%s: the token does not decode", tc.name)
		}
		if next["b"] != tc.want || more != tc.more {
			t.Errorf("%s: b at %+v (more %v), want %+v (more %v)", tc.name, next["b"], more, tc.want, tc.more)
		}
	}
}

func TestDecodeToken(t *testing.T) {
	good := Token{"abc-1": {After: "x"}, "d_2": {Done: true}}.Encode()
	if _, ok := DecodeToken(good); !ok {
		t.Fatalf("own token %q refused", good)
	}
	if tok, ok := DecodeToken(""); !ok || tok == nil || len(tok) != 0 {
		t.Errorf("no token: %v, %v; want the start (an empty token)", tok, ok)
	}
	many := Token{}
	for i := range maxServers + 1 {
		many[fmt.Sprint("s", i)] = Pos{}
	}
	for _, bad := range []string{
		"m1.", "m1.!!", "12", "m1." + strings.Repeat("A", maxTokenLen),
		Token{"bad id": {}}.Encode(), Token{"a": {After: strings.Repeat("x", maxAfterLen+1)}}.Encode(),
		many.Encode(), "m1.bnVsbA", // "null"
		Token{"a": {Misses: -1}}.Encode(), Token{"a": {Misses: MaxMisses + 1}}.Encode(),
	} {
		if _, ok := DecodeToken(bad); ok {
			t.Errorf("token %.60q accepted", bad)
		}
	}
}
