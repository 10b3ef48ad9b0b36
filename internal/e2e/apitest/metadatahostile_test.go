package apitest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
)

// TestMetadataOptionsHostile: ModifyInstanceMetadataOptions and
// RunInstances' metadata options take each option's values and bounds
// only; anything else, and another tenant's instance, is refused with
// ECS's envelope and changes nothing.
func TestMetadataOptionsHostile(t *testing.T) {
	e := newEnv(t)
	n := newNetwork(t, e, "10.0.0.0/16")
	inst := runInstance(t, e.ecs, n.vsw, n.sgA)
	b := e.srv.NewAccount(t, "b")
	send, codes := rawSender(t, e)
	defer func() { t.Logf("answers: %v", codes) }()
	modify := func(key, secret string, p ...kv) answer {
		return send(api.ECSVersion, key, secret, "ModifyInstanceMetadataOptions", p...)
	}
	options := func() string {
		a := send(api.ECSVersion, e.ak, e.secret, "DescribeInstances", kv{"InstanceIds", `["` + inst + `"]`})
		l := a.m["Instances"].(map[string]any)["Instance"].([]any)
		if a.status != 200 || len(l) != 1 {
			t.Fatalf("DescribeInstances: %d %.300s", a.status, a.body)
		}
		return fmt.Sprint(l[0].(map[string]any)["MetadataOptions"])
	}
	refused := func(what string, a answer, code string) {
		t.Helper()
		c, _ := a.m["Code"].(string)
		if a.status != 400 && a.status != 404 || c == "" || a.m["Message"] == "" || a.m["RequestId"] == "" || code != "" && c != code {
			t.Errorf("%s: %d %.300s; want a refusal %s", what, a.status, a.body, code)
		}
	}
	ok := func(what string, a answer) {
		t.Helper()
		if a.status != 200 {
			t.Errorf("%s: %d %.300s", what, a.status, a.body)
		}
	}
	start := options()
	id := kv{"InstanceId", inst}
	for _, tc := range []struct {
		name, value string
	}{
		{"HttpEndpoint", "Enabled"}, {"HttpEndpoint", "true"}, {"HttpEndpoint", " enabled"}, {"HttpEndpoint", "enabled\x00"},
		{"HttpEndpoint", strings.Repeat("e", 10000)}, {"HttpTokens", "Required"}, {"HttpTokens", "none"}, {"HttpTokens", "required "},
		{"HttpPutResponseHopLimit", "0"}, {"HttpPutResponseHopLimit", "-1"}, {"HttpPutResponseHopLimit", "65"},
		{"HttpPutResponseHopLimit", "1.5"}, {"HttpPutResponseHopLimit", "abc"},
		{"HttpPutResponseHopLimit", "99999999999999999999"}, {"HttpPutResponseHopLimit", "4294967297"}, {"HttpPutResponseHopLimit", "0x10"},
		{"InstanceMetadataTags", "enabled"}, {"InstanceMetadataTags", "x"},
	} {
		what := fmt.Sprintf("%s=%.20q", tc.name, tc.value)
		refused(what, modify(e.ak, e.secret, id, kv{tc.name, tc.value}), "")
		// With a valid option beside it: still nothing changed.
		refused(what+" with HttpTokens=required", modify(e.ak, e.secret, id, kv{"HttpTokens", "required"}, kv{tc.name, tc.value}), "")
		r := send(api.ECSVersion, e.ak, e.secret, "RunInstances", kv{"ImageId", imageID}, kv{"InstanceType", instanceType},
			kv{"VSwitchId", n.vsw}, kv{"SecurityGroupId", n.sgA}, kv{tc.name, tc.value})
		refused("RunInstances "+what, r, "")
	}
	if got := options(); got != start {
		t.Errorf("refused changes changed the options: %s, was %s", got, start)
	}
	if l := send(api.ECSVersion, e.ak, e.secret, "DescribeInstances", kv{"MaxResults", "100"}); strings.Count(string(l.body), `"InstanceId"`) != 1 {
		t.Errorf("refused launches made instances: %.1000s", l.body)
	}
	refused("no InstanceId", modify(e.ak, e.secret, kv{"HttpTokens", "required"}), "MissingParameter")

	// Another tenant: A's instance answers as one that exists nowhere.
	mine := modify(b.KeyID, b.Secret, id, kv{"HttpTokens", "required"})
	nowhere := modify(b.KeyID, b.Secret, kv{"InstanceId", fakeID(inst)}, kv{"HttpTokens", "required"})
	refused("B on A's instance", mine, "")
	if mine.status != nowhere.status || mine.m["Code"] != nowhere.m["Code"] ||
		strings.ReplaceAll(fmt.Sprint(mine.m["Message"]), inst, "ID") != strings.ReplaceAll(fmt.Sprint(nowhere.m["Message"]), fakeID(inst), "ID") {
		t.Errorf("B on A's instance: %.300s; on one that exists nowhere: %.300s", mine.body, nowhere.body)
	}
	if got := options(); got != start {
		t.Errorf("B changed A's options: %s, was %s", got, start)
	}

	// The bounds themselves are taken, and read back.
	for _, p := range [][]kv{{{"HttpPutResponseHopLimit", "1"}}, {{"HttpPutResponseHopLimit", "64"}, {"HttpTokens", "required"}, {"HttpEndpoint", "disabled"}}} {
		ok(fmt.Sprint(p), modify(e.ak, e.secret, append(p, id)...))
	}
	if got, want := options(), "map[HttpEndpoint:disabled HttpPutResponseHopLimit:64 HttpTokens:required]"; got != want {
		t.Errorf("options %s, want %s", got, want)
	}
}
