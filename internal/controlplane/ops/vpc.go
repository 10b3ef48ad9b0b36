package ops

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// The VPC product (2016-04-28): VPCs, vSwitches and EIPs, as much of it as
// security-group work needs.

func (s *Service) vpcActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreateVpc":             s.CreateVpc,
		"DescribeVpcs":          s.DescribeVpcs,
		"DeleteVpc":             s.DeleteVpc,
		"CreateVSwitch":         s.CreateVSwitch,
		"DescribeVSwitches":     s.DescribeVSwitches,
		"DeleteVSwitch":         s.DeleteVSwitch,
		"AllocateEipAddress":    s.AllocateEipAddress,
		"AssociateEipAddress":   s.AssociateEipAddress,
		"UnassociateEipAddress": s.UnassociateEipAddress,
		"ReleaseEipAddress":     s.ReleaseEipAddress,
		"DescribeEipAddresses":  s.DescribeEipAddresses,
	}
}

// EIP states.
const (
	EipAvailable = "Available"
	EipInUse     = "InUse"
)

var (
	privateIPv4 = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
	}
	// publicPool is where EIPs and instances' public IPs come from.
	publicPool = netip.MustParsePrefix("47.96.0.0/16")
	// ipv6Pool is where VPCs' /56 blocks come from (a China Unicom-like
	// 2408::/16 space, as Alibaba Cloud hands out).
	ipv6Pool = netip.MustParsePrefix("2408:4000::/20")
)

func putVPC(tx store.Tx, v *model.VPC) error {
	return store.PutAs(tx, KindVPC, v.ID, v.Owner, v.Region, v)
}

func putVSwitch(tx store.Tx, v *model.VSwitch) error {
	return store.PutAs(tx, KindVSwitch, v.ID, v.Owner, v.Region, v)
}

func putEIP(tx store.Tx, e *model.EIP) error {
	return store.PutAs(tx, KindEIP, e.ID, e.Owner, e.Region, e)
}

// idSuffix is an ID without its prefix, for IDs derived from it.
func idSuffix(id string) string {
	_, body, _ := strings.Cut(id, "-")
	return body
}

// vRouterID and routeTableID are derived from the VPC ID: Palisade has no
// routers, but clients expect stable IDs for them.
func vRouterID(vpcID string) string    { return "vrt-" + idSuffix(vpcID) }
func routeTableID(vpcID string) string { return "vtb-" + idSuffix(vpcID) }

// resourceGroupID is the account's default resource group, derived from the
// account so it is the same in every response.
func resourceGroupID(account string) string {
	h := sha256.Sum256([]byte("rg:" + account))
	return "rg-acfm" + hex.EncodeToString(h[:])[:11]
}

func ownerID(account string) int64 {
	n, _ := strconv.ParseInt(account, 10, 64)
	return n
}

// parsePrivateCIDR parses an IPv4 block inside the private ranges with a
// mask from minBits to maxBits.
func parsePrivateCIDR(s string, minBits, maxBits int) (netip.Prefix, *ecserr.Error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	switch {
	case err != nil || !p.Addr().Is4():
		return p, ecserr.BadRequest("InvalidCidrBlock.Malformed", "CidrBlock %q is not an IPv4 CIDR block such as 192.168.0.0/16.", s)
	case p != p.Masked():
		return p, ecserr.BadRequest("InvalidCidrBlock.Malformed", "CidrBlock %q has host bits set; give the network address, %s.", s, p.Masked())
	case p.Bits() < minBits || p.Bits() > maxBits:
		return p, ecserr.BadRequest("InvalidCidrBlock.Malformed", "The mask of CidrBlock %q must be from /%d to /%d.", s, minBits, maxBits)
	}
	for _, r := range privateIPv4 {
		if r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			return p, nil
		}
	}
	return p, ecserr.BadRequest("InvalidCidrBlock.Malformed", "CidrBlock %q must lie inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16.", s)
}

// cidrInside reports whether block inner lies inside outer.
func cidrInside(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// --- address allocation ---

// lastAddr is the highest address of a block (the broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// addrStep returns a moved by n addresses (n >= 0).
func addrStep(a netip.Addr, n int) netip.Addr {
	for range n {
		a = a.Next()
	}
	return a
}

// assignable reports whether a may be given to a NIC of block p. Alibaba
// Cloud reserves the first address and the last three of every vSwitch.
func assignable(p netip.Prefix, a netip.Addr) bool {
	return p.Contains(a) && p.Masked().Addr().Less(a) && a.Compare(lastAssignable(p)) <= 0
}

func lastAssignable(p netip.Prefix) netip.Addr { return lastAddr(p).Prev().Prev().Prev() }

// allocateAddr returns the lowest assignable address of p not taken. It starts
// at the fourth host address, leaving the low ones to clients that pin
// addresses, and wraps around to them only when the rest is full.
func allocateAddr(p netip.Prefix, taken map[netip.Addr]bool) (netip.Addr, bool) {
	first := p.Masked().Addr()
	last := lastAssignable(p)
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

// publicIPsTaken returns every public address in use in the store: EIPs,
// allocated or bound, and instances' plain public IPs. The pool is shared
// by all accounts and regions, like the Internet.
func publicIPsTaken(tx store.ReadTx) (map[netip.Addr]bool, error) {
	taken := map[netip.Addr]bool{}
	eips, err := store.ListAs[model.EIP](tx, KindEIP, store.Query{})
	if err != nil {
		return nil, err
	}
	for _, e := range eips {
		taken[e.Address] = true
	}
	insts, err := store.ListAs[model.Instance](tx, KindInstance, store.Query{})
	if err != nil {
		return nil, err
	}
	for _, in := range insts {
		if in.PublicIP.IsValid() {
			taken[in.PublicIP] = true
		}
	}
	return taken, nil
}

func allocatePublicIP(taken map[netip.Addr]bool) (netip.Addr, error) {
	a, ok := allocateAddr(publicPool, taken)
	if !ok {
		return a, ecserr.BadRequest("QuotaExceeded.Eip", "The public address pool %s is exhausted; release EIPs or instances with public IPs.", publicPool)
	}
	taken[a] = true
	return a, nil
}

// ipv6Block returns the i-th /56 of the IPv6 pool.
func ipv6Block(i uint64) netip.Prefix {
	b := ipv6Pool.Addr().As16()
	hi := binary.BigEndian.Uint64(b[:8]) | i<<8 // i fills bits 20..55
	binary.BigEndian.PutUint64(b[:8], hi)
	return netip.PrefixFrom(netip.AddrFrom16(b), 56)
}

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

// --- VPCs ---

type createVpcResponse struct {
	rpc.Base
	VpcId           string
	VRouterId       string
	RouteTableId    string
	ResourceGroupId string
}

// CreateVpc creates a VPC; with EnableIpv6 or Ipv6CidrBlock it also gets an
// IPv6 /56, unique in the store.
func (s *Service) CreateVpc(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	text := p.Get("CidrBlock")
	if text == "" {
		text = "172.16.0.0/12"
	}
	cidr, e := parsePrivateCIDR(text, 8, 28)
	if e != nil {
		return nil, e
	}
	if p.Has("VpcName") && !model.ValidName(p.Get("VpcName")) {
		return nil, ecserr.BadRequest("InvalidVpcName.Malformed", "VpcName %q is not valid: 2 to 128 characters, starting with a letter, then letters, digits, ':', '_', '.' or '-', not starting with http:// or https://.", p.Get("VpcName"))
	}
	if p.Has("Description") && !model.ValidDescription(p.Get("Description")) {
		return nil, ecserr.BadRequest("InvalidVpcDiscription.Malformed", "Description must be 2 to 256 characters and not start with http:// or https://.")
	}
	enable6, e := p.Bool("EnableIpv6", false)
	if e != nil {
		return nil, e
	}
	var six netip.Prefix
	if p.Has("Ipv6CidrBlock") {
		six, err = netip.ParsePrefix(p.Get("Ipv6CidrBlock"))
		if err != nil || !six.Addr().Is6() || six.Addr().Is4In6() || six.Bits() != 56 || six != six.Masked() {
			return nil, ecserr.BadRequest("InvalidIpv6CidrBlock.Malformed", "Ipv6CidrBlock %q must be an IPv6 /56 network such as 2408:4000:0:100::/56; or leave it out and set EnableIpv6=true to get one.", p.Get("Ipv6CidrBlock"))
		}
	}
	if _, err := tagsFromParams(p); err != nil {
		return nil, err
	}
	v := &model.VPC{ID: model.NewID("vpc"), Region: c.Region, Owner: c.Account, Name: p.Get("VpcName"),
		Description: p.Get("Description"), CIDR: cidr, Created: s.Now()}
	return update(s, ctx, c, req, func(tx store.Tx) (*createVpcResponse, error) {
		if six.IsValid() || enable6 {
			used, err := vpcIPv6Blocks(tx)
			if err != nil {
				return nil, err
			}
			if six.IsValid() {
				if slices.ContainsFunc(used, six.Overlaps) {
					return nil, ecserr.BadRequest("InvalidCidrBlock.Overlapped", "Ipv6CidrBlock %s is already used by another VPC.", six)
				}
				v.IPv6CIDR = six
			} else {
				for i := uint64(0); !v.IPv6CIDR.IsValid(); i++ {
					if b := ipv6Block(i); !slices.ContainsFunc(used, b.Overlaps) {
						v.IPv6CIDR = b
					}
				}
			}
		}
		return &createVpcResponse{VpcId: v.ID, VRouterId: vRouterID(v.ID), RouteTableId: routeTableID(v.ID),
			ResourceGroupId: resourceGroupID(c.Account)}, putVPC(tx, v)
	})
}

type vpcTag struct {
	Key   string
	Value string
}

type ipv6CidrBlockItem struct {
	Ipv6CidrBlock string
	Ipv6Isp       string
}

type vpcItem struct {
	VpcId                  string
	RegionId               string
	Status                 string
	VpcName                string
	Description            string
	CidrBlock              string
	Ipv6CidrBlock          string
	EnabledIpv6            bool
	IsDefault              bool
	VRouterId              string
	CreationTime           string
	ResourceGroupId        string
	OwnerId                int64
	CenStatus              string
	DhcpOptionsSetStatus   string
	DnsHostnameStatus      string
	NetworkAclNum          string
	AdvancedResource       bool
	SupportAdvancedFeature bool
	VSwitchIds             struct{ VSwitchId []string }
	RouterTableIds         struct{ RouterTableIds []string }
	NatGatewayIds          struct{ NatGatewayIds []string }
	SecondaryCidrBlocks    struct{ SecondaryCidrBlock []string }
	UserCidrs              struct{ UserCidr []string }
	Ipv6CidrBlocks         struct{ Ipv6CidrBlock []ipv6CidrBlockItem }
	Tags                   struct{ Tag []vpcTag }
}

type describeVpcsResponse struct {
	rpc.Base
	TotalCount int
	PageNumber int
	PageSize   int
	Vpcs       struct{ Vpc []vpcItem }
}

// commaIDs reads a comma-separated ID filter such as VpcId=vpc-a,vpc-b.
func commaIDs(p rpc.Params, name string, max int) ([]string, error) {
	var out []string
	for _, id := range strings.Split(p.Get(name), ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	if len(out) > max {
		return nil, ecserr.InvalidParameter(name, "it takes at most "+strconv.Itoa(max)+" comma-separated IDs")
	}
	return out, nil
}

// numberPage reads PageNumber/PageSize (default 10), the only paging of the
// VPC API.
func numberPage(p rpc.Params, maxSize int) (page, error) {
	return parsePage(rpc.Params{"PageNumber": p.Get("PageNumber"), "PageSize": p.Get("PageSize")}, 10, maxSize, 10, maxSize)
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

// DescribeVpcs lists the caller's VPCs in a region.
func (s *Service) DescribeVpcs(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := numberPage(p, 50)
	if err != nil {
		return nil, err
	}
	ids, err := commaIDs(p, "VpcId", 20)
	if err != nil {
		return nil, err
	}
	isDefault, e := p.Bool("IsDefault", false)
	if e != nil {
		return nil, e
	}
	return view(s, ctx, func(tx store.ReadTx) (*describeVpcsResponse, error) {
		vpcs, err := list[model.VPC](tx, KindVPC, c)
		if err != nil {
			return nil, err
		}
		vsws, err := list[model.VSwitch](tx, KindVSwitch, c)
		if err != nil {
			return nil, err
		}
		byCreation(vpcs, func(v *model.VPC) (int64, string) { return v.Created.Unix(), v.ID })
		var items []vpcItem
		for _, v := range vpcs {
			// Palisade has no default VPC: IsDefault=true matches nothing.
			if len(ids) > 0 && !slices.Contains(ids, v.ID) || p.Has("VpcName") && v.Name != p.Get("VpcName") || isDefault {
				continue
			}
			items = append(items, vpcOut(v, vsws))
		}
		out := &describeVpcsResponse{TotalCount: len(items), PageNumber: pg.Number, PageSize: pg.Size}
		out.Vpcs.Vpc, _ = paginate(items, pg)
		return out, nil
	})
}

func vpcOut(v *model.VPC, vsws []*model.VSwitch) vpcItem {
	item := vpcItem{VpcId: v.ID, RegionId: v.Region, Status: "Available", VpcName: v.Name, Description: v.Description,
		CidrBlock: v.CIDR.String(), VRouterId: vRouterID(v.ID), CreationTime: timeText(v.Created),
		ResourceGroupId: resourceGroupID(v.Owner), OwnerId: ownerID(v.Owner), CenStatus: "Detached",
		DnsHostnameStatus: "DISABLED", NetworkAclNum: "0"}
	if v.IPv6CIDR.IsValid() {
		item.Ipv6CidrBlock, item.EnabledIpv6 = v.IPv6CIDR.String(), true
		item.Ipv6CidrBlocks.Ipv6CidrBlock = []ipv6CidrBlockItem{{Ipv6CidrBlock: v.IPv6CIDR.String(), Ipv6Isp: "BGP"}}
	}
	for _, w := range vsws {
		if w.VpcID == v.ID {
			item.VSwitchIds.VSwitchId = append(item.VSwitchIds.VSwitchId, w.ID)
		}
	}
	item.RouterTableIds.RouterTableIds = []string{routeTableID(v.ID)}
	return item
}

// DeleteVpc deletes a VPC that holds no vSwitches and no security groups.
func (s *Service) DeleteVpc(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		v, err := getVPC(tx, c, req.Params.Get("VpcId"))
		if err != nil {
			return nil, err
		}
		in := caller{Account: c.Account, Region: v.Region}
		vsws, err := list[model.VSwitch](tx, KindVSwitch, in)
		if err != nil {
			return nil, err
		}
		for _, w := range vsws {
			if w.VpcID == v.ID {
				return nil, ecserr.BadRequest("DependencyViolation.VSwitch", "VPC %s still has vSwitch %s; delete its vSwitches first.", v.ID, w.ID)
			}
		}
		groups, err := list[model.SecurityGroup](tx, KindGroup, in)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			if g.VpcID == v.ID {
				return nil, ecserr.BadRequest("DependencyViolation.SecurityGroup", "VPC %s still has security group %s; delete its security groups first.", v.ID, g.ID)
			}
		}
		return &rpc.Base{}, tx.Delete(KindVPC, v.ID)
	})
}

// --- vSwitches ---

type createVSwitchResponse struct {
	rpc.Base
	VSwitchId string
}

// CreateVSwitch creates a subnet of a VPC in one zone. Its block lies inside
// the VPC's and overlaps no other vSwitch of the VPC; Ipv6CidrBlock (0-255)
// picks its /64 out of the VPC's /56.
func (s *Service) CreateVSwitch(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	for _, name := range []string{"VpcId", "ZoneId", "CidrBlock"} {
		if !p.Has(name) {
			return nil, ecserr.MissingParameter(name)
		}
	}
	if err := checkZone(c.Region, p.Get("ZoneId")); err != nil {
		return nil, err
	}
	cidr, e := parsePrivateCIDR(p.Get("CidrBlock"), 16, 29)
	if e != nil {
		return nil, e
	}
	if p.Has("VSwitchName") && !model.ValidName(p.Get("VSwitchName")) {
		return nil, ecserr.BadRequest("InvalidVSwitchName.Malformed", "VSwitchName %q is not valid: 2 to 128 characters, starting with a letter, then letters, digits, ':', '_', '.' or '-', not starting with http:// or https://.", p.Get("VSwitchName"))
	}
	if p.Has("Description") && !model.ValidDescription(p.Get("Description")) {
		return nil, ecserr.BadRequest("InvalidVSwitchDiscription.Malformed", "Description must be 2 to 256 characters and not start with http:// or https://.")
	}
	six := -1
	if p.Has("Ipv6CidrBlock") {
		n, e := p.Int("Ipv6CidrBlock", -1)
		if e != nil || n < 0 || n > 255 {
			return nil, ecserr.InvalidParameter("Ipv6CidrBlock", "it is the last 8 bits of the vSwitch's IPv6 /64, from 0 to 255")
		}
		six = n
	}
	if _, err := tagsFromParams(p); err != nil {
		return nil, err
	}
	w := &model.VSwitch{ID: model.NewID("vsw"), Region: c.Region, Owner: c.Account, Zone: p.Get("ZoneId"),
		Name: p.Get("VSwitchName"), Description: p.Get("Description"), CIDR: cidr, Created: s.Now()}
	return update(s, ctx, c, req, func(tx store.Tx) (*createVSwitchResponse, error) {
		v, err := getVPC(tx, c, p.Get("VpcId"))
		if err != nil {
			return nil, err
		}
		w.VpcID = v.ID
		if !cidrInside(v.CIDR, cidr) {
			return nil, ecserr.BadRequest("InvalidCidrBlock.Malformed", "CidrBlock %s is not inside the block %s of VPC %s.", cidr, v.CIDR, v.ID)
		}
		if six >= 0 {
			if !v.IPv6CIDR.IsValid() {
				return nil, ecserr.BadRequest("OperationFailed.VpcNotEnableIpv6", "VPC %s has no IPv6 block; create it with EnableIpv6=true to give vSwitches IPv6 blocks.", v.ID)
			}
			w.IPv6CIDR = vswitchIPv6Block(v.IPv6CIDR, six)
		}
		siblings, err := list[model.VSwitch](tx, KindVSwitch, c)
		if err != nil {
			return nil, err
		}
		for _, o := range siblings {
			if o.VpcID != v.ID {
				continue
			}
			if o.CIDR.Overlaps(cidr) {
				return nil, ecserr.BadRequest("InvalidCidrBlock.Overlapped", "CidrBlock %s overlaps %s of vSwitch %s in the same VPC; pick a free block.", cidr, o.CIDR, o.ID)
			}
			if w.IPv6CIDR.IsValid() && o.IPv6CIDR == w.IPv6CIDR {
				return nil, ecserr.BadRequest("InvalidCidrBlock.Overlapped", "IPv6 block %s (Ipv6CidrBlock=%d) is already used by vSwitch %s.", w.IPv6CIDR, six, o.ID)
			}
		}
		return &createVSwitchResponse{VSwitchId: w.ID}, putVSwitch(tx, w)
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

type routeTableItem struct {
	RouteTableId   string
	RouteTableType string
}

type vswitchItem struct {
	VSwitchId               string
	VpcId                   string
	Status                  string
	CidrBlock               string
	Ipv6CidrBlock           string
	EnabledIpv6             bool
	ZoneId                  string
	AvailableIpAddressCount int64
	Description             string
	VSwitchName             string
	CreationTime            string
	IsDefault               bool
	ResourceGroupId         string
	NetworkAclId            string
	OwnerId                 int64
	ShareType               string
	RouteTable              routeTableItem
	Tags                    struct{ Tag []vpcTag }
}

type describeVSwitchesResponse struct {
	rpc.Base
	TotalCount int
	PageNumber int
	PageSize   int
	VSwitches  struct{ VSwitch []vswitchItem }
}

// DescribeVSwitches lists the caller's vSwitches. RegionId may be left out
// when VpcId is given.
func (s *Service) DescribeVSwitches(ctx context.Context, req *rpc.Request) (any, error) {
	p := req.Params
	c, err := s.callerOf(ctx, req, !p.Has("VpcId"))
	if err != nil {
		return nil, err
	}
	pg, err := numberPage(p, 50)
	if err != nil {
		return nil, err
	}
	ids, err := commaIDs(p, "VSwitchId", 20)
	if err != nil {
		return nil, err
	}
	isDefault, e := p.Bool("IsDefault", false)
	if e != nil {
		return nil, e
	}
	return view(s, ctx, func(tx store.ReadTx) (*describeVSwitchesResponse, error) {
		vsws, err := list[model.VSwitch](tx, KindVSwitch, c)
		if err != nil {
			return nil, err
		}
		insts, err := list[model.Instance](tx, KindInstance, c)
		if err != nil {
			return nil, err
		}
		byCreation(vsws, func(w *model.VSwitch) (int64, string) { return w.Created.Unix(), w.ID })
		var items []vswitchItem
		for _, w := range vsws {
			if len(ids) > 0 && !slices.Contains(ids, w.ID) || p.Has("VpcId") && w.VpcID != p.Get("VpcId") ||
				p.Has("ZoneId") && w.Zone != p.Get("ZoneId") || p.Has("VSwitchName") && w.Name != p.Get("VSwitchName") || isDefault {
				continue
			}
			items = append(items, vswitchOut(w, insts))
		}
		out := &describeVSwitchesResponse{TotalCount: len(items), PageNumber: pg.Number, PageSize: pg.Size}
		out.VSwitches.VSwitch, _ = paginate(items, pg)
		return out, nil
	})
}

func vswitchOut(w *model.VSwitch, insts []*model.Instance) vswitchItem {
	used := 0
	for _, in := range insts {
		if in.VSwitchID == w.ID {
			used++
		}
	}
	free := int64(1)<<(32-w.CIDR.Bits()) - 4 - int64(used) // 4: Alibaba Cloud's reserved addresses
	item := vswitchItem{VSwitchId: w.ID, VpcId: w.VpcID, Status: "Available", CidrBlock: w.CIDR.String(), ZoneId: w.Zone,
		AvailableIpAddressCount: max(free, 0), Description: w.Description, VSwitchName: w.Name, CreationTime: timeText(w.Created),
		ResourceGroupId: resourceGroupID(w.Owner), OwnerId: ownerID(w.Owner), ShareType: "Sharing",
		RouteTable: routeTableItem{RouteTableId: routeTableID(w.VpcID), RouteTableType: "System"}}
	if w.IPv6CIDR.IsValid() {
		item.Ipv6CidrBlock, item.EnabledIpv6 = w.IPv6CIDR.String(), true
	}
	return item
}

// DeleteVSwitch deletes a vSwitch no instance uses.
func (s *Service) DeleteVSwitch(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		w, err := getVSwitch(tx, c, req.Params.Get("VSwitchId"))
		if err != nil {
			return nil, err
		}
		insts, err := list[model.Instance](tx, KindInstance, caller{Account: c.Account, Region: w.Region})
		if err != nil {
			return nil, err
		}
		for _, in := range insts {
			if in.VSwitchID == w.ID {
				return nil, ecserr.BadRequest("DependencyViolation", "vSwitch %s is still used by instance %s; delete its instances first.", w.ID, in.ID)
			}
		}
		return &rpc.Base{}, tx.Delete(KindVSwitch, w.ID)
	})
}

// --- EIPs ---

type allocateEipAddressResponse struct {
	rpc.Base
	AllocationId    string
	EipAddress      string
	OrderId         int64
	ResourceGroupId string
}

// AllocateEipAddress takes a free address of the public pool.
func (s *Service) AllocateEipAddress(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	bw := p.Get("Bandwidth")
	if bw == "" {
		bw = "5"
	}
	if n, err := strconv.Atoi(bw); err != nil || n < 1 || n > 500 {
		return nil, ecserr.InvalidParameter("Bandwidth", "it is the peak bandwidth in Mbit/s, from 1 to 500")
	}
	charge := p.Get("InternetChargeType")
	switch charge {
	case "":
		charge = "PayByBandwidth"
	case "PayByBandwidth", "PayByTraffic":
	default:
		return nil, ecserr.BadRequest("InvalidInternetChargeType.ValueNotSupported", "InternetChargeType must be PayByBandwidth or PayByTraffic.")
	}
	if p.Has("Name") && !model.ValidName(p.Get("Name")) {
		return nil, ecserr.BadRequest("InvalidName.Malformed", "Name %q is not valid: 2 to 128 characters, starting with a letter, then letters, digits, ':', '_', '.' or '-'.", p.Get("Name"))
	}
	if p.Has("Description") && !model.ValidDescription(p.Get("Description")) {
		return nil, ecserr.BadRequest("InvalidDescription.Malformed", "Description must be 2 to 256 characters and not start with http:// or https://.")
	}
	// ChargeType holds the metering (InternetChargeType): every EIP here is
	// pay-as-you-go.
	eip := &model.EIP{ID: model.NewID("eip"), Region: c.Region, Owner: c.Account, Name: p.Get("Name"), Bandwidth: bw,
		ChargeType: charge, Status: EipAvailable, Description: p.Get("Description"), Created: s.Now()}
	return update(s, ctx, c, req, func(tx store.Tx) (*allocateEipAddressResponse, error) {
		taken, err := publicIPsTaken(tx)
		if err != nil {
			return nil, err
		}
		if eip.Address, err = allocatePublicIP(taken); err != nil {
			return nil, err
		}
		return &allocateEipAddressResponse{AllocationId: eip.ID, EipAddress: eip.Address.String(),
			ResourceGroupId: resourceGroupID(c.Account)}, putEIP(tx, eip)
	})
}

// AssociateEipAddress binds an EIP to a VPC instance that has no public IP.
func (s *Service) AssociateEipAddress(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	if t := p.Get("InstanceType"); t != "" && t != "EcsInstance" {
		return nil, ecserr.InvalidParameter("InstanceType", "Palisade binds EIPs to ECS instances only (EcsInstance)")
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		eip, err := getEIP(tx, c, p.Get("AllocationId"))
		if err != nil {
			return nil, err
		}
		in, err := getInstance(tx, c, p.Get("InstanceId"))
		if err != nil {
			return nil, err
		}
		if eip.Status != EipAvailable {
			return nil, ecserr.BadRequest("IncorrectEipStatus", "EIP %s is %s (bound to %s); unassociate it first.", eip.ID, eip.Status, eip.InstanceID)
		}
		if in.Classic() {
			return nil, ecserr.BadRequest("InvalidNetworkType.NotSupported", "Instance %s is on the classic network; EIPs bind to VPC instances only.", in.ID)
		}
		if in.PublicIP.IsValid() {
			return nil, ecserr.BadRequest("InvalidAssociation.Duplicated", "Instance %s already has the public address %s; an instance takes one public address.", in.ID, in.PublicIP)
		}
		eip.Status, eip.InstanceID = EipInUse, in.ID
		in.PublicIP, in.EipID = eip.Address, eip.ID
		if err := putEIP(tx, eip); err != nil {
			return nil, err
		}
		return &rpc.Base{}, putInstance(tx, in)
	})
}

// UnassociateEipAddress unbinds an EIP from its instance.
func (s *Service) UnassociateEipAddress(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	p := req.Params
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		eip, err := getEIP(tx, c, p.Get("AllocationId"))
		if err != nil {
			return nil, err
		}
		if eip.Status != EipInUse {
			return nil, ecserr.BadRequest("IncorrectEipStatus", "EIP %s is not associated with any instance.", eip.ID)
		}
		if id := p.Get("InstanceId"); id != "" && id != eip.InstanceID {
			return nil, ecserr.BadRequest("InvalidInstanceId.Mismatch", "EIP %s is associated with %s, not with %s.", eip.ID, eip.InstanceID, id)
		}
		if err := detachEIP(tx, eip); err != nil {
			return nil, err
		}
		return &rpc.Base{}, putEIP(tx, eip)
	})
}

// detachEIP marks an EIP available and takes its address off the instance;
// the caller stores the EIP.
func detachEIP(tx store.Tx, eip *model.EIP) error {
	in, ok, err := store.GetAs[model.Instance](tx, KindInstance, eip.InstanceID)
	if err != nil {
		return err
	}
	if ok && in.EipID == eip.ID {
		in.PublicIP, in.EipID = netip.Addr{}, ""
		if err := putInstance(tx, &in); err != nil {
			return err
		}
	}
	eip.Status, eip.InstanceID = EipAvailable, ""
	return nil
}

// ReleaseEipAddress returns an unbound EIP to the pool.
func (s *Service) ReleaseEipAddress(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		eip, err := getEIP(tx, c, req.Params.Get("AllocationId"))
		if err != nil {
			return nil, err
		}
		if eip.Status != EipAvailable {
			return nil, ecserr.BadRequest("IncorrectEipStatus", "EIP %s is associated with %s; unassociate it before releasing it.", eip.ID, eip.InstanceID)
		}
		return &rpc.Base{}, tx.Delete(KindEIP, eip.ID)
	})
}

type lockReasonItem struct{ LockReason string }

type eipAddressItem struct {
	AllocationId            string
	IpAddress               string
	Status                  string
	RegionId                string
	InstanceId              string
	InstanceType            string
	InstanceRegionId        string
	PrivateIpAddress        string
	Bandwidth               string
	EipBandwidth            string
	InternetChargeType      string
	ChargeType              string
	AllocationTime          string
	ExpiredTime             string
	Name                    string
	Description             string
	ISP                     string
	Netmode                 string
	Mode                    string
	ResourceGroupId         string
	BusinessStatus          string
	DeletionProtection      bool
	ServiceManaged          int
	OperationLocks          struct{ LockReason []lockReasonItem }
	Tags                    struct{ Tag []vpcTag }
	AvailableRegions        struct{ AvailableRegion []string }
	SecurityProtectionTypes struct{ SecurityProtectionType []string }
}

type describeEipAddressesResponse struct {
	rpc.Base
	TotalCount   int
	PageNumber   int
	PageSize     int
	EipAddresses struct{ EipAddress []eipAddressItem }
}

// DescribeEipAddresses lists the caller's EIPs in a region.
func (s *Service) DescribeEipAddresses(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := numberPage(p, 100)
	if err != nil {
		return nil, err
	}
	ids, err := commaIDs(p, "AllocationId", 50)
	if err != nil {
		return nil, err
	}
	addrs, err := commaIDs(p, "EipAddress", 50)
	if err != nil {
		return nil, err
	}
	return view(s, ctx, func(tx store.ReadTx) (*describeEipAddressesResponse, error) {
		eips, err := list[model.EIP](tx, KindEIP, c)
		if err != nil {
			return nil, err
		}
		byCreation(eips, func(e *model.EIP) (int64, string) { return e.Created.Unix(), e.ID })
		var items []eipAddressItem
		for _, e := range eips {
			bound := ""
			if e.InstanceID != "" {
				bound = "EcsInstance"
			}
			if len(ids) > 0 && !slices.Contains(ids, e.ID) || len(addrs) > 0 && !slices.Contains(addrs, e.Address.String()) ||
				p.Has("Status") && e.Status != p.Get("Status") || p.Has("EipName") && e.Name != p.Get("EipName") ||
				p.Has("AssociatedInstanceId") && e.InstanceID != p.Get("AssociatedInstanceId") ||
				p.Has("AssociatedInstanceType") && bound != p.Get("AssociatedInstanceType") {
				continue
			}
			item, err := eipOut(tx, e)
			if err != nil {
				return nil, err
			}
			items = append(items, item)
		}
		out := &describeEipAddressesResponse{TotalCount: len(items), PageNumber: pg.Number, PageSize: pg.Size}
		out.EipAddresses.EipAddress, _ = paginate(items, pg)
		return out, nil
	})
}

func eipOut(tx store.ReadTx, e *model.EIP) (eipAddressItem, error) {
	item := eipAddressItem{AllocationId: e.ID, IpAddress: e.Address.String(), Status: e.Status, RegionId: e.Region,
		Bandwidth: e.Bandwidth, EipBandwidth: e.Bandwidth, InternetChargeType: e.ChargeType, ChargeType: "PostPaid",
		AllocationTime: timeText(e.Created), Name: e.Name, Description: e.Description, ISP: "BGP", Netmode: "public",
		ResourceGroupId: resourceGroupID(e.Owner), BusinessStatus: "Normal"}
	if e.InstanceID != "" {
		item.InstanceId, item.InstanceType, item.InstanceRegionId, item.Mode = e.InstanceID, "EcsInstance", e.Region, "NAT"
		in, ok, err := store.GetAs[model.Instance](tx, KindInstance, e.InstanceID)
		if err != nil {
			return item, err
		}
		if ok {
			item.PrivateIpAddress = in.PrivateIP.String()
		}
	}
	return item, nil
}
