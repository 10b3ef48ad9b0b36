package ecsimport

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// convertInstance builds an instance: its primary network interface, with
// its IPv4 and IPv6 addresses; the rest is warned about.
func (b *builder) convertInstance(s sourced[instanceItem]) *model.Instance {
	it, src := s.v, s.src
	in := &model.Instance{ID: it.InstanceId, Region: cmp.Or(it.RegionId, b.region), Name: it.InstanceName, Description: it.Description,
		Zone: it.ZoneId, VpcID: it.VpcAttributes.VpcId, VSwitchID: it.VpcAttributes.VSwitchId, Status: it.Status,
		ImageID: it.ImageId, InstanceType: it.InstanceType, BandwidthOut: int(it.InternetMaxBandwidthOut), SecurityGroups: slices.Clone(it.SecurityGroupIds.SecurityGroupId),
		Tags: tags(it.Tags), Created: parseTime(it.CreationTime)}
	if it.InstanceOwnerId > 0 { // settleOwner's best source: ECS names no owner for a same-account peer group
		in.Owner = strconv.Itoa(int(it.InstanceOwnerId))
	}
	warn := func(format string, args ...any) { b.warn(src, in.ID, "", format, args...) }

	private := it.VpcAttributes.PrivateIpAddress.IpAddress
	if in.VpcID == "" {
		private = it.InnerIpAddress.IpAddress
	}
	nic := primaryNIC(it.NetworkInterfaces.NetworkInterface, private)
	if len(private) == 0 && nic != nil && nic.PrimaryIpAddress != "" {
		private = []string{nic.PrimaryIpAddress}
	}
	if len(private) > 0 {
		in.PrivateIP = parseAddr(private[0], false)
	}
	if !in.PrivateIP.IsValid() {
		warn("no private IPv4 address could be read (%q), so no flow to or from the instance can be evaluated", private)
	}
	// The other private addresses are the primary ENI's secondary ones:
	// addresses of the same NIC (listed here, or in its PrivateIpSets).
	secondary := slices.Clone(private[min(1, len(private)):])
	if nic != nil {
		primary := in.PrivateIP.String()
		for _, p := range nic.PrivateIpSets.PrivateIpSet {
			// Not the primary, even where the set does not mark it.
			if !p.Primary && p.PrivateIpAddress != primary && !slices.Contains(secondary, p.PrivateIpAddress) {
				secondary = append(secondary, p.PrivateIpAddress)
			}
		}
	}
	in.SecondaryIPs = b.secondaryIPs(secondary, warn)
	if nic != nil {
		var six []string
		for _, s := range nic.Ipv6Sets.Ipv6Set {
			six = append(six, s.Ipv6Address)
		}
		in.SetIPv6s(b.ipv6s(six, warn))
	}
	for _, n := range it.NetworkInterfaces.NetworkInterface {
		if _, read := b.enis[n.NetworkInterfaceId]; !read && n.NetworkInterfaceId != "" && (nic == nil || n.NetworkInterfaceId != nic.NetworkInterfaceId) {
			warn("secondary network interface %s is not imported: its addresses and security groups are not judged; save DescribeNetworkInterfaces too", n.NetworkInterfaceId)
		}
	}

	switch {
	case it.EipAddress.IpAddress != "":
		in.PublicIP, in.EipID = parseAddr(it.EipAddress.IpAddress, false), it.EipAddress.AllocationId
	case len(it.PublicIpAddress.IpAddress) > 0:
		in.PublicIP = parseAddr(it.PublicIpAddress.IpAddress[0], false)
	}
	if len(in.SecurityGroups) == 0 {
		warn("the instance is in no security group, so nothing but the defaults decides its traffic")
	}
	return in
}

// primaryNIC picks the primary interface: the one ECS marks so, else (older
// responses) the one holding the primary private address, else the only one.
func primaryNIC(nics []nicItem, private []string) *nicItem {
	for i := range nics {
		if strings.EqualFold(nics[i].Type, "Primary") {
			return &nics[i]
		}
	}
	for i := range nics {
		if len(private) > 0 && nics[i].PrimaryIpAddress == private[0] {
			return &nics[i]
		}
	}
	if len(nics) == 1 {
		return &nics[0]
	}
	return nil
}

func parseAddr(s string, six bool) netip.Addr {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Is6() != six || a.Zone() != "" {
		return netip.Addr{}
	}
	return a
}

// convertList builds a prefix list from its list entry and its attributes;
// entries are parsed as CreatePrefixList parses them.
func (b *builder) convertList(id string, d *listData) *model.PrefixList {
	it := d.item
	if it == nil {
		it = &d.attr.prefixListItem
	}
	family, e := model.ParseAddressFamily(it.AddressFamily)
	if e != nil {
		b.warn(d.src, id, "", "prefix list skipped: AddressFamily %q is not IPv4 or IPv6, so its entries cannot be read", it.AddressFamily)
		return nil
	}
	pl := &model.PrefixList{ID: id, Region: b.region, Name: it.PrefixListName, Description: it.Description, AddressFamily: family,
		MaxEntries: int(it.MaxEntries), Created: parseTime(it.CreationTime), Entries: []model.PrefixEntry{}}
	if d.attr == nil {
		b.warn(d.src, id, "", "no DescribePrefixListAttributes response, so the list is imported without entries and rules naming it match nothing: save `DescribePrefixListAttributes --PrefixListId %s` too", id)
		return pl
	}
	if pl.MaxEntries == 0 {
		pl.MaxEntries = int(d.attr.MaxEntries)
	}
	for _, en := range d.attr.Entries.Entry {
		cidr, e := model.ParsePrefixListCIDR(en.Cidr, family, "Cidr", false)
		if e != nil {
			b.warn(d.src, id, "", "entry skipped: %s", e.Message)
			continue
		}
		pl.Entries = append(pl.Entries, model.PrefixEntry{CIDR: cidr, Description: en.Description})
	}
	return pl
}

// settleOwner finds the account's UID in the instances' InstanceOwnerId
// and in the owners that rules give for the imported groups they name (ECS
// gives none for a peer group of the same account), and gives it to every
// imported resource.
func (b *builder) settleOwner(a *Account) {
	held := map[string]bool{}
	for _, g := range a.Groups {
		held[g.ID] = true
	}
	var owners []string
	for _, in := range a.Instances {
		if in.Owner != "" && !slices.Contains(owners, in.Owner) {
			owners = append(owners, in.Owner)
		}
	}
	for _, g := range a.Groups {
		for _, r := range g.Rules {
			if _, err := strconv.ParseUint(r.Peer.GroupOwner, 10, 64); err == nil && held[r.Peer.GroupID] && !slices.Contains(owners, r.Peer.GroupOwner) {
				owners = append(owners, r.Peer.GroupOwner)
			}
		}
	}
	switch len(owners) {
	case 0:
		return
	case 1:
		a.Owner = owners[0]
	default:
		slices.Sort(owners)
		b.warn("import", "", "", "rules name the imported groups as owned by several accounts (%s), so no owner is set; import one account at a time", strings.Join(owners, ", "))
		return
	}
	for _, g := range a.Groups {
		g.Owner = a.Owner
		for i := range g.Rules {
			if r := &g.Rules[i]; held[r.Peer.GroupID] && r.Peer.GroupOwner == "" {
				r.Peer.GroupOwner = a.Owner
			}
		}
	}
	for _, in := range a.Instances {
		in.Owner = a.Owner
	}
	for _, pl := range a.PrefixLists {
		pl.Owner = a.Owner
	}
}

// checkReferences warns about peers and memberships that name resources
// the import does not hold: evaluation treats such a peer as matching
// nothing, so decisions about it are incomplete.
func (b *builder) checkReferences(a *Account) {
	groups, lists := map[string]bool{}, map[string]bool{}
	for _, g := range a.Groups {
		groups[g.ID] = true
	}
	for _, pl := range a.PrefixLists {
		lists[pl.ID] = true
	}
	for _, g := range a.Groups {
		for _, r := range g.Rules {
			src := cmp.Or(b.ruleSrc[g.ID+"/"+r.ID], b.groups[g.ID].src)
			switch {
			case r.Peer.GroupID != "" && !groups[r.Peer.GroupID] && r.Peer.GroupOwner != "" && r.Peer.GroupOwner != a.Owner:
				b.warn(src, g.ID, r.ID, "the rule names group %s of account %s, which the import does not hold, so it matches nothing when evaluated; import that account's groups too to judge it", r.Peer.GroupID, r.Peer.GroupOwner)
			case r.Peer.GroupID != "" && !groups[r.Peer.GroupID]:
				b.warn(src, g.ID, r.ID, "the rule names group %s, which the import does not hold, so it matches nothing when evaluated; save that group's responses too", r.Peer.GroupID)
			case r.Peer.PrefixListID != "" && !lists[r.Peer.PrefixListID]:
				b.warn(src, g.ID, r.ID, "the rule names prefix list %s, which the import does not hold, so it matches nothing when evaluated; save DescribePrefixLists and DescribePrefixListAttributes too", r.Peer.PrefixListID)
			}
		}
	}
	for _, in := range a.Instances {
		for _, id := range in.SecurityGroups {
			if !groups[id] {
				b.warn(b.insts[in.ID].src, in.ID, "", "the instance is in group %s, which the import does not hold, so that group's rules are left out of its policy", id)
			}
		}
	}
	insts := map[string]bool{}
	for _, in := range a.Instances {
		insts[in.ID] = true
	}
	for _, n := range a.ENIs {
		for _, id := range n.SecurityGroups {
			if !groups[id] {
				b.warn(b.enis[n.ID].src, n.ID, "", "the network interface is in group %s, which the import does not hold, so that group's rules are left out of its policy", id)
			}
		}
		if n.InstanceID != "" && !insts[n.InstanceID] {
			b.warn(b.enis[n.ID].src, n.ID, "", "the network interface is attached to %s, which the import does not hold, so its flows are not evaluated; save DescribeInstances too", n.InstanceID)
		}
	}
}

// ipv6s reads a NIC's IPv6 addresses (Ipv6Sets), in order.
func (b *builder) ipv6s(addrs []string, warn func(format string, args ...any)) []netip.Addr {
	return readAddrs(addrs, true, "IPv6 address", warn)
}

// secondaryIPs reads a NIC's secondary private IPv4 addresses.
func (b *builder) secondaryIPs(addrs []string, warn func(format string, args ...any)) []netip.Addr {
	return readAddrs(addrs, false, "secondary private address", warn)
}

// readAddrs reads addresses of one family (six), in order: one that cannot
// be read is warned about (as a what) and left out, a repeat dropped.
func readAddrs(addrs []string, six bool, what string, warn func(format string, args ...any)) []netip.Addr {
	var out []netip.Addr
	for _, s := range addrs {
		a := parseAddr(s, six)
		if !a.IsValid() {
			warn("%s %q cannot be read; rules are not judged for it", what, s)
			continue
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}
