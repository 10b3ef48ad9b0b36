package apitest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// TestConcurrentAuthorize: six clients race 300 distinct rules into one
// group. The quota check and the write happen in one transaction, so
// exactly 200 land and every other attempt is refused, none lost or doubled.
func TestConcurrentAuthorize(t *testing.T) {
	e := newEnv(t)
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	sg := createGroup(t, e.ecs, "contended", v, "")

	const workers, attempts = 6, 300
	ports := make(chan int, attempts)
	for p := 1; p <= attempts; p++ {
		ports <- p
	}
	close(ports)

	var (
		mu       sync.Mutex
		ok       []int
		refused  int
		problems []string
		wg       sync.WaitGroup
	)
	for w := range workers {
		// Each worker signs with its own client (own nonces, own
		// connections), made here because t.Fatal must not run in the
		// worker goroutine.
		c := newECS(t, e.addr, e.ak, e.secret)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range ports {
				err := authorize(c, sg, cidrIngress("TCP", fmt.Sprintf("%d/%d", p, p), "10.0.0.0/8"))
				code, status, isAPI := apiError(err)
				mu.Lock()
				switch {
				case err == nil:
					ok = append(ok, p)
				case isAPI && code == "AuthorizationLimitExceed" && status == 403:
					refused++
				default:
					problems = append(problems, fmt.Sprintf("worker %d port %d: %v", w, p, err))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if len(ok) != 200 || refused != attempts-200 {
		t.Fatalf("%d succeeded and %d were refused; want 200 and %d", len(ok), refused, attempts-200)
	}

	// Exactly the accepted rules are in the group, once each.
	got := map[string]int{}
	for _, p := range rules(t, e.ecs, sg, "") {
		got[p.PortRange]++
	}
	if len(got) != 200 {
		t.Errorf("%d distinct rules in the group, want 200", len(got))
	}
	for _, p := range ok {
		if k := fmt.Sprintf("%d/%d", p, p); got[k] != 1 {
			t.Errorf("accepted rule %s is there %d times", k, got[k])
		}
	}
	if n, _ := ruleCount(t, e.ecs, sg); n != 200 {
		t.Errorf("RuleCount %d, want 200", n)
	}
	wantErr(t, authorize(e.ecs, sg, cidrIngress("TCP", "40000/40000", "10.0.0.0/8")), 403, "AuthorizationLimitExceed")
	eg := ecs.CreateAuthorizeSecurityGroupEgressRequest()
	eg.SecurityGroupId = sg
	eg.Permissions = &[]ecs.AuthorizeSecurityGroupEgressPermissions{{IpProtocol: "TCP", PortRange: "1/1", DestCidrIp: "10.0.0.0/8"}}
	_, err := e.ecs.AuthorizeSecurityGroupEgress(eg)
	wantErr(t, err, 403, "AuthorizationLimitExceed")
}
