package agent

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestKilledAgentsBatch: an agent killed while it sends a batch, before it
// learnt the answer, leaves the batch beside its state file; the agent
// started after it sends it first, under the same token, and the real
// server keeps it exactly once, whether the first sending reached it (the
// answer lost) or not.
func TestKilledAgentsBatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reached bool // the first sending reached the server
	}{
		{"the server kept it, the answer was lost", true},
		{"the server never had it", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			const keyID, secret = "LTAIagentkilltest0000", "agent-kill-secret"
			const opID, opSecret = "LTAIagentkillop000000", "agent-kill-op-secret"
			srv, _, _ := serveRecords(t, ctx, keyID, secret, opID, opSecret)
			defer cancel()
			tenant, err := srv.Ops.CallerOf(ctx, keyID, "cn-hangzhou", true)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Ops.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: tenant, ResourceType: model.FlowLogVPC, ResourceID: "vpc-a", TrafficType: model.TrafficAll}); err != nil {
				t.Fatal(err)
			}

			// The first request through the proxy gets no answer: it is
			// passed on (and its answer dropped) or not at all.
			target := &url.URL{Scheme: "http", Host: srv.Addr}
			var first atomic.Bool
			proxy := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !first.Swap(true) {
					if tc.reached {
						httputil.NewSingleHostReverseProxy(target).ServeHTTP(&discard{h: http.Header{}}, r)
					}
					panic(http.ErrAbortHandler)
				}
				httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
			})}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go proxy.Serve(l)
			defer proxy.Close()
			src, err := newFailover([]string{l.Addr().String()}, opID, opSecret, host, func(string, ...any) {})
			if err != nil {
				t.Fatal(err)
			}

			cfg := Config{Host: host, Log: quiet, Flow: FlowConfig{StateFile: filepath.Join(t.TempDir(), "flow.state")}}
			killed := newFlows(cfg, src)
			now := time.Now().Unix()
			for p := range 20 {
				killed.pending = append(killed.pending, FlowRecord{Version: 1, EniId: "eni-1", SrcAddr: "10.0.9.9", SrcPort: 1000 + p, DstAddr: "10.0.0.1",
					DstPort: 80, Protocol: 6, Direction: "in", Packets: 1, Bytes: 60, Start: now - 1, End: now, Action: "ACCEPT", LogStatus: "OK",
					Reason: "rule", SecurityGroupId: "sg-web", SecurityGroupRuleId: "sgr-web", Priority: 1, Policy: "Accept"})
			}
			if err := killed.ship(ctx); err == nil {
				t.Fatal("the first sending was answered; the proxy should have kept its answer")
			}
			// The agent is killed here, its memory lost; the next one starts.
			next := newFlows(cfg, src)
			next.loadBatch()
			if err := next.ship(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := srv.Ops.DescribeFlowRecords(ctx, service.FlowRecordFilter{Caller: tenant, Page: service.Page{Tokens: true, Size: 100}})
			if err != nil || got.Total != 20 {
				t.Fatalf("the tenant reads %d records (%v), want the batch's 20, once", got.Total, err)
			}
			if _, err := os.Stat(next.batchFile()); !os.IsNotExist(err) {
				t.Errorf("the batch file outlived the answer: %v", err)
			}
		})
	}
}

// discard is an answer nobody reads.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
