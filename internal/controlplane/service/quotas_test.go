package service

import (
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestQuotaCountPreconditions: a create checked against a quota runs again
// only when a record new to the set it counted commits between its run and
// its commit (then it is refused, the quota being full); a record of the
// set changed in place or deleted, or another account's new one, leaves
// the count as good as it was, and the write commits at once.
func TestQuotaCountPreconditions(t *testing.T) {
	otherVPC := func(e *env, owner string) {
		v := model.VPC{ID: model.NewID("vpc"), Region: e.c.Region, Owner: owner, CIDR: netip.MustParsePrefix("10.0.0.0/16")}
		if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error { return putVPC(tx, &v) }); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name    string
		between func(e *env, vpc string)
		code    string
		// updates counts the Updates, the interleaved one's included: 2
		// when the create committed at once (or, refused when it ran
		// again, did not commit), 3 when it ran again and committed.
		updates int
	}{
		{"a VPC of the account created", func(e *env, _ string) { otherVPC(e, e.c.Account) }, "QuotaExceeded.Vpc", 2},
		{"another account's VPC created", func(e *env, _ string) { otherVPC(e, "1000000000000002") }, "", 2},
		{"a VPC of the account renamed", func(e *env, vpc string) {
			v := model.VPC{ID: vpc, Region: e.c.Region, Owner: e.c.Account, Name: "renamed", CIDR: netip.MustParsePrefix("192.168.0.0/16")}
			e.put(KindVPC, vpc, v)
		}, "", 2},
		{"a VPC of the account deleted", func(e *env, vpc string) {
			if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error { return tx.Delete(KindVPC, vpc) }); err != nil {
				t.Fatal(err)
			}
		}, "", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.s.Quotas.VPCs = 2
			vpc := e.vpc()
			is := &interleaveStore{Store: e.s.Store.(*sqlite.Store)}
			is.before = func() { tt.between(e, vpc) }
			e.s.Store = is
			_, err := e.s.CreateVpc(e.ctx, CreateVpcInput{Caller: e.c})
			e.s.Store = is.Store
			wantCode(t, err, tt.code)
			if is.before != nil || is.updates != tt.updates {
				t.Errorf("%d Updates (the interleaved write run: %v); want %d", is.updates, is.before == nil, tt.updates)
			}
		})
	}
}

// TestQuotaCountReadsNoRecord: a quota's count comes from the view's index
// and the write's own changes; it reads no record, so neither its cost nor
// its preconditions grow with what the account holds, and other accounts'
// and regions' records are not counted.
func TestQuotaCountReadsNoRecord(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	var r Resources
	for i := range 300 {
		owner, region := e.c.Account, e.c.Region
		switch i % 3 {
		case 1:
			owner = "1000000000000002"
		case 2:
			region = "cn-shanghai"
		}
		r.Instances = append(r.Instances, &model.Instance{ID: model.NewID("i"), Region: region, Owner: owner, VpcID: vpc,
			PrivateIP: netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), byte(i)}), Status: model.StatusRunning})
	}
	if _, err := e.s.Import(e.ctx, e.c.Region, r); err != nil {
		t.Fatal(err)
	}
	snap, err := e.s.view.Snapshot(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	ot := newOptTx(snap)
	defer ot.release()
	set := ownedBy(KindInstance, e.c)
	count := func(want int) {
		t.Helper()
		if n, err := set.count(ot); err != nil || n != want {
			t.Fatalf("count %d, %v; want %d", n, err, want)
		}
	}
	count(100)
	if len(ot.expects) != 0 {
		t.Errorf("the count read %d records", len(ot.expects))
	}
	in := &model.Instance{ID: model.NewID("i"), Region: e.c.Region, Owner: e.c.Account, VpcID: vpc, Status: model.StatusRunning}
	if err := PutInstance(ot, in); err != nil {
		t.Fatal(err)
	}
	count(101)
	if err := ot.Delete(KindInstance, r.Instances[0].ID); err != nil {
		t.Fatal(err)
	}
	count(100)
	if err := ot.Delete(KindInstance, r.Instances[1].ID); err != nil { // another account's
		t.Fatal(err)
	}
	count(100)
}

// TestPublicAllocationReadsNoRecord: in an optimistic write a public
// address is found, and the account's holding counted, from the view's
// indexes: no record is read however many hold addresses, an address in
// use (an instance's, an EIP's, or one the write took) is never handed
// out, and the quota counts the account's EIPs and plain public IPs only.
func TestPublicAllocationReadsNoRecord(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	var r Resources
	var eips []*model.EIP
	used := map[netip.Addr]bool{}
	for i := range 3000 {
		owner := "1000000000000002"
		if i < 3 {
			owner = e.c.Account
		}
		a := netip.AddrFrom4([4]byte{47, 96, byte(i >> 8), byte(i + 1)})
		used[a] = true
		if i%2 == 0 {
			eips = append(eips, &model.EIP{ID: model.NewID("eip"), Region: e.c.Region, Owner: owner, Address: a, Status: EipAvailable})
			continue
		}
		r.Instances = append(r.Instances, &model.Instance{ID: model.NewID("i"), Region: e.c.Region, Owner: owner, VpcID: vpc,
			PrivateIP: netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), byte(i)}), PublicIP: a, Status: model.StatusRunning})
	}
	if _, err := e.s.Import(e.ctx, e.c.Region, r); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error {
		for _, eip := range eips {
			if err := putEIP(tx, eip); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	snap, err := e.s.view.Snapshot(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	ot := newOptTx(snap)
	defer ot.release()
	p, err := publicIPsTaken(ot, e.c.Account, 3+200)
	if err != nil {
		t.Fatal(err)
	}
	if p.held != 3 {
		t.Errorf("the account holds %d public addresses, want 3 (2 EIPs, 1 instance)", p.held)
	}
	for range 200 {
		a, err := p.allocate()
		if err != nil {
			t.Fatal(err)
		}
		if used[a] || !PublicPool.Contains(a) || a == PublicPool.Addr() {
			t.Fatalf("handed out %s: in use, or not a host address of %s", a, PublicPool)
		}
		used[a] = true
	}
	if _, err := p.allocate(); ecserr.As(err).Code != "QuotaExceeded.Eip" {
		t.Errorf("past the quota: %v, want QuotaExceeded.Eip", err)
	}
	if len(ot.expects) != 0 {
		t.Errorf("the allocation read %d records", len(ot.expects))
	}
}

// TestPublicAddressReused: an address released (an EIP) or freed (its
// instance deleted) is handed out again; probing from where it is finds
// it, and the one after it while it is held.
func TestPublicAddressReused(t *testing.T) {
	defer func(f func(uint32) uint32) { probeStart = f }(probeStart)
	probeStart = func(uint32) uint32 { return 0 } // the lowest host address first
	lowest, next := netip.MustParseAddr("47.96.0.1"), netip.MustParseAddr("47.96.0.2")
	for _, tt := range []struct {
		name string
		take func(t *testing.T, e *env, net testNet, sg string) (netip.Addr, func())
	}{
		{"an EIP released", func(t *testing.T, e *env, _ testNet, _ string) (netip.Addr, func()) {
			a, err := e.s.AllocateEipAddress(e.ctx, AllocateEipInput{Caller: e.c})
			if err != nil {
				t.Fatal(err)
			}
			return netip.MustParseAddr(a.EipAddress), func() {
				if err := e.s.ReleaseEipAddress(e.ctx, EipInput{Caller: e.c, AllocationID: a.AllocationId}); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"an instance deleted", func(t *testing.T, e *env, net testNet, sg string) (netip.Addr, func()) {
			ids, err := e.s.RunInstances(e.ctx, LaunchInput{Caller: e.c, Amount: 1, ImageID: "img", InstanceType: "ecs.t1", VSwitchID: net.vsw, SecurityGroupID: sg, BandwidthOut: 5})
			if err != nil {
				t.Fatal(err)
			}
			in, err := View(e.s, e.ctx, func(tx store.ReadTx) (*model.Instance, error) { return GetInstance(tx, e.c, ids[0]) })
			if err != nil {
				t.Fatal(err)
			}
			return in.PublicIP, func() {
				if err := e.s.DeleteInstance(e.ctx, DeleteInstanceInput{Caller: e.c, InstanceID: ids[0], Force: true}); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			net := e.network()
			sg := e.group(CreateGroupInput{VpcID: net.vpc})
			a, free := tt.take(t, e, net, sg)
			if a != lowest {
				t.Fatalf("took %s, want %s", a, lowest)
			}
			if b, _ := tt.take(t, e, net, sg); b != next {
				t.Fatalf("took %s while %s is held, want %s", b, a, next)
			}
			free()
			if c, _ := tt.take(t, e, net, sg); c != lowest {
				t.Fatalf("took %s after %s was freed, want it again", c, lowest)
			}
		})
	}
}

// TestAccountQuotaReadInWrite: a create reads its account's quota in its
// write, as a precondition: a quota of the account lowered or cleared
// between the create's run and its commit makes it run again on the new
// quota (refused here); another account's change leaves it alone.
func TestAccountQuotaReadInWrite(t *testing.T) {
	for _, tt := range []struct {
		name string
		// own is the account's quota of security groups before; between
		// changes a quota of the account (or another's) while the create
		// waits to commit.
		own     int
		between func(e *env, mine, other string)
		code    string
		updates int // see TestQuotaCountPreconditions
	}{
		{"lowered", 2, func(e *env, mine, _ string) { e.setQuotas(mine, map[string]int{"SecurityGroups": 1}) }, "QuotaExceed.SecurityGroup", 2},
		{"cleared to the server's", 2, func(e *env, mine, _ string) { e.setQuotas(mine, map[string]int{"SecurityGroups": ClearQuota}) }, "QuotaExceed.SecurityGroup", 2},
		{"raised", 2, func(e *env, mine, _ string) { e.setQuotas(mine, map[string]int{"SecurityGroups": 3}) }, "", 3},
		{"another quota of the account", 2, func(e *env, mine, _ string) { e.setQuotas(mine, map[string]int{"Vpcs": 3}) }, "", 3},
		{"another account's", 2, func(e *env, _, other string) { e.setQuotas(other, map[string]int{"SecurityGroups": 1}) }, "", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.s.Quotas.SecurityGroups = 1
			mine, _, err := e.s.NewTenant(e.ctx, "mine")
			if err != nil {
				t.Fatal(err)
			}
			other, _, err := e.s.NewTenant(e.ctx, "other")
			if err != nil {
				t.Fatal(err)
			}
			e.setQuotas(mine.UID, map[string]int{"SecurityGroups": tt.own})
			c := Caller{Account: mine.UID, Region: e.c.Region}
			if _, err := e.s.CreateSecurityGroup(e.ctx, CreateGroupInput{Caller: c}); err != nil {
				t.Fatal(err)
			}
			is := &interleaveStore{Store: e.s.Store.(*sqlite.Store)}
			is.before = func() { tt.between(e, mine.UID, other.UID) }
			e.s.Store = is
			_, err = e.s.CreateSecurityGroup(e.ctx, CreateGroupInput{Caller: c})
			e.s.Store = is.Store
			wantCode(t, err, tt.code)
			if is.before != nil || is.updates != tt.updates {
				t.Errorf("%d Updates (the interleaved write run: %v); want %d", is.updates, is.before == nil, tt.updates)
			}
		})
	}
}

// setQuotas sets an account's own quotas as the operator.
func (e *env) setQuotas(uid string, values map[string]int) {
	e.t.Helper()
	if _, err := e.s.SetAccountQuotas(e.ctx, SetAccountQuotasInput{Caller: e.op, AccountID: uid, Values: values}); err != nil {
		e.t.Fatal(err)
	}
}
