package apitest

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestLessTroddenReads holds the less common parameters and fields of
// the reads to what Alibaba's references and the SDKs' models say: the
// filters a client narrows a listing with, and fields a client tests.
func TestLessTroddenReads(t *testing.T) {
	e := newEnv(t)
	vpcID := createVPC(t, e.vpc, "10.0.0.0/16")
	vsw := createVSwitch(t, e.vpc, vpcID, "10.0.1.0/24")
	va := vpc.CreateDescribeVpcAttributeRequest()
	va.VpcId = vpcID
	rg := must(e.vpc.DescribeVpcAttribute(va))(t).ResourceGroupId
	if rg == "" {
		t.Fatal("the VPC has no ResourceGroupId")
	}

	// ShareType is empty for a vSwitch that is not shared; "Sharing"
	// says it is being shared (VPC DescribeVSwitches/-Attributes).
	t.Run("vSwitch ShareType", func(t *testing.T) {
		ar := vpc.CreateDescribeVSwitchAttributesRequest()
		ar.VSwitchId = vsw
		lr := vpc.CreateDescribeVSwitchesRequest()
		lr.VSwitchId = vsw
		for _, c := range []struct {
			read string
			got  func() string
		}{
			{"DescribeVSwitchAttributes", func() string { return must(e.vpc.DescribeVSwitchAttributes(ar))(t).ShareType }},
			{"DescribeVSwitches", func() string {
				ws := must(e.vpc.DescribeVSwitches(lr))(t).VSwitches.VSwitch
				if len(ws) != 1 {
					t.Fatalf("DescribeVSwitches VSwitchId=%s: %d vSwitches", vsw, len(ws))
				}
				return ws[0].ShareType
			}},
		} {
			if got := c.got(); got != "" {
				t.Errorf("%s: ShareType %q, want empty (not shared)", c.read, got)
			}
		}
	})

	// DescribePortRangeLists filters by Tag.N and ResourceGroupId, and
	// names each list's resource group (the Tea SDK's model; the classic
	// SDK has no typed request for it).
	t.Run("DescribePortRangeLists filters", func(t *testing.T) {
		tagged := fmt.Sprint(mustCall(t, e.v3, ecsVersion, "CreatePortRangeList", map[string]any{"PortRangeListName": "tagged", "MaxEntries": "2",
			"Tag": []any{map[string]any{"Key": "env", "Value": "prod"}}})["PortRangeListId"])
		plain := fmt.Sprint(mustCall(t, e.v3, ecsVersion, "CreatePortRangeList", map[string]any{"PortRangeListName": "plain", "MaxEntries": "2"})["PortRangeListId"])
		for _, c := range tagAndGroupFilters(tagged, plain, rg) {
			t.Run(c.name, func(t *testing.T) {
				got := mustCall(t, e.v3, ecsVersion, "DescribePortRangeLists", c.q)
				lists, _ := got["PortRangeLists"].([]any)
				var ids []string
				for _, l := range lists {
					m := l.(map[string]any)
					ids = append(ids, fmt.Sprint(m["PortRangeListId"]))
					if m["ResourceGroupId"] != rg {
						t.Errorf("%s: ResourceGroupId %v, want %s", m["PortRangeListId"], m["ResourceGroupId"], rg)
					}
				}
				if slices.Sort(ids); !slices.Equal(ids, c.want) {
					t.Errorf("lists %v, want %v", ids, c.want)
				}
			})
		}
	})

	// DescribePrefixLists filters by Tag.N and ResourceGroupId, as the
	// Tea SDK's request has them (the classic SDK's has neither), and
	// answers each list's, as the Tea SDK's model has them (it answered
	// neither: a Node.js caller's prefixList.tags.tag was undefined).
	t.Run("DescribePrefixLists filters", func(t *testing.T) {
		create := func(name string) string {
			return fmt.Sprint(mustCall(t, e.v3, ecsVersion, "CreatePrefixList", map[string]any{"PrefixListName": name, "AddressFamily": "IPv4",
				"MaxEntries": "2"})["PrefixListId"])
		}
		tagged, plain := create("tagged"), create("plain")
		tr := ecs.CreateTagResourcesRequest()
		tr.ResourceType, tr.ResourceId, tr.Tag = "prefixlist", &[]string{tagged}, &[]ecs.TagResourcesTag{{Key: "env", Value: "prod"}}
		must(e.ecs.TagResources(tr))(t)
		for _, c := range tagAndGroupFilters(tagged, plain, rg) {
			t.Run(c.name, func(t *testing.T) {
				got := mustCall(t, e.v3, ecsVersion, "DescribePrefixLists", c.q)
				lists, _ := got["PrefixLists"].(map[string]any)["PrefixList"].([]any)
				var ids []string
				for _, l := range lists {
					m := l.(map[string]any)
					ids = append(ids, fmt.Sprint(m["PrefixListId"]))
					wantTags := "[]"
					if m["PrefixListId"] == tagged {
						wantTags = "[map[TagKey:env TagValue:prod]]"
					}
					tags, _ := m["Tags"].(map[string]any)
					if m["ResourceGroupId"] != rg || tags == nil || fmt.Sprint(tags["Tag"]) != wantTags {
						t.Errorf("%s: ResourceGroupId %v, Tags %v; want %s and Tag %s", m["PrefixListId"], m["ResourceGroupId"], m["Tags"], rg, wantTags)
					}
				}
				if slices.Sort(ids); !slices.Equal(ids, c.want) {
					t.Errorf("lists %v, want %v", ids, c.want)
				}
			})
		}
	})

	// DescribeNetworkInterfaces filters by ResourceGroupId and
	// ServiceManaged (no ENI here is managed by a cloud service).
	t.Run("DescribeNetworkInterfaces filters", func(t *testing.T) {
		sg := createGroup(t, e.ecs, "eni", vpcID, "")
		eni := createENI(t, e.ecs, vsw, "10.0.1.20", sg).NetworkInterfaceId
		for _, c := range []struct {
			name string
			set  func(r *ecs.DescribeNetworkInterfacesRequest)
			want int
		}{
			{"no filter", func(*ecs.DescribeNetworkInterfacesRequest) {}, 1},
			{"the account's resource group", func(r *ecs.DescribeNetworkInterfacesRequest) { r.ResourceGroupId = rg }, 1},
			{"another resource group", func(r *ecs.DescribeNetworkInterfacesRequest) { r.ResourceGroupId = "rg-acfmzzzzzzzzzzz" }, 0},
			{"not service managed", func(r *ecs.DescribeNetworkInterfacesRequest) { r.ServiceManaged = requests.NewBoolean(false) }, 1},
			{"service managed", func(r *ecs.DescribeNetworkInterfacesRequest) { r.ServiceManaged = requests.NewBoolean(true) }, 0},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := ecs.CreateDescribeNetworkInterfacesRequest()
				r.VpcId = vpcID
				c.set(r)
				got := must(e.ecs.DescribeNetworkInterfaces(r))(t)
				if n := len(got.NetworkInterfaceSets.NetworkInterfaceSet); n != c.want || got.TotalCount != c.want {
					t.Errorf("%d ENIs (TotalCount %d), want %d of %s", n, got.TotalCount, c.want, eni)
				}
			})
		}
	})
}

// TestListFilterBounds: the filters of the listings are bounded as the
// references bound them (Tag.N 1 to 20, as DescribeSecurityGroups checks
// them; PrivateIpAddress.N and Ipv6Address.N 1 to 100): past the bound a
// 400, never a listing that ignores the excess.
func TestListFilterBounds(t *testing.T) {
	e := newEnv(t)
	tags := func(n int) []any {
		var out []any
		for i := range n {
			out = append(out, map[string]any{"Key": fmt.Sprintf("k%d", i), "Value": "v"})
		}
		return out
	}
	addrs := func(n int) []any {
		var out []any
		for i := range n {
			out = append(out, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))
		}
		return out
	}
	for _, c := range []struct {
		action, name string
		q            map[string]any
		code         string
	}{
		{"DescribeSecurityGroups", "21 tags", map[string]any{"Tag": tags(21)}, "NumberExceed.Tags"},
		{"DescribeNetworkInterfaces", "21 tags", map[string]any{"Tag": tags(21)}, "NumberExceed.Tags"},
		{"DescribeNetworkInterfaces", "a tag key twice", map[string]any{"Tag": []any{map[string]any{"Key": "k", "Value": "a"}, map[string]any{"Key": "k", "Value": "b"}}}, "Duplicate.TagKey"},
		{"DescribeNetworkInterfaces", "101 addresses", map[string]any{"PrivateIpAddress": addrs(101)}, "InvalidParameter"},
		{"DescribePortRangeLists", "21 tags", map[string]any{"Tag": tags(21)}, "NumberExceed.Tags"},
		{"DescribePrefixLists", "21 tags", map[string]any{"Tag": tags(21)}, "NumberExceed.Tags"},
	} {
		t.Run(c.action+" "+c.name, func(t *testing.T) {
			_, err := call(e.v3, ecsVersion, c.action, c.q, nil)
			wantErr(t, err, 400, c.code)
		})
	}
	// At the bounds, the listings answer.
	for _, c := range []struct {
		action string
		q      map[string]any
	}{
		{"DescribeNetworkInterfaces", map[string]any{"Tag": tags(20)}},
		{"DescribeNetworkInterfaces", map[string]any{"PrivateIpAddress": addrs(100)}},
		{"DescribePortRangeLists", map[string]any{"Tag": tags(20)}},
		{"DescribePrefixLists", map[string]any{"Tag": tags(20)}},
	} {
		t.Run(fmt.Sprint(c.action, " at the bound"), func(t *testing.T) {
			mustCall(t, e.v3, ecsVersion, c.action, c.q)
		})
	}
}

// TestCreateResourceGroup: a create that names a resource group other
// than the account's one (another tenant's among them) is refused with 404
// InvalidResourceGroup.NotFound (CreateNetworkInterface's error table;
// CreateSecurityGroup did so already) and makes nothing; the account's own
// group, or none, is taken. CreateVpc, AllocateEipAddress, CreateFlowLog
// and RunInstances ignored the parameter: they made the resource in the
// account's group whatever group the request named.
func TestCreateResourceGroup(t *testing.T) {
	e := newEnv(t)
	vpcID := createVPC(t, e.vpc, "10.0.0.0/16")
	vsw := createVSwitch(t, e.vpc, vpcID, "10.0.1.0/24")
	sg := createGroup(t, e.ecs, "eni", vpcID, "")
	rgOf := func(c *vpc.Client, id string) string {
		va := vpc.CreateDescribeVpcAttributeRequest()
		va.VpcId = id
		return must(c.DescribeVpcAttribute(va))(t).ResourceGroupId
	}
	rg := rgOf(e.vpc, vpcID)
	other := e.newAccount(t, "other")
	otherRG := rgOf(other.vpc, createVPC(t, other.vpc, "10.0.0.0/16"))

	n := 0
	creates := []struct {
		name   string
		create func(rg string) error
		count  func() int
	}{
		{"CreateNetworkInterface", func(rg string) error {
			r := ecs.CreateCreateNetworkInterfaceRequest()
			r.VSwitchId, r.SecurityGroupId, r.ResourceGroupId = vsw, sg, rg
			_, err := e.ecs.CreateNetworkInterface(r)
			return err
		}, func() int {
			r := ecs.CreateDescribeNetworkInterfacesRequest()
			r.Type = "Secondary"
			return must(e.ecs.DescribeNetworkInterfaces(r))(t).TotalCount
		}},
		// The classic SDK's CreatePrefixList has no ResourceGroupId, and it
		// has no typed request for port range lists: the Tea client's.
		{"CreatePrefixList", func(rg string) error {
			n++
			q := map[string]any{"PrefixListName": fmt.Sprintf("pl%d", n), "AddressFamily": "IPv4", "MaxEntries": "1"}
			if rg != "" {
				q["ResourceGroupId"] = rg
			}
			_, err := call(e.v3, ecsVersion, "CreatePrefixList", q, nil)
			return err
		}, func() int {
			return len(must(e.ecs.DescribePrefixLists(ecs.CreateDescribePrefixListsRequest()))(t).PrefixLists.PrefixList)
		}},
		{"CreatePortRangeList", func(rg string) error {
			n++
			q := map[string]any{"PortRangeListName": fmt.Sprintf("prl%d", n), "MaxEntries": "1"}
			if rg != "" {
				q["ResourceGroupId"] = rg
			}
			_, err := call(e.v3, ecsVersion, "CreatePortRangeList", q, nil)
			return err
		}, func() int {
			l, _ := mustCall(t, e.v3, ecsVersion, "DescribePortRangeLists", nil)["PortRangeLists"].([]any)
			return len(l)
		}},
		{"CreateVpc", func(rg string) error {
			r := vpc.CreateCreateVpcRequest()
			r.CidrBlock, r.ResourceGroupId = "10.1.0.0/16", rg
			_, err := e.vpc.CreateVpc(r)
			return err
		}, func() int {
			return must(e.vpc.DescribeVpcs(vpc.CreateDescribeVpcsRequest()))(t).TotalCount
		}},
		{"AllocateEipAddress", func(rg string) error {
			r := vpc.CreateAllocateEipAddressRequest()
			r.ResourceGroupId = rg
			_, err := e.vpc.AllocateEipAddress(r)
			return err
		}, func() int {
			return must(e.vpc.DescribeEipAddresses(vpc.CreateDescribeEipAddressesRequest()))(t).TotalCount
		}},
		{"CreateFlowLog", func(rg string) error {
			r := vpc.CreateCreateFlowLogRequest()
			// One flow log per resource: the VPC's, then (no group named)
			// its vSwitch's.
			r.ResourceType, r.ResourceId, r.TrafficType, r.ResourceGroupId = "VPC", vpcID, "All", rg
			if rg == "" {
				r.ResourceType, r.ResourceId = "VSwitch", vsw
			}
			_, err := e.vpc.CreateFlowLog(r)
			return err
		}, func() int {
			c, _ := strconv.Atoi(must(e.vpc.DescribeFlowLogs(vpc.CreateDescribeFlowLogsRequest()))(t).TotalCount)
			return c
		}},
		{"RunInstances", func(rg string) error {
			r := ecs.CreateRunInstancesRequest()
			r.ImageId, r.InstanceType, r.VSwitchId, r.SecurityGroupId, r.ResourceGroupId = imageID, instanceType, vsw, sg, rg
			_, err := e.ecs.RunInstances(r)
			return err
		}, func() int {
			return must(e.ecs.DescribeInstances(ecs.CreateDescribeInstancesRequest()))(t).TotalCount
		}},
	}
	for _, c := range creates {
		t.Run(c.name, func(t *testing.T) {
			before := c.count()
			for _, bad := range []string{"rg-acfmzzzzzzzzzzz", "not-a-group", otherRG} {
				wantErr(t, c.create(bad), 404, "InvalidResourceGroup.NotFound")
			}
			if got := c.count(); got != before {
				t.Fatalf("refused creates made %d", got-before)
			}
			for _, good := range []string{rg, ""} {
				noErr(t, c.create(good))
			}
			if got := c.count(); got != before+2 {
				t.Errorf("%d made, want 2", got-before)
			}
		})
	}
}

// TestLookupEventsByUser: LookupAttribute User is ActionTrail's user name,
// userIdentity.userName, which is "root" in each event an account signed
// (Palisade has no RAM users); the account ID, as Palisade documents,
// matches too. A filter by User=root, as a root-account audit sends, found
// nothing.
func TestLookupEventsByUser(t *testing.T) {
	s := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	a := newTenant(t, s, "a")
	noErr(t, authorizeSSH(a.ecs, newGroup(t, a.ecs)))
	all := len(lookup(t, a.trail))
	if all != 2 {
		t.Fatalf("%d events of a, want 2 (create, authorize)", all)
	}
	for _, c := range []struct {
		user string
		want int
	}{
		{"root", all},
		{a.uid, all},
		{"alice", 0},
	} {
		t.Run(c.user, func(t *testing.T) {
			evs := lookup(t, a.trail, "User", c.user)
			if len(evs) != c.want {
				t.Fatalf("%d events, want %d", len(evs), c.want)
			}
			for _, ev := range evs {
				if id := ev["userIdentity"].(map[string]any); id["userName"] != "root" || id["accountId"] != a.uid {
					t.Errorf("event of %v", id)
				}
			}
		})
	}
}

// filterCase is a listing's query and the IDs it must list, sorted.
type filterCase struct {
	name string
	q    map[string]any
	want []string
}

// tagAndGroupFilters are the queries by Tag.N and ResourceGroupId of a
// listing holding tagged (env=prod) and plain, both in resource group rg.
func tagAndGroupFilters(tagged, plain, rg string) []filterCase {
	both := []string{plain, tagged}
	slices.Sort(both)
	tag := func(k, v string) []any { return []any{map[string]any{"Key": k, "Value": v}} }
	return []filterCase{
		{"no filter", map[string]any{}, both},
		{"tag key and value", map[string]any{"Tag": tag("env", "prod")}, []string{tagged}},
		{"tag key alone", map[string]any{"Tag": tag("env", "")}, []string{tagged}},
		{"other tag value", map[string]any{"Tag": tag("env", "dev")}, nil},
		{"the account's resource group", map[string]any{"ResourceGroupId": rg}, both},
		{"another resource group", map[string]any{"ResourceGroupId": "rg-acfmzzzzzzzzzzz"}, nil},
	}
}
