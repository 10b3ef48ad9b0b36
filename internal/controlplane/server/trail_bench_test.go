package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
)

// BenchmarkObserveWrite compares what the observer adds to a write (the
// log line, the metrics, making and queueing the event) with the write
// itself (AuthorizeSecurityGroup, then RevokeSecurityGroup, through the
// RPC handlers on a SQLite store with fsync), both measured in this run:
// observe/write is the ratio.
func BenchmarkObserveWrite(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := api.New(st)
	boot, err := svc.Bootstrap(ctx, service.BootstrapKeys{})
	key := boot.Tenant
	if err != nil {
		b.Fatal(err)
	}
	routes := Routes(svc)
	hctx := rpc.WithAccessKeyID(ctx, key.ID)
	do := func(action string, p rpc.Params) (*rpc.Request, []byte) {
		req := &rpc.Request{Action: action, Version: api.ECSVersion, Params: p, AccessKeyID: key.ID, RequestID: rpc.NewRequestID()}
		res, err := routes[rpc.RouteKey{Version: api.ECSVersion, Action: action}](hctx, req)
		if err != nil {
			b.Fatalf("%s: %v", action, err)
		}
		body, _ := json.Marshal(res)
		return req, body
	}
	_, body := do("CreateSecurityGroup", rpc.Params{"RegionId": "cn-hangzhou"})
	var created struct{ SecurityGroupId string }
	json.Unmarshal(body, &created)
	rule := func() rpc.Params {
		return rpc.Params{"RegionId": "cn-hangzhou", "SecurityGroupId": created.SecurityGroupId, "IpProtocol": "TCP",
			"PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8", "AccessKeyId": key.ID, "Signature": "x", "SignatureNonce": "n"}
	}

	tr, err := trail.Open(filepath.Join(dir, "db.events"), trail.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	obs := &observer{log: slog.New(slog.NewJSONHandler(io.Discard, nil)), metrics: newMetrics(svc, st, routes, tr, nil, nil, nil), trail: tr,
		accounts: &accountCache{lookup: svc.AccountOfKey, m: map[string]string{}}}

	b.ResetTimer()
	start := time.Now()
	var calls []*rpc.Call
	for range b.N {
		for _, action := range []string{"AuthorizeSecurityGroup", "RevokeSecurityGroup"} {
			req, body := do(action, rule())
			calls = append(calls, &rpc.Call{Request: req, Method: "POST", Start: time.Now(), Status: 200, Body: body, RemoteAddr: "127.0.0.1:5000"})
		}
	}
	write := time.Since(start)
	start = time.Now()
	for _, c := range calls {
		obs.observe(c)
	}
	observe := time.Since(start)
	b.StopTimer()
	tr.Flush(ctx)
	if s := tr.Stats(); s.Recorded != uint64(len(calls)) {
		b.Fatalf("trail stats %+v, want %d recorded", s, len(calls))
	}
	n := float64(len(calls))
	b.ReportMetric(float64(write.Nanoseconds())/n, "ns/write")
	b.ReportMetric(float64(observe.Nanoseconds())/n, "ns/observe")
	b.ReportMetric(float64(observe)/float64(write), "observe/write")
}
