package apitest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// serveProcess is "palisade serve" run as its own process on a store, so
// that a test can kill it with SIGKILL.
type serveProcess struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

var servingAddr = regexp.MustCompile(`serving the ECS API .* on https?://([0-9.:]+)/`)

func startServe(t *testing.T, bin, db string) *serveProcess {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--db", db, "--log-level", "error")
	cmd.Env = append(os.Environ(), "PALISADE_ACCESS_KEY_ID="+testenv.KeyID, "PALISADE_ACCESS_KEY_SECRET="+testenv.Secret,
		"PALISADE_OPERATOR_KEY_ID="+testenv.OperatorKeyID, "PALISADE_OPERATOR_KEY_SECRET="+testenv.OperatorSecret)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := servingAddr.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	select {
	case p.addr = <-addr:
	case <-p.done:
		t.Fatalf("palisade serve exited while starting: %v", cmd.ProcessState)
	case <-time.After(60 * time.Second):
		p.kill()
		t.Fatal("palisade serve not serving after 60 s")
	}
	return p
}

// kill is kill -9.
func (p *serveProcess) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// TestFlowBatchRetry: an agent's batch of flow records whose answer never
// reached it is sent again under the same ClientToken, and the server
// keeps it exactly once: when the answer was lost on the way, and when the
// server (a real process) was killed with SIGKILL after its sync, before
// its answer went out, then started again on the same files. A restarted
// agent's batches (tokens of their own) are all kept, and what was
// acknowledged survives another kill -9.
func TestFlowBatchRetry(t *testing.T) {
	bin := testenv.BuildPalisade(t)
	for _, tc := range []struct {
		name string
		// crash kills the server when its answer to the first sending
		// comes back, before it is passed on.
		crash bool
		// restartedAgent: the batch is not sent again (the agent died
		// with it in memory); its successor sends its own.
		restartedAgent bool
	}{
		{"answer lost", false, false},
		{"server killed after the sync", true, false},
		{"agent restarted", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := flowStore(t)
			srv := startServe(t, bin, db)

			// The agent's server is a proxy that drops the first answer.
			var backend atomic.Pointer[url.URL]
			backend.Store(&url.URL{Scheme: "http", Host: srv.addr})
			var dropped atomic.Bool
			var mu sync.Mutex // one request at a time, as the agent ships
			proxy := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				rec := &captured{header: http.Header{}}
				httputil.NewSingleHostReverseProxy(backend.Load()).ServeHTTP(rec, r)
				if !dropped.Swap(true) {
					if tc.crash {
						srv.kill()
					}
					panic(http.ErrAbortHandler) // the connection closes with no answer
				}
				for k, v := range rec.header {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.status)
				w.Write(rec.body)
			})}
			pl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go proxy.Serve(pl)
			t.Cleanup(func() { proxy.Close() })

			agent, err := apiclient.New(pl.Addr().String(), testenv.OperatorKeyID, testenv.OperatorSecret, testenv.Region)
			if err != nil {
				t.Fatal(err)
			}
			batches := map[int][]byte{} // the same records each time, as the agent sends them
			ship := func(token string, first int) error {
				b, ok := batches[first]
				if !ok {
					b, _ = json.Marshal(flowBatch(first, 20))
					batches[first] = b
				}
				var out struct{ Accepted, Refused int }
				err := agent.Call(ctx, "PalisadeReportFlowRecords", map[string]string{"HostName": "h1", "Records": string(b), "ClientToken": token}, &out, 0)
				if err == nil && (out.Accepted != 20 || out.Refused != 0) {
					err = fmt.Errorf("answer %+v, want 20 accepted", out)
				}
				return err
			}
			if err := ship("agent-a-1", 0); err == nil {
				t.Fatal("the first sending was answered; the proxy should have dropped its answer")
			}
			if tc.crash {
				srv = startServe(t, bin, db)
				backend.Store(&url.URL{Scheme: "http", Host: srv.addr})
			}
			want := 20
			if tc.restartedAgent {
				if err := ship("agent-b-1", 100); err != nil {
					t.Fatal(err)
				}
				want = 40
			} else if err := ship("agent-a-1", 0); err != nil {
				t.Fatalf("the retry: %v", err)
			}
			if got := countFlowRecords(t, srv.addr); got != want {
				t.Fatalf("%d records kept, want %d: each once", got, want)
			}
			// What was acknowledged survives a kill -9, and a retry after
			// it is still recognised.
			srv.kill()
			srv = startServe(t, bin, db)
			backend.Store(&url.URL{Scheme: "http", Host: srv.addr})
			if err := ship("agent-a-1", 0); err != nil {
				t.Fatalf("a retry after a restart: %v", err)
			}
			if got := countFlowRecords(t, srv.addr); got != want {
				t.Fatalf("after a kill -9 and one more retry: %d records kept, want %d", got, want)
			}
		})
	}
}

// captured is a whole answer held back by the proxy.
type captured struct {
	header http.Header
	status int
	body   []byte
}

func (c *captured) Header() http.Header { return c.header }
func (c *captured) WriteHeader(s int)   { c.status = s }
func (c *captured) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body = append(c.body, b...)
	return len(b), nil
}

// flowStore makes a store with an instance on host h1 (its ENI eni-web)
// and a flow log over its VPC, and returns its file, the server stopped.
func flowStore(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	s := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	vpc := &model.VPC{ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16")}
	in := modeltest.Instance("i-web", vpc.ID, "10.0.0.1", "sg-web")
	in.Status, in.Host, in.Interface = model.StatusRunning, "h1", "pi-1"
	g := modeltest.Group("sg-web", vpc.ID, "basic", modeltest.Rule("sgr-http", "in accept 1 TCP 80/80 0.0.0.0/0"))
	if _, err := s.Ops.Import(ctx, testenv.Region, api.Resources{VPCs: []*model.VPC{vpc}, Groups: []*model.SecurityGroup{g},
		Instances: []*model.Instance{in}}); err != nil {
		t.Fatal(err)
	}
	tenant, err := s.Ops.CallerOf(ctx, s.KeyID, testenv.Region, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ops.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: tenant, ResourceType: model.FlowLogVPC, ResourceID: vpc.ID, TrafficType: model.TrafficAll}); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	return s.DB
}

// flowBatch is n records of eni-web, their source ports from first.
func flowBatch(first, n int) []service.FlowRecord {
	now := time.Now().Unix()
	var out []service.FlowRecord
	for p := first; p < first+n; p++ {
		out = append(out, service.FlowRecord{Version: 1, EniId: "eni-web", SrcAddr: "10.0.9.9", SrcPort: 1000 + p, DstAddr: "10.0.0.1", DstPort: 80,
			Protocol: 6, Direction: "in", Packets: 1, Bytes: 60, Start: now - 1, End: now, Action: "ACCEPT", LogStatus: "OK",
			Reason: "rule", SecurityGroupId: "sg-web", SecurityGroupRuleId: "sgr-http", Priority: 1, Policy: "Accept"})
	}
	return out
}

// countFlowRecords is the tenant's count of records, each distinct: a
// record kept twice is counted twice.
func countFlowRecords(t *testing.T, addr string) int {
	t.Helper()
	c, err := apiclient.New(addr, testenv.KeyID, testenv.Secret, testenv.Region)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ TotalCount int }
	if err := c.Call(context.Background(), "PalisadeDescribeFlowRecords", map[string]string{"MaxResults": "500"}, &out, 0); err != nil {
		t.Fatal(err)
	}
	return out.TotalCount
}
