package cli

import (
	"strings"
	"testing"
)

// TestCountersWithoutAgents: with no agent running, "sg counters" must not
// present the rules' zeros as "never needed": it shows no count and says no
// agent reported (issue 11).
func TestCountersWithoutAgents(t *testing.T) {
	startServer(t)
	vpcID := id(t, "vpc", "vpc", "create", "--cidr", "10.0.0.0/16", "--name", "main")
	web := id(t, "sg", "sg", "create", "--name", "web", "--vpc", vpcID)
	ssh := id(t, "sgr", "sg", "authorize", web, "--protocol", "tcp", "--port", "22", "--cidr", "10.0.0.0/8")
	out := ok(t, "sg", "counters", web)
	r := row(out, ssh)
	if r == nil || len(r) != 9 || r[4] != "-" || r[5] != "-" || r[6] != "0" || r[7] != "0" || r[8] != "-" {
		t.Errorf("counters row of %s = %q, want unknown packets and bytes on 0 hosts\n%s", ssh, r, out)
	}
	if !strings.Contains(out, "No agent has reported counters for "+web) || strings.Contains(out, "never needed") {
		t.Errorf("counters without agents do not say no agent reported:\n%s", out)
	}
}
