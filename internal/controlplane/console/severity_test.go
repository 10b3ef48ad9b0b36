package console

import (
	"html"
	"net/http"
	"strings"
	"testing"
)

// TestAuditSeverityRefused: a severity the audit does not know is refused
// with the values it takes (it was ignored, and every finding listed as
// if it were the filter's answer); the known ones, in any case, filter.
func TestAuditSeverityRefused(t *testing.T) {
	svc, key, _ := tenantService(t)
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		severity string
		status   int
		says     string
	}{
		{"", http.StatusOK, `id="severity"`},
		{"low", http.StatusOK, `id="severity"`},
		{"HIGH", http.StatusOK, `id="severity"`},
		{"bogus", http.StatusBadRequest, `"severity" is not valid: use one of info, low, medium, high, critical`},
		{"critical2", http.StatusBadRequest, `"severity" is not valid: use one of info, low, medium, high, critical`},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			code, body := get(t, c, key.Account, Prefix+"r/cn-hangzhou/audit?severity="+tc.severity)
			body = html.UnescapeString(body)
			if code != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("severity=%q: %d, want %d saying %q: %.2000s", tc.severity, code, tc.status, tc.says, body[strings.Index(body, "<main"):])
			}
		})
	}
}
