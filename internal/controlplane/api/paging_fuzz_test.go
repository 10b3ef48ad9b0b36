package api

import (
	"errors"
	"net/http"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// FuzzParsePage: whatever paging parameters a client sends (NextToken
// beside PageNumber, MaxResults of any form, a token made up), parsePage
// refuses them with a 400 ECS error, or reads a page inside its bounds
// whose offset plus size cannot overflow. Its seeds run in go test; run it
// longer with `go test -run '^$' -fuzz FuzzParsePage ./internal/controlplane/api`.
func FuzzParsePage(f *testing.F) {
	for _, s := range [][4]string{
		{"", "", "", ""}, {"25", "10", "", ""}, {"3.c2ctYg", "", "2", "5"}, {"garbage", "0", "", ""}, {"", "-1", "", ""},
		{"", "", "9223372036854775807", "10"}, {"", "", "2147483648", "1"}, {"2147483647", "100", "", ""}, {"2147483648", "1", "", ""},
		{"1.", "1e3", "0", "0"}, {"", " 5", "+1", "05"}, {"0.__8", "100", "-1", "-1"}, {"1.\xff", "\u0661", "1", "1"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	const defSize, maxSize, defMax, maxResults = 10, 50, 10, 100
	f.Fuzz(func(t *testing.T, token, results, number, size string) {
		p := rpc.Params{"NextToken": token, "MaxResults": results, "PageNumber": number, "PageSize": size}
		pg, err := parsePage(p, defSize, maxSize, defMax, maxResults)
		if err != nil {
			var e *ecserr.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code == "" || e.Message == "" {
				t.Fatalf("parsePage(%q) = %#v; want a 400 ECS error", p, err)
			}
			return
		}
		limit := maxSize
		if pg.Tokens {
			limit = maxResults
		}
		if pg.Tokens != (token != "" || results != "") || pg.Size < 1 || pg.Size > limit || pg.Offset < 0 || pg.Offset > maxOffset {
			t.Fatalf("parsePage(%q) = %+v", p, pg)
		}
		if pg.Offset+pg.Size < pg.Offset {
			t.Fatalf("parsePage(%q) = %+v: offset plus size overflows", p, pg)
		}
	})
}
