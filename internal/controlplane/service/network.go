package service

import (
	"cmp"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Addresses: how addresses of a block, of the public pool and of the IPv6
// pool are handed out (the private ranges blocks come from are model's,
// ParsePrivateCIDR).

var (
	// PublicPool is where EIPs and instances' public IPs come from.
	PublicPool = netip.MustParsePrefix("47.96.0.0/16")
	// ipv6Pool is where VPCs' /56 blocks come from (a China Unicom-like
	// 2408::/16 space, as Alibaba Cloud hands out).
	ipv6Pool = netip.MustParsePrefix("2408:4000::/20")
)

// putVPC stores a VPC.
func putVPC(tx store.Tx, v *model.VPC) error {
	return store.PutAs(tx, KindVPC, v.ID, v.Owner, v.Region, v)
}

// putVSwitch stores a vSwitch.
func putVSwitch(tx store.Tx, v *model.VSwitch) error {
	return store.PutAs(tx, KindVSwitch, v.ID, v.Owner, v.Region, v)
}

// putEIP stores an EIP.
func putEIP(tx store.Tx, e *model.EIP) error {
	return store.PutAs(tx, KindEIP, e.ID, e.Owner, e.Region, e)
}

// cidrInside reports whether block inner lies inside outer.
func cidrInside(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// addrStep returns a moved by n addresses (n >= 0).
func addrStep(a netip.Addr, n int) netip.Addr {
	for range n {
		a = a.Next()
	}
	return a
}

// allocateAddr returns the lowest assignable address of p not taken. It starts
// at the fourth host address, leaving the low ones to clients that pin
// addresses, and wraps around to them only when the rest is full.
func allocateAddr(p netip.Prefix, taken map[netip.Addr]bool) (netip.Addr, bool) {
	first := p.Masked().Addr()
	last := model.LastAssignable(p)
	start := addrStep(first, 4)
	if last.Less(start) {
		start = first.Next()
	}
	for a := start; a.IsValid() && a.Compare(last) <= 0; a = a.Next() {
		if !taken[a] {
			return a, true
		}
	}
	for a := first.Next(); a.Less(start); a = a.Next() {
		if !taken[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// publicAddresses is the public pool as an allocation sees it: every
// address in use (EIPs, allocated or bound, and instances' plain public
// IPs; the pool is shared by all accounts and regions, like the
// Internet), and how many the allocating account holds.
type publicAddresses struct {
	taken map[netip.Addr]bool
	held  int // by the account (a bound EIP is also its instance's address: counted once)
	quota int // what the account may hold (Quotas.PublicIPs)
	// opt, in an optimistic write, is asked instead of taken: the view's
	// index tells whether an address is in use (see probe).
	opt *optTx
}

// publicIPsTaken reads the pool for an allocation by account, which may
// hold quota public addresses. In an optimistic write it reads nothing
// but the counts of the view's indexes, so an allocation costs the same
// however many instances and EIPs there are; in the store's transaction
// (the fallback after conflicts, and etcd) it lists them. A secondary
// ENI's public address is always its EIP's, counted with the EIPs.
func publicIPsTaken(tx store.ReadTx, account string, quota int) (*publicAddresses, error) {
	p := &publicAddresses{taken: map[netip.Addr]bool{}, quota: quota}
	if t, ok := tx.(*optTx); ok {
		// The account's EIPs in every region, and its instances whose
		// public IP is no EIP's.
		eips, err := countSet{kind: KindEIP, q: store.Query{Account: account}}.count(t)
		if err != nil {
			return nil, err
		}
		plain, err := underKey(KindInstance, byPlainPublic, account).count(t)
		if err != nil {
			return nil, err
		}
		p.held, p.opt = eips+plain, t
		return p, nil
	}
	own := map[netip.Addr]bool{}
	eips, err := store.ListAs[model.EIP](tx, KindEIP, store.Query{})
	if err != nil {
		return nil, err
	}
	for _, e := range eips {
		p.taken[e.Address] = true
		if e.Owner == account {
			own[e.Address] = true
		}
	}
	insts, err := store.ListAs[model.Instance](tx, KindInstance, store.Query{})
	if err != nil {
		return nil, err
	}
	for _, in := range insts {
		if in.PublicIP.IsValid() {
			p.taken[in.PublicIP] = true
			if in.Owner == account {
				own[in.PublicIP] = true
			}
		}
	}
	p.held = len(own)
	return p, nil
}

// allocate takes a free public address for the account.
func (p *publicAddresses) allocate() (netip.Addr, error) {
	if p.held >= p.quota {
		return netip.Addr{}, ecserr.BadRequest("QuotaExceeded.Eip", "This account holds %d public addresses (EIPs and instances' public IPs, in all regions together) and may hold %d; release some first.", p.held, p.quota)
	}
	a, ok := p.probe()
	if !ok {
		return a, ecserr.BadRequest("QuotaExceeded.Eip", "The public address pool %s is exhausted; release EIPs or instances with public IPs.", PublicPool)
	}
	p.taken[a] = true
	p.held++
	return a, nil
}

// probe finds a free public address (see probeAddr). In an optimistic
// write the view's index of the addresses in use (byPublic) is asked, and
// the address found is a precondition: another write that takes it first
// fails the commit.
func (p *publicAddresses) probe() (netip.Addr, bool) {
	return probeAddr(PublicPool, func(a netip.Addr) bool {
		if p.taken[a] {
			return false
		}
		if p.opt != nil {
			key := a.String()
			if len(p.opt.snap.Indexed(KindInstance, byPublic, key)) > 0 || len(p.opt.snap.Indexed(KindEIP, byPublic, key)) > 0 {
				return false
			}
			p.opt.readIndex(KindInstance, byPublic, key)
			p.opt.readIndex(KindEIP, byPublic, key)
		}
		p.taken[a] = true // the write's own: the view does not hold it yet
		return true
	})
}

// probeAddr returns the first assignable address of the IPv4 block p
// that free takes, probing from a random place: for a block every account
// shares (the public pool, the classic network), so that the address an
// account gets does not tell how many the others hold, as the lowest free
// one did; the block is sparse, so a few lookups find one, and concurrent
// allocations rarely try the same.
func probeAddr(p netip.Prefix, free func(netip.Addr) bool) (netip.Addr, bool) {
	first := p.Masked().Addr().As4()
	base := binary.BigEndian.Uint32(first[:]) + 1 // the network address is not handed out
	last := model.LastAssignable(p).As4()
	size := binary.BigEndian.Uint32(last[:]) - base + 1
	start := probeStart(size)
	for i := range size {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], base+(start+i)%size)
		if a := netip.AddrFrom4(b); free(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// probeStart picks where probeAddr starts among size addresses (tests pin it).
var probeStart = func(size uint32) uint32 { return rand.Uint32N(size) }

// ipv6Block returns the i-th /56 of the IPv6 pool.
func ipv6Block(i uint64) netip.Prefix {
	b := ipv6Pool.Addr().As16()
	hi := binary.BigEndian.Uint64(b[:8]) | i<<8 // i fills bits 20..55
	binary.BigEndian.PutUint64(b[:8], hi)
	return netip.PrefixFrom(netip.AddrFrom16(b), 56)
}

// ipv6Blocks is how many /56 blocks the IPv6 pool holds.
const ipv6Blocks = 1 << (56 - 20)

// freeIPv6Block returns a /56 of the IPv6 pool that overlaps no block in
// used, probing from a random place, as public addresses are: the lowest
// free one told a tenant how many IPv6 VPCs the other accounts had made
// (and made each creation walk past all of them).
func freeIPv6Block(used []netip.Prefix) (netip.Prefix, bool) {
	start := ipv6Start(ipv6Blocks)
	for i := range uint64(ipv6Blocks) {
		if b := ipv6Block((start + i) % ipv6Blocks); !slices.ContainsFunc(used, b.Overlaps) {
			return b, true
		}
	}
	return netip.Prefix{}, false
}

// ipv6Start picks where freeIPv6Block starts among n blocks (tests pin it).
var ipv6Start = func(n uint64) uint64 { return rand.Uint64N(n) }

// vswitchIPv6Block returns the /64 with index k (0..255) of a VPC's /56.
func vswitchIPv6Block(vpc netip.Prefix, k int) netip.Prefix {
	b := vpc.Masked().Addr().As16()
	b[7] = byte(k)
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

// vpcIPv6Blocks returns the IPv6 blocks of every VPC in the store.
func vpcIPv6Blocks(tx store.ReadTx) ([]netip.Prefix, error) {
	vpcs, err := store.ListAs[model.VPC](tx, KindVPC, store.Query{})
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, v := range vpcs {
		if v.IPv6CIDR.IsValid() {
			out = append(out, v.IPv6CIDR)
		}
	}
	return out, nil
}

// byCreation orders resources newest first, then by ID, so pages are stable.
func byCreation[T any](items []*T, created func(*T) (int64, string)) {
	slices.SortStableFunc(items, func(a, b *T) int {
		ta, ia := created(a)
		tb, ib := created(b)
		if c := cmp.Compare(tb, ta); c != 0 {
			return c
		}
		return strings.Compare(ia, ib)
	})
}

// checkZone checks that zone is a zone of region.
func checkZone(region, zone string) error {
	r, _ := model.LookupRegion(region)
	if !r.HasZone(zone) {
		return ecserr.NotFound("InvalidZoneId.NotFound", "zone "+strconv.Quote(zone)+" of region "+region+" (DescribeZones lists them)")
	}
	return nil
}
