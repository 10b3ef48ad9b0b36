package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSgCloneAndVerify clones a group through the SDK-based CLI and checks
// the copy behaves as the original, with verify against the live server.
func TestSgCloneAndVerify(t *testing.T) {
	startServer(t)
	vpcID := id(t, "vpc", "vpc", "create", "--cidr", "10.0.0.0/16")
	vsw := id(t, "vsw", "vpc", "vswitch-create", "--vpc", vpcID, "--zone", "cn-hangzhou-h", "--cidr", "10.0.1.0/24")
	web := id(t, "sg", "sg", "create", "--name", "web", "--vpc", vpcID, "--description", "web tier")
	ok(t, "sg", "authorize", web, "--protocol", "tcp", "--port", "443", "--cidr", "0.0.0.0/0", "--description", "https")
	ok(t, "sg", "authorize", web, "--protocol", "tcp", "--port", "22", "--group", web, "--priority", "5")
	ok(t, "sg", "authorize", web, "--direction", "egress", "--policy", "drop", "--protocol", "udp", "--port", "53", "--cidr", "8.8.8.8/32")

	clone := id(t, "sg", "sg", "clone", web)
	show := ok(t, "sg", "show", clone)
	for _, want := range []string{"web-copy", "https", "443/443", "8.8.8.8/32"} {
		if !strings.Contains(show, want) {
			t.Errorf("the copy lacks %q:\n%s", want, show)
		}
	}
	// The self-referencing rule names the copy, not the original.
	peers := map[string]int{}
	for _, l := range strings.Split(show, "\n") {
		if f := strings.Fields(l); len(f) > 6 && strings.HasPrefix(f[0], "sgr-") {
			peers[f[6]]++
		}
	}
	if peers[web] != 0 || peers[clone] != 1 || len(peers) != 3 {
		t.Errorf("rule peers of the copy: %v (want the copy itself once, never the original)\n%s", peers, show)
	}
	code, _, errs := palisade("sg", "clone", "sg-nothere")
	if code == 0 || !strings.Contains(errs, "NotFound") {
		t.Errorf("clone of a missing group: exit %d, %s", code, errs)
	}

	a := strings.Fields(ok(t, "instance", "create", "--vswitch", vsw, "--sg", web))[0]
	b := strings.Fields(ok(t, "instance", "create", "--vswitch", vsw, "--sg", clone))[0]
	// b is in the copy: https from anywhere passes, ssh from a (not in the copy) does not.
	code, out, errs := palisade("verify", "--from", a, "--to", b, "--port", "443", "--json")
	if code != 0 {
		t.Fatalf("verify https: exit %d: %s %s", code, out, errs)
	}
	var r struct {
		Verdict string
		Ingress struct{ GroupId, Policy string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Verdict != "Accept" || r.Ingress.GroupId != clone {
		t.Fatalf("verify https: %v %+v\n%s", err, r, out)
	}
	code, out, _ = palisade("verify", "--from", a, "--to", b, "--port", "22")
	if code != 3 || !strings.Contains(out, "default inbound drop") {
		t.Errorf("verify ssh to the copy from outside it: exit %d\n%s", code, out)
	}
	code, _, errs = palisade("verify", "--from", "i-nothere", "--to", b, "--port", "22")
	if code != 1 || !strings.Contains(errs, "InvalidInstanceId.NotFound") {
		t.Errorf("verify from a missing instance: exit %d, %s", code, errs)
	}
}
