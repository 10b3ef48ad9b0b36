package cli

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/testkit/signedpost"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
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

// TestEventsShowOthersTextInert: the operator's events hold what tenants
// (and, refused before a signature held, anyone) sent: actions, resource
// IDs and regions as they were written, terminal escape sequences
// included. The table shows them escaped, so a tenant cannot clear the
// operator's screen, retitle the terminal or reorder a line (it printed
// them as they were).
func TestEventsShowOthersTextInert(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	tenant := srv.NewAccount(t, "tenant")
	for _, tc := range []struct {
		name   string
		params map[string]string
		shown  string // what the table shows of it
	}{
		{"action with a title sequence", map[string]string{"Action": "Describe\x1b]0;owned\x07X"}, `Describe\x1b]0;owned\x07X`},
		{"resource that clears the screen", map[string]string{"Action": "DeleteSecurityGroup", "SecurityGroupId": "sg-abc\x1b[2J"}, `sg-abc\x1b[2J`},
		{"resource with a C1 control", map[string]string{"Action": "DeleteSecurityGroup", "SecurityGroupId": "sg-c1\u009b2J"}, `sg-c1\x9b2J`},
		{"resource that reverses what follows", map[string]string{"Action": "DeleteSecurityGroup", "SecurityGroupId": "sg-rtl\u202eabc"}, `sg-rtl\u202eabc`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := map[string]string{"Version": "2014-05-26", "RegionId": "cn-hangzhou"}
			maps.Copy(p, tc.params)
			req, err := signedpost.Request(context.Background(), srv.Addr, tenant.KeyID, tenant.Secret, p)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Fatalf("the hostile call was accepted (%d)", resp.StatusCode)
			}
			srv.SetOperatorEnv(t)
			out := ok(t, "events", "--max", "1")
			if i := strings.IndexFunc(out, func(r rune) bool { return r != '\n' && unsafeRune(r) }); i >= 0 {
				t.Errorf("the operator's events print %q raw:\n%q", []rune(out[i:])[0], out)
			}
			if !strings.Contains(out, tc.shown) {
				t.Errorf("the operator's events do not show %s:\n%s", tc.shown, out)
			}
		})
	}
}
