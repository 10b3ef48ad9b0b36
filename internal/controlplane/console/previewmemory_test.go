package console

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
)

// TestPreviewsMemoryBounded: the previews one account keeps take about the
// bytes they are counted as (maxAccountPreviewBytes), whatever their
// forms hold. A kept form shared the request's whole body (its values are
// substrings of it), so a megabyte sent in a field the preview does not
// keep (seen) was held while counted as nothing; ten thousand short
// fields took a map many times their encoded size; and a refused apply's
// words, which may quote its fields (an ID three times), were not counted.
func TestPreviewsMemoryBounded(t *testing.T) {
	many := url.Values{}
	for i := range 9990 {
		many.Set(fmt.Sprintf("k%04d", i), "")
	}
	for _, tc := range []struct {
		name  string
		extra url.Values
	}{
		{"a megabyte in a field not kept", url.Values{"seen": {strings.Repeat("s", maxForm-200)}}},
		{"ten thousand fields", many},
		// Its refusal's words quote the ID, its what and its Back too.
		{"a refused apply of a megabyte ID", url.Values{"step": {"apply"}, "op": {"delete-group"}, "group": {"sg-" + strings.Repeat("a", maxForm-200)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, key, cl := tenantService(t)
			c, err := New(svc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			send := func(s *session) {
				f := url.Values{"csrf": {s.csrf}, "step": {"preview"}, "op": {"create-group"}, "name": {"flood"}}
				for k, v := range tc.extra {
					f[k] = v
				}
				req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
				w := httptest.NewRecorder()
				c.ServeHTTP(w, req)
				if w.Code != http.StatusSeeOther {
					t.Fatalf("preview: %d %.300s", w.Code, w.Body.String())
				}
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			// As many sessions as it takes to reach the account's bound.
			for range maxAccountPreviews / maxSessionPreviews {
				s := c.sessions.add(cl.Account, key.ID, false)
				for range maxSessionPreviews {
					send(s)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			c.previews.mu.Lock()
			kept, counted := len(c.previews.order), c.previews.bytes
			c.previews.mu.Unlock()
			t.Logf("%d previews counted as %d KiB hold %d KiB", kept, counted>>10, held>>10)
			if held > 2*maxAccountPreviewBytes {
				t.Errorf("%d previews counted as %d KiB hold %d KiB; want at most %d KiB", kept, counted>>10, held>>10, 2*maxAccountPreviewBytes>>10)
			}
			runtime.KeepAlive(c)
		})
	}
}
