package api

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	ecs3 "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// checkErr fails unless err is an ECS error with the code and status.
func checkErr(t *testing.T, err error, code string, status int, action string, params map[string]string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s %v: succeeded, want %s %d", action, params, code, status)
	}
	if got := ecserr.As(err); got.Code != code || got.Status != status {
		t.Fatalf("%s %v: got %v (status %d), want %s %d", action, params, err, got.Status, code, status)
	}
}

func accountOf(e *env) string {
	e.t.Helper()
	acct, ok := e.s.AccountOfKey(e.ctx, e.key)
	if !ok {
		e.t.Fatal("no account for the env's key")
	}
	return acct
}

// putTestGroup puts an empty security group of e's account in cn-hangzhou
// straight into the store (vpcID "" makes a classic group).
func putTestGroup(e *env, vpcID string, typ model.GroupType) string {
	e.t.Helper()
	g := &model.SecurityGroup{ID: model.NewID("sg"), Region: "cn-hangzhou", Owner: accountOf(e), Type: typ, VpcID: vpcID,
		InnerAccessPolicy: model.InnerAccept, Rules: []model.Rule{}}
	if typ == model.Enterprise {
		g.InnerAccessPolicy = model.InnerDrop
	}
	if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error { return putGroup(tx, g) }); err != nil {
		e.t.Fatal(err)
	}
	return g.ID
}

// runIDs runs instances (image and type filled in) and returns their IDs.
func runIDs(e *env, params map[string]string) []string {
	e.t.Helper()
	p := map[string]string{"ImageId": "ubuntu_22_04_x64", "InstanceType": "ecs.g7.large"}
	for k, v := range params {
		p[k] = v
	}
	return e.ecs("RunInstances", p).(*runInstancesResponse).InstanceIdSets.InstanceIdSet
}

func readInstance(e *env, id string) model.Instance {
	e.t.Helper()
	var in model.Instance
	e.s.Store.View(e.ctx, func(tx store.ReadTx) error {
		var ok bool
		in, ok, _ = store.GetAs[model.Instance](tx, KindInstance, id)
		if !ok {
			e.t.Fatalf("instance %s is not stored", id)
		}
		return nil
	})
	return in
}

func instanceCount(e *env) int {
	e.t.Helper()
	n := 0
	e.s.Store.View(e.ctx, func(tx store.ReadTx) error {
		recs, _ := tx.List(KindInstance, store.Query{})
		n = len(recs)
		return nil
	})
	return n
}

// describeIDs returns the instance IDs DescribeInstances lists for params.
func describeIDs(e *env, params map[string]string) []string {
	e.t.Helper()
	var out []string
	for _, in := range e.ecs("DescribeInstances", params).(*describeInstancesResponse).Instances.Instance {
		out = append(out, in.InstanceId)
	}
	slices.Sort(out)
	return out
}

// testNet is a VPC with one vSwitch and one basic group.
type testNet struct{ vpc, vsw, sg string }

func newTestNet(e *env, vpcCIDR, vswCIDR string) testNet {
	e.t.Helper()
	v := e.mkVPC(map[string]string{"CidrBlock": vpcCIDR})
	return testNet{vpc: v, vsw: e.mkVSwitch(v, vswCIDR), sg: putTestGroup(e, v, model.Normal)}
}

// checkSDKShape fails unless every field of resp, as JSON, is named exactly
// as in the SDK type (Palisade* extensions aside), with a compatible kind;
// or, given also, as in one of those: the typed client's types
// (ecs-20140526/v7) have fields ECS added after the classic SDK's.
func checkSDKShape(t *testing.T, path string, sdk reflect.Type, resp any, also ...reflect.Type) {
	t.Helper()
	body, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	// A problem stands when every type has one at its field (the path
	// before ": ").
	field := func(problem string) string { f, _, _ := strings.Cut(problem, ": "); return f }
	others := make([][]string, len(also))
	for i, typ := range also {
		for _, p := range shapeProblems(path, typ, v) {
			others[i] = append(others[i], field(p))
		}
	}
	for _, problem := range shapeProblems(path, sdk, v) {
		if !slices.ContainsFunc(others, func(o []string) bool { return !slices.Contains(o, field(problem)) }) {
			t.Error(problem)
		}
	}
}

func shapeProblems(path string, typ reflect.Type, v any) []string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if typ.Kind() != reflect.Struct {
			return []string{fmt.Sprintf("%s: object, SDK has %s", path, typ)}
		}
		fields := map[string]reflect.Type{}
		for i := range typ.NumField() {
			f := typ.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && !f.Anonymous {
				fields[name] = f.Type
			}
		}
		for k, x := range v {
			ft, ok := fields[k]
			switch {
			case strings.HasPrefix(k, "Palisade"):
			case !ok:
				out = append(out, fmt.Sprintf("%s.%s: not a field of SDK type %s", path, k, typ))
			default:
				out = append(out, shapeProblems(path+"."+k, ft, x)...)
			}
		}
	case []any:
		if typ.Kind() != reflect.Slice {
			return []string{fmt.Sprintf("%s: array, SDK has %s", path, typ)}
		}
		for i, x := range v {
			out = append(out, shapeProblems(fmt.Sprintf("%s[%d]", path, i), typ.Elem(), x)...)
		}
	case string:
		if typ.Kind() != reflect.String {
			out = append(out, fmt.Sprintf("%s: string, SDK has %s", path, typ))
		}
	case float64:
		if k := typ.Kind(); k < reflect.Int || k > reflect.Float64 {
			out = append(out, fmt.Sprintf("%s: number, SDK has %s", path, typ))
		}
	case bool:
		if typ.Kind() != reflect.Bool {
			out = append(out, fmt.Sprintf("%s: bool, SDK has %s", path, typ))
		}
	}
	return out
}

func TestRunInstances(t *testing.T) {
	e := newEnv(t)
	n := newTestNet(e, "192.168.0.0/16", "192.168.1.0/24")
	sg2 := putTestGroup(e, n.vpc, model.Normal)
	ids := runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupIds.1": n.sg, "SecurityGroupIds.2": sg2, "Amount": "3",
		"InstanceName": "web", "Description": "web tier", "HostName": "web-1", "Tag.1.Key": "env", "Tag.1.Value": "prod", "MinAmount": "1"})
	if len(ids) != 3 {
		t.Fatalf("RunInstances gave %v", ids)
	}
	var addrs []string
	for _, id := range ids {
		in := readInstance(e, id)
		if in.Status != model.StatusRunning || in.VpcID != n.vpc || in.VSwitchID != n.vsw || in.Zone != "cn-hangzhou-h" ||
			in.Name != "web" || in.Description != "web tier" || in.ImageID != "ubuntu_22_04_x64" || in.InstanceType != "ecs.g7.large" ||
			!slices.Equal(in.SecurityGroups, []string{n.sg, sg2}) || len(in.Tags) != 1 || in.PublicIP.IsValid() || in.IPv6.IsValid() {
			t.Fatalf("instance %+v", in)
		}
		addrs = append(addrs, in.PrivateIP.String())
	}
	slices.Sort(addrs)
	if want := []string{"192.168.1.4", "192.168.1.5", "192.168.1.6"}; !slices.Equal(addrs, want) {
		t.Fatalf("addresses %v, want %v", addrs, want)
	}
	// Unnamed instances are named after their ID; a pinned address is used as given.
	id := runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg, "PrivateIpAddress": "192.168.1.200", "ZoneId": "cn-hangzhou-h"})[0]
	if in := readInstance(e, id); in.Name != id || in.PrivateIP.String() != "192.168.1.200" {
		t.Fatalf("instance %+v", in)
	}
}

func TestRunInstancesErrors(t *testing.T) {
	e := newEnv(t)
	n := newTestNet(e, "192.168.0.0/16", "192.168.1.0/24")
	taken := readInstance(e, runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg})[0]).PrivateIP.String()
	ent := putTestGroup(e, n.vpc, model.Enterprise)
	otherVPC := newTestNet(e, "10.0.0.0/16", "10.0.1.0/24")
	classicSG := putTestGroup(e, "", model.Normal)
	o := e.otherAccount()
	foreignSG := putTestGroup(o, "", model.Normal)
	before := instanceCount(e)

	base := map[string]string{"ImageId": "img", "InstanceType": "ecs.t6", "VSwitchId": n.vsw, "SecurityGroupId": n.sg}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	var six []string
	for i := range 6 {
		six = append(six, fmt.Sprintf("SecurityGroupIds.%d", i+1), putTestGroup(e, n.vpc, model.Normal))
	}
	tests := []struct {
		name   string
		params map[string]string
		code   string
		status int
	}{
		{"no image", with("ImageId", ""), "MissingParameter", 400},
		{"no type", with("InstanceType", ""), "MissingParameter", 400},
		{"no group", with("SecurityGroupId", ""), "MissingParameter", 400},
		{"no region", with("RegionId", ""), "MissingParameter", 400},
		{"amount 0", with("Amount", "0"), "InvalidParameter", 400},
		{"amount 101", with("Amount", "101"), "InvalidParameter", 400},
		{"amount not a number", with("Amount", "two"), "InvalidParameter", 400},
		{"bad name", with("InstanceName", "_x"), "InvalidInstanceName.Malformed", 400},
		{"bad description", with("Description", "https://x"), "InvalidDescription.Malformed", 400},
		{"bad host name", with("HostName", "-web"), "InvalidHostName.Malformed", 400},
		{"host name with ..", with("HostName", "a..b"), "InvalidHostName.Malformed", 400},
		{"address malformed", with("PrivateIpAddress", "192.168.1"), "InvalidPrivateIpAddress.Malformed", 400},
		{"address outside vSwitch", with("PrivateIpAddress", "192.168.2.10"), "InvalidPrivateIpAddress.Mismatch", 400},
		{"network address", with("PrivateIpAddress", "192.168.1.0"), "InvalidPrivateIpAddress.Malformed", 400},
		{"reserved last three", with("PrivateIpAddress", "192.168.1.253"), "InvalidPrivateIpAddress.Malformed", 400},
		{"broadcast", with("PrivateIpAddress", "192.168.1.255"), "InvalidPrivateIpAddress.Malformed", 400},
		{"address taken", with("PrivateIpAddress", taken), "InvalidPrivateIpAddress.Duplicated", 400},
		{"pinned address with amount 2", with("PrivateIpAddress", "192.168.1.50", "Amount", "2"), "InvalidParameter", 400},
		{"IPv6 addresses past the type's", with("InstanceType", "ecs.g6.large", "Ipv6AddressCount", "2"), "InvalidOperation.Ipv6CountExceeded", 403},
		{"11 IPv6 addresses", with("Ipv6AddressCount", "11"), "InvalidParameter", 400},
		{"IPv6 on an IPv4 vSwitch", with("Ipv6AddressCount", "1"), "InvalidVSwitch.Ipv6NotTurnOn", 400},
		{"IPv6 malformed", with("Ipv6Address.1", "10.0.0.1"), "InvalidIpv6Address.Malformed", 400},
		{"IPv6 count and address", with("Ipv6Address.1", "2408::1", "Ipv6AddressCount", "1"), "InvalidParameter", 400},
		{"bandwidth 101", with("InternetMaxBandwidthOut", "101"), "InvalidParameter", 400},
		{"unknown vSwitch", with("VSwitchId", "vsw-nothere"), "InvalidVSwitchId.NotFound", 404},
		{"malformed vSwitch", with("VSwitchId", "vpc-x"), "InvalidVSwitchId.Malformed", 400},
		{"zone mismatch", with("ZoneId", "cn-hangzhou-i"), "InvalidVSwitchId.Mismatch", 400},
		{"classic in unknown zone", with("VSwitchId", "", "SecurityGroupId", classicSG, "ZoneId", "cn-beijing-g"), "InvalidZoneId.NotFound", 404},
		{"classic with IPv6", with("VSwitchId", "", "SecurityGroupId", classicSG, "Ipv6AddressCount", "1"), "InvalidNetworkType.NotSupported", 400},
		{"classic address outside 10/8", with("VSwitchId", "", "SecurityGroupId", classicSG, "PrivateIpAddress", "192.168.0.9"), "InvalidPrivateIpAddress.Mismatch", 400},
		{"unknown group", with("SecurityGroupId", "sg-nothere"), "InvalidSecurityGroupId.NotFound", 404},
		{"another account's group", with("SecurityGroupId", foreignSG), "InvalidSecurityGroupId.NotFound", 404},
		{"both group parameters", with("SecurityGroupIds.1", n.sg), "InvalidParameter", 400},
		{"repeated group", with("SecurityGroupId", "", "SecurityGroupIds.1", "sg-nothere", "SecurityGroupIds.2", "sg-nothere"), "InvalidParameter.SecurityGroupIdRepeated", 404},
		{"six groups", with(append([]string{"SecurityGroupId", ""}, six...)...), "JoinedGroupLimitExceed", 400},
		{"mixed group types", with("SecurityGroupId", "", "SecurityGroupIds.1", n.sg, "SecurityGroupIds.2", ent), "EnterpriseGroupLimited.MutliGroupType", 403},
		{"group of another VPC", with("SecurityGroupId", otherVPC.sg), "InvalidSecurityGroupVpc.NotBelongToOneVpc", 404},
		{"classic group on a VPC instance", with("SecurityGroupId", classicSG), "InvalidInstanceId.Mismatch", 400},
		{"VPC group on a classic instance", with("VSwitchId", ""), "InvalidInstanceId.Mismatch", 400},
		{"bad tag", with("Tag.1.Key", "aliyun-x"), "InvalidTagKey.Malformed", 400},
		{"dry run", with("DryRun", "true", "Amount", "3"), "DryRunOperation", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { e.ecsErr(tt.code, tt.status, "RunInstances", tt.params) })
	}
	if got := instanceCount(e); got != before {
		t.Fatalf("failed launches left %d instances, want %d", got, before)
	}
	// The sixth group fails the whole launch, not just one instance of it.
	e.ecsErr("JoinedGroupLimitExceed", 400, "CreateInstance", with(append([]string{"SecurityGroupId", ""}, six...)...))
}

func TestPrivateAddressesNeverRepeat(t *testing.T) {
	e := newEnv(t)
	n := newTestNet(e, "192.168.0.0/16", "192.168.0.0/29") // .1-.4 assignable
	ids := runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg, "Amount": "4"})
	got := map[string]string{}
	for _, id := range ids {
		got[readInstance(e, id).PrivateIP.String()] = id
	}
	if len(got) != 4 || got["192.168.0.4"] == "" || got["192.168.0.1"] == "" || got["192.168.0.3"] == "" {
		t.Fatalf("addresses %v", got)
	}
	e.ecsErr("InvalidVSwitchId.IpNotEnough", 400, "RunInstances", map[string]string{"ImageId": "i", "InstanceType": "t", "VSwitchId": n.vsw, "SecurityGroupId": n.sg})
	e.ecs("DeleteInstance", map[string]string{"InstanceId": got["192.168.0.2"], "Force": "true"})
	id := runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg})[0]
	if a := readInstance(e, id).PrivateIP.String(); a != "192.168.0.2" {
		t.Fatalf("after a delete got %s, want the freed 192.168.0.2", a)
	}

	// Across many launches, pinned and allocated, no address repeats.
	m := newTestNet(e, "10.0.0.0/16", "10.0.1.0/24")
	runIDs(e, map[string]string{"VSwitchId": m.vsw, "SecurityGroupId": m.sg, "PrivateIpAddress": "10.0.1.6"})
	for range 5 {
		runIDs(e, map[string]string{"VSwitchId": m.vsw, "SecurityGroupId": m.sg, "Amount": "7"})
	}
	seen := map[netip.Addr]bool{}
	for _, id := range describeIDs(e, map[string]string{"VSwitchId": m.vsw, "PageSize": "100"}) {
		a := readInstance(e, id).PrivateIP
		if seen[a] || !assignable(netip.MustParsePrefix("10.0.1.0/24"), a) {
			t.Fatalf("address %s repeated or reserved", a)
		}
		seen[a] = true
	}
	if len(seen) != 36 {
		t.Fatalf("%d instances, want 36", len(seen))
	}
}

func TestClassicInstances(t *testing.T) {
	e := newEnv(t)
	sg := putTestGroup(e, "", model.Normal)
	a := runIDs(e, map[string]string{"SecurityGroupId": sg, "Amount": "2"})
	o := e.otherAccount()
	b := runIDs(o, map[string]string{"SecurityGroupId": putTestGroup(o, "", model.Normal)})
	var addrs []string
	for _, id := range append(a, b...) {
		in := readInstance(e, id)
		if !in.Classic() || in.Zone != "cn-hangzhou-h" {
			t.Fatalf("instance %+v", in)
		}
		if !model.ClassicNetwork.Contains(in.PrivateIP) || slices.Contains(addrs, in.PrivateIP.String()) {
			t.Fatalf("classic address %s: not of %s, or another instance's", in.PrivateIP, model.ClassicNetwork)
		}
		addrs = append(addrs, in.PrivateIP.String())
	}
	// The classic network is shared: the other account's instance's
	// address is taken.
	e.ecsErr("InvalidPrivateIpAddress.Duplicated", 400, "RunInstances", map[string]string{"ImageId": "i", "InstanceType": "t", "SecurityGroupId": sg, "PrivateIpAddress": addrs[2]})
	item := e.ecs("DescribeInstances", map[string]string{"InstanceIds": `["` + a[0] + `"]`}).(*describeInstancesResponse).Instances.Instance[0]
	if item.InstanceNetworkType != "classic" || len(item.InnerIpAddress.IpAddress) != 1 || item.VpcAttributes.VpcId != "" ||
		len(item.VpcAttributes.PrivateIpAddress.IpAddress) != 0 || len(item.NetworkInterfaces.NetworkInterface) != 0 {
		t.Fatalf("classic instance %+v", item)
	}
	if got := describeIDs(e, map[string]string{"InstanceNetworkType": "classic"}); len(got) != 2 {
		t.Fatalf("classic filter: %v", got)
	}
	if got := describeIDs(e, map[string]string{"InnerIpAddresses": `["` + addrs[0] + `"]`}); !slices.Equal(got, a[:1]) {
		t.Fatalf("InnerIpAddresses filter: %v", got)
	}
	e.ecsErr("InvalidNetworkType.NotSupported", 400, "ModifyInstanceAttribute", map[string]string{"InstanceId": a[0], "SecurityGroupIds.1": sg})
}

func TestInstanceIPv6(t *testing.T) {
	e := newEnv(t)
	// The block named, so that the addresses below are known.
	v := e.mkVPC(map[string]string{"CidrBlock": "192.168.0.0/16", "Ipv6CidrBlock": "2408:4000::/56"})
	w := e.vpcAPI("CreateVSwitch", map[string]string{"VpcId": v, "ZoneId": "cn-hangzhou-h", "CidrBlock": "192.168.1.0/24", "Ipv6CidrBlock": "1"}).(*createVSwitchResponse).VSwitchId
	sg := putTestGroup(e, v, model.Normal)
	ids := runIDs(e, map[string]string{"VSwitchId": w, "SecurityGroupId": sg, "Ipv6AddressCount": "1", "Amount": "2"})
	pinned := runIDs(e, map[string]string{"VSwitchId": w, "SecurityGroupId": sg, "Ipv6Address.1": "2408:4000:0:1::99"})[0]
	var got []string
	for _, id := range append(ids, pinned) {
		got = append(got, readInstance(e, id).IPv6.String())
	}
	slices.Sort(got)
	if want := []string{"2408:4000:0:1::4", "2408:4000:0:1::5", "2408:4000:0:1::99"}; !slices.Equal(got, want) {
		t.Fatalf("IPv6 addresses %v, want %v", got, want)
	}
	base := map[string]string{"ImageId": "i", "InstanceType": "t", "VSwitchId": w, "SecurityGroupId": sg}
	for _, tt := range []struct{ addr, code string }{
		{"2408:4000:0:1::99", "InvalidIpv6Address.Duplicated"},
		{"2408:4000:0:2::1", "InvalidIpv6Address.Mismatch"},
	} {
		p := map[string]string{"Ipv6Address.1": tt.addr}
		for k, v := range base {
			p[k] = v
		}
		e.ecsErr(tt.code, 400, "RunInstances", p)
	}
	item := e.ecs("DescribeInstances", map[string]string{"InstanceIds": `["` + pinned + `"]`}).(*describeInstancesResponse).Instances.Instance[0]
	nics := item.NetworkInterfaces.NetworkInterface
	if len(nics) != 1 || len(nics[0].Ipv6Sets.Ipv6Set) != 1 || nics[0].Ipv6Sets.Ipv6Set[0].Ipv6Address != "2408:4000:0:1::99" || nics[0].Type != "Primary" {
		t.Fatalf("NICs %+v", nics)
	}
	if got := describeIDs(e, map[string]string{"Ipv6Address.1": "2408:4000:0:1::99"}); !slices.Equal(got, []string{pinned}) {
		t.Fatalf("Ipv6Address filter: %v", got)
	}
}

func TestPublicIPs(t *testing.T) {
	e := newEnv(t)
	n := newTestNet(e, "192.168.0.0/16", "192.168.1.0/24")
	eip := e.allocEIP().EipAddress
	ids := runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg, "InternetMaxBandwidthOut": "5", "Amount": "3"})
	seen := map[string]bool{eip: true}
	for _, id := range ids {
		in := readInstance(e, id)
		if !in.PublicIP.IsValid() || in.EipID != "" || seen[in.PublicIP.String()] || !publicPool.Contains(in.PublicIP) {
			t.Fatalf("instance %s public IP %s (EIP %q), seen %v", id, in.PublicIP, in.EipID, seen)
		}
		seen[in.PublicIP.String()] = true
	}
	pub := readInstance(e, ids[0]).PublicIP.String()
	item := e.ecs("DescribeInstances", map[string]string{"PublicIpAddresses": `["` + pub + `"]`}).(*describeInstancesResponse).Instances.Instance
	if len(item) != 1 || item[0].InstanceId != ids[0] || !slices.Equal(item[0].PublicIpAddress.IpAddress, []string{pub}) || item[0].EipAddress.AllocationId != "" {
		t.Fatalf("public IP instance %+v", item)
	}
	// The bandwidth reads back as given (Terraform's internet_max_bandwidth_out
	// would otherwise differ after every apply), from both reads.
	if item[0].InternetMaxBandwidthOut != 5 {
		t.Errorf("DescribeInstances InternetMaxBandwidthOut %d, want 5", item[0].InternetMaxBandwidthOut)
	}
	if got := e.ecs("DescribeInstanceAttribute", map[string]string{"InstanceId": ids[0]}).(*describeInstanceAttributeResponse).InternetMaxBandwidthOut; got != 5 {
		t.Errorf("DescribeInstanceAttribute InternetMaxBandwidthOut %d, want 5", got)
	}
	// CreateInstance gives no public IP, as in ECS.
	out := e.ecs("CreateInstance", map[string]string{"ImageId": "i", "InstanceType": "t", "VSwitchId": n.vsw, "SecurityGroupId": n.sg, "InternetMaxBandwidthOut": "5"}).(*createInstanceResponse)
	if in := readInstance(e, out.InstanceId); in.PublicIP.IsValid() || in.Status != model.StatusStopped {
		t.Fatalf("CreateInstance made %+v", in)
	}
	// Deleting the instance returns its address to the pool (service's
	// TestPublicAddressReused); the others stay taken.
	e.ecs("DeleteInstance", map[string]string{"InstanceId": ids[0], "Force": "true"})
	delete(seen, pub)
	if got := e.allocEIP().EipAddress; seen[got] {
		t.Fatalf("after a delete the pool gave %s, which is still in use", got)
	}
}

func TestCreateInstance(t *testing.T) {
	e := newEnv(t)
	n := newTestNet(e, "192.168.0.0/16", "192.168.1.0/24")
	out := e.ecs("CreateInstance", map[string]string{"ImageId": "img", "InstanceType": "ecs.t6", "VSwitchId": n.vsw, "SecurityGroupId": n.sg,
		"InstanceName": "db", "Amount": "5"}).(*createInstanceResponse)
	if !model.HasPrefix(out.InstanceId, "i") || instanceCount(e) != 1 {
		t.Fatalf("CreateInstance = %+v, %d instances", out, instanceCount(e))
	}
	if in := readInstance(e, out.InstanceId); in.Status != model.StatusStopped || in.Name != "db" || in.PrivateIP.String() != "192.168.1.4" {
		t.Fatalf("instance %+v", in)
	}
	e.ecsErr("InvalidPrivateIpAddress.Duplicated", 400, "CreateInstance", map[string]string{"ImageId": "img", "InstanceType": "ecs.t6", "VSwitchId": n.vsw, "SecurityGroupId": n.sg, "PrivateIpAddress": "192.168.1.4"})
	e.ecsErr("MissingParameter", 400, "CreateInstance", map[string]string{"InstanceType": "ecs.t6", "VSwitchId": n.vsw, "SecurityGroupId": n.sg})
}

func TestDescribeInstances(t *testing.T) {
	e := newEnv(t)
	n := newTestNet(e, "192.168.0.0/16", "192.168.1.0/24")
	m := newTestNet(e, "10.0.0.0/16", "10.0.1.0/24")
	web := runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg, "Amount": "3", "InstanceName": "web-server", "Tag.1.Key": "tier", "Tag.1.Value": "web"})
	db := runIDs(e, map[string]string{"VSwitchId": m.vsw, "SecurityGroupId": m.sg, "Amount": "2", "InstanceName": "db-server"})
	e.ecs("StopInstance", map[string]string{"InstanceId": db[0]})
	all := slices.Sorted(slices.Values(append(slices.Clone(web), db...)))
	sorted := func(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }
	dbIP := readInstance(e, db[1]).PrivateIP.String()

	filters := []struct {
		params map[string]string
		want   []string
	}{
		{nil, all},
		{map[string]string{"InstanceIds": `["` + web[0] + `","` + db[1] + `","i-nothere"]`}, sorted(web[0], db[1])},
		{map[string]string{"VpcId": m.vpc}, sorted(db...)},
		{map[string]string{"VSwitchId": n.vsw}, sorted(web...)},
		{map[string]string{"SecurityGroupId": m.sg}, sorted(db...)},
		{map[string]string{"Status": "Stopped"}, []string{db[0]}},
		{map[string]string{"Status": "Running", "VpcId": m.vpc}, []string{db[1]}},
		{map[string]string{"InstanceName": "web-server"}, sorted(web...)},
		{map[string]string{"InstanceName": "*-server"}, all},
		{map[string]string{"InstanceName": "db*"}, sorted(db...)},
		{map[string]string{"InstanceName": "web"}, nil},
		{map[string]string{"PrivateIpAddresses": `["` + dbIP + `"]`}, []string{db[1]}},
		{map[string]string{"InstanceNetworkType": "vpc"}, all},
		{map[string]string{"InstanceNetworkType": "classic"}, nil},
		{map[string]string{"Tag.1.Key": "tier"}, sorted(web...)},
		{map[string]string{"Tag.1.Key": "tier", "Tag.1.Value": "db"}, nil},
		{map[string]string{"ZoneId": "cn-hangzhou-h", "InstanceType": "ecs.g7.large", "ImageId": "ubuntu_22_04_x64"}, all},
		{map[string]string{"RegionId": "cn-shanghai"}, nil},
	}
	for _, f := range filters {
		if got := describeIDs(e, f.params); !slices.Equal(got, f.want) {
			t.Errorf("%v: got %v, want %v", f.params, got, f.want)
		}
	}

	// PageNumber/PageSize paging.
	var paged []string
	for page := 1; page <= 3; page++ {
		out := e.ecs("DescribeInstances", map[string]string{"PageSize": "2", "PageNumber": fmt.Sprint(page)}).(*describeInstancesResponse)
		if out.TotalCount == nil || *out.TotalCount != 5 || *out.PageNumber != page || *out.PageSize != 2 || out.NextToken != "" {
			t.Fatalf("page %d: total %v number %v size %v token %q", page, out.TotalCount, out.PageNumber, out.PageSize, out.NextToken)
		}
		for _, in := range out.Instances.Instance {
			paged = append(paged, in.InstanceId)
		}
	}
	slices.Sort(paged)
	if !slices.Equal(paged, all) {
		t.Fatalf("pages gave %v", paged)
	}
	// NextToken/MaxResults paging.
	var tokened []string
	token := ""
	for range 5 {
		p := map[string]string{"MaxResults": "2"}
		if token != "" {
			p["NextToken"] = token
		}
		out := e.ecs("DescribeInstances", p).(*describeInstancesResponse)
		for _, in := range out.Instances.Instance {
			tokened = append(tokened, in.InstanceId)
		}
		if token = out.NextToken; token == "" {
			break
		}
	}
	slices.Sort(tokened)
	if !slices.Equal(tokened, all) {
		t.Fatalf("tokens gave %v", tokened)
	}

	var many []string
	for i := range 101 {
		many = append(many, fmt.Sprintf("%q", fmt.Sprintf("i-%d", i)))
	}
	for _, tt := range []struct {
		params map[string]string
		code   string
	}{
		{map[string]string{"InstanceIds": "[" + strings.Join(many, ",") + "]"}, "InvalidParameter"},
		{map[string]string{"InstanceIds": "i-abc"}, "InvalidParameter"},
		{map[string]string{"PrivateIpAddresses": "{"}, "InvalidParameter"},
		{map[string]string{"InstanceNetworkType": "wifi"}, "InvalidParameter"},
		{map[string]string{"PageSize": "101"}, "InvalidPageSize.Malformed"},
		{map[string]string{"MaxResults": "101"}, "InvalidParameter.MaxResults"},
		{map[string]string{"NextToken": "abc"}, "InvalidNextToken.Malformed"},
		{map[string]string{"RegionId": ""}, "MissingParameter"},
	} {
		e.ecsErr(tt.code, 400, "DescribeInstances", tt.params)
	}
}

func TestDescribeInstanceShape(t *testing.T) {
	e := newEnv(t)
	n := newTestNet(e, "192.168.0.0/16", "192.168.1.0/24")
	id := runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg, "InstanceName": "web", "Tag.1.Key": "env", "Tag.1.Value": "prod"})[0]
	eip := e.allocEIP()
	e.vpcAPI("AssociateEipAddress", map[string]string{"AllocationId": eip.AllocationId, "InstanceId": id})
	in := readInstance(e, id)

	item := e.ecs("DescribeInstances", nil).(*describeInstancesResponse).Instances.Instance[0]
	if item.InstanceId != id || item.InstanceName != "web" || item.Status != "Running" || item.InstanceNetworkType != "vpc" ||
		item.RegionId != "cn-hangzhou" || item.ZoneId != "cn-hangzhou-h" || item.VpcAttributes.VpcId != n.vpc || item.VpcAttributes.VSwitchId != n.vsw ||
		!slices.Equal(item.VpcAttributes.PrivateIpAddress.IpAddress, []string{in.PrivateIP.String()}) ||
		!slices.Equal(item.SecurityGroupIds.SecurityGroupId, []string{n.sg}) || item.EipAddress.IpAddress != eip.EipAddress ||
		len(item.Tags.Tag) != 1 || item.Tags.Tag[0].TagKey != "env" || item.PalisadeHost != "" || item.PalisadePolicyInForce ||
		item.HostName == "" || item.CreationTime == "" {
		t.Fatalf("DescribeInstances item %+v", item)
	}
	nic := item.NetworkInterfaces.NetworkInterface
	if len(nic) != 1 || nic[0].PrimaryIpAddress != in.PrivateIP.String() || !strings.HasPrefix(nic[0].MacAddress, "00:16:3e:") ||
		nic[0].NetworkInterfaceId != "eni-"+idSuffix(id) || len(nic[0].PrivateIpSets.PrivateIpSet) != 1 || !nic[0].PrivateIpSets.PrivateIpSet[0].Primary {
		t.Fatalf("NIC %+v", nic)
	}

	attr := e.ecs("DescribeInstanceAttribute", map[string]string{"InstanceId": id, "RegionId": ""}).(*describeInstanceAttributeResponse)
	if attr.InstanceId != id || attr.InstanceName != "web" || attr.VpcAttributes.VSwitchId != n.vsw || attr.EipAddress.AllocationId != eip.AllocationId ||
		!slices.Equal(attr.SecurityGroupIds.SecurityGroupId, []string{n.sg}) || attr.HostName != item.HostName || attr.SerialNumber != item.SerialNumber {
		t.Fatalf("DescribeInstanceAttribute %+v", attr)
	}
	e.ecsErr("InvalidInstanceId.NotFound", 404, "DescribeInstanceAttribute", map[string]string{"InstanceId": "i-nothere"})
	e.ecsErr("InvalidInstanceId.Malformed", 400, "DescribeInstanceAttribute", map[string]string{"InstanceId": "sg-1"})
	e.ecsErr("MissingParameter", 400, "DescribeInstanceAttribute", nil)
	// An instance is found only in its own region.
	e.ecsErr("InvalidInstanceId.NotFound", 404, "DescribeInstanceAttribute", map[string]string{"InstanceId": id, "RegionId": "cn-shanghai"})

	// The Palisade extensions show what is stored.
	if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error {
		in.Host = "host-7"
		return putInstance(tx, &in)
	}); err != nil {
		t.Fatal(err)
	}
	if h := e.ecs("DescribeInstances", nil).(*describeInstancesResponse).Instances.Instance[0].PalisadeHost; h != "host-7" {
		t.Fatalf("PalisadeHost = %q", h)
	}

	classic := runIDs(e, map[string]string{"SecurityGroupId": putTestGroup(e, "", model.Normal), "InternetMaxBandwidthOut": "1"})[0]
	// The classic SDK lacks DescribeInstanceAttribute's NetworkOptions and
	// EnableNetworkEncryption, which the typed client has.
	typedAttr := reflect.TypeFor[ecs3.DescribeInstanceAttributeResponseBody]()
	checks := []struct {
		sdk    any
		action string
		params map[string]string
		also   []reflect.Type
	}{
		{ecs.DescribeInstancesResponse{}, "DescribeInstances", nil, nil},
		{ecs.DescribeInstancesResponse{}, "DescribeInstances", map[string]string{"MaxResults": "1"}, nil},
		{ecs.DescribeInstanceAttributeResponse{}, "DescribeInstanceAttribute", map[string]string{"InstanceId": id}, []reflect.Type{typedAttr}},
		{ecs.DescribeInstanceAttributeResponse{}, "DescribeInstanceAttribute", map[string]string{"InstanceId": classic}, []reflect.Type{typedAttr}},
		{ecs.RunInstancesResponse{}, "RunInstances", map[string]string{"ImageId": "i", "InstanceType": "t", "VSwitchId": n.vsw, "SecurityGroupId": n.sg}, nil},
		{ecs.CreateInstanceResponse{}, "CreateInstance", map[string]string{"ImageId": "i", "InstanceType": "t", "VSwitchId": n.vsw, "SecurityGroupId": n.sg}, nil},
		{ecs.StopInstanceResponse{}, "StopInstance", map[string]string{"InstanceId": id}, nil},
		{ecs.DescribeRegionsResponse{}, "DescribeRegions", nil, nil},
		{ecs.DescribeZonesResponse{}, "DescribeZones", nil, nil},
	}
	for _, c := range checks {
		checkSDKShape(t, c.action, reflect.TypeOf(c.sdk), e.ecs(c.action, c.params), c.also...)
	}
}

func TestInstanceLifecycle(t *testing.T) {
	e := newEnv(t)
	n := newTestNet(e, "192.168.0.0/16", "192.168.1.0/24")
	id := runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg})[0]
	status := func() string { return readInstance(e, id).Status }
	p := map[string]string{"InstanceId": id}

	e.ecsErr("IncorrectInstanceStatus", 403, "StartInstance", p)
	e.ecsErr("IncorrectInstanceStatus", 403, "DeleteInstance", p)
	e.ecs("StopInstance", p)
	if s := status(); s != model.StatusStopped {
		t.Fatalf("after StopInstance: %s", s)
	}
	e.ecsErr("IncorrectInstanceStatus", 403, "StopInstance", p)
	e.ecs("StartInstance", map[string]string{"InstanceId": id, "RegionId": ""})
	if s := status(); s != model.StatusRunning {
		t.Fatalf("after StartInstance: %s", s)
	}
	e.ecs("StopInstance", p)
	e.ecs("DeleteInstance", p)
	e.ecsErr("InvalidInstanceId.NotFound", 404, "DeleteInstance", p)
	e.ecsErr("InvalidInstanceId.NotFound", 404, "StartInstance", p)

	running := runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg})[0]
	e.ecsErr("InvalidParameter", 400, "DeleteInstance", map[string]string{"InstanceId": running, "Force": "maybe"})
	e.ecs("DeleteInstance", map[string]string{"InstanceId": running, "Force": "true"})
	if c := instanceCount(e); c != 0 {
		t.Fatalf("%d instances left", c)
	}
	e.ecsErr("MissingParameter", 400, "StopInstance", nil)
}

func TestModifyInstanceAttribute(t *testing.T) {
	e := newEnv(t)
	n := newTestNet(e, "192.168.0.0/16", "192.168.1.0/24")
	b := putTestGroup(e, n.vpc, model.Normal)
	c := putTestGroup(e, n.vpc, model.Normal)
	ent := putTestGroup(e, n.vpc, model.Enterprise)
	other := newTestNet(e, "10.0.0.0/16", "10.0.1.0/24")
	id := runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg})[0]

	e.ecs("ModifyInstanceAttribute", map[string]string{"InstanceId": id, "InstanceName": "renamed", "Description": "new text", "HostName": "renamed-1"})
	if in := readInstance(e, id); in.Name != "renamed" || in.Description != "new text" || !slices.Equal(in.SecurityGroups, []string{n.sg}) {
		t.Fatalf("after rename: %+v", in)
	}
	// SecurityGroupIds.N replaces the whole set.
	e.ecs("ModifyInstanceAttribute", map[string]string{"InstanceId": id, "SecurityGroupIds.1": b, "SecurityGroupIds.2": c})
	if got := readInstance(e, id).SecurityGroups; !slices.Equal(got, []string{b, c}) {
		t.Fatalf("groups %v, want [%s %s]", got, b, c)
	}
	if got := describeIDs(e, map[string]string{"SecurityGroupId": n.sg}); len(got) != 0 {
		t.Fatalf("still listed under the old group: %v", got)
	}
	// Switching all-basic to all-enterprise is allowed.
	e.ecs("ModifyInstanceAttribute", map[string]string{"InstanceId": id, "SecurityGroupIds.1": ent})
	e.ecs("ModifyInstanceAttribute", map[string]string{"InstanceId": id, "SecurityGroupIds.1": n.sg, "SecurityGroupIds.2": b})

	var six = map[string]string{"InstanceId": id}
	for i := range 6 {
		six[fmt.Sprintf("SecurityGroupIds.%d", i+1)] = putTestGroup(e, n.vpc, model.Normal)
	}
	tests := []struct {
		name   string
		params map[string]string
		code   string
		status int
	}{
		{"repeated, checked before lookup", map[string]string{"InstanceId": id, "SecurityGroupIds.1": "sg-gone", "SecurityGroupIds.2": "sg-gone"}, "InvalidParameter.SecurityGroupIdRepeated", 404},
		{"repeated", map[string]string{"InstanceId": id, "SecurityGroupIds.1": b, "SecurityGroupIds.2": c, "SecurityGroupIds.3": b}, "InvalidParameter.SecurityGroupIdRepeated", 404},
		{"too many", six, "JoinedGroupLimitExceed", 400},
		{"mixed types", map[string]string{"InstanceId": id, "SecurityGroupIds.1": b, "SecurityGroupIds.2": ent}, "EnterpriseGroupLimited.MutliGroupType", 403},
		{"other VPC", map[string]string{"InstanceId": id, "SecurityGroupIds.1": other.sg}, "InvalidSecurityGroupVpc.NotBelongToOneVpc", 404},
		{"unknown group", map[string]string{"InstanceId": id, "SecurityGroupIds.1": "sg-gone"}, "InvalidSecurityGroupId.NotFound", 404},
		{"malformed group", map[string]string{"InstanceId": id, "SecurityGroupIds.1": "gone"}, "InvalidSecurityGroupId.Malformed", 400},
		{"unknown instance", map[string]string{"InstanceId": "i-gone", "InstanceName": "x1"}, "InvalidInstanceId.NotFound", 404},
		{"no instance", map[string]string{"InstanceName": "x1"}, "MissingParameter", 400},
		{"bad name", map[string]string{"InstanceId": id, "InstanceName": "1x"}, "InvalidInstanceName.Malformed", 400},
		{"bad description", map[string]string{"InstanceId": id, "Description": "x"}, "InvalidDescription.Malformed", 400},
		{"bad host name", map[string]string{"InstanceId": id, "HostName": "x"}, "InvalidHostName.Malformed", 400},
		{"rename with a bad group", map[string]string{"InstanceId": id, "InstanceName": "changed", "SecurityGroupIds.1": other.sg}, "InvalidSecurityGroupVpc.NotBelongToOneVpc", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { e.ecsErr(tt.code, tt.status, "ModifyInstanceAttribute", tt.params) })
	}
	if in := readInstance(e, id); in.Name != "renamed" || !slices.Equal(in.SecurityGroups, []string{n.sg, b}) {
		t.Fatalf("failed modifications changed the instance: %+v", in)
	}
}

func TestInstancesOtherAccount(t *testing.T) {
	e := newEnv(t)
	n := newTestNet(e, "192.168.0.0/16", "192.168.1.0/24")
	id := runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg})[0]
	o := e.otherAccount()
	for _, action := range []string{"DescribeInstanceAttribute", "StartInstance", "StopInstance", "DeleteInstance"} {
		o.ecsErr("InvalidInstanceId.NotFound", 404, action, map[string]string{"InstanceId": id, "Force": "true"})
	}
	o.ecsErr("InvalidInstanceId.NotFound", 404, "ModifyInstanceAttribute", map[string]string{"InstanceId": id, "InstanceName": "mine"})
	o.ecsErr("InvalidVSwitchId.NotFound", 404, "RunInstances", map[string]string{"ImageId": "i", "InstanceType": "t", "VSwitchId": n.vsw, "SecurityGroupId": putTestGroup(o, "", model.Normal)})
	ov := newTestNet(o, "192.168.0.0/16", "192.168.1.0/24")
	o.ecsErr("InvalidSecurityGroupId.NotFound", 404, "RunInstances", map[string]string{"ImageId": "i", "InstanceType": "t", "VSwitchId": ov.vsw, "SecurityGroupId": n.sg})
	if got := describeIDs(o, nil); len(got) != 0 {
		t.Fatalf("other account lists %v", got)
	}
	if got := describeIDs(o, map[string]string{"InstanceIds": `["` + id + `"]`}); len(got) != 0 {
		t.Fatalf("other account finds %v by ID", got)
	}
	// The same block in the other account's VPC gives the same first address: VPCs are separate.
	oid := runIDs(o, map[string]string{"VSwitchId": ov.vsw, "SecurityGroupId": ov.sg})[0]
	if a, b := readInstance(e, id).PrivateIP, readInstance(o, oid).PrivateIP; a != b {
		t.Fatalf("first addresses %s and %s differ", a, b)
	}
	if in := readInstance(e, id); in.Status != model.StatusRunning || in.Name != id {
		t.Fatalf("other account changed %+v", in)
	}
}

func TestRunInstancesClientToken(t *testing.T) {
	e := newEnv(t)
	n := newTestNet(e, "192.168.0.0/16", "192.168.1.0/24")
	p := map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg, "Amount": "2", "ClientToken": "run-1"}
	first := runIDs(e, p)
	if again := runIDs(e, p); !slices.Equal(first, again) {
		t.Fatalf("retry gave %v, want %v", again, first)
	}
	if c := instanceCount(e); c != 2 {
		t.Fatalf("%d instances after a retry, want 2", c)
	}
	p["Amount"] = "3"
	e.ecsErr("IdempotentParameterMismatch", 400, "RunInstances", map[string]string{"ImageId": "ubuntu_22_04_x64", "InstanceType": "ecs.g7.large",
		"VSwitchId": n.vsw, "SecurityGroupId": n.sg, "Amount": "3", "ClientToken": "run-1"})
	stop := map[string]string{"InstanceId": first[0], "ClientToken": "stop-1"}
	e.ecs("StopInstance", stop)
	e.ecs("StopInstance", stop) // a retry answers as the first call did
}

func TestRegionsAndZones(t *testing.T) {
	e := newEnv(t)
	regions := e.ecs("DescribeRegions", map[string]string{"RegionId": ""}).(*describeRegionsResponse).Regions.Region
	if len(regions) != len(model.Regions) || regions[0].RegionId != "cn-hangzhou" || regions[0].Status != "available" ||
		regions[0].LocalName == "" || regions[0].RegionEndpoint == "" {
		t.Fatalf("DescribeRegions = %+v", regions)
	}
	zones := e.ecs("DescribeZones", nil).(*describeZonesResponse).Zones.Zone
	var ids []string
	for _, z := range zones {
		ids = append(ids, z.ZoneId)
		if !strings.HasSuffix(z.LocalName, strings.ToUpper(z.ZoneId[len(z.ZoneId)-1:])) {
			t.Errorf("zone %+v", z)
		}
	}
	if want := []string{"cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k"}; !slices.Equal(ids, want) {
		t.Fatalf("zones %v, want %v", ids, want)
	}
	e.ecsErr("MissingParameter", 400, "DescribeZones", map[string]string{"RegionId": ""})
	e.ecsErr("InvalidRegionId.NotFound", 404, "DescribeZones", map[string]string{"RegionId": "atlantis-1"})
	e.ecsErr("InvalidRegionId.NotFound", 404, "DescribeRegions", map[string]string{"RegionId": "atlantis-1"})
}

// TestGroupMemberLimit: a basic group holds at most 2,000 instances; a
// launch that would cross the limit is refused whole, as is a join.
func TestGroupMemberLimit(t *testing.T) {
	e := newEnv(t)
	e.s.Quotas.Instances = model.MaxGroupMembers + 100 // more than the default
	n := newTestNet(e, "10.0.0.0/16", "10.0.0.0/20")
	for range model.MaxGroupMembers/100 - 1 {
		runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg, "Amount": "100"})
	}
	runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg, "Amount": "99"})
	before := instanceCount(e)
	e.ecsErr("SecurityGroupInstanceLimitExceeded", 403, "RunInstances", map[string]string{"ImageId": "img", "InstanceType": "t",
		"VSwitchId": n.vsw, "SecurityGroupId": n.sg, "Amount": "2"})
	if got := instanceCount(e); got != before {
		t.Fatalf("a refused launch left %d instances behind", got-before)
	}
	runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg})
	if instanceCount(e) != model.MaxGroupMembers {
		t.Fatalf("%d instances, want %d", instanceCount(e), model.MaxGroupMembers)
	}
	other := putTestGroup(e, n.vpc, model.Normal)
	outsider := runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": other})[0]
	e.ecsErr("SecurityGroupInstanceLimitExceeded", 403, "JoinSecurityGroup", map[string]string{"InstanceId": outsider, "SecurityGroupId": n.sg})
}

// TestInstanceTypeSpecs: the instance types every zone lists read back
// with their vCPUs and memory (MiB), as ECS answers; a well-formed type
// Palisade does not know reads 0 (unknown).
func TestInstanceTypeSpecs(t *testing.T) {
	e := newEnv(t)
	n := newTestNet(e, "192.168.0.0/16", "192.168.1.0/24")
	for _, tt := range []struct {
		typ         string
		cpu, memory int
	}{
		{"ecs.g7.large", 2, 8192},
		{"ecs.c7.large", 2, 4096},
		{"ecs.r7.large", 2, 16384},
		{"ecs.t5-lc1m1.small", 1, 1024},
		{"ecs.zz9.large", 0, 0},
	} {
		id := runIDs(e, map[string]string{"VSwitchId": n.vsw, "SecurityGroupId": n.sg, "InstanceType": tt.typ})[0]
		item := e.ecs("DescribeInstances", map[string]string{"InstanceIds": `["` + id + `"]`}).(*describeInstancesResponse).Instances.Instance[0]
		attr := e.ecs("DescribeInstanceAttribute", map[string]string{"InstanceId": id}).(*describeInstanceAttributeResponse)
		if item.Cpu != tt.cpu || item.Memory != tt.memory || attr.Cpu != tt.cpu || attr.Memory != tt.memory {
			t.Errorf("%s: DescribeInstances Cpu %d Memory %d, DescribeInstanceAttribute Cpu %d Memory %d; want %d and %d",
				tt.typ, item.Cpu, item.Memory, attr.Cpu, attr.Memory, tt.cpu, tt.memory)
		}
	}
	for _, typ := range zoneInstanceTypes {
		if s, ok := instanceTypeSpecs[typ]; !ok || s.cpu == 0 || s.memory == 0 {
			t.Errorf("zones list %s, but its specs are %+v", typ, s)
		}
	}
}
