package service

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// KindENI is the table of secondary ENIs. An instance's primary ENI is not
// stored: it is the instance (model.Instance.PrimaryENI).
const KindENI store.Kind = "networkinterface"

// MaxDescribeENIIDs is how many NetworkInterfaceId.N DescribeNetworkInterfaces takes.
const MaxDescribeENIIDs = 100

// GetENI loads a network interface of the caller: a secondary ENI, or the
// primary ENI of one of the caller's instances. A malformed ID is
// InvalidParams.EniId; an unknown one or another account's is
// InvalidEniId.NotFound, so accounts never learn of each other's ENIs.
func GetENI(tx store.ReadTx, c Caller, id string) (*model.NetworkInterface, error) {
	if id == "" {
		return nil, ecserr.MissingParameter("NetworkInterfaceId")
	}
	if !model.HasPrefix(id, "eni") {
		return nil, ecserr.BadRequest("InvalidParams.EniId", "The specified NetworkInterfaceId %q is malformed: it starts with \"eni-\".", id).At("NetworkInterfaceId")
	}
	n, err := get[model.NetworkInterface](tx, KindENI, c, id, "NetworkInterfaceId", "eni", "InvalidEniId.NotFound")
	if err == nil {
		return n, nil
	}
	if in, ierr := get[model.Instance](tx, KindInstance, c, model.DerivedID("i", id), "InstanceId", "i", "InvalidEniId.NotFound"); ierr == nil && !in.Classic() {
		return in.PrimaryENI(), nil
	}
	return nil, err
}

func putENI(tx store.Tx, n *model.NetworkInterface) error {
	return store.PutAs(tx, KindENI, n.ID, n.Owner, n.Region, n)
}

// enisOf returns the caller's secondary ENIs attached to an instance.
func enisOf(tx store.ReadTx, c Caller, instanceID string) ([]*model.NetworkInterface, error) {
	return indexedObjects[model.NetworkInterface](tx, KindENI, byInstance, instanceID, c)
}

// ENIsOfInstance returns the secondary ENIs attached to an instance, for
// reading only (they may be the view's shared values).
func ENIsOfInstance(tx store.ReadTx, instanceID string) ([]*model.NetworkInterface, error) {
	return enisOf(tx, Caller{}, instanceID)
}

// eniMembers returns the secondary ENIs of an account in a group, as NICs:
// a group's members are the network interfaces in it, and they count
// against its member limit whether attached or not.
func eniMembers(tx store.ReadTx, c Caller, groupID string) ([]*model.Instance, error) {
	return groupNICs(tx, KindENI, c, groupID)
}

// vswitchTaken returns the addresses that the caller's instances and
// secondary ENIs on a vSwitch hold, their secondary private addresses
// included, per family.
func vswitchTaken(tx store.ReadTx, c Caller, vswitchID string) (v4, v6 map[netip.Addr]bool, err error) {
	v4, v6 = map[netip.Addr]bool{}, map[netip.Addr]bool{}
	for _, kind := range []store.Kind{KindInstance, KindENI} {
		recs, err := indexedList(tx, kind, byVSwitch, vswitchID, c)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range recs {
			var addrs []netip.Addr
			switch o := r.Object.(type) {
			case *model.Instance:
				addrs = o.Addresses()
			case *model.NetworkInterface:
				addrs = o.Addresses()
			}
			for _, a := range addrs {
				if a.Is4() {
					v4[a] = true
				} else {
					v6[a] = true
				}
			}
		}
	}
	return v4, v6, nil
}

// setENIGroups checks and sets an ENI's whole group set (see setGroups,
// and its full).
func setENIGroups(tx store.ReadTx, c Caller, n *model.NetworkInterface, ids []string, full string) error {
	fits := func(groups []*model.SecurityGroup) *ecserr.Error { return model.CheckENIGroups(n, groups) }
	over := func(g *model.SecurityGroup, members, _ int) error {
		return ecserr.Forbidden(full, "Security group %s has %d members, its limit; network interface %s cannot join it.", g.ID, members, n.ID)
	}
	if err := checkGroupSet(tx, c, n.ID, n.SecurityGroups, ids, 1, fits, over); err != nil {
		return err
	}
	n.SecurityGroups = ids
	return nil
}

// CreateENIInput is a new secondary ENI.
type CreateENIInput struct {
	Caller           Caller
	VSwitchID        string
	SecurityGroupIDs []string // SecurityGroupId or SecurityGroupIds.N
	PrimaryIP        string
	SecondaryIPs     []string // PrivateIpAddress.N
	SecondaryCount   int      // SecondaryPrivateIpAddressCount
	IPv6             []string // Ipv6Address.N (Palisade keeps one)
	IPv6Count        int
	Name             string
	Description      string
	Type             string // InstanceType: Secondary (default); Trunk is refused
	DeleteOnRelease  bool
	ResourceGroupID  string `json:",omitempty"` // the account's one group, or none; omitted so a ClientToken kept from before still matches
	Tags             []model.Tag
	Idempotency      `json:"-"`
}

// CreateNetworkInterface makes an Available secondary ENI on a vSwitch.
func (s *Service) CreateNetworkInterface(ctx context.Context, in CreateENIInput) (*model.NetworkInterface, error) {
	c := in.Caller
	if in.VSwitchID == "" {
		return nil, ecserr.MissingParameter("VSwitchId")
	}
	if len(in.SecurityGroupIDs) == 0 {
		return nil, ecserr.MissingParameter("SecurityGroupId")
	}
	if err := CheckResourceGroup(c, in.ResourceGroupID); err != nil {
		return nil, err
	}
	switch in.Type {
	case "", model.ENISecondary:
	case "Trunk":
		return nil, ecserr.BadRequest("UnsupportedParameter", "InstanceType Trunk is in invitational preview; Palisade makes Secondary network interfaces.").At("InstanceType")
	default:
		return nil, ecserr.InvalidParameter("InstanceType", "it is the ENI type, Secondary or Trunk")
	}
	if e := model.ValidateENIName(in.Name); e != nil {
		return nil, e
	}
	if in.Description != "" && !model.ValidDescription(in.Description) {
		return nil, ecserr.InvalidParameter("Description", "2 to 256 characters, not starting with http:// or https://")
	}
	if err := checkAddrInput("Ipv6Address.N", "Ipv6AddressCount", MaxIPv6PerCall, in.IPv6, in.IPv6Count, true); err != nil {
		return nil, err
	}
	if want, quota := len(in.IPv6)+in.IPv6Count, model.IPv6Quota(nil); want > quota {
		return nil, ecserr.Forbidden("InvalidOperation.Ipv6CountExceeded", "%d IPv6 addresses were asked for; a network interface not attached holds at most %d.", want, quota)
	}
	var named6 []netip.Addr
	for _, s := range in.IPv6 {
		a, ok := model.ParseAddr(s, true)
		switch {
		case !ok:
			return nil, ecserr.Forbidden("InvalidIp.Address", "Ipv6Address %q is not an IPv6 address.", model.Clip(s)).At("Ipv6Address.N")
		case slices.Contains(named6, a):
			return nil, ecserr.InvalidParameter("Ipv6Address.N", fmt.Sprintf("it names %s twice", a))
		}
		named6 = append(named6, a)
	}
	if err := checkSecondaryInput(in.SecondaryIPs, in.SecondaryCount, true); err != nil {
		return nil, err
	}
	secondary, err := parseSecondaries(in.SecondaryIPs)
	if err != nil {
		return nil, err
	}
	return Update(s, ctx, c, "CreateNetworkInterface", in.Idempotency, in, func(tx store.Tx) (*model.NetworkInterface, error) {
		w, err := getVSwitch(tx, c, in.VSwitchID)
		if err != nil {
			return nil, err
		}
		n := &model.NetworkInterface{ID: model.NewID("eni"), Region: c.Region, Owner: c.Account, Name: in.Name,
			Description: in.Description, Type: model.ENISecondary, Status: model.ENIAvailable, Zone: w.Zone,
			VpcID: w.VpcID, VSwitchID: w.ID, DeleteOnRelease: in.DeleteOnRelease, ResourceGroupID: in.ResourceGroupID, Tags: slices.Clone(in.Tags), Created: s.Now()}
		n.MAC = model.MACOf(n.ID)
		held, err := ownedBy(KindENI, c).count(tx)
		if err != nil {
			return nil, err
		}
		q, err := s.quotasOf(tx, c.Account)
		if err != nil {
			return nil, err
		}
		if held >= q.ENIs {
			return nil, ecserr.Forbidden("MaxEniCountExceeded", "The account has %d secondary network interfaces in %s and may hold %d; delete one first.", held, c.Region, q.ENIs)
		}
		if err := setENIGroups(tx, c, n, slices.Clone(in.SecurityGroupIDs), modifyFull); err != nil {
			return nil, err
		}
		taken, taken6, err := vswitchTaken(tx, c, w.ID)
		if err != nil {
			return nil, err
		}
		if in.PrimaryIP != "" {
			a, ok := model.ParseAddr(in.PrimaryIP, false)
			switch {
			case !ok:
				return nil, ecserr.InvalidParameter("PrimaryIpAddress", "it is an IPv4 address")
			case !w.CIDR.Contains(a) || !model.Assignable(w.CIDR, a):
				return nil, ecserr.Forbidden("InvalidVSwitchId.IpInvalid", "PrimaryIpAddress %s is not an assignable address of vSwitch %s (%s).", a, w.ID, w.CIDR)
			case taken[a]:
				return nil, ecserr.BadRequest("InvalidPrivateIpAddress.Duplicated", "PrimaryIpAddress %s is already used in vSwitch %s.", a, w.ID)
			}
			n.PrivateIP = a
		} else {
			a, ok := allocateAddr(w.CIDR, taken)
			if !ok {
				return nil, ecserr.Forbidden("InvalidVSwitchId.IpNotEnough", "vSwitch %s has no free private address left.", w.ID)
			}
			n.PrivateIP = a
		}
		taken[n.PrivateIP] = true
		if len(secondary) > 0 || in.SecondaryCount > 0 {
			if n.SecondaryIPs, err = pickSecondaries(w, taken, secondary, in.SecondaryCount); err != nil {
				return nil, err
			}
		}
		if len(named6) > 0 || in.IPv6Count > 0 {
			if !w.IPv6CIDR.IsValid() {
				return nil, ecserr.BadRequest("InvalidVSwitch.Ipv6NotTurnOn", "vSwitch %s has no IPv6 block.", w.ID)
			}
			six, err := pickIPv6s(w, taken6, named6, in.IPv6Count)
			if err != nil {
				return nil, err
			}
			n.SetIPv6s(six)
		}
		return n, putENI(tx, n)
	})
}

// ENIRef names an ENI and, for Attach and Detach, an instance.
type ENIRef struct {
	Caller             Caller
	NetworkInterfaceID string
	InstanceID         string
	Idempotency        `json:"-"`
}

// DeleteNetworkInterface deletes an Available secondary ENI; it leaves its
// groups with it, and its EIP, if any, stays allocated but unbound.
func (s *Service) DeleteNetworkInterface(ctx context.Context, in ENIRef) error {
	c := in.Caller
	_, err := Update(s, ctx, c, "DeleteNetworkInterface", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		n, err := GetENI(tx, c, in.NetworkInterfaceID)
		if err != nil {
			return struct{}{}, err
		}
		switch {
		case n.Type == model.ENIPrimary:
			return struct{}{}, ecserr.Forbidden("InvalidOperation.InvalidEniType", "Network interface %s is the primary interface of %s; it goes with its instance.", n.ID, n.InstanceID)
		case n.Status != model.ENIAvailable:
			return struct{}{}, ecserr.BadRequest("InvalidOperation.InvalidEniState", "Network interface %s is %s (attached to %s); detach it first.", n.ID, n.Status, n.InstanceID)
		}
		if err := releaseENIEIP(tx, n); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, tx.Delete(KindENI, n.ID)
	})
	return err
}

// AttachNetworkInterface attaches an Available secondary ENI to an
// instance of its VPC and zone. ECS attaches asynchronously (Attaching,
// then InUse); Palisade's attach is done when the call returns.
func (s *Service) AttachNetworkInterface(ctx context.Context, in ENIRef) error {
	c := in.Caller
	_, err := Update(s, ctx, c, "AttachNetworkInterface", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		n, inst, err := eniAndInstance(tx, c, in)
		if err != nil {
			return struct{}{}, err
		}
		attached, err := enisOf(tx, c, inst.ID)
		if err != nil {
			return struct{}{}, err
		}
		if e := model.CheckAttach(n, inst, len(attached)); e != nil {
			return struct{}{}, e
		}
		used := map[int]bool{}
		for _, o := range attached {
			used[o.DeviceIndex] = true
		}
		n.DeviceIndex = 1
		for used[n.DeviceIndex] {
			n.DeviceIndex++
		}
		n.Status, n.InstanceID = model.ENIInUse, inst.ID
		n.Host, n.Interface = "", "" // the agent that enforces it binds it again
		return struct{}{}, putENI(tx, n)
	})
	return err
}

// eniAndInstance loads the ENI and the instance of an Attach or Detach; ECS
// answers an unknown instance with 403 InvalidInstanceId.NotFound on these
// calls.
func eniAndInstance(tx store.ReadTx, c Caller, in ENIRef) (*model.NetworkInterface, *model.Instance, error) {
	n, err := GetENI(tx, c, in.NetworkInterfaceID)
	if err != nil {
		return nil, nil, err
	}
	inst, err := GetInstance(tx, c, in.InstanceID)
	if e, ok := err.(*ecserr.Error); ok && e.Code == "InvalidInstanceId.NotFound" {
		return nil, nil, ecserr.Forbidden("InvalidInstanceId.NotFound", "%s", e.Message)
	}
	return n, inst, err
}

// DetachNetworkInterface detaches a secondary ENI from its instance.
func (s *Service) DetachNetworkInterface(ctx context.Context, in ENIRef) error {
	c := in.Caller
	_, err := Update(s, ctx, c, "DetachNetworkInterface", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		n, inst, err := eniAndInstance(tx, c, in)
		if err != nil {
			return struct{}{}, err
		}
		switch {
		case n.Type == model.ENIPrimary:
			return struct{}{}, ecserr.BadRequest("InvalidOperation.DetachPrimaryEniNotAllowed", "Network interface %s is the primary interface of %s and cannot be detached.", n.ID, n.InstanceID)
		case n.Status != model.ENIInUse || n.InstanceID != inst.ID:
			return struct{}{}, ecserr.BadRequest("InvalidOperation.InvalidEniState", "Network interface %s is %s and not attached to %s.", n.ID, n.Status, inst.ID)
		case inst.Status != model.StatusRunning && inst.Status != model.StatusStopped:
			return struct{}{}, ecserr.BadRequest("InvalidOperation.InvalidEcsState", "Instance %s is %s; it must be Running or Stopped.", inst.ID, inst.Status)
		}
		detach(n)
		return struct{}{}, putENI(tx, n)
	})
	return err
}

func detach(n *model.NetworkInterface) {
	n.Status, n.InstanceID, n.DeviceIndex, n.Host, n.Interface = model.ENIAvailable, "", 0, "", ""
}

// releaseENIs detaches an instance's secondary ENIs when it is deleted,
// and deletes those created with DeleteOnRelease (unbinding their EIPs).
func releaseENIs(tx store.Tx, c Caller, instanceID string) error {
	enis, err := enisOf(tx, c, instanceID)
	if err != nil {
		return err
	}
	for _, n := range enis {
		if n.DeleteOnRelease {
			if err := releaseENIEIP(tx, n); err != nil {
				return err
			}
			if err := tx.Delete(KindENI, n.ID); err != nil {
				return err
			}
			continue
		}
		// enisOf's values may be the view's own: detach a copy, or a
		// write rolled back (DeleteInstances refused, DryRun) would still
		// have changed what every reader sees.
		m := *n
		detach(&m)
		if err := putENI(tx, &m); err != nil {
			return err
		}
	}
	return nil
}

// DescribeENIsInput filters DescribeNetworkInterfaces.
type DescribeENIsInput struct {
	Caller          Caller
	IDs             []string
	Name            string
	VSwitchID       string
	VpcID           string
	InstanceID      string
	PrimaryIP       string
	PrivateIPs      []string
	IPv6s           []string
	SecurityGroupID string // matches secondary ENIs only, as ECS
	Type            string // Primary | Secondary | "" both
	Status          string
	// ResourceGroupID: the account's one group matches all, another none.
	ResourceGroupID string
	ServiceManaged  bool // Palisade has no service-managed ENIs: matches none
	Tags            []model.Tag
	Page            Page
}

// DescribeNetworkInterfaces lists the caller's ENIs in a region, primary
// (one per VPC instance) and secondary, oldest first.
func (s *Service) DescribeNetworkInterfaces(ctx context.Context, in DescribeENIsInput) (Listing[*model.NetworkInterface], error) {
	c := in.Caller
	if err := checkIDCount(in.IDs, "NetworkInterfaceId", MaxDescribeENIIDs); err != nil {
		return Listing[*model.NetworkInterface]{}, err
	}
	// PrivateIpAddress.N and Ipv6Address.N take 1 to 100 each, as the IDs.
	if err := CheckFilterItems("PrivateIpAddress.N", len(in.PrivateIPs), MaxDescribeENIIDs); err != nil {
		return Listing[*model.NetworkInterface]{}, err
	}
	if err := CheckFilterItems("Ipv6Address.N", len(in.IPv6s), MaxDescribeENIIDs); err != nil {
		return Listing[*model.NetworkInterface]{}, err
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return Listing[*model.NetworkInterface]{}, e
	}
	switch in.Type {
	case "", model.ENIPrimary, model.ENISecondary:
	default:
		return Listing[*model.NetworkInterface]{}, ecserr.InvalidParameter("Type", "Primary or Secondary")
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[*model.NetworkInterface], error) {
		all, err := allENIs(tx, c)
		if err != nil {
			return Listing[*model.NetworkInterface]{}, err
		}
		var items []*model.NetworkInterface
		for _, n := range all {
			if len(in.IDs) > 0 && !slices.Contains(in.IDs, n.ID) || in.Name != "" && n.Name != in.Name ||
				in.VSwitchID != "" && n.VSwitchID != in.VSwitchID || in.VpcID != "" && n.VpcID != in.VpcID ||
				in.InstanceID != "" && n.InstanceID != in.InstanceID || in.PrimaryIP != "" && n.PrivateIP.String() != in.PrimaryIP ||
				len(in.PrivateIPs) > 0 && !slices.ContainsFunc(n.Addresses(), func(a netip.Addr) bool { return a.Is4() && slices.Contains(in.PrivateIPs, a.String()) }) ||
				len(in.IPv6s) > 0 && !slices.ContainsFunc(n.IPv6s(), func(a netip.Addr) bool { return slices.Contains(in.IPv6s, a.String()) }) ||
				in.SecurityGroupID != "" && (n.Type == model.ENIPrimary || !slices.Contains(n.SecurityGroups, in.SecurityGroupID)) ||
				in.Type != "" && n.Type != in.Type || in.Status != "" && n.Status != in.Status || !matchTags(n.Tags, in.Tags) ||
				in.ResourceGroupID != "" && in.ResourceGroupID != ResourceGroupID(n.Owner) || in.ServiceManaged {
				continue
			}
			items = append(items, n)
		}
		return pageBy(items, in.Page, func(n *model.NetworkInterface) string { return createdKey(n.Created, n.ID) }), nil
	})
}

// allENIs returns the caller's ENIs: the primary ENIs of its VPC instances
// and its secondary ENIs, by creation.
func allENIs(tx store.ReadTx, c Caller) ([]*model.NetworkInterface, error) {
	insts, err := list[model.Instance](tx, KindInstance, c)
	if err != nil {
		return nil, err
	}
	out, err := list[model.NetworkInterface](tx, KindENI, c)
	if err != nil {
		return nil, err
	}
	for _, in := range insts {
		if !in.Classic() {
			out = append(out, in.PrimaryENI())
		}
	}
	byCreation(out, func(n *model.NetworkInterface) (int64, string) { return n.Created.Unix(), n.ID })
	return out, nil
}

// DescribeNetworkInterfaceAttribute returns one ENI of the caller.
func (s *Service) DescribeNetworkInterfaceAttribute(ctx context.Context, c Caller, id string) (*model.NetworkInterface, error) {
	return View(s, ctx, func(tx store.ReadTx) (*model.NetworkInterface, error) { return GetENI(tx, c, id) })
}

// ModifyENIInput changes an ENI: nil fields stay; a non-empty
// SecurityGroupIDs replaces its whole group set.
type ModifyENIInput struct {
	Caller             Caller
	NetworkInterfaceID string
	Name               *string
	Description        *string
	DeleteOnRelease    *bool
	SecurityGroupIDs   []string
	Idempotency        `json:"-"`
}

// ModifyNetworkInterfaceAttribute renames an ENI or replaces its groups.
// The groups of a primary ENI are its instance's, so they change there.
func (s *Service) ModifyNetworkInterfaceAttribute(ctx context.Context, in ModifyENIInput) error {
	c := in.Caller
	if in.Name != nil {
		if e := model.ValidateENIName(*in.Name); e != nil {
			return e
		}
	}
	if in.Description != nil && *in.Description != "" && (!model.ValidDescription(*in.Description) || len(*in.Description) > 255) {
		return ecserr.InvalidParameter("Description", "2 to 255 characters, not starting with http:// or https://")
	}
	_, err := Update(s, ctx, c, "ModifyNetworkInterfaceAttribute", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		n, err := GetENI(tx, c, in.NetworkInterfaceID)
		if err != nil {
			return struct{}{}, err
		}
		if n.Type == model.ENIPrimary {
			inst, err := GetInstance(tx, c, n.InstanceID)
			if err != nil {
				return struct{}{}, err
			}
			if len(in.SecurityGroupIDs) > 0 {
				if err := checkRepeats(in.SecurityGroupIDs); err != nil {
					return struct{}{}, err
				}
				if err := setGroups(tx, c, inst, slices.Clone(in.SecurityGroupIDs), 1, joinFull); err != nil {
					return struct{}{}, err
				}
			}
			return struct{}{}, PutInstance(tx, inst)
		}
		if in.Name != nil {
			n.Name = *in.Name
		}
		if in.Description != nil {
			n.Description = *in.Description
		}
		if in.DeleteOnRelease != nil {
			n.DeleteOnRelease = *in.DeleteOnRelease
		}
		if len(in.SecurityGroupIDs) > 0 {
			if err := setENIGroups(tx, c, n, slices.Clone(in.SecurityGroupIDs), modifyFull); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, putENI(tx, n)
	})
	return err
}

// eniMembership adds a secondary ENI to a group, or removes it from one
// (Join/LeaveSecurityGroup with NetworkInterfaceId; see membership).
func (s *Service) eniMembership(tx store.Tx, caller Caller, n *model.NetworkInterface, groupID string, join bool) error {
	c := Caller{Account: caller.Account, Region: n.Region}
	g, err := GetGroup(tx, c, groupID)
	if err != nil {
		return err
	}
	ids := slices.Clone(n.SecurityGroups)
	i := slices.Index(ids, g.ID)
	switch {
	case join && i >= 0:
		return ecserr.Forbidden("InvalidInstanceId.AlreadyExists", "Network interface %s is already in security group %s.", n.ID, g.ID)
	case join && len(ids) >= model.MaxGroupsPerENI:
		return ecserr.BadRequest("InstanceSecurityGroupLimitExceeded", "Network interface %s is already in %d security groups, the limit.", n.ID, len(ids))
	case join && g.VpcID != n.VpcID:
		return ecserr.Forbidden("InvalidOperation.VpcMismatch", "Security group %s is in %s but network interface %s is in %s.", g.ID, g.VpcID, n.ID, n.VpcID)
	case join:
		if err := mixedTypes(tx, c, "Network interface", n.ID, ids, g); err != nil {
			return err
		}
		if err := setENIGroups(tx, c, n, append(ids, g.ID), joinFull); err != nil {
			return err
		}
	case i < 0 && s.LenientRevoke:
		return nil
	case i < 0:
		return ecserr.BadRequest("InvalidSecurityGroupAssociation.NotFound", "Network interface %s is not in security group %s.", n.ID, g.ID)
	case len(ids) == 1:
		return ecserr.Forbidden("InvalidOperation.AtLeastInOneGroup", "Security group %s is the last group of network interface %s; it must stay in at least one. Join another group first.", g.ID, n.ID)
	default:
		n.SecurityGroups = slices.Delete(ids, i, i+1)
	}
	return putENI(tx, n)
}

// bindENI places a secondary ENI on a host behind its own host-side
// interface (PalisadeBindInstance with NetworkInterfaceId): the agent there
// enforces the ENI's groups on that interface. An instance's primary ENI
// ID binds the instance.
func (s *Service) bindENI(ctx context.Context, in BindInput) error {
	id, host, iface := in.NetworkInterfaceID, in.HostName, in.Interface
	if !model.HasPrefix(id, "eni") {
		return ecserr.BadRequest("InvalidParams.EniId", "The specified NetworkInterfaceId %q is malformed: it starts with \"eni-\".", id)
	}
	var primary bool
	_, err := s.commit(ctx, func(tx store.Tx) error {
		primary = false
		n, ok, err := store.GetAs[model.NetworkInterface](tx, KindENI, id)
		if err != nil {
			return err
		}
		if !ok {
			// An instance's primary ENI; for a host key, only one placed on
			// its host (else the answer told which ENI IDs exist elsewhere).
			inst, isInst, err := store.GetAs[model.Instance](tx, KindInstance, model.DerivedID("i", id))
			if err != nil {
				return err
			}
			if isInst && (in.Caller.Host == "" || inst.Host == in.Caller.Host) {
				primary = true
				return nil
			}
			return ecserr.New(http.StatusNotFound, "InvalidEniId.NotFound", "The specified NetworkInterfaceId %q does not exist.", id)
		}
		// A host key sees only what the operator placed on its host.
		if in.Caller.Host != "" && n.Host != in.Caller.Host {
			return ecserr.New(http.StatusNotFound, "InvalidEniId.NotFound", "The specified NetworkInterfaceId %q does not exist.", id)
		}
		if n.Host == host && n.Interface == iface {
			return nil
		}
		if err := interfaceFree(tx, id, host, iface); err != nil {
			return err
		}
		n.Host, n.Interface = host, iface
		return putENI(tx, &n)
	})
	if err == nil && primary {
		return s.BindInstance(ctx, BindInput{Caller: in.Caller, InstanceID: model.DerivedID("i", id), HostName: host, Interface: iface})
	}
	return err
}

// interfaceFree refuses a host interface that an instance or a secondary
// ENI other than self already has. It asks the view's host index (the NICs
// bound to host), and scans only a store without a view.
func interfaceFree(tx store.ReadTx, self, host, iface string) error {
	if host == "" {
		return nil
	}
	for _, kind := range []store.Kind{KindInstance, KindENI} {
		recs, err := indexedList(tx, kind, byHost, host, Caller{})
		if err != nil {
			return err
		}
		for _, r := range recs {
			var h, f string
			switch o := r.Object.(type) {
			case *model.Instance:
				h, f = o.Host, o.Interface
			case *model.NetworkInterface:
				h, f = o.Host, o.Interface
			}
			if r.ID != self && h == host && f == iface {
				return ecserr.BadRequest("InvalidInterface.InUse", "Interface %s on host %s already belongs to %s; unbind it first.", iface, host, r.ID)
			}
		}
	}
	return nil
}

// vswitchUnused refuses to delete a vSwitch an instance or a secondary ENI
// still takes its address from.
func vswitchUnused(tx store.ReadTx, c Caller, w *model.VSwitch) error {
	c = Caller{Account: c.Account, Region: w.Region}
	if insts, err := indexedList(tx, KindInstance, byVSwitch, w.ID, c); err != nil || len(insts) > 0 {
		if err != nil {
			return err
		}
		return ecserr.BadRequest("DependencyViolation", "vSwitch %s is still used by instance %s; delete its instances first.", w.ID, insts[0].ID)
	}
	if enis, err := indexedList(tx, KindENI, byVSwitch, w.ID, c); err != nil || len(enis) > 0 {
		if err != nil {
			return err
		}
		return ecserr.BadRequest("DependencyViolation", "vSwitch %s is still used by network interface %s; delete it first (DeleteNetworkInterface).", w.ID, enis[0].ID)
	}
	return nil
}

// countENIMembers adds the caller's secondary ENIs to a count of members
// by group.
func countENIMembers(tx store.ReadTx, c Caller, count map[string]int) error {
	all, err := list[model.NetworkInterface](tx, KindENI, c)
	if err != nil {
		return err
	}
	for _, n := range all {
		for _, id := range n.SecurityGroups {
			count[id]++
		}
	}
	return nil
}
