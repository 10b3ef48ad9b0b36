package apitest

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/agent"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// enforced is what a host's agent enforces, from its host key's snapshot
// compiled as the agent compiles it: a NIC's own addresses, a group's
// member addresses (a group-peer rule's set) and every address the
// ruleset's sets hold.
type enforced struct {
	nic     []netip.Addr
	members []netip.Addr
	inSets  map[netip.Addr]bool
}

func enforcedOn(t *testing.T, c *apiclient.Client, host, nicID, group string) enforced {
	t.Helper()
	var snap service.Snapshot
	if err := c.Call(context.Background(), "PalisadeGetSnapshot", map[string]string{"HostName": host}, &snap, 0); err != nil {
		t.Fatalf("%s's snapshot: %v", host, err)
	}
	nics := model.NICs(snap.Instances, snap.ENIs)
	cloud := policy.NewCloud(snap.Groups, nics, snap.PrefixLists).WithPortRangeLists(snap.PortRangeLists)
	out := enforced{members: cloud.GroupAddrs(group), inSets: map[netip.Addr]bool{}}
	for _, n := range nics {
		if n.ID == nicID {
			out.nic = n.Addresses()
		}
	}
	for _, s := range nft.Build(cloud, host, nft.Options{}).Sets {
		for _, a := range s.Addrs {
			out.inSets[a] = true
		}
		for _, p := range s.Prefixes {
			if p.IsSingleIP() {
				out.inSets[p.Addr()] = true
			}
		}
	}
	return out
}

// peerSetup is a VPC with IPv6 and two vSwitches of one zone, web and db
// groups (db admits web on 3306 by group), a stopped web instance on host
// h-web and a db instance on host h-db, and both hosts' keys.
type peerSetup struct {
	vpc, vsw, vsw2, web, db, sgWeb, sgDB string
	v6                                   netip.Prefix // vsw's IPv6 block (a VPC's block is drawn at random)
	hWeb, hDB                            *apiclient.Client
	agentDB                              *runningAgent // h-db's agent, following the changes
}

// unlimitedHosts lets the tests read the hosts' snapshots as often as
// they check, beside the agent's own watch.
func unlimitedHosts(c *server.Config) { c.HostLimits = service.HostLimits{SnapshotRate: -1} }

// runningAgent is a host's agent run in the test against an in-memory
// table, as hostlimits_test runs one.
type runningAgent struct {
	kernel *nft.Fake
	mu     sync.Mutex
	last   int64         // the newest revision it reported applied
	moved  chan struct{} // a report since the last wait
}

func startAgent(t *testing.T, e *env, host, id, secret string) *runningAgent {
	t.Helper()
	a := &runningAgent{kernel: nft.NewFake(nft.Options{}), moved: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(ctx, agent.Config{Server: e.addr, AccessKeyID: id, Secret: secret, Host: host, CheckEvery: -1, Log: testenv.Quiet(),
			OpenTable: func() (nft.Table, error) { return a.kernel, nil },
			OnApplied: func(rev int64, _ nft.Stats) {
				a.mu.Lock()
				a.last = max(a.last, rev)
				a.mu.Unlock()
				select {
				case a.moved <- struct{}{}:
				default:
				}
			}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s's agent: %v", host, err)
		}
	})
	return a
}

// addrs waits until the agent has caught up (through its watch, not a
// snapshot) with the last write to instance inst, and returns the
// addresses its applied table's sets hold.
func (a *runningAgent) addrs(t *testing.T, e *env, inst string) map[netip.Addr]bool {
	t.Helper()
	var target int64
	if err := e.srv.Ops.Store.View(context.Background(), func(tx store.ReadTx) error {
		r, _, err := tx.Get(service.KindInstance, inst)
		target = r.Revision
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for {
		a.mu.Lock()
		last := a.last
		a.mu.Unlock()
		if last >= target {
			break
		}
		select {
		case <-a.moved:
		case <-time.After(time.Minute): // a failure's bound, not a timing
			t.Fatalf("the agent is at revision %d a minute later, not at the store's %d", last, target)
		}
	}
	out := map[netip.Addr]bool{}
	if rs := a.kernel.Applied(); rs != nil {
		for _, s := range rs.Sets {
			for _, x := range s.Addrs {
				out[x] = true
			}
			for _, p := range s.Prefixes {
				if p.IsSingleIP() {
					out[p.Addr()] = true
				}
			}
		}
	}
	return out
}

func newPeerSetup(t *testing.T, e *env) peerSetup {
	t.Helper()
	var p peerSetup
	cv := vpc.CreateCreateVpcRequest()
	cv.CidrBlock, cv.EnableIpv6 = "10.0.0.0/16", requests.NewBoolean(true)
	p.vpc = must(e.vpc.CreateVpc(cv))(t).VpcId
	for i, cidr := range []string{"10.0.1.0/24", "10.0.2.0/24"} {
		cs := vpc.CreateCreateVSwitchRequest()
		cs.VpcId, cs.CidrBlock, cs.ZoneId, cs.Ipv6CidrBlock = p.vpc, cidr, zone, requests.NewInteger(i+1)
		id := must(e.vpc.CreateVSwitch(cs))(t).VSwitchId
		if i == 0 {
			p.vsw = id
			ar := vpc.CreateDescribeVSwitchAttributesRequest()
			ar.VSwitchId = id
			p.v6 = netip.MustParsePrefix(must(e.vpc.DescribeVSwitchAttributes(ar))(t).Ipv6CidrBlock)
		} else {
			p.vsw2 = id
		}
	}
	p.sgWeb, p.sgDB = createGroup(t, e.ecs, "web", p.vpc, ""), createGroup(t, e.ecs, "db", p.vpc, "")
	ar := ecs.CreateAuthorizeSecurityGroupRequest()
	ar.SecurityGroupId, ar.IpProtocol, ar.PortRange, ar.SourceGroupId = p.sgDB, "tcp", "3306/3306", p.sgWeb
	must(e.ecs.AuthorizeSecurityGroup(ar))(t)
	p.web, p.db = runInstance(t, e.ecs, p.vsw, p.sgWeb), runInstance(t, e.ecs, p.vsw, p.sgDB)
	ctx := context.Background()
	op, err := e.srv.Ops.KeyCaller(ctx, e.srv.OperatorKeyID)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct{ inst, host string }{{p.web, "h-web"}, {p.db, "h-db"}} {
		if err := e.srv.Ops.BindInstance(ctx, service.BindInput{Caller: op, InstanceID: b.inst, HostName: b.host, Interface: "pi-1"}); err != nil {
			t.Fatal(err)
		}
	}
	id, secret := e.srv.RegisterHost(t, "h-web")
	p.hWeb = testenv.APIClient(t, e.addr, id, secret)
	id, secret = e.srv.RegisterHost(t, "h-db")
	p.hDB = testenv.APIClient(t, e.addr, id, secret)
	p.agentDB = startAgent(t, e, "h-db", id, secret)
	return p
}

// check holds the web instance's address a (present or not) to both
// hosts' enforcement: h-web's own NIC, and h-db's web member set.
func (p peerSetup) check(t *testing.T, e *env, a netip.Addr, present bool) {
	t.Helper()
	if got := p.agentDB.addrs(t, e, p.web)[a]; got != present {
		t.Errorf("h-db's running agent's table holds %s: %v, want %v", a, got, present)
	}
	own := enforcedOn(t, p.hWeb, "h-web", p.web, p.sgWeb) // the primary NIC is the instance's

	peer := enforcedOn(t, p.hDB, "h-db", p.db, p.sgWeb)
	if got := slices.Contains(own.nic, a); got != present {
		t.Errorf("h-web's NIC %s addresses %v: %s present %v, want %v", p.web, own.nic, a, got, present)
	}
	if got := slices.Contains(peer.members, a); got != present {
		t.Errorf("h-db's members of %s %v: %s present %v, want %v", p.sgWeb, peer.members, a, got, present)
	}
	if got := peer.inSets[a]; got != present {
		t.Errorf("h-db's compiled sets hold %s: %v, want %v", a, got, present)
	}
}

func assignIPv6(c *ecs.Client, eni string, count int, addrs ...string) (*ecs.AssignIpv6AddressesResponse, error) {
	r := ecs.CreateAssignIpv6AddressesRequest()
	r.NetworkInterfaceId = eni
	if len(addrs) > 0 {
		r.Ipv6Address = &addrs
	}
	if count != 0 {
		r.Ipv6AddressCount = requests.NewInteger(count)
	}
	return c.AssignIpv6Addresses(r)
}

func unassignIPv6(c *ecs.Client, eni string, addrs ...string) error {
	r := ecs.CreateUnassignIpv6AddressesRequest()
	r.NetworkInterfaceId = eni
	if len(addrs) > 0 {
		r.Ipv6Address = &addrs
	}
	_, err := c.UnassignIpv6Addresses(r)
	return err
}

// TestIPv6Addresses drives AssignIpv6Addresses and UnassignIpv6Addresses
// with the official SDK on an instance's primary ENI and a secondary ENI:
// the answer in the SDK's shape, the address read back, every refusal
// ECS's error changing nothing, another account's ENI absent, a
// ClientToken retry answered as the first; and the address reaching what
// the agents enforce: the instance's host's NIC and, on another host, the
// member set of a rule that names the instance's group.
func TestIPv6Addresses(t *testing.T) {
	e := clients(t, testenv.Start(t, testenv.Config{Adjust: unlimitedHosts}))
	c := e.ecs
	p := newPeerSetup(t, e)
	webNIC := "eni-" + p.web[len("i-"):]
	plain := newNetwork(t, e, "172.16.0.0/16") // a vSwitch without IPv6
	plainENI := createENI(t, c, plain.vsw, "", plain.sgA).NetworkInterfaceId
	eni := createENI(t, c, p.vsw, "", p.sgWeb).NetworkInterfaceId
	other := e.newAccount(t, "other")

	// The token's retry answers the first assignment, and assigns nothing more.
	r := ecs.CreateAssignIpv6AddressesRequest()
	r.NetworkInterfaceId, r.Ipv6AddressCount, r.ClientToken = webNIC, requests.NewInteger(1), "v6-1"
	res := must(c.AssignIpv6Addresses(r))(t)
	if res.NetworkInterfaceId != webNIC || len(res.Ipv6Sets.Ipv6Address) != 1 {
		t.Fatalf("AssignIpv6Addresses decoded %+v", res)
	}
	a6 := netip.MustParseAddr(res.Ipv6Sets.Ipv6Address[0])
	again := must(c.AssignIpv6Addresses(r))(t)
	if !slices.Equal(again.Ipv6Sets.Ipv6Address, res.Ipv6Sets.Ipv6Address) {
		t.Fatalf("the retry answered %v, want %v", again.Ipv6Sets.Ipv6Address, res.Ipv6Sets.Ipv6Address)
	}
	if got := eniAttr(t, c, webNIC).Ipv6Sets.Ipv6Set; len(got) != 1 || got[0].Ipv6Address != a6.String() {
		t.Fatalf("DescribeNetworkInterfaceAttribute's IPv6 %+v, want %s", got, a6)
	}
	p.check(t, e, a6, true)

	// A named address on the secondary ENI.
	b := p.v6.Addr().As16()
	b[15] = 0x64
	named := netip.AddrFrom16(b).String() // a free address of the vSwitch's block
	if got := must(assignIPv6(c, eni, 0, named))(t).Ipv6Sets.Ipv6Address; !slices.Equal(got, []string{named}) {
		t.Fatalf("named: %v", got)
	}

	for _, tt := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"past the type's", func() error { _, err := assignIPv6(c, webNIC, model.ENIIPv6Quota(instanceType)); return err }, 403, "InvalidOperation.Ipv6CountExceeded"},
		{"both forms", func() error { _, err := assignIPv6(c, plainENI, 1, named); return err }, 400, "InvalidParameter.Conflict"},
		{"neither form", func() error { _, err := assignIPv6(c, plainENI, 0); return err }, 400, "MissingParameter"},
		{"count over 10", func() error { _, err := assignIPv6(c, plainENI, 11); return err }, 400, "InvalidParameter"},
		{"no IPv6 block", func() error { _, err := assignIPv6(c, plainENI, 1); return err }, 400, "InvalidVSwitch.Ipv6NotTurnOn"},
		{"not IPv6", func() error { _, err := assignIPv6(c, plainENI, 0, "10.0.1.9"); return err }, 400, "InvalidIpv6Address.Malformed"},
		{"outside the vSwitch", func() error { _, err := assignIPv6(c, p.ENIOf(), 0, "2001:db8::9"); return err }, 403, "InvalidIp.Address"},
		{"another NIC's", func() error { _, err := assignIPv6(c, p.ENIOf(), 0, named); return err }, 403, "InvalidIp.IpRepeated"},
		{"a prefix", func() error {
			r := ecs.CreateAssignIpv6AddressesRequest()
			r.NetworkInterfaceId, r.Ipv6PrefixCount = p.ENIOf(), requests.NewInteger(1)
			_, err := c.AssignIpv6Addresses(r)
			return err
		}, 400, "OperationUnsupported.Ipv6Prefix"},
		{"another account's", func() error { _, err := assignIPv6(other.ecs, p.ENIOf(), 1); return err }, 404, "InvalidEniId.NotFound"},
		{"another account's unassign", func() error { return unassignIPv6(other.ecs, webNIC, a6.String()) }, 404, "InvalidEniId.NotFound"},
		{"unassign one not held", func() error { return unassignIPv6(c, webNIC, named) }, 403, "InvalidIp.IpUnassigned"},
		{"unassign none", func() error { return unassignIPv6(c, webNIC) }, 400, "MissingParameter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.call(), tt.status, tt.code)
			if got := eniAttr(t, c, webNIC).Ipv6Sets.Ipv6Set; len(got) != 1 || got[0].Ipv6Address != a6.String() {
				t.Errorf("a refused call changed web's IPv6: %+v", got)
			}
			if got := eniAttr(t, c, p.ENIOf()).Ipv6Sets.Ipv6Set; len(got) != 0 {
				t.Errorf("a refused call gave db an IPv6: %+v", got)
			}
		})
	}

	noErr(t, unassignIPv6(c, webNIC, a6.String()))
	if got := eniAttr(t, c, webNIC).Ipv6Sets.Ipv6Set; len(got) != 0 {
		t.Fatalf("after the unassignment: %+v", got)
	}
	p.check(t, e, a6, false)
}

// ENIOf is the db instance's primary ENI.
func (p peerSetup) ENIOf() string { return "eni-" + p.db[len("i-"):] }

// TestModifyInstanceVpcAttribute moves a stopped instance to another
// address of its vSwitch, to another vSwitch and to another VPC with the
// official SDK, checks ECS's refusals (each changing nothing), and that
// the new address reaches its host's NIC and another host's member set
// of a rule that names its group, the old one leaving both.
func TestModifyInstanceVpcAttribute(t *testing.T) {
	e := clients(t, testenv.Start(t, testenv.Config{Adjust: unlimitedHosts}))
	c := e.ecs
	p := newPeerSetup(t, e)
	other := e.newAccount(t, "other")
	old := netip.MustParseAddr(instance(t, c, p.web).VpcAttributes.PrivateIpAddress.IpAddress[0])
	p.check(t, e, old, true)
	stop := ecs.CreateStopInstanceRequest()
	stop.InstanceId = p.web
	must(c.StopInstance(stop))(t)
	dbIP := instance(t, c, p.db).VpcAttributes.PrivateIpAddress.IpAddress[0]
	// Another VPC, of one zone, with a group of its own.
	v2 := createVPC(t, e.vpc, "192.168.0.0/16")
	vsw3 := createVSwitch(t, e.vpc, v2, "192.168.1.0/24")
	sg3 := createGroup(t, c, "moved", v2, "")

	modify := func(cl *ecs.Client, inst, vsw, ip, vpcID string, groups ...string) error {
		r := ecs.CreateModifyInstanceVpcAttributeRequest()
		r.InstanceId, r.VSwitchId, r.PrivateIpAddress, r.VpcId = inst, vsw, ip, vpcID
		if len(groups) > 0 {
			r.SecurityGroupId = &groups
		}
		_, err := cl.ModifyInstanceVpcAttribute(r)
		return err
	}
	where := func() string {
		in := instance(t, c, p.web)
		return in.VpcAttributes.VpcId + " " + in.VpcAttributes.VSwitchId + " " + in.VpcAttributes.PrivateIpAddress.IpAddress[0]
	}
	before := where()
	for _, tt := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"running", func() error { return modify(c, p.db, p.vsw, "10.0.1.77", "") }, 403, "IncorrectInstanceStatus"},
		{"no vSwitch", func() error { return modify(c, p.web, "", "10.0.1.77", "") }, 400, "MissingParameter"},
		{"malformed", func() error { return modify(c, p.web, p.vsw, "10.0.1.777", "") }, 400, "InvalidPrivateIpAddress.Malformed"},
		{"outside", func() error { return modify(c, p.web, p.vsw, "10.0.9.7", "") }, 400, "InvalidPrivateIpAddress.Mismatch"},
		{"taken", func() error { return modify(c, p.web, p.vsw, dbIP, "") }, 400, "InvalidPrivateIpAddress.Duplicated"},
		{"vSwitch of another VPC", func() error { return modify(c, p.web, vsw3, "", "") }, 404, "InvalidVSwitchId.NotFound"},
		{"VPC without groups", func() error { return modify(c, p.web, vsw3, "", v2) }, 400, "MissingParameter"},
		{"VPC with the old groups", func() error { return modify(c, p.web, vsw3, "", v2, p.sgWeb) }, 404, "InvalidSecurityGroupVpc.NotBelongToOneVpc"},
		{"another account's", func() error { return modify(other.ecs, p.web, p.vsw, "10.0.1.77", "") }, 404, "InvalidInstanceId.NotFound"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.call(), tt.status, tt.code)
			if got := where(); got != before {
				t.Fatalf("a refused call moved the instance: %s, was %s", got, before)
			}
		})
	}

	// Another address of the same vSwitch: the agents follow.
	noErr(t, modify(c, p.web, p.vsw, "10.0.1.77", ""))
	moved := netip.MustParseAddr("10.0.1.77")
	p.check(t, e, moved, true)
	p.check(t, e, old, false)
	// Another vSwitch of the VPC: a free address of it.
	noErr(t, modify(c, p.web, p.vsw2, "", ""))
	in := instance(t, c, p.web)
	if in.VpcAttributes.VSwitchId != p.vsw2 || !netip.MustParsePrefix("10.0.2.0/24").Contains(netip.MustParseAddr(in.VpcAttributes.PrivateIpAddress.IpAddress[0])) {
		t.Fatalf("after the vSwitch change: %+v", in.VpcAttributes)
	}
	p.check(t, e, moved, false)
	// Another VPC with its groups: web leaves sg-web, so db's host holds
	// no member of it.
	noErr(t, modify(c, p.web, vsw3, "192.168.1.20", v2, sg3))
	in = instance(t, c, p.web)
	if in.VpcAttributes.VpcId != v2 || in.VpcAttributes.PrivateIpAddress.IpAddress[0] != "192.168.1.20" || !slices.Equal(in.SecurityGroupIds.SecurityGroupId, []string{sg3}) {
		t.Fatalf("after the VPC change: %+v %v", in.VpcAttributes, in.SecurityGroupIds.SecurityGroupId)
	}
	if got := enforcedOn(t, p.hDB, "h-db", p.db, p.sgWeb).members; len(got) != 0 {
		t.Fatalf("h-db still holds members of %s: %v", p.sgWeb, got)
	}
	if got := p.agentDB.addrs(t, e, p.web); got[netip.MustParseAddr("192.168.1.20")] || got[netip.MustParseAddr(in.VpcAttributes.PrivateIpAddress.IpAddress[0])] {
		t.Fatalf("h-db's running agent's table holds web's new address: %v", got)
	}
	if got := enforcedOn(t, p.hWeb, "h-web", p.web, sg3).nic; !slices.Contains(got, netip.MustParseAddr("192.168.1.20")) {
		t.Fatalf("h-web's NIC addresses %v after the VPC change", got)
	}
}
