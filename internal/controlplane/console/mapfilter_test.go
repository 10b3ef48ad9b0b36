package console

import (
	"html"
	"net/http"
	"strings"
	"testing"
)

// TestMapFilterRefusedSaysWhy: a filter of the map that the analysis
// refuses (a port that is not one, a port without a protocol) or a group
// not in the network is said, with the filter as typed, and the map is
// not drawn. The analysis's refusal was dropped: the page said the
// reachability was being computed and reloaded itself for ever; an
// unknown group drew "This network has no security groups".
func TestMapFilterRefusedSaysWhy(t *testing.T) {
	_, c, key, group, _ := layoutWorld(t)
	c.budgets.page = diffTimeout // time for the analysis: no "being computed"
	for _, tc := range []struct {
		name, query string
		code        int
		want        string // in the page
	}{
		{"a port that is not one", "protocol=tcp&port=abc", http.StatusBadRequest, `id="error-code">InvalidParameter`},
		{"a port out of range", "protocol=tcp&port=99999", http.StatusBadRequest, `id="error-code">InvalidParameter`},
		{"a group not in the network", "group=sg-notmine0000000001", http.StatusNotFound, `The security group "sg-notmine0000000001" is not one of this network's`},
		{"a good filter", "protocol=tcp&port=3306&group=" + group, http.StatusOK, `id="map-data"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, c, key.Account, Prefix+"r/cn-hangzhou/map?vpc=vpc-layout00000000001&"+tc.query)
			body = html.UnescapeString(body)
			if code != tc.code || !strings.Contains(body, tc.want) || strings.Contains(body, `id="updating"`) {
				t.Errorf("%d, want %d with %q: %.1500s", code, tc.code, tc.want, body[strings.Index(body, "<main"):])
			}
			if tc.code != http.StatusOK && (strings.Contains(body, `id="map-data"`) || !strings.Contains(body, `id="map-filter"`)) {
				t.Errorf("a refused filter draws a map, or loses its form")
			}
		})
	}
}
