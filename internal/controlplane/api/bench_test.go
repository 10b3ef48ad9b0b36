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
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s := New(st)
	keys, err := s.Bootstrap(ctx, service.BootstrapKeys{})
	if err != nil {
		b.Fatal(err)
	}
	key, routes := keys.Tenant.ID, s.Routes()
	call := func(action string, p rpc.Params) any {
		p["RegionId"] = "cn-hangzhou"
		out, err := routes[rpc.RouteKey{Version: ECSVersion, Action: action}](rpc.WithAccessKeyID(ctx, key),
			&rpc.Request{Action: action, Version: ECSVersion, Params: p, AccessKeyID: key, RequestID: "6C1E7B6A-0000-4000-8000-000000000001"})
		if err != nil {
			b.Fatal(action, err)
		}
		return out
	}
	for i := range 50 {
		id := call("CreateSecurityGroup", rpc.Params{"SecurityGroupName": fmt.Sprintf("web-%d", i), "Description": "the <web> tier & co",
			"Tag.1.Key": "env", "Tag.1.Value": "prod", "Tag.2.Key": "team", "Tag.2.Value": "net"}).(*createSecurityGroupResponse).SecurityGroupId
		call("AuthorizeSecurityGroup", rpc.Params{"SecurityGroupId": id, "IpProtocol": "tcp", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8"})
	}
	page := func() *describeSecurityGroupsResponse {
		out := call("DescribeSecurityGroups", rpc.Params{"PageSize": "50"}).(*describeSecurityGroupsResponse)
		out.SetRequestID("6C1E7B6A-0000-4000-8000-000000000001")
		return out
	}
	raw := func(int) {
		if body, err := page().RawJSON(); err != nil || len(body) < 50*200 {
			b.Fatal(err, len(body))
		}
	}
	var buf bytes.Buffer
	reflect := func(int) {
		buf.Reset()
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(page()); err != nil || buf.Len() < 50*200 {
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
	b.ReportMetric(float64(tr.Microseconds())/float64(b.N), "µs/page-raw")
	b.ReportMetric(float64(tf.Microseconds())/float64(b.N), "µs/page-reflect")
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

// BenchmarkDescribeAttributeAnswer: a group of 20 rules (CIDRs and a peer
// group) read by the handler and encoded as the server does
// (RawJSON, from the rule texts memoised with the group), against the
// same handler's answer with its Permissions made and encoded by
// reflection (as before): ratio is raw / reflect, both in this run.
func BenchmarkDescribeAttributeAnswer(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s := New(st)
	keys, err := s.Bootstrap(ctx, service.BootstrapKeys{})
	if err != nil {
		b.Fatal(err)
	}
	key, routes := keys.Tenant.ID, s.Routes()
	call := func(action, format string, p rpc.Params) any {
		p["RegionId"] = "cn-hangzhou"
		out, err := routes[rpc.RouteKey{Version: ECSVersion, Action: action}](rpc.WithAccessKeyID(ctx, key),
			&rpc.Request{Action: action, Version: ECSVersion, Params: p, AccessKeyID: key, Format: format, RequestID: "6C1E7B6A-0000-4000-8000-000000000001"})
		if err != nil {
			b.Fatal(action, err)
		}
		return out
	}
	id := call("CreateSecurityGroup", "", rpc.Params{"SecurityGroupName": "web", "Description": "the <web> tier & co"}).(*createSecurityGroupResponse).SecurityGroupId
	peer := call("CreateSecurityGroup", "", rpc.Params{"SecurityGroupName": "app"}).(*createSecurityGroupResponse).SecurityGroupId
	for i := range 19 {
		call("AuthorizeSecurityGroup", "", rpc.Params{"SecurityGroupId": id, "IpProtocol": "tcp", "PortRange": fmt.Sprintf("%d/%d", 1000+i, 1000+i),
			"SourceCidrIp": fmt.Sprintf("10.%d.0.0/16", i), "Description": "rule <n> & more"})
	}
	call("AuthorizeSecurityGroup", "", rpc.Params{"SecurityGroupId": id, "IpProtocol": "tcp", "PortRange": "22/22", "SourceGroupId": peer})
	read := func(format string) *describeSecurityGroupAttributeResponse {
		out := call("DescribeSecurityGroupAttribute", format, rpc.Params{"SecurityGroupId": id}).(*describeSecurityGroupAttributeResponse)
		out.SetRequestID("6C1E7B6A-0000-4000-8000-000000000001")
		return out
	}
	raw := func(int) {
		if body, err := read("JSON").RawJSON(); err != nil || len(body) < 20*300 {
			b.Fatal(err, len(body))
		}
	}
	var buf bytes.Buffer
	reflect := func(int) {
		buf.Reset()
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(read("")); err != nil || buf.Len() < 20*300 {
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
	b.ReportMetric(float64(tr.Microseconds())/float64(b.N), "µs/answer-raw")
	b.ReportMetric(float64(tf.Microseconds())/float64(b.N), "µs/answer-reflect")
	b.ReportMetric(float64(tr)/float64(tf), "ratio")
}
