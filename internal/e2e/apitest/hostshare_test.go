package apitest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// twoHostTenant starts a server (its configuration changed by adjust)
// whose tenant has an instance on each of two hosts, "good" (eni-good) and
// "bad" (eni-bad), under a flow log of their VPC, and returns it with the
// two hosts' clients.
func twoHostTenant(t *testing.T, adjust func(*server.Config)) (srv *testenv.Server, good, bad *apiclient.Client) {
	t.Helper()
	ctx := context.Background()
	srv = testenv.Start(t, testenv.Config{Log: testenv.Quiet(), Adjust: adjust})
	vpc := &model.VPC{ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16")}
	var insts []*model.Instance
	for i, h := range []string{"good", "bad"} {
		in := modeltest.Instance("i-"+h, vpc.ID, fmt.Sprintf("10.0.0.%d", i+1), "sg-web")
		in.Status, in.Host, in.Interface = model.StatusRunning, h, "pi-1"
		insts = append(insts, in)
	}
	g := modeltest.Group("sg-web", vpc.ID, "basic", modeltest.Rule("sgr-http", "in accept 1 TCP 80/80 0.0.0.0/0"))
	if _, err := srv.Ops.Import(ctx, testenv.Region, api.Resources{VPCs: []*model.VPC{vpc}, Groups: []*model.SecurityGroup{g}, Instances: insts}); err != nil {
		t.Fatal(err)
	}
	tenant, err := srv.Ops.CallerOf(ctx, srv.KeyID, testenv.Region, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Ops.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: tenant, ResourceType: model.FlowLogVPC, ResourceID: vpc.ID, TrafficType: model.TrafficAll}); err != nil {
		t.Fatal(err)
	}
	idG, secretG := srv.RegisterHost(t, "good")
	idB, secretB := srv.RegisterHost(t, "bad")
	return srv, testenv.APIClient(t, srv.Addr, idG, secretG), testenv.APIClient(t, srv.Addr, idB, secretB)
}

// shipFlows sends n records of eni (source ports from first) as host and
// returns what the server accepted and refused.
func shipFlows(t *testing.T, c *apiclient.Client, host, eni string, first, n int) (accepted, refused int) {
	t.Helper()
	now := time.Now().Unix()
	var recs []service.FlowRecord
	for p := first; p < first+n; p++ {
		recs = append(recs, service.FlowRecord{Version: 1, EniId: eni, SrcAddr: "10.0.9.9", SrcPort: 1000 + p, DstAddr: "10.0.0.1", DstPort: 80,
			Protocol: 6, Direction: "in", Packets: 1, Bytes: 60, Start: now - 1, End: now, Action: "ACCEPT", LogStatus: "OK",
			Reason: "rule", SecurityGroupId: "sg-web", SecurityGroupRuleId: "sgr-http", Priority: 1, Policy: "Accept"})
	}
	b, _ := json.Marshal(recs)
	var out struct{ Accepted, Refused int }
	if err := c.Call(context.Background(), "PalisadeReportFlowRecords", map[string]string{"HostName": host, "Records": string(b)}, &out, 0); err != nil {
		t.Fatalf("%s ships %d records: %v", host, n, err)
	}
	return out.Accepted, out.Refused
}

// TestFlowRecordsShareOfHost: a hostile host holding one NIC of a tenant
// cannot push the tenant's records from its other hosts out of the
// account's count cap (--flow-records-per-account), whether its flood
// comes before, after or around them: it crowds out only its own, down to
// its share, while the tenant still reads every record its good host
// shipped. Nor can it ship records under the other host's NIC. The cap
// was the account's alone, oldest first: the flood pushed the good host's
// records out.
func TestFlowRecordsShareOfHost(t *testing.T) {
	type ship struct {
		bad   bool
		first int
		n     int
	}
	for _, tc := range []struct {
		name  string
		ships []ship
		good  int // the good host's records the tenant reads
	}{
		{"a flood after", []ship{{false, 0, 20}, {true, 100, 200}, {true, 300, 200}}, 20},
		{"a flood before", []ship{{true, 100, 200}, {true, 300, 200}, {false, 0, 20}}, 20},
		{"a flood around", []ship{{true, 100, 200}, {false, 0, 10}, {true, 300, 200}, {false, 10, 10}, {true, 500, 200}}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, good, bad := twoHostTenant(t, func(c *server.Config) { c.FlowRecords.MaxPerAccount = 50 })
			for _, s := range tc.ships {
				c, host, eni := good, "good", "eni-good"
				if s.bad {
					c, host, eni = bad, "bad", "eni-bad"
				}
				if acc, ref := shipFlows(t, c, host, eni, s.first, s.n); acc != s.n || ref != 0 {
					t.Fatalf("%s ships %d: %d accepted, %d refused", host, s.n, acc, ref)
				}
			}
			tenant := testenv.APIClient(t, srv.Addr, srv.KeyID, srv.Secret)
			count := func(eni string) int {
				var out struct{ TotalCount int }
				if err := tenant.Call(context.Background(), "PalisadeDescribeFlowRecords", map[string]string{"NetworkInterfaceId": eni, "MaxResults": "100"}, &out, 0); err != nil {
					t.Fatal(err)
				}
				return out.TotalCount
			}
			if got, bad := count("eni-good"), count("eni-bad"); got != tc.good || bad != 50-tc.good {
				t.Errorf("the tenant reads %d of the good host's records and %d of the bad host's, want %d and %d (the cap is 50)", got, bad, tc.good, 50-tc.good)
			}
			// The other host's NIC is not the bad host's to ship for.
			if acc, ref := shipFlows(t, bad, "bad", "eni-good", 900, 5); acc != 0 || ref != 5 {
				t.Errorf("the bad host ships the good host's NIC's records: %d accepted, %d refused; want all refused", acc, ref)
			}
			if got := count("eni-good"); got != tc.good {
				t.Errorf("after records under its NIC from the bad host: %d of the good host's, want %d", got, tc.good)
			}
		})
	}
}

// TestFlowRecordsDiskShareOfHost: nor can a hostile host push the
// tenant's records from its other hosts off the server's disk: the size
// cap on the files (--flow-records-max-bytes) is shared out among the
// hosts as the count is, so the flood deletes only the bad host's own
// files, and the tenant still reads every record its good host shipped.
// The files were one chain for every host, the oldest deleted first: the
// flood pushed the good host's records out.
func TestFlowRecordsDiskShareOfHost(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bad   [2]int // the bad host's shipments (of 200) before and after the good host's
		ships int
	}{
		{"a flood after", [2]int{0, 10}, 20},
		{"a flood around", [2]int{4, 6}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, good, bad := twoHostTenant(t, func(c *server.Config) {
				c.FlowRecords.MaxBytes, c.FlowRecords.SegmentBytes = 400_000, 16_000 // a shipment of 200 is about 110,000
			})
			flood := func(times int, from int) {
				for i := range times {
					if acc, _ := shipFlows(t, bad, "bad", "eni-bad", from+i*200, 200); acc != 200 {
						t.Fatalf("the bad host's shipment: %d accepted, want 200", acc)
					}
				}
			}
			flood(tc.bad[0], 1000)
			if acc, _ := shipFlows(t, good, "good", "eni-good", 0, tc.ships); acc != tc.ships {
				t.Fatalf("the good host's shipment: %d accepted", acc)
			}
			flood(tc.bad[1], 5000)
			tenant := testenv.APIClient(t, srv.Addr, srv.KeyID, srv.Secret)
			count := func(eni string) int {
				var out struct{ TotalCount int }
				if err := tenant.Call(context.Background(), "PalisadeDescribeFlowRecords", map[string]string{"NetworkInterfaceId": eni, "MaxResults": "100"}, &out, 0); err != nil {
					t.Fatal(err)
				}
				return out.TotalCount
			}
			shipped := 200 * (tc.bad[0] + tc.bad[1])
			if got, b := count("eni-good"), count("eni-bad"); got != tc.ships || b == 0 || b >= shipped {
				t.Errorf("the tenant reads %d of the good host's records and %d of the bad host's %d, want all %d and some", got, b, shipped, tc.ships)
			}
			if st := srv.Ops.FlowRecords().Stats(); st.Bytes > 400_000 || st.DroppedForSize == 0 {
				t.Errorf("the files hold %d bytes, %d records dropped for size: the cap did not hold", st.Bytes, st.DroppedForSize)
			}
		})
	}
}
