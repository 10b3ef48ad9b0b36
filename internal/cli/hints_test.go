package cli

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestErrorHints: the errors a newcomer meets first (a key the server does
// not know, a wrong secret, no server at the endpoint, https:// against
// plain HTTP) say what to do, in every kind of client command: the SDK's
// (sg), the analyses' (reach) and apply's, which printed the SDK's
// multi-line error text with its headers.
func TestErrorHints(t *testing.T) {
	startServer(t)
	addr := os.Getenv("PALISADE_ENDPOINT")
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	scenario := "../../testdata/scenarios/03-databases.yaml"
	commands := [][]string{{"sg", "list"}, {"reach"}, {"apply", scenario, "--dry-run"}}
	tests := []struct {
		name     string
		id       string
		secret   string
		endpoint string
		want     []string
	}{
		{"unknown key", "LTAInosuchkey", "x", addr, []string{"InvalidAccessKeyId.NotFound", "hint: this server has no such key"}},
		{"wrong secret", testenv.KeyID, "wrong", addr, []string{"SignatureDoesNotMatch", "hint: the secret is not the key's"}},
		{"no server", testenv.KeyID, testenv.Secret, closedAddr, []string{"connection refused", "hint: nothing listens there: start palisade serve"}},
		{"https to plain HTTP", testenv.KeyID, testenv.Secret, "https://" + addr, []string{"hint: the server serves plain HTTP"}},
	}
	for _, tt := range tests {
		for _, cmd := range commands {
			t.Run(tt.name+"/"+cmd[0], func(t *testing.T) {
				t.Setenv("PALISADE_ACCESS_KEY_ID", tt.id)
				t.Setenv("PALISADE_ACCESS_KEY_SECRET", tt.secret)
				code, _, errs := palisade(append(cmd, "--endpoint", tt.endpoint)...)
				if code != 1 {
					t.Errorf("exit %d, want 1; stderr %q", code, errs)
				}
				for _, w := range tt.want {
					if !strings.Contains(errs, w) {
						t.Errorf("stderr %q lacks %q", errs, w)
					}
				}
				if strings.Contains(errs, "RespHeaders") || strings.Contains(errs, "api.aliyun.com") {
					t.Errorf("stderr has the SDK's raw error text: %q", errs)
				}
			})
		}
	}
}

// TestIPv6Hint: a vSwitch asking for IPv6 in a VPC made without it gets
// the CLI's way to make one (the API's message names EnableIpv6=true).
func TestIPv6Hint(t *testing.T) {
	startServer(t)
	code, out, errs := palisade("vpc", "create", "--cidr", "10.40.0.0/16")
	if code != 0 {
		t.Fatalf("vpc create: exit %d: %s", code, errs)
	}
	vpc := strings.TrimSpace(out)
	code, _, errs = palisade("vpc", "vswitch-create", "--vpc", vpc, "--zone", "cn-hangzhou-h", "--cidr", "10.40.1.0/24", "--ipv6-block", "1")
	if code != 1 || !strings.Contains(errs, "OperationFailed.VpcNotEnableIpv6") || !strings.Contains(errs, "hint: a VPC gets its IPv6 block when it is made: palisade vpc create --ipv6") {
		t.Errorf("exit %d, stderr %q: want the error and the hint", code, errs)
	}
}
