package scenario

import (
	"github.com/palisade-sg/palisade/internal/core/model"
)

// maxSecondaryENIs is how many secondary ENIs a scenario instance may have:
// the file names no instance type, so the largest EniQuantity Palisade
// knows (ecs.g6.26xlarge, 15) less the primary.
const maxSecondaryENIs = 14

// addENI adds a secondary ENI of instance in, attached as device index
// (eth<index> in the lab): in the instance's VPC, with its own address and
// groups, checked as the API checks them.
func (b *builder) addENI(d *eniDoc, in *model.Instance, vpc *model.VPC, index int, x *addressIndex) error {
	if err := required(b, d.NetworkInterfaceID, d.Line, "networkInterfaceId"); err != nil {
		return err
	}
	id := d.NetworkInterfaceID.Value
	if !model.HasPrefix(id, "eni") {
		return b.fail(d.NetworkInterfaceID.Line, "networkInterfaceId", "%q does not start with eni-", id)
	}
	if x.ids[id] {
		return b.fail(d.NetworkInterfaceID.Line, "networkInterfaceId", "%s is defined twice", id)
	}
	if vpc == nil {
		return b.fail(d.Line, "networkInterfaces", "instance %s is on the classic network; only VPC instances have network interfaces", in.ID)
	}
	if index > maxSecondaryENIs {
		return b.fail(d.Line, "networkInterfaces", "instance %s would have %d secondary network interfaces; an instance has at most %d (EniPerInstanceLimitExceeded)", in.ID, index, maxSecondaryENIs)
	}
	x.ids[id] = true
	n := &model.NetworkInterface{ID: id, Owner: DefaultOwner, Type: model.ENISecondary, Status: model.ENIInUse,
		InstanceID: in.ID, DeviceIndex: index, VpcID: in.VpcID, VSwitchID: d.VSwitchID.Value, MAC: model.MACOf(id), Created: created}
	if err := required(b, d.PrimaryIPAddress, d.Line, "primaryIpAddress"); err != nil {
		return err
	}
	a, ok := model.ParseAddr(d.PrimaryIPAddress.Value, false)
	if !ok {
		return b.fail(d.PrimaryIPAddress.Line, "primaryIpAddress", "%q is not an IPv4 address", d.PrimaryIPAddress.Value)
	}
	if err := b.hostable(d.PrimaryIPAddress, "primaryIpAddress", a); err != nil {
		return err
	}
	if !vpc.CIDR.Contains(a) {
		return b.fail(d.PrimaryIPAddress.Line, "primaryIpAddress", "%s is outside %s's CIDR block %s", a, vpc.ID, vpc.CIDR)
	}
	key := in.VpcID + "|" + a.String()
	if other, ok := x.privates[key]; ok {
		return b.fail(d.PrimaryIPAddress.Line, "primaryIpAddress", "%s is already the address of %s", a, other)
	}
	x.privates[key] = id
	x.own(a, id)
	n.PrivateIP = a
	if d.Ipv6Address.Set() {
		a6, ok := model.ParseAddr(d.Ipv6Address.Value, true)
		if !ok {
			return b.fail(d.Ipv6Address.Line, "ipv6Address", "%q is not an IPv6 address", d.Ipv6Address.Value)
		}
		if err := b.hostable(d.Ipv6Address, "ipv6Address", a6); err != nil {
			return err
		}
		if err := b.inVPC6(d.Ipv6Address, a6, vpc); err != nil {
			return err
		}
		if other, ok := x.privates["v6|"+a6.String()]; ok {
			return b.fail(d.Ipv6Address.Line, "ipv6Address", "%s is already the address of %s", a6, other)
		}
		x.privates["v6|"+a6.String()] = id
		x.own(a6, id)
		n.IPv6 = a6
	}
	var groups []*model.SecurityGroup
	for _, gf := range d.SecurityGroupIDs {
		g := b.groups[gf.Value]
		if g == nil {
			return b.fail(gf.Line, "securityGroupIds", "security group %s is not defined under securityGroups", gf.Value)
		}
		groups = append(groups, g)
		n.SecurityGroups = append(n.SecurityGroups, g.ID)
	}
	if e := model.CheckENIGroups(n, groups); e != nil {
		return b.fail(listLine(d.SecurityGroupIDs, d.Line), "securityGroupIds", "%s (%s)", e.Message, e.Code)
	}
	// An ENI is its instance's account's (groups of another account are
	// judged as the file says; see groupsOwner).
	n.Owner = in.Owner
	if e := model.CheckNICRules(id, groups, b.lists()); e != nil {
		return b.fail(listLine(d.SecurityGroupIDs, d.Line), "securityGroupIds", "%s (%s)", e.Message, e.Code)
	}
	b.s.ENIs = append(b.s.ENIs, n)
	return nil
}

// sameVM refuses a flow between two NICs of one instance: the VM delivers
// such a packet to itself, and no security group sees it.
func (b *builder) sameVM(from, to string, line int) error {
	vm := func(id string) string {
		for _, n := range b.s.ENIs {
			if n.ID == id {
				return n.InstanceID
			}
		}
		return id
	}
	if from != to && vm(from) == vm(to) {
		return b.fail(line, "to", "%s and %s are network interfaces of one instance, which delivers such traffic to itself; no security group decides it", from, to)
	}
	return nil
}
