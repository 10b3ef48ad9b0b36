package apitest

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// quotaNet is what an account needs before it makes the resources a quota
// counts: a VPC (10.0.0.0/16) with a vSwitch (10.0.1.0/24) and a group.
type quotaNet struct{ vpc, vsw, sg string }

func newQuotaNet(t testing.TB, a account) quotaNet {
	t.Helper()
	n := quotaNet{vpc: createVPC(t, a.vpc, "10.0.0.0/16")}
	n.vsw = createVSwitch(t, a.vpc, n.vpc, "10.0.1.0/24")
	n.sg = createGroup(t, a.ecs, "base", n.vpc, "")
	return n
}

// quotaCase is one per-account quota: make creates the i-th resource it
// counts (i from 0; distinct arguments where they must differ), count says
// how many the account holds (vSwitches: in the network's VPC).
type quotaCase struct {
	name   string
	status int
	code   string
	quota  func(q service.Quotas) int
	make   func(a account, n quotaNet, i int) error
	count  func(t testing.TB, a account, n quotaNet) int
}

var quotaCases = []quotaCase{
	{"VPCs", 400, "QuotaExceeded.Vpc", func(q service.Quotas) int { return q.VPCs },
		func(a account, _ quotaNet, i int) error {
			r := vpc.CreateCreateVpcRequest()
			r.CidrBlock = fmt.Sprintf("10.%d.0.0/16", 100+i)
			_, err := a.vpc.CreateVpc(r)
			return err
		},
		func(t testing.TB, a account, _ quotaNet) int {
			return must(a.vpc.DescribeVpcs(vpc.CreateDescribeVpcsRequest()))(t).TotalCount
		}},
	{"vSwitches of a VPC", 400, "QuotaExceeded.VSwitch", func(q service.Quotas) int { return q.VSwitchesPerVPC },
		func(a account, n quotaNet, i int) error {
			r := vpc.CreateCreateVSwitchRequest()
			r.VpcId, r.CidrBlock, r.ZoneId = n.vpc, fmt.Sprintf("10.0.%d.%d/29", 2+i/32, i%32*8), zone
			_, err := a.vpc.CreateVSwitch(r)
			return err
		},
		func(t testing.TB, a account, n quotaNet) int {
			r := vpc.CreateDescribeVSwitchesRequest()
			r.VpcId = n.vpc
			return must(a.vpc.DescribeVSwitches(r))(t).TotalCount
		}},
	{"instances", 403, "QuotaExceed.ElasticQuota", func(q service.Quotas) int { return q.Instances },
		func(a account, n quotaNet, _ int) error {
			r := ecs.CreateRunInstancesRequest()
			r.ImageId, r.InstanceType, r.VSwitchId, r.SecurityGroupIds = imageID, instanceType, n.vsw, &[]string{n.sg}
			_, err := a.ecs.RunInstances(r)
			return err
		},
		func(t testing.TB, a account, _ quotaNet) int {
			return must(a.ecs.DescribeInstances(ecs.CreateDescribeInstancesRequest()))(t).TotalCount
		}},
	{"security groups", 403, "QuotaExceed.SecurityGroup", func(q service.Quotas) int { return q.SecurityGroups },
		func(a account, n quotaNet, i int) error {
			r := ecs.CreateCreateSecurityGroupRequest()
			r.SecurityGroupName, r.VpcId = fmt.Sprintf("g%d", i), n.vpc
			_, err := a.ecs.CreateSecurityGroup(r)
			return err
		},
		func(t testing.TB, a account, _ quotaNet) int {
			return must(a.ecs.DescribeSecurityGroups(ecs.CreateDescribeSecurityGroupsRequest()))(t).TotalCount
		}},
	{"secondary ENIs", 403, "MaxEniCountExceeded", func(q service.Quotas) int { return q.ENIs },
		func(a account, n quotaNet, _ int) error {
			r := ecs.CreateCreateNetworkInterfaceRequest()
			r.VSwitchId, r.SecurityGroupIds = n.vsw, &[]string{n.sg}
			_, err := a.ecs.CreateNetworkInterface(r)
			return err
		},
		func(t testing.TB, a account, _ quotaNet) int {
			r := ecs.CreateDescribeNetworkInterfacesRequest()
			r.Type = "Secondary"
			return must(a.ecs.DescribeNetworkInterfaces(r))(t).TotalCount
		}},
	{"prefix lists", 403, "QuotaExceed.PrefixList", func(q service.Quotas) int { return q.PrefixLists },
		func(a account, _ quotaNet, i int) error {
			r := ecs.CreateCreatePrefixListRequest()
			r.AddressFamily, r.MaxEntries, r.PrefixListName = "IPv4", requests.NewInteger(5), fmt.Sprintf("pl%d", i)
			_, err := a.ecs.CreatePrefixList(r)
			return err
		},
		func(t testing.TB, a account, _ quotaNet) int {
			r := ecs.CreateDescribePrefixListsRequest()
			r.MaxResults = requests.NewInteger(100)
			return len(must(a.ecs.DescribePrefixLists(r))(t).PrefixLists.PrefixList)
		}},
	{"port range lists", 403, "QuotaExceed.PortRangeList", func(q service.Quotas) int { return q.PortRangeLists },
		func(a account, _ quotaNet, i int) error {
			_, err := call(a.v3, ecsVersion, "CreatePortRangeList", map[string]any{"PortRangeListName": fmt.Sprintf("prl%d", i), "MaxEntries": "5"}, nil)
			return err
		},
		func(t testing.TB, a account, _ quotaNet) int {
			lists, _ := mustCall(t, a.v3, ecsVersion, "DescribePortRangeLists", map[string]any{"MaxResults": "100"})["PortRangeLists"].([]any)
			return len(lists)
		}},
	{"flow logs", 400, "QuotaExceeded.FlowLog", func(q service.Quotas) int { return q.FlowLogs },
		func(a account, n quotaNet, _ int) error {
			_, err := createFlowLog(a.vpc, "VPC", n.vpc, "All", nil)
			return err
		},
		func(t testing.TB, a account, _ quotaNet) int {
			n, err := strconv.Atoi(describeFlowLogs(t, a.vpc, nil).TotalCount)
			if err != nil {
				t.Fatalf("DescribeFlowLogs TotalCount: %v", err)
			}
			return n
		}},
	{"EIPs", 400, "QuotaExceeded.Eip", func(q service.Quotas) int { return q.PublicIPs },
		func(a account, _ quotaNet, _ int) error {
			_, err := a.vpc.AllocateEipAddress(vpc.CreateAllocateEipAddressRequest())
			return err
		},
		func(t testing.TB, a account, _ quotaNet) int {
			return must(a.vpc.DescribeEipAddresses(vpc.CreateDescribeEipAddressesRequest()))(t).TotalCount
		}},
}

// smallQuotas is an operator's override of every quota (serve
// --quota-*), small enough to fill through the API; VPCs leave room for
// the network each account starts with.
var smallQuotas = service.Quotas{VPCs: 4, VSwitchesPerVPC: 4, Instances: 3, SecurityGroups: 3, ENIs: 3,
	PrefixLists: 2, PortRangeLists: 2, FlowLogs: 2, PublicIPs: 2}

// fillQuota makes resources in a until it holds the quota, then checks that
// one more is refused with the case's status and code and changes nothing.
func fillQuota(t *testing.T, tc quotaCase, a account, n quotaNet, quota int) {
	t.Helper()
	for i := 0; tc.count(t, a, n) < quota; i++ {
		if i > quota {
			t.Fatalf("%d made and the account holds %d; want %d", i, tc.count(t, a, n), quota)
		}
		if err := tc.make(a, n, i); err != nil {
			t.Fatalf("%s %d of %d: %v", tc.name, i+1, quota, err)
		}
	}
	wantErr(t, tc.make(a, n, quota+1), tc.status, tc.code)
	if got := tc.count(t, a, n); got != quota {
		t.Fatalf("the account holds %d after the refused one; want %d", got, quota)
	}
}

// TestAccountQuotas: with the operator's quotas (the server's Quotas, as
// serve --quota-* sets them), an account fills each one through the API;
// one more is refused with ECS's code and status and changes nothing,
// while another account still makes its own.
func TestAccountQuotas(t *testing.T) {
	s := testenv.Start(t, testenv.Config{Adjust: func(c *server.Config) { c.Quotas = smallQuotas }})
	e := clients(t, s)
	for _, tc := range quotaCases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := e.newAccount(t, "full"), e.newAccount(t, "other")
			na, nb := newQuotaNet(t, a), newQuotaNet(t, b)
			quota := tc.quota(smallQuotas)
			fillQuota(t, tc, a, na, quota)
			before := tc.count(t, b, nb)
			if err := tc.make(b, nb, 0); err != nil {
				t.Fatalf("another account is refused: %v", err)
			}
			if got := tc.count(t, b, nb); got != before+1 {
				t.Errorf("the other account holds %d, want %d", got, before+1)
			}
		})
	}
	// The vSwitch quota is per VPC: another VPC of the account has room.
	a := e.newAccount(t, "vswitches")
	n := newQuotaNet(t, a)
	fillQuota(t, quotaCases[1], a, n, smallQuotas.VSwitchesPerVPC)
	other := createVPC(t, a.vpc, "10.1.0.0/16")
	createVSwitch(t, a.vpc, other, "10.1.1.0/24")
	// A launch that does not fit is refused whole.
	b := e.newAccount(t, "launch")
	nb := newQuotaNet(t, b)
	r := ecs.CreateRunInstancesRequest()
	r.ImageId, r.InstanceType, r.VSwitchId, r.SecurityGroupIds, r.Amount = imageID, instanceType, nb.vsw, &[]string{nb.sg}, requests.NewInteger(smallQuotas.Instances+1)
	_, err := b.ecs.RunInstances(r)
	wantErr(t, err, 403, "QuotaExceed.ElasticQuota")
	if got := quotaCases[2].count(t, b, nb); got != 0 {
		t.Errorf("%d instances after a launch over the quota, want none", got)
	}
	// A launch whose public IPs do not fit is refused whole, and says what
	// the account holds (none here), not what the launch took before the
	// address over the quota.
	r.Amount, r.InternetMaxBandwidthOut = requests.NewInteger(smallQuotas.PublicIPs+1), requests.NewInteger(5)
	_, err = b.ecs.RunInstances(r)
	wantErr(t, err, 400, "QuotaExceeded.Eip")
	if want := "holds 0 public addresses"; !strings.Contains(err.Error(), want) {
		t.Errorf("the refusal does not say %q:\n%v", want, err)
	}
	if got := quotaCases[2].count(t, b, nb); got != 0 {
		t.Errorf("%d instances after a launch over the public address quota, want none", got)
	}
}

// TestAccountQuotaDefaults: without an override the new quotas are ECS's
// and VPC's defaults (10 VPCs a region, 150 vSwitches a VPC) and
// Palisade's 1,000 instances a region.
func TestAccountQuotaDefaults(t *testing.T) {
	e := newEnv(t)
	for _, i := range []int{0, 1, 2} {
		tc := quotaCases[i]
		t.Run(tc.name, func(t *testing.T) {
			a := e.newAccount(t, "defaults")
			n := newQuotaNet(t, a)
			if tc.name == "instances" {
				// A hundred a launch, up to one short of the quota, in a
				// vSwitch that holds them.
				n.vsw = createVSwitch(t, a.vpc, n.vpc, "10.0.16.0/20")
				r := ecs.CreateRunInstancesRequest()
				r.ImageId, r.InstanceType, r.VSwitchId, r.SecurityGroupIds, r.Amount = imageID, instanceType, n.vsw, &[]string{n.sg}, "100"
				for range service.DefaultQuotas.Instances/100 - 1 {
					must(a.ecs.RunInstances(r))(t)
				}
				r.Amount = "99"
				_, err := a.ecs.RunInstances(r)
				noErr(t, err)
			}
			fillQuota(t, tc, a, n, tc.quota(service.DefaultQuotas))
		})
	}
	if q := service.DefaultQuotas; q.VPCs != 10 || q.VSwitchesPerVPC != 150 || q.Instances != 1000 {
		t.Errorf("DefaultQuotas %+v", q)
	}
}

// raceQuota has workers (each an account's client) race attempts
// creations of tc's resource, a write answered OperationConflict sent
// again as a client would; it fails t unless exactly want land and every
// other attempt is refused with tc's code and status.
func raceQuota(t *testing.T, tc quotaCase, workers []account, n quotaNet, attempts, want int) {
	t.Helper()
	next := make(chan int, attempts)
	for i := range attempts {
		next <- i
	}
	close(next)
	var (
		mu                     sync.Mutex
		ok, refused, conflicts int
		problems               []string
		wg                     sync.WaitGroup
	)
	for _, c := range workers {
		wg.Go(func() {
			for i := range next {
				for retry := true; retry; {
					err := tc.make(c, n, i)
					code, status, _ := apiError(err)
					retry = false
					mu.Lock()
					switch {
					case err == nil:
						ok++
					case code == tc.code && status == tc.status:
						refused++
					case code == "OperationConflict" && status == 409:
						conflicts++
						retry = true
					default:
						problems = append(problems, fmt.Sprintf("attempt %d: %v", i, err))
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if ok != want || refused != attempts-want {
		t.Fatalf("%d made and %d refused; want %d and %d", ok, refused, want, attempts-want)
	}
	t.Logf("%d writes answered OperationConflict and were sent again", conflicts)
}

// raceQuotas are the quotas the races fill.
var raceQuotas = service.Quotas{VPCs: 6, VSwitchesPerVPC: 5, Instances: 5, SecurityGroups: 6, PublicIPs: 5}

// TestAccountQuotaRace: six clients of one account race creations past a
// quota; exactly the quota lands, every other attempt is refused with the
// quota's code, and the account holds exactly the quota after.
func TestAccountQuotaRace(t *testing.T) {
	s := testenv.Start(t, testenv.Config{Adjust: func(c *server.Config) { c.Quotas = raceQuotas }})
	e := clients(t, s)
	for _, tc := range append(quotaCases[:4:4], quotaCases[8]) {
		t.Run(tc.name, func(t *testing.T) {
			acct := e.srv.NewAccount(t, "race")
			a := account{uid: acct.UID, ecs: newECS(t, e.addr, acct.KeyID, acct.Secret), vpc: newVPC(t, e.addr, acct.KeyID, acct.Secret)}
			n := newQuotaNet(t, a)
			quota := tc.quota(raceQuotas)
			held := tc.count(t, a, n) // the network's VPC and group count
			workers := make([]account, 6)
			for w := range workers {
				workers[w] = account{ecs: newECS(t, e.addr, acct.KeyID, acct.Secret), vpc: newVPC(t, e.addr, acct.KeyID, acct.Secret)}
			}
			raceQuota(t, tc, workers, n, 24, quota-held)
			if got := tc.count(t, a, n); got != quota {
				t.Errorf("the account holds %d, want %d", got, quota)
			}
		})
	}
}

// TestAccountQuotaRaceOnEtcd: the same race spread over two servers of one
// installation on etcd, where a write runs in etcd's transaction and the
// count is its listing: exactly the quota lands.
func TestAccountQuotaRaceOnEtcd(t *testing.T) {
	servers := testenv.StartCluster(t, 2, testenv.Config{Log: testenv.Quiet(), Adjust: func(c *server.Config) { c.Quotas = raceQuotas }})
	for _, tc := range []quotaCase{quotaCases[0], quotaCases[3]} {
		t.Run(tc.name, func(t *testing.T) {
			acct := servers[0].NewAccount(t, "race")
			var workers []account
			for w := range 6 {
				s := servers[w%2]
				workers = append(workers, account{ecs: newECS(t, s.Addr, acct.KeyID, acct.Secret), vpc: newVPC(t, s.Addr, acct.KeyID, acct.Secret)})
			}
			// The account's key reaches the other server through its watch.
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				_, err := workers[1].ecs.DescribeRegions(ecs.CreateDescribeRegionsRequest())
				return err == nil, fmt.Sprintf("the second server refuses the new key: %v", err)
			})
			quota := tc.quota(raceQuotas)
			raceQuota(t, tc, workers, quotaNet{}, 24, quota)
			for i, w := range workers[:2] {
				testenv.Eventually(t, 10*time.Second, func() (bool, string) {
					got := tc.count(t, w, quotaNet{})
					return got == quota, fmt.Sprintf("server %d: the account holds %d, want %d", i, got, quota)
				})
			}
		})
	}
}

// TestPublicAddressesTellNothingOfOthers: the public pool is shared, and
// on etcd (the store's transaction) an allocation took the lowest free
// address, so the address tenant A got told how many B had taken before
// it (B took five; A's next EIP was the sixth address after A's last).
// Every allocation now probes from a random place, on a single server and
// on etcd alike, for EIPs and instances' public IPs: A's addresses are
// not the run that follows B's.
func TestPublicAddressesTellNothingOfOthers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) *testenv.Server
	}{
		{"single server", func(t *testing.T) *testenv.Server { return testenv.Start(t, testenv.Config{}) }},
		{"etcd", func(t *testing.T) *testenv.Server {
			return testenv.StartCluster(t, 1, testenv.Config{Log: testenv.Quiet()})[0]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := clients(t, tc.start(t))
			a := e.newAccount(t, "tenant-a")
			eip := func(c *vpc.Client) netip.Addr {
				return netip.MustParseAddr(must(c.AllocateEipAddress(vpc.CreateAllocateEipAddressRequest()))(t).EipAddress)
			}
			var all []netip.Addr
			for range 5 {
				all = append(all, eip(e.vpc)) // B's
			}
			for range 3 {
				all = append(all, eip(a.vpc))
			}
			sg := createGroup(t, a.ecs, "a-web", "", "")
			r := ecs.CreateRunInstancesRequest()
			r.ImageId, r.InstanceType, r.SecurityGroupId, r.InternetMaxBandwidthOut = imageID, instanceType, sg, requests.NewInteger(5)
			inst := must(a.ecs.RunInstances(r))(t).InstanceIdSets.InstanceIdSet[0]
			all = append(all, netip.MustParseAddr(instance(t, a.ecs, inst).PublicIpAddress.IpAddress[0]))
			if oneRun(all) {
				t.Errorf("B's five addresses and A's four are one run (in the order taken: %v): A's tell how many B holds", all)
			}
		})
	}
}

// oneRun tells whether addrs, sorted, are consecutive: what handing out
// the lowest free address of a shared block makes.
func oneRun(addrs []netip.Addr) bool {
	sorted := slices.Clone(addrs)
	slices.SortFunc(sorted, netip.Addr.Compare)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] != sorted[i-1].Next() {
			return false
		}
	}
	return true
}

// TestClassicAddressesTellNothingOfOthers: the classic network is shared
// by every account, and a classic instance took its lowest free address,
// so tenant A's second instance (10.0.0.8 after 10.0.0.4) told that other
// accounts had launched three classic instances meanwhile. Addresses are
// now probed from a random place, as public ones are.
func TestClassicAddressesTellNothingOfOthers(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(t, "tenant-a")
	theirs, mine := createGroup(t, e.ecs, "b-web", "", ""), createGroup(t, a.ecs, "a-web", "", "")
	addr := func(c *ecs.Client, sg string) netip.Addr {
		return netip.MustParseAddr(instance(t, c, runInstance(t, c, "", sg)).InnerIpAddress.IpAddress[0])
	}
	all := []netip.Addr{addr(a.ecs, mine)}
	for range 3 {
		all = append(all, addr(e.ecs, theirs)) // B's
	}
	all = append(all, addr(a.ecs, mine))
	if oneRun(all) {
		t.Errorf("the classic instances' addresses are one run (in the order launched: %v): A's second tells how many B launched", all)
	}
}

// TestIPv6BlocksTellNothingOfOthers: a VPC made with EnableIpv6 took the
// lowest free /56 of the shared IPv6 pool, so tenant A's second VPC
// (2408:4000:0:400::/56 after 2408:4000::/56) told that other accounts
// had made three IPv6 VPCs meanwhile. Blocks are now probed from a random
// place: A's and B's are not one run.
func TestIPv6BlocksTellNothingOfOthers(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(t, "tenant-a")
	block := func(c *vpc.Client) netip.Prefix {
		r := vpc.CreateCreateVpcRequest()
		r.CidrBlock, r.EnableIpv6 = "10.0.0.0/16", requests.NewBoolean(true)
		d := vpc.CreateDescribeVpcAttributeRequest()
		d.VpcId = must(c.CreateVpc(r))(t).VpcId
		return netip.MustParsePrefix(must(c.DescribeVpcAttribute(d))(t).Ipv6CidrBlock)
	}
	all := []netip.Prefix{block(a.vpc)}
	for range 3 {
		all = append(all, block(e.vpc)) // B's
	}
	all = append(all, block(a.vpc))
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
	run := true
	for i := 1; i < len(sorted); i++ {
		next := sorted[i-1].Addr().As16()
		next[6]++ // the next /56 (none of these carries past the byte)
		run = run && sorted[i].Addr() == netip.AddrFrom16(next)
	}
	if run {
		t.Errorf("the VPCs' IPv6 blocks are one run (in the order made: %v): A's second tells how many B made", all)
	}
}
