package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
)

// BenchmarkDescribeGroupsAnswer: a page of 50 groups (each with a rule
// and two tags), read by the handler and encoded as the server does
// (RawJSON, from the items memoised with the groups), against the same
// handler's answer encoded by reflection (as before): ratio is raw /
// reflect, both in this run; their difference is the encoding's saving.
func BenchmarkDescribeGroupsAnswer(b *testing.B) {
	call := benchCaller(b)
	for i := range 50 {
		id := call("CreateSecurityGroup", "", rpc.Params{"SecurityGroupName": fmt.Sprintf("web-%d", i), "Description": "the <web> tier & co",
			"Tag.1.Key": "env", "Tag.1.Value": "prod", "Tag.2.Key": "team", "Tag.2.Value": "net"}).(*createSecurityGroupResponse).SecurityGroupId
		call("AuthorizeSecurityGroup", "", rpc.Params{"SecurityGroupId": id, "IpProtocol": "tcp", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8"})
	}
	rawAgainstReflect(b, "page", 50*200, func(format string) rpc.RawJSON {
		return call("DescribeSecurityGroups", format, rpc.Params{"PageSize": "50"}).(*describeSecurityGroupsResponse)
	})
}

// BenchmarkDescribeAttributeAnswer: a group of 20 rules (CIDRs and a peer
// group) read by the handler and encoded as the server does
// (RawJSON, from the rule texts memoised with the group), against the
// same handler's answer with its Permissions made and encoded by
// reflection (as before): ratio is raw / reflect, both in this run.
func BenchmarkDescribeAttributeAnswer(b *testing.B) {
	call := benchCaller(b)
	id := call("CreateSecurityGroup", "", rpc.Params{"SecurityGroupName": "web", "Description": "the <web> tier & co"}).(*createSecurityGroupResponse).SecurityGroupId
	peer := call("CreateSecurityGroup", "", rpc.Params{"SecurityGroupName": "app"}).(*createSecurityGroupResponse).SecurityGroupId
	for i := range 19 {
		call("AuthorizeSecurityGroup", "", rpc.Params{"SecurityGroupId": id, "IpProtocol": "tcp", "PortRange": fmt.Sprintf("%d/%d", 1000+i, 1000+i),
			"SourceCidrIp": fmt.Sprintf("10.%d.0.0/16", i), "Description": "rule <n> & more"})
	}
	call("AuthorizeSecurityGroup", "", rpc.Params{"SecurityGroupId": id, "IpProtocol": "tcp", "PortRange": "22/22", "SourceGroupId": peer})
	rawAgainstReflect(b, "answer", 20*300, func(format string) rpc.RawJSON {
		return call("DescribeSecurityGroupAttribute", format, rpc.Params{"SecurityGroupId": id}).(*describeSecurityGroupAttributeResponse)
	})
}

// benchRequestID is the request ID of the benchmarks' calls.
const benchRequestID = "6C1E7B6A-0000-4000-8000-000000000001"

// benchCaller is a service on a new store, called through its routes as
// the bootstrap tenant.
func benchCaller(b *testing.B) func(action, format string, p rpc.Params) any {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	s := New(st)
	keys, err := s.Bootstrap(ctx, service.BootstrapKeys{})
	if err != nil {
		b.Fatal(err)
	}
	key, routes := keys.Tenant.ID, s.Routes()
	return func(action, format string, p rpc.Params) any {
		p["RegionId"] = "cn-hangzhou"
		out, err := routes[rpc.RouteKey{Version: ECSVersion, Action: action}](rpc.WithAccessKeyID(ctx, key),
			&rpc.Request{Action: action, Version: ECSVersion, Params: p, AccessKeyID: key, Format: format, RequestID: benchRequestID})
		if err != nil {
			b.Fatal(action, err)
		}
		return out
	}
}

// rawAgainstReflect times answers read with Format=JSON and written by
// their RawJSON against answers read without a format and encoded by
// reflection, in turns in one run; each must be at least min bytes. It
// reports µs per answer of both and their ratio.
func rawAgainstReflect(b *testing.B, unit string, min int, read func(format string) rpc.RawJSON) {
	answer := func(format string) rpc.RawJSON {
		out := read(format)
		out.(interface{ SetRequestID(string) }).SetRequestID(benchRequestID)
		return out
	}
	raw := func(int) {
		if body, err := answer("JSON").RawJSON(); err != nil || len(body) < min {
			b.Fatal(err, len(body))
		}
	}
	var buf bytes.Buffer
	reflect := func(int) {
		buf.Reset()
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(answer("")); err != nil || buf.Len() < min {
			b.Fatal(err, buf.Len())
		}
	}
	raw(0)
	reflect(0)
	b.ResetTimer()
	var tr, tf time.Duration
	for range b.N {
		tr += timeOf(20, raw)
		tf += timeOf(20, reflect)
	}
	b.ReportMetric(float64(tr.Microseconds())/float64(b.N), "µs/"+unit+"-raw")
	b.ReportMetric(float64(tf.Microseconds())/float64(b.N), "µs/"+unit+"-reflect")
	b.ReportMetric(float64(tr)/float64(tf), "ratio")
}

// timeOf is the mean time of n calls of f.
func timeOf(n int, f func(i int)) time.Duration {
	start := time.Now()
	for i := range n {
		f(i)
	}
	return time.Since(start) / time.Duration(n)
}
