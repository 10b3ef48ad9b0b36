package audit

import "testing"

func TestChangeAlerting(t *testing.T) {
	on, off := true, false
	runCases(t, []checkCase{
		{name: "no alerting", check: "SGA-032", w: one(), opts: Options{ChangeAlerting: &off}, want: []string{AlertingResource + " - medium"}, contains: "no alert"},
		{name: "alerting configured", check: "SGA-032", w: one(), opts: Options{ChangeAlerting: &on}},
		{name: "not known (offline)", check: "SGA-032", w: one()},
		{name: "no groups", check: "SGA-032", w: world{}, opts: Options{ChangeAlerting: &off}},
	})
	// A configuration file cannot claim alerting: only the server knows.
	o, err := ParseConfig([]byte(`{"maxRules": 10}`))
	if err != nil || o.ChangeAlerting != nil {
		t.Fatalf("ParseConfig set ChangeAlerting: %v, %v", o.ChangeAlerting, err)
	}
}
