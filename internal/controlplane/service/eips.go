package service

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// EIP states.
const (
	EipAvailable = "Available"
	EipInUse     = "InUse"
)

// EIP bandwidth bounds, Mbit/s.
const (
	MinEipBandwidth     = 1
	MaxEipBandwidth     = 500
	DefaultEipBandwidth = "5"
)

// AllocateEipInput is a new elastic IP address.
type AllocateEipInput struct {
	Caller             Caller
	Bandwidth          string // peak Mbit/s, MinEipBandwidth to MaxEipBandwidth; "" is the default
	InternetChargeType string // PayByBandwidth (default) or PayByTraffic
	Name               string
	Description        string
	Idempotency        `json:"-"`
}

// AllocateEipResult is the EIP made.
type AllocateEipResult struct {
	AllocationId string
	EipAddress   string
}

// AllocateEipAddress takes a free address of the public pool.
func (s *Service) AllocateEipAddress(ctx context.Context, in AllocateEipInput) (AllocateEipResult, error) {
	c := in.Caller
	bw := in.Bandwidth
	if bw == "" {
		bw = DefaultEipBandwidth
	}
	// Stored as written and shown back: only the canonical form ("+5" and
	// "05" would be kept as such).
	if _, ok := model.ParseCanonicalInt(bw, MinEipBandwidth, MaxEipBandwidth); !ok {
		return AllocateEipResult{}, ecserr.InvalidParameter("Bandwidth", "it is the peak bandwidth in Mbit/s, from 1 to 500")
	}
	charge := in.InternetChargeType
	switch charge {
	case "":
		charge = "PayByBandwidth"
	case "PayByBandwidth", "PayByTraffic":
	default:
		return AllocateEipResult{}, ecserr.BadRequest("InvalidInternetChargeType.ValueNotSupported", "InternetChargeType must be PayByBandwidth or PayByTraffic.")
	}
	if in.Name != "" && !model.ValidName(in.Name) {
		return AllocateEipResult{}, ecserr.BadRequest("InvalidName.Malformed", "Name %q is not valid: 2 to 128 characters, starting with a letter, then letters, digits, ':', '_', '.' or '-'.", in.Name)
	}
	if in.Description != "" && !model.ValidDescription(in.Description) {
		return AllocateEipResult{}, ecserr.BadRequest("InvalidDescription.Malformed", "Description must be 2 to 256 characters and not start with http:// or https://.")
	}
	// ChargeType holds the metering (InternetChargeType): every EIP here is
	// pay-as-you-go.
	eip := &model.EIP{ID: model.NewID("eip"), Region: c.Region, Owner: c.Account, Name: in.Name, Bandwidth: bw,
		ChargeType: charge, Status: EipAvailable, Description: in.Description, Created: s.Now()}
	return Update(s, ctx, c, "AllocateEipAddress", in.Idempotency, in, func(tx store.Tx) (AllocateEipResult, error) {
		q, err := s.quotasOf(tx, c.Account)
		if err != nil {
			return AllocateEipResult{}, err
		}
		pool, err := publicIPsTaken(tx, c.Account, q.PublicIPs)
		if err != nil {
			return AllocateEipResult{}, err
		}
		if eip.Address, err = pool.allocate(); err != nil {
			return AllocateEipResult{}, err
		}
		return AllocateEipResult{AllocationId: eip.ID, EipAddress: eip.Address.String()}, putEIP(tx, eip)
	})
}

// EipInput names an EIP of the caller and, for Associate (required) and
// Unassociate (optional, checked), what it is bound to.
type EipInput struct {
	Caller       Caller
	AllocationID string
	InstanceID   string
	// InstanceType is EcsInstance (or "") or NetworkInterface (a secondary
	// ENI, InstanceID eni-…): Palisade binds EIPs to these only.
	InstanceType string
	Mode         string // NAT (or ""): the only mode Palisade serves
	// PrivateIP is the ENI's address the EIP stands for: only its primary
	// private IPv4, which is also what "" means.
	PrivateIP   string
	Idempotency `json:"-"`
}

// checkEipTarget checks InstanceType and Mode of an Associate or
// Unassociate.
func checkEipTarget(in EipInput) error {
	switch in.InstanceType {
	case "", model.EipToInstance, model.EipToENI:
	default:
		return ecserr.InvalidParameter("InstanceType", "Palisade binds EIPs to ECS instances (EcsInstance) and secondary network interfaces (NetworkInterface) only")
	}
	// Mode says how an EIP is bound to an ENI: NAT, the default, maps it
	// to the ENI's primary private address, which the policy and the
	// analyses model; the multi-EIP (MULTI_BINDED) and cut-through
	// (BINDED) modes put it on the ENI itself, which they do not.
	if m := in.Mode; m != "" && m != "NAT" {
		return ecserr.InvalidParameter("Mode", "Palisade binds EIPs in NAT mode only (NAT, the default); MULTI_BINDED and BINDED are not served")
	}
	return nil
}

// AssociateEipAddress binds an EIP to a VPC instance that has no public IP,
// or (InstanceType NetworkInterface) to a secondary ENI that has no EIP.
func (s *Service) AssociateEipAddress(ctx context.Context, in EipInput) error {
	c := in.Caller
	if err := checkEipTarget(in); err != nil {
		return err
	}
	var private netip.Addr
	if in.InstanceType == model.EipToENI && in.PrivateIP != "" {
		a, err := netip.ParseAddr(in.PrivateIP)
		if err != nil || !a.Is4() {
			return ecserr.InvalidParameter("PrivateIpAddress", "it is a private IPv4 address of the network interface")
		}
		private = a
	}
	_, err := Update(s, ctx, c, "AssociateEipAddress", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		eip, err := getEIP(tx, c, in.AllocationID)
		if err != nil {
			return struct{}{}, err
		}
		if in.InstanceType == model.EipToENI {
			return struct{}{}, associateENI(tx, c, eip, in.InstanceID, private)
		}
		inst, err := GetInstance(tx, c, in.InstanceID)
		if err != nil {
			return struct{}{}, err
		}
		if eip.Status != EipAvailable {
			return struct{}{}, ecserr.BadRequest("IncorrectEipStatus", "EIP %s is %s (bound to %s); unassociate it first.", eip.ID, eip.Status, eip.InstanceID)
		}
		if inst.Classic() {
			return struct{}{}, ecserr.BadRequest("InvalidNetworkType.NotSupported", "Instance %s is on the classic network; EIPs bind to VPC instances only.", inst.ID)
		}
		if inst.PublicIP.IsValid() {
			return struct{}{}, ecserr.BadRequest("InvalidAssociation.Duplicated", "Instance %s already has the public address %s; an instance takes one public address.", inst.ID, inst.PublicIP)
		}
		eip.Status, eip.InstanceID, eip.InstanceType = EipInUse, inst.ID, model.EipToInstance
		inst.PublicIP, inst.EipID = eip.Address, eip.ID
		if err := putEIP(tx, eip); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, PutInstance(tx, inst)
	})
	return err
}

// associateENI binds an EIP to a secondary ENI of the caller, in NAT mode:
// the EIP stands for the ENI's primary private IPv4. An unknown ENI and
// another account's are InvalidInstanceId.NotFound alike.
func associateENI(tx store.Tx, c Caller, eip *model.EIP, id string, private netip.Addr) error {
	n, err := get[model.NetworkInterface](tx, KindENI, c, id, "InstanceId", "eni", "InvalidInstanceId.NotFound")
	if err != nil {
		// A primary ENI is not stored: it is its instance (GetENI).
		if p, perr := GetENI(tx, c, id); perr == nil && p.Type == model.ENIPrimary {
			return ecserr.Forbidden("InvalidOperation.InvalidEniType", "Network interface %s is the primary interface of instance %s; bind the EIP to the instance (InstanceType EcsInstance).", p.ID, p.InstanceID)
		}
		return err
	}
	switch {
	case eip.Status != EipAvailable:
		return ecserr.BadRequest("IncorrectEipStatus", "EIP %s is %s (bound to %s); unassociate it first.", eip.ID, eip.Status, eip.InstanceID)
	case n.EipID != "":
		return ecserr.BadRequest("InvalidAssociation.Duplicated", "Network interface %s already has the EIP %s (%s); in NAT mode an interface takes one EIP.", n.ID, n.EipID, n.PublicIP)
	case private.IsValid() && private != n.PrivateIP && slices.Contains(n.SecondaryIPs, private):
		return ecserr.InvalidParameter("PrivateIpAddress", fmt.Sprintf("%s is a secondary private address of %s; Palisade binds an EIP to an interface's primary private address (%s) only", private, n.ID, n.PrivateIP))
	case private.IsValid() && private != n.PrivateIP:
		return ecserr.InvalidParameter("PrivateIpAddress", fmt.Sprintf("%s is not an address of %s; its primary private address is %s", private, n.ID, n.PrivateIP))
	}
	eip.Status, eip.InstanceID, eip.InstanceType, eip.PrivateIP = EipInUse, n.ID, model.EipToENI, private
	n.PublicIP, n.EipID = eip.Address, eip.ID
	if err := putEIP(tx, eip); err != nil {
		return err
	}
	return putENI(tx, n)
}

// UnassociateEipAddress unbinds an EIP from its instance or ENI.
func (s *Service) UnassociateEipAddress(ctx context.Context, in EipInput) error {
	c := in.Caller
	if err := checkEipTarget(in); err != nil {
		return err
	}
	_, err := Update(s, ctx, c, "UnassociateEipAddress", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		eip, err := getEIP(tx, c, in.AllocationID)
		if err != nil {
			return struct{}{}, err
		}
		if eip.Status != EipInUse {
			return struct{}{}, ecserr.BadRequest("IncorrectEipStatus", "EIP %s is not associated with any instance.", eip.ID)
		}
		if id := in.InstanceID; id != "" && id != eip.InstanceID {
			return struct{}{}, ecserr.BadRequest("InvalidInstanceId.Mismatch", "EIP %s is associated with %s, not with %s.", eip.ID, eip.InstanceID, id)
		}
		if t := in.InstanceType; t != "" && t != eip.BoundTo() {
			return struct{}{}, ecserr.InvalidParameter("InstanceType", fmt.Sprintf("EIP %s is bound to a %s, not to a %s", eip.ID, eip.BoundTo(), t))
		}
		if err := detachEIP(tx, eip); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, putEIP(tx, eip)
	})
	return err
}

// detachEIP marks an EIP available and takes its address off the instance
// or ENI it is bound to; the caller stores the EIP.
func detachEIP(tx store.Tx, eip *model.EIP) error {
	if eip.BoundTo() == model.EipToENI {
		n, ok, err := store.GetAs[model.NetworkInterface](tx, KindENI, eip.InstanceID)
		if err != nil {
			return err
		}
		if ok && n.EipID == eip.ID {
			n.PublicIP, n.EipID = netip.Addr{}, ""
			if err := putENI(tx, &n); err != nil {
				return err
			}
		}
		unbindEIP(eip)
		return nil
	}
	inst, ok, err := store.GetAs[model.Instance](tx, KindInstance, eip.InstanceID)
	if err != nil {
		return err
	}
	if ok && inst.EipID == eip.ID {
		inst.PublicIP, inst.EipID = netip.Addr{}, ""
		if err := PutInstance(tx, &inst); err != nil {
			return err
		}
	}
	unbindEIP(eip)
	return nil
}

// unbindEIP marks an EIP available, bound to nothing.
func unbindEIP(eip *model.EIP) {
	eip.Status, eip.InstanceID, eip.InstanceType, eip.PrivateIP = EipAvailable, "", "", netip.Addr{}
}

// releaseENIEIP unbinds the EIP of an ENI that goes away (deleted, or with
// its instance): the EIP stays allocated, as an instance's does.
func releaseENIEIP(tx store.Tx, n *model.NetworkInterface) error {
	if n.EipID == "" {
		return nil
	}
	eip, ok, err := store.GetAs[model.EIP](tx, KindEIP, n.EipID)
	if err != nil || !ok || eip.InstanceID != n.ID {
		return err
	}
	unbindEIP(&eip)
	return putEIP(tx, &eip)
}

// ReleaseEipAddress returns an unbound EIP to the pool.
func (s *Service) ReleaseEipAddress(ctx context.Context, in EipInput) error {
	c := in.Caller
	_, err := Update(s, ctx, c, "ReleaseEipAddress", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		eip, err := getEIP(tx, c, in.AllocationID)
		if err != nil {
			return struct{}{}, err
		}
		if eip.Status != EipAvailable {
			return struct{}{}, ecserr.BadRequest("IncorrectEipStatus", "EIP %s is associated with %s; unassociate it before releasing it.", eip.ID, eip.InstanceID)
		}
		return struct{}{}, tx.Delete(KindEIP, eip.ID)
	})
	return err
}

// DescribeEipsInput filters the caller's EIPs; zero fields do not.
type DescribeEipsInput struct {
	Caller                 Caller
	IDs                    []string // at most MaxDescribeEipIDs
	Addresses              []string // at most MaxDescribeEipAddrs
	Status                 string
	Name                   string
	AssociatedInstanceID   string
	AssociatedInstanceType string // EcsInstance | NetworkInterface
	// Tags: every one must be on the EIP (a tag without a value matches
	// any value), at most model.MaxTags.
	Tags []model.Tag
	Page Page // page numbers
}

// EipView is an EIP as DescribeEipAddresses lists it.
type EipView struct {
	EIP *model.EIP
}

// DescribeEipAddresses returns one page of the caller's EIPs in a region,
// newest first.
func (s *Service) DescribeEipAddresses(ctx context.Context, in DescribeEipsInput) (Listing[EipView], error) {
	c := in.Caller
	if err := checkIDCount(in.IDs, "AllocationId", MaxDescribeEipIDs); err != nil {
		return Listing[EipView]{}, err
	}
	if err := checkIDCount(in.Addresses, "EipAddress", MaxDescribeEipAddrs); err != nil {
		return Listing[EipView]{}, err
	}
	if len(in.Tags) > model.MaxTags {
		return Listing[EipView]{}, ecserr.BadRequest("NumberExceed.Tags", "At most %d Tag.N are allowed; %d were given.", model.MaxTags, len(in.Tags))
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[EipView], error) {
		eips, err := list[model.EIP](tx, KindEIP, c)
		if err != nil {
			return Listing[EipView]{}, err
		}
		byCreation(eips, func(e *model.EIP) (int64, string) { return e.Created.Unix(), e.ID })
		var items []EipView
		for _, e := range eips {
			bound := e.BoundTo()
			if len(in.IDs) > 0 && !slices.Contains(in.IDs, e.ID) || len(in.Addresses) > 0 && !slices.Contains(in.Addresses, e.Address.String()) ||
				in.Status != "" && e.Status != in.Status || in.Name != "" && e.Name != in.Name ||
				in.AssociatedInstanceID != "" && e.InstanceID != in.AssociatedInstanceID ||
				in.AssociatedInstanceType != "" && bound != in.AssociatedInstanceType || !matchTags(e.Tags, in.Tags) {
				continue
			}
			items = append(items, EipView{EIP: e})
		}
		return pageOf(items, in.Page), nil
	})
}
