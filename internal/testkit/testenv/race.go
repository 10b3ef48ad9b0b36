package testenv

import (
	"errors"
	"fmt"
	"sync"

	"github.com/alibabacloud-go/tea/tea"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// APIError reads the ECS error code and HTTP status an SDK call returned
// (V1 SDK or V3 tea client); ok is false for an error that is not an
// answer (the network).
func APIError(err error) (code string, status int, ok bool) {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.ErrorCode(), se.HttpStatus(), true
	}
	var te *tea.SDKError
	if errors.As(err, &te) {
		return tea.StringValue(te.Code), tea.IntValue(te.StatusCode), true
	}
	return "", 0, false
}

// QuotaRace sends attempts distinct rules into one group (port p for
// p = 1…attempts, by authorize) from six concurrent workers, worker w
// through clients[w % len(clients)] (spread them over the servers of an
// installation), resending a write
// answered OperationConflict (409) as a client would. It fails t unless
// exactly limit land and the others are refused with
// AuthorizationLimitExceed, and returns the ports that landed. names[i]
// names clients[i] in failures.
func QuotaRace(t TB, clients []*ecs.Client, names []string, attempts, limit int, authorize func(c *ecs.Client, port int) error) []int {
	t.Helper()
	const workers = 6
	next := make(chan int, attempts)
	for p := 1; p <= attempts; p++ {
		next <- p
	}
	close(next)
	var (
		mu                 sync.Mutex
		ok                 []int
		refused, conflicts int
		problems           []string
		wg                 sync.WaitGroup
	)
	for w := range workers {
		c, name := clients[w%len(clients)], names[w%len(names)]
		wg.Go(func() {
			for p := range next {
				for retry := true; retry; {
					err := authorize(c, p)
					code, status, _ := APIError(err)
					retry = false
					mu.Lock()
					switch {
					case err == nil:
						ok = append(ok, p)
					case code == "AuthorizationLimitExceed" && status == 403:
						refused++
					case code == "OperationConflict" && status == 409:
						conflicts++
						retry = true
					default:
						problems = append(problems, fmt.Sprintf("server %s port %d: %v", name, p, err))
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, p := range problems {
		t.Errorf("%s", p)
	}
	if len(ok) != limit || refused != attempts-limit {
		t.Fatalf("%d succeeded and %d were refused; want %d and %d", len(ok), refused, limit, attempts-limit)
	}
	t.Logf("%d writes answered OperationConflict and were sent again", conflicts)
	return ok
}
