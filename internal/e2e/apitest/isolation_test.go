package apitest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/testkit/signedpost"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// rawCall sends one action through the classic SDK's CommonRequest and
// returns the answer's body, or the error's code and message.
func rawCall(t *testing.T, c *sdk.Client, addr, version, action string, params map[string]string) (text, code string) {
	t.Helper()
	req := requests.NewCommonRequest()
	req.Method, req.Scheme, req.Domain = "POST", "http", addr
	req.Version, req.ApiName, req.Product = version, action, "Ecs"
	req.FormParams = map[string]string{}
	maps.Copy(req.FormParams, params)
	resp, err := c.ProcessCommonRequest(req)
	if err != nil {
		var se *sdkerrors.ServerError
		if !errors.As(err, &se) {
			t.Fatalf("%s: %v", action, err)
		}
		return se.ErrorCode() + ": " + se.Message(), se.ErrorCode()
	}
	return resp.GetHttpContentString(), ""
}

// streamCall opens a stream (PalisadeWatchStream, which the SDK cannot
// read: it does not end) and returns what it answered within a moment.
func streamCall(t *testing.T, addr, key, secret, version, action string, params map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	p := maps.Clone(params)
	p["Action"], p["Version"] = action, version
	req, err := signedpost.Request(ctx, addr, key, secret, p)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // until the stream ends or the moment passes
	return string(b)
}

// tenantRecords is everything the store holds of an account, for a
// before/after comparison.
func tenantRecords(t *testing.T, st store.Store, uid string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := st.View(context.Background(), func(tx store.ReadTx) error {
		for kind := range service.Kinds {
			recs, err := tx.List(kind, store.Query{Account: uid})
			if err != nil {
				return err
			}
			for _, r := range recs {
				out[string(kind)+"/"+r.ID] = string(r.Data)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTenantIsolation calls every routed action as a second tenant and as
// a host key, with each of the first tenant's IDs in every parameter that
// takes one, and checks that no answer or error shows anything of the first
// tenant the request did not name, and that nothing of it changes.
func TestTenantIsolation(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	one := testenv.CommonClient(t, srv.Addr, srv.KeyID, srv.Secret)
	must1 := func(version, action string, p map[string]string) map[string]any {
		t.Helper()
		p["RegionId"] = testenv.Region
		text, code := rawCall(t, one, srv.Addr, version, action, p)
		if code != "" {
			t.Fatalf("%s: %s", action, text)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(text), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }

	// The first tenant's cloud, each resource marked with a name no other
	// tenant could guess.
	vpcID := str(must1(api.VPCVersion, "CreateVpc", map[string]string{"CidrBlock": "10.77.0.0/16", "VpcName": "t1mark-vpc"}), "VpcId")
	vswID := str(must1(api.VPCVersion, "CreateVSwitch", map[string]string{"VpcId": vpcID, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.77.1.0/24", "VSwitchName": "t1mark-vsw"}), "VSwitchId")
	sgID := str(must1(api.ECSVersion, "CreateSecurityGroup", map[string]string{"VpcId": vpcID, "SecurityGroupName": "t1mark-sg", "Description": "t1mark-desc"}), "SecurityGroupId")
	peerID := str(must1(api.ECSVersion, "CreateSecurityGroup", map[string]string{"VpcId": vpcID, "SecurityGroupName": "t1mark-peer"}), "SecurityGroupId")
	must1(api.ECSVersion, "AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sgID, "IpProtocol": "tcp", "PortRange": "22/22",
		"SourceGroupId": peerID, "Description": "t1mark-rule"})
	attr := must1(api.ECSVersion, "DescribeSecurityGroupAttribute", map[string]string{"SecurityGroupId": sgID})
	perms, _ := attr["Permissions"].(map[string]any)["Permission"].([]any)
	if len(perms) != 1 {
		t.Fatalf("rules of %s: %v", sgID, attr)
	}
	ruleID := str(perms[0].(map[string]any), "SecurityGroupRuleId")
	run := must1(api.ECSVersion, "RunInstances", map[string]string{"ImageId": imageID, "InstanceType": instanceType, "VSwitchId": vswID,
		"SecurityGroupId": sgID, "InstanceName": "t1mark-inst"})
	instID := run["InstanceIdSets"].(map[string]any)["InstanceIdSet"].([]any)[0].(string)
	plID := str(must1(api.ECSVersion, "CreatePrefixList", map[string]string{"AddressFamily": "IPv4", "MaxEntries": "5", "PrefixListName": "t1mark-pl",
		"Entry.1.Cidr": "10.77.50.0/24"}), "PrefixListId")
	prlID := str(must1(api.ECSVersion, "CreatePortRangeList", map[string]string{"MaxEntries": "5", "PortRangeListName": "t1mark-prl",
		"Entry.1.PortRange": "8080/8080"}), "PortRangeListId")
	eip := must1(api.VPCVersion, "AllocateEipAddress", map[string]string{"Name": "t1mark-eip"})
	eipID := str(eip, "AllocationId")
	must1(api.VPCVersion, "AssociateEipAddress", map[string]string{"AllocationId": eipID, "InstanceId": instID})
	eniID := str(must1(api.ECSVersion, "CreateNetworkInterface", map[string]string{"VSwitchId": vswID, "SecurityGroupId": sgID,
		"NetworkInterfaceName": "t1mark-eni"}), "NetworkInterfaceId")
	must1(api.ECSVersion, "TagResources", map[string]string{"ResourceType": "securitygroup", "ResourceId.1": sgID, "Tag.1.Key": "t1mark-tag", "Tag.1.Value": "t1mark-val"})
	flID := str(must1(api.VPCVersion, "CreateFlowLog", map[string]string{"ResourceType": "VPC", "ResourceId": vpcID, "TrafficType": "All",
		"FlowLogName": "t1mark-fl"}), "FlowLogId")
	// A flow record of the first tenant, shipped by the host its instance
	// is bound to.
	ctx := context.Background()
	op, err := srv.Ops.KeyCaller(ctx, srv.OperatorKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Ops.BindInstance(ctx, service.BindInput{Caller: op, InstanceID: instID, HostName: "h-rec", Interface: "pi-rec"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	if res, err := srv.Ops.ReportFlowRecords(ctx, service.FlowReportInput{Caller: op, HostName: "h-rec", Records: []service.FlowRecord{{
		EniId: "eni-" + instID[len("i-"):], SrcAddr: "10.77.9.9", SrcPort: 4000, DstAddr: "10.77.9.10", DstPort: 22, Protocol: 6, Direction: "in",
		Packets: 1, Start: now, End: now, Action: "ACCEPT", LogStatus: "OK", Reason: "rule", SecurityGroupId: sgID, SecurityGroupRuleId: ruleID, Priority: 1, Policy: "Accept"}}}); err != nil || res.Accepted != 1 {
		t.Fatalf("shipping the first tenant's record: %+v %v", res, err)
	}

	// What must not show: every ID (and the random part of each, which
	// vRouter and route table IDs share with their VPC's), the account, its
	// key, its names and addresses.
	ids := []string{vpcID, vswID, sgID, peerID, ruleID, instID, plID, prlID, eipID, eniID, flID}
	secrets := []string{srv.UID, srv.KeyID, srv.Secret, "t1mark", "10.77.", str(eip, "EipAddress")}
	for _, id := range ids {
		secrets = append(secrets, id)
		if _, body, ok := strings.Cut(id, "-"); ok {
			secrets = append(secrets, body)
		}
	}

	// Every parameter that takes an ID, one at a time, with what gets a
	// request past the other checks.
	idParams := []map[string]string{
		{"SecurityGroupId": sgID}, {"SecurityGroupId.1": sgID}, {"SecurityGroupIds.1": sgID}, {"SecurityGroupIds": `["` + sgID + `"]`},
		{"SecurityGroupId": sgID, "SecurityGroupRuleId.1": ruleID}, {"SecurityGroupRuleId": ruleID},
		{"SourceGroupId": sgID}, {"DestGroupId": sgID}, {"SourceGroupId": sgID, "SourceGroupOwnerId": srv.UID},
		{"SourceGroupId": sgID, "SourceGroupOwnerAccount": "default"},
		{"InstanceId": instID}, {"InstanceIds": `["` + instID + `"]`}, {"InstanceId.1": instID}, {"From": instID, "To": instID},
		{"AssociatedInstanceId": instID, "AssociatedInstanceType": "EcsInstance"},
		{"VpcId": vpcID}, {"VSwitchId": vswID}, {"VpcId": vpcID, "VSwitchId": vswID},
		{"PrefixListId": plID}, {"PrefixListId.1": plID}, {"SourcePrefixListId": plID}, {"DestPrefixListId": plID},
		{"PortRangeListId": prlID}, {"PortRangeListId.1": prlID},
		{"AllocationId": eipID}, {"AllocationId": eipID, "InstanceId": instID},
		{"NetworkInterfaceId": eniID}, {"NetworkInterfaceId.1": eniID}, {"NetworkInterfaceId": eniID, "InstanceId": instID},
		{"ResourceType": "securitygroup", "ResourceId.1": sgID}, {"ResourceType": "instance", "ResourceId.1": instID},
		{"ResourceType": "VPC", "ResourceId.1": vpcID}, {"ResourceType": "VSWITCH", "ResourceId.1": vswID},
		{"UserAccessKeyId": srv.KeyID, "Status": "Inactive"}, {"AccountId": srv.UID},
		{"HostName": "h-iso", "Interface": "pi-iso", "InstanceId": instID},
		{"FlowLogId": flID}, {"ResourceType": "VPC", "ResourceId": vpcID, "TrafficType": "All"},
		{"HostName": "h-iso", "Records": `[{"EniId":"eni-` + instID[len("i-"):] + `","SrcAddr":"10.0.0.1","DstAddr":"10.0.0.2","Direction":"in","Action":"ACCEPT","LogStatus":"OK","Start":1,"End":1,"Reason":"rule"}]`},
	}
	fillers := map[string]string{"RegionId": testenv.Region, "IpProtocol": "tcp", "PortRange": "22/22", "Policy": "accept", "Priority": "1",
		"Description": "x", "ChangeAction": "RevokeSecurityGroup", "Protocol": "tcp", "Port": "22", "Force": "true", "WaitSeconds": "0",
		"Tag.1.Key": "k", "MaxEntries": "5", "AddressFamily": "IPv4"}

	routes := slices.SortedFunc(maps.Keys(server.Routes(srv.Ops)), func(a, b rpc.RouteKey) int {
		return strings.Compare(a.Version+a.Action, b.Version+b.Action)
	})
	hostActions := map[string]bool{}
	for _, a := range api.HostActions {
		hostActions[a] = true
	}
	other := srv.NewAccount(t, "other")
	hostID, hostSecret := srv.RegisterHost(t, "h-iso")
	before := tenantRecords(t, srv.Store, srv.UID)
	for _, role := range []struct {
		name        string
		c           *sdk.Client
		key, secret string
	}{
		{"second tenant", testenv.CommonClient(t, srv.Addr, other.KeyID, other.Secret), other.KeyID, other.Secret},
		{"host key", testenv.CommonClient(t, srv.Addr, hostID, hostSecret), hostID, hostSecret},
	} {
		t.Run(role.name, func(t *testing.T) {
			calls := 0
			for _, k := range routes {
				for _, ip := range idParams {
					p := maps.Clone(fillers)
					maps.Copy(p, ip)
					var text string
					if k.Action == "PalisadeWatchStream" {
						text = streamCall(t, srv.Addr, role.key, role.secret, k.Version, k.Action, p)
					} else {
						text, _ = rawCall(t, role.c, srv.Addr, k.Version, k.Action, p)
					}
					calls++
					for _, s := range secrets {
						if strings.Contains(text, s) && !slices.ContainsFunc(slices.Collect(maps.Values(p)), func(v string) bool { return strings.Contains(v, s) }) {
							t.Errorf("%s %s %v shows %q of the first tenant:\n%s", k.Version, k.Action, ip, s, text)
						}
					}
				}
			}
			t.Logf("%d calls over %d routes", calls, len(routes))
		})
	}
	after := tenantRecords(t, srv.Store, srv.UID)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("the first tenant's %s changed:\n%s\n->\n%s", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("the first tenant got %s:\n%s", k, after[k])
		}
	}
}
