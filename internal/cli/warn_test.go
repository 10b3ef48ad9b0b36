package cli

import (
	"strings"
	"testing"
)

// TestAuthorizeWarnsOfRiskyRules: a rule that opens an administration or
// database port to the internet, or half of it, is added and warned of on
// stderr, as the console warns before it (audit.RiskyOpened); the rule's ID
// alone is still what stdout prints.
func TestAuthorizeWarnsOfRiskyRules(t *testing.T) {
	startServer(t)
	vpcID := id(t, "vpc", "vpc", "create", "--cidr", "10.0.0.0/16", "--name", "main")
	sg := id(t, "sg", "sg", "create", "--name", "web", "--vpc", vpcID)
	cases := []struct {
		name string
		args []string
		want string // in the warning; "" for none
	}{
		{"SSH from anywhere", []string{"--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0"}, "SSH (22) to the whole internet (0.0.0.0/0)"},
		{"MySQL from IPv6 global unicast", []string{"--protocol", "tcp", "--port", "3306", "--cidr", "2000::/3"}, "MySQL (3306) to the whole internet (2000::/3)"},
		{"RDP from half the internet", []string{"--protocol", "udp", "--port", "3389", "--cidr", "128.0.0.0/1"}, "RDP (3389) to half the internet (128.0.0.0/1)"},
		{"all protocols", []string{"--protocol", "all", "--cidr", "0.0.0.0/0", "--priority", "3"}, "SSH (22), RDP (3389)"},
		{"SSH from the office", []string{"--protocol", "tcp", "--port", "22", "--cidr", "203.0.113.0/24"}, ""},
		{"HTTPS from anywhere", []string{"--protocol", "tcp", "--port", "443", "--cidr", "0.0.0.0/0"}, ""},
		{"a drop", []string{"--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0", "--policy", "drop"}, ""},
		{"egress", []string{"--direction", "egress", "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0"}, ""},
		{"SSH over UDP", []string{"--protocol", "udp", "--port", "22", "--cidr", "0.0.0.0/0"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := palisade(append([]string{"sg", "authorize", sg}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
			}
			if f := strings.Fields(out); len(f) != 1 || !strings.HasPrefix(f[0], "sgr-") {
				t.Errorf("stdout = %q, want one rule ID", out)
			}
			if tc.want == "" {
				if errs != "" {
					t.Errorf("stderr = %q, want nothing", errs)
				}
				return
			}
			if !strings.Contains(errs, "warning: ") || !strings.Contains(errs, tc.want) {
				t.Errorf("stderr = %q, want a warning naming %q", errs, tc.want)
			}
		})
	}
}
