package cli

import (
	"strings"
	"testing"
)

// TestWarnMissing: an answer that names servers that did not give their
// part is said so on stderr; a whole answer, or one that is not JSON, says
// nothing.
func TestWarnMissing(t *testing.T) {
	for _, tc := range []struct {
		body, want string
	}{
		{`{"PalisadeMissingServers":["a1","b2"],"Events":[]}`, "palisade events: warning: servers a1, b2 did not give their part (down, unreachable or slower than --peer-timeout; " +
			"the answering server's log says which and why); their events are not listed\n"},
		{`{"Events":[]}`, ""},
		{`{"PalisadeMissingServers":[]}`, ""},
		{`not json`, ""},
	} {
		var stderr strings.Builder
		c := &call{stderr: &stderr, name: "events"}
		c.warnMissing([]byte(tc.body), "events")
		if stderr.String() != tc.want {
			t.Errorf("%s: stderr %q, want %q", tc.body, stderr.String(), tc.want)
		}
	}
}
