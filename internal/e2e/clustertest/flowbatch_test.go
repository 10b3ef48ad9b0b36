package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// flowHost makes, through the official SDK on server s, an instance bound
// to host h1 with a flow log over its VPC, and returns its primary ENI.
func flowHost(t testing.TB, s *Server) string {
	t.Helper()
	vc := testenv.VPCClient(t, s.Addr, testenv.KeyID, testenv.Secret)
	vr := vpc.CreateCreateVpcRequest()
	vr.CidrBlock = "10.0.0.0/16"
	v, err := vc.CreateVpc(vr)
	if err != nil {
		t.Fatalf("CreateVpc: %v", err)
	}
	sr := vpc.CreateCreateVSwitchRequest()
	sr.VpcId, sr.CidrBlock, sr.ZoneId = v.VpcId, "10.0.1.0/24", "cn-hangzhou-h"
	sw, err := vc.CreateVSwitch(sr)
	if err != nil {
		t.Fatalf("CreateVSwitch: %v", err)
	}
	c := s.ECS(t)
	gr := ecs.CreateCreateSecurityGroupRequest()
	gr.VpcId = v.VpcId
	g, err := c.CreateSecurityGroup(gr)
	if err != nil {
		t.Fatalf("CreateSecurityGroup: %v", err)
	}
	rr := ecs.CreateRunInstancesRequest()
	rr.ImageId, rr.InstanceType, rr.VSwitchId, rr.SecurityGroupIds = "ubuntu_22_04_x64_20G_alibase_20240101.vhd", "ecs.g7.large", sw.VSwitchId, &[]string{g.SecurityGroupId}
	run, err := c.RunInstances(rr)
	if err != nil || len(run.InstanceIdSets.InstanceIdSet) != 1 {
		t.Fatalf("RunInstances: %v", err)
	}
	inst := run.InstanceIdSets.InstanceIdSet[0]
	op := testenv.APIClient(t, s.Addr, testenv.OperatorKeyID, testenv.OperatorSecret)
	if err := op.Call(context.Background(), "PalisadeBindInstance", map[string]string{"InstanceId": inst, "HostName": "h1", "Interface": "pi-1"}, nil, 0); err != nil {
		t.Fatalf("PalisadeBindInstance: %v", err)
	}
	fr := vpc.CreateCreateFlowLogRequest()
	fr.ResourceType, fr.ResourceId, fr.TrafficType = "VPC", v.VpcId, "All"
	if _, err := vc.CreateFlowLog(fr); err != nil {
		t.Fatalf("CreateFlowLog: %v", err)
	}
	dr := ecs.CreateDescribeInstancesRequest()
	dr.InstanceIds = fmt.Sprintf(`["%s"]`, inst)
	d, err := c.DescribeInstances(dr)
	if err != nil || len(d.Instances.Instance) != 1 || len(d.Instances.Instance[0].NetworkInterfaces.NetworkInterface) == 0 {
		t.Fatalf("DescribeInstances %s: %v", inst, err)
	}
	return d.Instances.Instance[0].NetworkInterfaces.NetworkInterface[0].NetworkInterfaceId
}

// reportFlows sends a batch of flow records of host h1 to server s under
// token, as the agent does (the host's key: the operator's), and returns
// how many the answer says were accepted.
func reportFlows(t testing.TB, s *Server, token string, recs []byte) (int, error) {
	t.Helper()
	c, err := apiclient.New(s.Addr, testenv.OperatorKeyID, testenv.OperatorSecret, testenv.Region)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Accepted, Refused int }
	err = c.Call(context.Background(), "PalisadeReportFlowRecords", map[string]string{"HostName": "h1", "Records": string(recs), "ClientToken": token}, &out, 0)
	return out.Accepted, err
}

// ownFlowRecords is how many records server s keeps itself (its own part,
// PalisadeLocalOnly), and how many the merged answer on s counts with the
// servers it says are missing.
func ownFlowRecords(t testing.TB, s *Server) (own, merged int, missing []string) {
	t.Helper()
	c, err := apiclient.New(s.Addr, testenv.KeyID, testenv.Secret, testenv.Region)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		TotalCount             int
		PalisadeMissingServers []string
	}
	if err := c.Call(context.Background(), "PalisadeDescribeFlowRecords", map[string]string{"MaxResults": "500", "PalisadeLocalOnly": "true"}, &out, 0); err != nil {
		t.Fatalf("server %s's own flow records: %v", s.Name, err)
	}
	own = out.TotalCount
	if err := c.Call(context.Background(), "PalisadeDescribeFlowRecords", map[string]string{"MaxResults": "500"}, &out, 0); err != nil {
		t.Fatalf("the flow records on server %s: %v", s.Name, err)
	}
	return own, out.TotalCount, out.PalisadeMissingServers
}

// TestFlowBatchFailover: an agent's batch of flow records, kept by one
// server whose answer never reached the agent, is sent again under the
// same ClientToken to another server, as the agent does after moving: the
// installation keeps it once. The first server is killed (SIGKILL) after
// keeping it, or stays up; the retry is answered as the first sending
// was, the second server keeps no copy, and once the first is back every
// server's count (merged) is the batch's.
func TestFlowBatchFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("short: starts three server processes")
	}
	ss := cluster(t)
	eni := flowHost(t, ss[0])
	for i, tc := range []struct {
		name string
		kill bool // the first server dies after keeping the batch
	}{
		{"first server alive", false},
		{"first server killed after its sync", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, next := ss[0], ss[1+i%2]
			now := time.Now().Unix()
			var recs []service.FlowRecord
			for p := range 20 {
				recs = append(recs, service.FlowRecord{EniId: eni, SrcAddr: "10.0.9.9", SrcPort: 1000 + 100*i + p, DstAddr: "10.0.1.10", DstPort: 22, Protocol: 6,
					Direction: "in", Packets: 1, Bytes: 60, Start: now - 1, End: now, Action: "REJECT", LogStatus: "OK", Reason: "default inbound drop"})
			}
			b, _ := json.Marshal(recs)
			token := fmt.Sprintf("agent-x-%d", i+1)
			before := make([]int, len(ss))
			for j, s := range ss {
				before[j], _, _ = ownFlowRecords(t, s)
			}
			// The first sending: kept by the first server (every server's
			// view knows the NIC and its flow log a moment after they were
			// written), its answer then lost.
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				n, err := reportFlows(t, first, token, b)
				return err == nil && n == 20, fmt.Sprintf("server %s accepted %d of 20 records (%v)", first.Name, n, err)
			})
			if tc.kill {
				first.Kill()
			}
			// The retry, on the next server.
			var n int
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				var err error
				n, err = reportFlows(t, next, token, b)
				return err == nil, fmt.Sprintf("the retry on server %s: %v", next.Name, err)
			})
			if n != 20 {
				t.Errorf("the retry on server %s: %d records accepted, want the first answer's 20", next.Name, n)
			}
			if tc.kill {
				first.Restart(t)
				ready(t, first)
			}
			var total int
			for j, s := range ss {
				own, _, _ := ownFlowRecords(t, s)
				total += own - before[j]
			}
			if total != 20 {
				t.Errorf("the servers keep %d records of the batch of 20 sent twice under one ClientToken, want 20 (once)", total)
			}
			// The merged answer counts them once too (the first server
			// listed again after its restart).
			testenv.Eventually(t, 30*time.Second, func() (bool, string) {
				_, merged, missing := ownFlowRecords(t, ss[2])
				want := 20 * (i + 1)
				return merged == want && len(missing) == 0, fmt.Sprintf("server %s lists %d records (missing %v), want %d", ss[2].Name, merged, missing, want)
			})
		})
	}
}

// TestFlowBatchClaims: a server given a batch whose token another server
// of the installation holds in etcd (two servers in this process on one
// etcd) answers as that server's state says: the answer of a batch kept
// elsewhere, ServiceUnavailable while another server is writing it (the
// agent sends it again), the batch kept once a claim is too old to be a
// write in progress, or its own claim after a restart that lost the
// batch; and IdempotentParameterMismatch for other records under the token.
func TestFlowBatchClaims(t *testing.T) {
	ss := testenv.StartCluster(t, 2, testenv.Config{Log: testenv.Quiet()})
	ctx := context.Background()
	in := &model.Instance{ID: "i-web", VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.0.1"), Status: model.StatusRunning, Host: "h1", Interface: "pi-1"}
	if _, err := ss[0].Ops.Import(ctx, testenv.Region, api.Resources{VPCs: []*model.VPC{{ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16")}},
		Instances: []*model.Instance{in}}); err != nil {
		t.Fatal(err)
	}
	tenant, err := ss[0].Ops.CallerOf(ctx, ss[0].KeyID, testenv.Region, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss[0].Ops.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: tenant, ResourceType: model.FlowLogVPC, ResourceID: "vpc-a", TrafficType: model.TrafficAll}); err != nil {
		t.Fatal(err)
	}
	srv := ss[1]
	now := time.Now().Unix()
	recs := []service.FlowRecord{{EniId: model.NICENI(in), SrcAddr: "10.0.9.9", SrcPort: 1000, DstAddr: "10.0.0.1", DstPort: 22, Protocol: 6,
		Direction: "in", Packets: 1, Bytes: 60, Start: now - 1, End: now, Action: "REJECT", LogStatus: "OK", Reason: "default inbound drop"}}
	report := func(token, fingerprint string) (service.FlowReportResult, error) {
		return srv.Ops.ReportFlowRecords(ctx, service.FlowReportInput{Caller: service.Caller{Host: "h1"}, HostName: "h1", Records: recs,
			Idem: service.Idempotency{ClientToken: token, Fingerprint: fingerprint}})
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) { // the server's view learns the NIC
		res, err := report("", "")
		return err == nil && res.Accepted == 1, fmt.Sprintf("accepted %+v (%v)", res, err)
	})
	type claim struct {
		Token, Hash, Server string
		Since               int64
		Kept                bool
		Records, Refused    int
	}
	for i, tc := range []struct {
		name  string
		claim claim  // the token's claim in etcd before the sending
		code  string // the error answered ("": none)
		want  service.FlowReportResult
		kept  int // records the server keeps of the sending
	}{
		{"kept by another server", claim{Hash: "fp", Server: "other", Since: now, Kept: true, Records: 7, Refused: 2}, "", service.FlowReportResult{Accepted: 7, Refused: 2}, 0},
		{"being written by another server", claim{Hash: "fp", Server: "other", Since: now}, "ServiceUnavailable", service.FlowReportResult{}, 0},
		{"claimed too long ago by another server", claim{Hash: "fp", Server: "other", Since: now - 120}, "", service.FlowReportResult{Accepted: 1}, 1},
		{"claimed by this server, lost in its restart", claim{Hash: "fp", Server: srv.Ops.FlowServer, Since: now}, "", service.FlowReportResult{Accepted: 1}, 1},
		{"other records under the token", claim{Hash: "other", Server: "other", Since: now, Kept: true, Records: 1}, "IdempotentParameterMismatch", service.FlowReportResult{}, 0},
		{"a new token", claim{}, "", service.FlowReportResult{Accepted: 1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := fmt.Sprintf("agent-y-%d", i)
			if tc.claim.Server != "" {
				tc.claim.Token = token
				doc, _ := json.Marshal([]claim{tc.claim})
				if err := srv.Ops.FlowBatches.UpdateFlowBatches(ctx, "h1", func([]byte) ([]byte, error) { return doc, nil }); err != nil {
					t.Fatal(err)
				}
			}
			before := srv.Ops.FlowRecords().Stats().Records
			res, err := report(token, "fp")
			code := ""
			if err != nil {
				code = ecserr.As(err).Code
			}
			if code != tc.code || res != tc.want {
				t.Errorf("answer %+v, %v; want %+v, code %q", res, err, tc.want, tc.code)
			}
			if got := srv.Ops.FlowRecords().Stats().Records - before; got != tc.kept {
				t.Errorf("%d records kept, want %d", got, tc.kept)
			}
			if tc.code != "" {
				return
			}
			// Another server now answers a retry from this sending.
			res, err = ss[0].Ops.ReportFlowRecords(ctx, service.FlowReportInput{Caller: service.Caller{Host: "h1"}, HostName: "h1", Records: recs,
				Idem: service.Idempotency{ClientToken: token, Fingerprint: "fp"}})
			if err != nil || res != tc.want {
				t.Errorf("the retry on the other server: %+v, %v; want %+v", res, err, tc.want)
			}
		})
	}
}
