package cli

import (
	"strings"
	"testing"
)

// plan --scenario loads the scenario's secondary ENIs into its scratch
// store: a change to the group only an ENI is in shows the ENI's flows.
func TestPlanOfflineLoadsENIs(t *testing.T) {
	const sc = "../../testdata/scenarios/11-secondary-eni.yaml"
	code, out, errs := palisade("plan", "--scenario", sc, "--action", "RevokeSecurityGroup", "--param", "SecurityGroupId=sg-mgmt",
		"--param", "SecurityGroupRuleId.1=sgr-mgmt-1")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if want := "i-bastion -> eni-web-mgmt IPv4 closes TCP 22"; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}
