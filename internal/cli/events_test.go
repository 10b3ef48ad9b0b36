package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEvents(t *testing.T) {
	startServer(t)
	sg := id(t, "sg", "sg", "create", "--name", "web")
	ok(t, "sg", "authorize", sg, "--protocol", "tcp", "--port", "22", "--cidr", "10.0.0.0/8")
	if code, _, _ := palisade("sg", "delete", "sg-nothere"); code == 0 {
		t.Fatal("deleted a group that does not exist")
	}

	var evs []map[string]any
	if err := json.Unmarshal([]byte(ok(t, "events", "--json")), &evs); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev["eventName"].(string)+"/"+ev["errorCode"].(string))
	}
	want := []string{"DeleteSecurityGroup/InvalidSecurityGroupId.NotFound", "AuthorizeSecurityGroup/", "CreateSecurityGroup/"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events --json: %v, want newest first %v", got, want)
	}

	// --jsonl: the same events, one JSON object a line, across pages.
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(ok(t, "events", "--jsonl", "--max", "2")), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("events --jsonl: a line that is not one JSON object: %q", l)
		}
		lines = append(lines, ev["eventName"].(string))
	}
	if strings.Join(lines, " ") != "DeleteSecurityGroup AuthorizeSecurityGroup" {
		t.Errorf("events --jsonl --max 2: %v", lines)
	}
	if code, _, errs := palisade("events", "--json", "--jsonl"); code != 2 || !strings.Contains(errs, "not both") {
		t.Errorf("events --json --jsonl: exit %d, %s", code, errs)
	}

	out := ok(t, "events", "--action", "AuthorizeSecurityGroup")
	if r := row(out, "TIME"); r == nil || !strings.Contains(out, sg) || strings.Contains(out, "CreateSecurityGroup") {
		t.Errorf("events --action AuthorizeSecurityGroup:\n%s", out)
	}
	if code, _, errs := palisade("events", "--since", "-1h"); code != 2 || !strings.Contains(errs, "positive") {
		t.Errorf("events --since -1h: exit %d, %s", code, errs)
	}
}
