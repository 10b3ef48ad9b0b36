package ecsimport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// The live test runs Palisade's own server (testenv) and talks to it only
// through the official SDK: it builds an account with SDK calls, imports it with
// FromECS, and holds the import to the server's own state.

const (
	liveZone   = "cn-hangzhou-h"
	liveKeyID  = "LTAIecsimport00000001"
	liveSecret = "ecsimport-secret-0123456789abcdef"
	liveImage  = "ubuntu_22_04_x64_20G_alibase_20240101.vhd"
)

type liveEnv struct {
	srv *server.Server
	ecs *ecs.Client
	vpc *vpc.Client
}

func startPalisade(t *testing.T) *liveEnv {
	t.Helper()
	s := testenv.Start(t, testenv.Config{KeyID: liveKeyID, Secret: liveSecret})
	return &liveEnv{srv: s.Server, ecs: s.ECS(t), vpc: s.VPC(t)}
}

func ecsClient(t *testing.T, addr, key, secret string) *ecs.Client {
	return testenv.ECSClient(t, addr, key, secret)
}

// must passes an SDK call's result through, failing the test on its error.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func newGroup(t *testing.T, c *ecs.Client, name, desc, vpcID, typ string) string {
	t.Helper()
	r := ecs.CreateCreateSecurityGroupRequest()
	r.SecurityGroupName, r.Description, r.VpcId, r.SecurityGroupType = name, desc, vpcID, typ
	return must(c.CreateSecurityGroup(r))(t).SecurityGroupId
}

func ingress(t *testing.T, c *ecs.Client, sg string, perms ...ecs.AuthorizeSecurityGroupPermissions) {
	t.Helper()
	r := ecs.CreateAuthorizeSecurityGroupRequest()
	r.SecurityGroupId, r.Permissions = sg, &perms
	must(c.AuthorizeSecurityGroup(r))(t)
}

func egress(t *testing.T, c *ecs.Client, sg string, perms ...ecs.AuthorizeSecurityGroupEgressPermissions) {
	t.Helper()
	r := ecs.CreateAuthorizeSecurityGroupEgressRequest()
	r.SecurityGroupId, r.Permissions = sg, &perms
	must(c.AuthorizeSecurityGroupEgress(r))(t)
}

// launch runs n instances; bandwidth > 0 gives each a public IP.
func launch(t *testing.T, c *ecs.Client, n int, vswitch string, bandwidth, ipv6 int, groups ...string) []string {
	t.Helper()
	r := ecs.CreateRunInstancesRequest()
	r.ImageId, r.InstanceType, r.VSwitchId, r.SecurityGroupIds = liveImage, "ecs.g7.large", vswitch, &groups
	r.Amount, r.InternetMaxBandwidthOut = requests.NewInteger(n), requests.NewInteger(bandwidth)
	if ipv6 > 0 {
		r.Ipv6AddressCount = requests.NewInteger(ipv6)
	}
	r.Tag = &[]ecs.RunInstancesTag{{Key: "env", Value: "test"}}
	return must(c.RunInstances(r))(t).InstanceIdSets.InstanceIdSet
}

// smallPages makes a few resources span several pages of every call.
func smallPages(t *testing.T) {
	g, r, i, l, v := groupsPageSize, rulesPageSize, instancesPageSize, listsPageSize, vpcsPageSize
	groupsPageSize, rulesPageSize, instancesPageSize, listsPageSize, vpcsPageSize = 2, 10, 2, 1, 1
	t.Cleanup(func() { groupsPageSize, rulesPageSize, instancesPageSize, listsPageSize, vpcsPageSize = g, r, i, l, v })
}

func TestFromECS(t *testing.T) {
	e := startPalisade(t)
	c := e.ecs
	smallPages(t)

	vr := vpc.CreateCreateVpcRequest()
	vr.CidrBlock, vr.EnableIpv6 = "192.168.0.0/16", requests.NewBoolean(true)
	vpcID := must(e.vpc.CreateVpc(vr))(t).VpcId
	sr := vpc.CreateCreateVSwitchRequest()
	sr.VpcId, sr.CidrBlock, sr.ZoneId, sr.Ipv6CidrBlock = vpcID, "192.168.1.0/24", liveZone, requests.NewInteger(1)
	vsw := must(e.vpc.CreateVSwitch(sr))(t).VSwitchId
	vr.CidrBlock, vr.EnableIpv6 = "10.0.0.0/8", requests.NewBoolean(false)
	otherVPC := must(e.vpc.CreateVpc(vr))(t).VpcId

	pr := ecs.CreateCreatePrefixListRequest()
	pr.AddressFamily, pr.MaxEntries, pr.PrefixListName, pr.Description = "IPv4", "10", "office", "Office egress addresses"
	pr.Entry = &[]ecs.CreatePrefixListEntry{{Cidr: "203.0.113.0/24", Description: "HQ"}, {Cidr: "198.51.100.17"}}
	office := must(c.CreatePrefixList(pr))(t).PrefixListId
	pr6 := ecs.CreateCreatePrefixListRequest()
	pr6.AddressFamily, pr6.MaxEntries, pr6.PrefixListName = "IPv6", "5", "office6"
	must(c.CreatePrefixList(pr6))(t)

	web := newGroup(t, c, "web", "Web tier", vpcID, "")
	db := newGroup(t, c, "db", "Database tier", vpcID, "")
	batch := newGroup(t, c, "batch", "Batch workers", vpcID, "enterprise")
	idle := newGroup(t, c, "idle", "", vpcID, "")
	legacy := newGroup(t, c, "legacy", "Classic API servers", "", "")

	// Another account's classic group, named by a rule of this account.
	partnerAcct, partnerKey, err := e.srv.Ops.NewTenant(context.Background(), "partner")
	if err != nil {
		t.Fatal(err)
	}
	partnerSG := newGroup(t, ecsClient(t, e.srv.Addr, partnerKey.ID, partnerKey.Secret), "partner", "", "", "")

	webRules := []ecs.AuthorizeSecurityGroupPermissions{
		{IpProtocol: "TCP", PortRange: "443/443", SourceCidrIp: "0.0.0.0/0", Description: "HTTPS"},
		{IpProtocol: "TCP", PortRange: "443/443", Ipv6SourceCidrIp: "::/0", Description: "HTTPS over IPv6"},
		{IpProtocol: "TCP", PortRange: "22/22", SourcePrefixListId: office, Priority: "2", Description: "SSH from the office"},
	}
	for p := 8000; p < 8010; p++ { // enough rules for two pages of DescribeSecurityGroupAttribute
		webRules = append(webRules, ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: fmt.Sprintf("%d/%d", p, p), SourceCidrIp: "192.168.0.0/16"})
	}
	ingress(t, c, web, webRules...)
	ingress(t, c, db,
		ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "3306/3306", SourceGroupId: web, Description: "MySQL from web"},
		ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "ALL", PortRange: "-1/-1", SourceCidrIp: "0.0.0.0/0", Policy: "drop", Priority: "100"})
	egress(t, c, db,
		ecs.AuthorizeSecurityGroupEgressPermissions{IpProtocol: "TCP", PortRange: "443/443", DestCidrIp: "100.100.2.148/32"},
		ecs.AuthorizeSecurityGroupEgressPermissions{IpProtocol: "ALL", PortRange: "-1/-1", DestCidrIp: "0.0.0.0/0", Policy: "drop", Priority: "100"})
	egress(t, c, batch, ecs.AuthorizeSecurityGroupEgressPermissions{IpProtocol: "TCP", PortRange: "443/443", DestCidrIp: "0.0.0.0/0"})
	ingress(t, c, legacy,
		ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "80/80", SourceCidrIp: "0.0.0.0/0", NicType: "internet"},
		ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "8080/8080", SourceGroupId: partnerSG, SourceGroupOwnerId: partnerAcct.UID, NicType: "intranet"})
	mr := ecs.CreateModifySecurityGroupPolicyRequest()
	mr.SecurityGroupId, mr.InnerAccessPolicy = db, "Drop"
	must(c.ModifySecurityGroupPolicy(mr))(t)

	webs := launch(t, c, 2, vsw, 5, 0, web)
	launch(t, c, 1, vsw, 0, 1, db)
	launch(t, c, 1, vsw, 0, 0, batch)
	launch(t, c, 1, "", 1, 0, legacy)
	noPublic := launch(t, c, 1, vsw, 0, 0, web, db)
	ar := vpc.CreateAllocateEipAddressRequest()
	ar.Bandwidth = "10"
	eip := must(e.vpc.AllocateEipAddress(ar))(t).AllocationId
	as := vpc.CreateAssociateEipAddressRequest()
	as.AllocationId, as.InstanceId = eip, noPublic[0]
	must(e.vpc.AssociateEipAddress(as))(t)
	_ = idle
	// A secondary ENI of webs[0] in the db group only: imported with its own groups.
	cr := ecs.CreateCreateNetworkInterfaceRequest()
	cr.VSwitchId, cr.SecurityGroupId = vsw, db
	eni := must(c.CreateNetworkInterface(cr))(t)
	at := ecs.CreateAttachNetworkInterfaceRequest()
	at.NetworkInterfaceId, at.InstanceId = eni.NetworkInterfaceId, webs[0]
	must(c.AttachNetworkInterface(at))(t)

	importer := ecsClient(t, e.srv.Addr, liveKeyID, liveSecret)
	calls := &callCounter{next: http.DefaultTransport, n: map[string]int{}}
	importer.SetTransport(calls)
	got, err := FromECS(context.Background(), importer, testRegion)
	if err != nil {
		t.Fatal(err)
	}
	// Five groups, six instances, two lists and two VPCs in pages of two,
	// ten rules, one list and one VPC: every call pages. The classic group
	// takes two calls.
	wantCalls := map[string]int{"DescribeSecurityGroups": 3, "DescribeSecurityGroupAttribute": 7, "DescribeInstances": 3,
		"DescribePrefixLists": 2, "DescribePrefixListAttributes": 2, "DescribeNetworkInterfaces": 1, "DescribeVpcs": 2}
	if !maps.Equal(calls.n, wantCalls) {
		t.Errorf("calls %v, want %v", calls.n, wantCalls)
	}
	want := serverState(t, e.srv)
	if got.Owner != e.srv.Key.Account {
		t.Errorf("Owner = %q, want %s", got.Owner, e.srv.Key.Account)
	}
	compareImport(t, got, want)
	if len(got.Warnings) != 1 || got.Warnings[0].RuleID == "" || !strings.Contains(got.Warnings[0].Message, partnerSG) {
		t.Errorf("warnings %v; want one, about the rule naming %s of account %s", got.Warnings, partnerSG, partnerAcct.UID)
	}
	sameDecisions(t, got.Cloud(), want.Cloud(), webs[0])
	var vpcs []string
	for _, v := range got.VPCs {
		vpcs = append(vpcs, v.ID+" "+v.CIDR.String()+" "+v.IPv6CIDR.String())
	}
	stored := map[string]*model.VPC{}
	for _, v := range want.VPCs {
		stored[v.ID] = v
	}
	if len(vpcs) != 2 || stored[vpcID] == nil || stored[otherVPC] == nil || !stored[vpcID].IPv6CIDR.IsValid() ||
		!slices.Contains(vpcs, vpcID+" 192.168.0.0/16 "+stored[vpcID].IPv6CIDR.String()) || !slices.Contains(vpcs, otherVPC+" 10.0.0.0/8 invalid Prefix") {
		t.Errorf("VPCs imported %q; want %s and %s as stored", vpcs, vpcID, otherVPC)
	}
	if len(got.ENIs) != 1 || got.ENIs[0].ID != eni.NetworkInterfaceId || got.ENIs[0].InstanceID != webs[0] ||
		!slices.Equal(got.ENIs[0].SecurityGroups, []string{db}) || got.ENIs[0].PrivateIP.String() != eni.PrivateIpAddress {
		t.Errorf("ENIs %+v; want %s of %s in %s at %s", got.ENIs, eni.NetworkInterfaceId, webs[0], db, eni.PrivateIpAddress)
	}
	if nic := got.Cloud().Instances[eni.NetworkInterfaceId]; nic == nil || !slices.Equal(nic.SecurityGroups, []string{db}) {
		t.Errorf("the ENI is not a NIC of the imported cloud with its own groups: %+v", nic)
	}
}

// callCounter counts the API calls an SDK client makes, by action.
type callCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *callCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	action := r.URL.Query().Get("Action")
	if action == "" && r.Body != nil { // the SDK may send the parameters as a form
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		q, _ := url.ParseQuery(string(body))
		action = q.Get("Action")
	}
	c.mu.Lock()
	c.n[action]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// serverState is the first account's resources as the server stores them.
func serverState(t *testing.T, srv *server.Server) *Account {
	t.Helper()
	a := &Account{Owner: srv.Key.Account}
	q := store.Query{Account: srv.Key.Account, Region: testRegion}
	err := srv.Store.View(context.Background(), func(tx store.ReadTx) error {
		gs, err := store.ListAs[model.SecurityGroup](tx, api.KindGroup, q)
		for i := range gs {
			a.Groups = append(a.Groups, &gs[i]) // its ResourceGroupId as the API answers it: as named, if ever
		}
		is, err2 := store.ListAs[model.Instance](tx, api.KindInstance, q)
		for i := range is {
			a.Instances = append(a.Instances, &is[i])
		}
		ps, err3 := store.ListAs[model.PrefixList](tx, api.KindPrefixList, q)
		for i := range ps {
			a.PrefixLists = append(a.PrefixLists, &ps[i])
		}
		vs, err4 := store.ListAs[model.VPC](tx, api.KindVPC, q)
		for i := range vs {
			a.VPCs = append(a.VPCs, &vs[i])
		}
		return cmpErr(err, err2, err3, err4)
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// compareImport holds every imported resource to the stored one, field by
// field; times are compared to the second, as the API shows them.
func compareImport(t *testing.T, got, want *Account) {
	t.Helper()
	ids := func(n int, id func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = id(i)
		}
		return out
	}
	if g, w := ids(len(got.Groups), func(i int) string { return got.Groups[i].ID }), ids(len(want.Groups), func(i int) string { return want.Groups[i].ID }); !slices.Equal(g, w) {
		t.Fatalf("groups %v, want %v", g, w)
	}
	for i, w := range want.Groups {
		g := got.Groups[i]
		if len(g.Rules) != len(w.Rules) {
			t.Errorf("%s: %d rules imported, want %d", w.ID, len(g.Rules), len(w.Rules))
		}
		for _, wr := range w.Rules {
			j := slices.IndexFunc(g.Rules, func(r model.Rule) bool { return r.ID == wr.ID })
			if j < 0 {
				t.Errorf("%s: rule %s not imported", w.ID, wr.ID)
				continue
			}
			if gr := normRule(g.Rules[j]); !reflect.DeepEqual(gr, normRule(wr)) {
				t.Errorf("%s rule %s\n got %+v\nwant %+v", w.ID, wr.ID, gr, normRule(wr))
			}
		}
		gg, ww := *g, *w
		gg.Rules, ww.Rules = nil, nil
		if gg.Created, ww.Created = second(gg.Created), second(ww.Created); !reflect.DeepEqual(gg, ww) || len(g.Tags)+len(w.Tags) > 0 && !slices.Equal(g.Tags, w.Tags) {
			t.Errorf("group\n got %+v\nwant %+v", gg, ww)
		}
	}
	if g, w := ids(len(got.Instances), func(i int) string { return got.Instances[i].ID }), ids(len(want.Instances), func(i int) string { return want.Instances[i].ID }); !slices.Equal(g, w) {
		t.Fatalf("instances %v, want %v", g, w)
	}
	for i, w := range want.Instances {
		g, ww := *got.Instances[i], *w
		g.Created, ww.Created = second(g.Created), second(ww.Created)
		ww.Host, ww.Interface = "", "" // placement is Palisade's, not ECS's
		if !reflect.DeepEqual(g, ww) {
			t.Errorf("instance\n got %+v\nwant %+v", g, ww)
		}
	}
	if len(got.PrefixLists) != len(want.PrefixLists) {
		t.Fatalf("%d prefix lists, want %d", len(got.PrefixLists), len(want.PrefixLists))
	}
	for i, w := range want.PrefixLists {
		g, ww := *got.PrefixLists[i], *w
		g.Created, ww.Created = second(g.Created), second(ww.Created)
		if !reflect.DeepEqual(g, ww) {
			t.Errorf("prefix list\n got %+v\nwant %+v", g, ww)
		}
	}
}

// why says what decided a result: the network path, or the deciding side.
func why(r policy.Result) string {
	if r.Path != "" {
		return string(r.Path)
	}
	return r.Deciding().String()
}

func normRule(r model.Rule) model.Rule {
	r.Created = second(r.Created)
	// Whether the client named the peer's owner is the server's to keep:
	// an answer shows the owner of another account's group either way.
	r.Peer.OwnerNamed = false
	return r
}

func second(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// sameDecisions evaluates every flow between the instances and two outside
// addresses on both clouds: the import must decide as the server's state.
func sameDecisions(t *testing.T, got, want *policy.Cloud, webInstance string) {
	t.Helper()
	ends := []string{"198.51.100.7", "203.0.113.9"}
	for id := range want.Instances {
		ends = append(ends, id)
	}
	slices.Sort(ends)
	gotEv, wantEv := policy.NewLinear(got), policy.NewLinear(want)
	n := 0
	for _, from := range ends {
		for _, to := range ends {
			for _, port := range []uint16{22, 80, 443, 3306, 8005, 8080} {
				f := policy.Flow{From: from, To: to, Protocol: model.TCP, Port: port}
				w, werr := policy.Evaluate(wantEv, f)
				g, gerr := policy.Evaluate(gotEv, f)
				if (werr != nil) != (gerr != nil) {
					t.Errorf("%v: errors %v and %v", f, gerr, werr)
					continue
				}
				if werr != nil {
					continue
				}
				n++
				if g.Verdict != w.Verdict || why(g) != why(w) {
					t.Errorf("%s → %s TCP %d: imported %s by %s, server %s by %s", from, to, port, g.Verdict, why(g), w.Verdict, why(w))
				}
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d flows compared", n)
	}
	// And one decision that must hold outright, not only agree.
	res, err := policy.Evaluate(gotEv, policy.Flow{From: "198.51.100.7", To: webInstance, Protocol: model.TCP, Port: 443})
	if err != nil || res.Verdict != policy.Accept {
		t.Errorf("HTTPS from the internet to %s: %v, %v; want accepted", webInstance, res.Verdict, err)
	}
}

// TestVPCDomain: DescribeVpcs goes to the endpoint the client was given,
// else to the region's VPC endpoint as the SDK's VPC client has it, never
// to ECS's (the ECS client, left to choose, sent cn-hangzhou's to
// ecs-cn-hangzhou.aliyuncs.com).
func TestVPCDomain(t *testing.T) {
	for _, tt := range []struct{ region, domain, want string }{
		{"cn-hangzhou", "", "vpc.aliyuncs.com"}, // the SDK's VPC map names it
		{"eu-central-1", "", "vpc.eu-central-1.aliyuncs.com"},
		{"cn-hangzhou", "127.0.0.1:8443", "127.0.0.1:8443"},
	} {
		c, err := ecs.NewClientWithAccessKey(tt.region, "id", "secret")
		if err != nil {
			t.Fatal(err)
		}
		c.Domain = tt.domain
		if got := vpcDomain(c, tt.region); got != tt.want {
			t.Errorf("region %s, client endpoint %q: DescribeVpcs to %s, want %s", tt.region, tt.domain, got, tt.want)
		}
	}
}
