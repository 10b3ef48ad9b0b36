package service

import (
	"cmp"
	"context"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// vSwitch block masks.
const vswMinBits, vswMaxBits = model.VSwitchMinBits, model.VSwitchMaxBits

// CreateVSwitchInput is a new subnet of a VPC in one zone.
type CreateVSwitchInput struct {
	Caller      Caller
	VpcID       string // required
	ZoneID      string // required, a zone of the caller's region
	CidrBlock   string // required: inside the VPC's block, /16 to /29
	Name        string
	Description string
	// IPv6Block, when set, picks the vSwitch's /64 (0 to 255) out of the
	// VPC's /56.
	IPv6Block   *int
	Tags        []model.Tag
	Idempotency `json:"-"`
}

// CreateVSwitchResult names the vSwitch made.
type CreateVSwitchResult struct {
	VSwitchId string
}

// CreateVSwitch creates a subnet of a VPC in one zone. Its block lies
// inside the VPC's and overlaps no other vSwitch of the VPC.
func (s *Service) CreateVSwitch(ctx context.Context, in CreateVSwitchInput) (CreateVSwitchResult, error) {
	c := in.Caller
	for _, f := range []struct{ name, v string }{{"VpcId", in.VpcID}, {"ZoneId", in.ZoneID}, {"CidrBlock", in.CidrBlock}} {
		if f.v == "" {
			return CreateVSwitchResult{}, ecserr.MissingParameter(f.name)
		}
	}
	if err := checkZone(c.Region, in.ZoneID); err != nil {
		return CreateVSwitchResult{}, err
	}
	cidr, e := model.ParsePrivateCIDR(in.CidrBlock, vswMinBits, vswMaxBits)
	if e != nil {
		return CreateVSwitchResult{}, e
	}
	if err := cmp.Or(checkName("InvalidVSwitchName.Malformed", "VSwitchName", in.Name), checkDescription("InvalidVSwitchDiscription.Malformed", in.Description)); err != nil {
		return CreateVSwitchResult{}, err
	}
	six := -1
	if in.IPv6Block != nil {
		if n := *in.IPv6Block; n < 0 || n > 255 {
			return CreateVSwitchResult{}, ecserr.InvalidParameter("Ipv6CidrBlock", "it is the last 8 bits of the vSwitch's IPv6 /64, from 0 to 255")
		}
		six = *in.IPv6Block
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return CreateVSwitchResult{}, e
	}
	w := &model.VSwitch{ID: model.NewID("vsw"), Region: c.Region, Owner: c.Account, Zone: in.ZoneID,
		Name: in.Name, Description: in.Description, CIDR: cidr, Created: s.Now(), Tags: in.Tags}
	return Update(s, ctx, c, "CreateVSwitch", in.Idempotency, in, func(tx store.Tx) (CreateVSwitchResult, error) {
		v, err := getVPC(tx, c, in.VpcID)
		if err != nil {
			return CreateVSwitchResult{}, err
		}
		w.VpcID = v.ID
		n, err := underKey(KindVSwitch, byVPC, v.ID).count(tx)
		if err != nil {
			return CreateVSwitchResult{}, err
		}
		q, err := s.quotasOf(tx, c.Account)
		if err != nil {
			return CreateVSwitchResult{}, err
		}
		if n >= q.VSwitchesPerVPC {
			return CreateVSwitchResult{}, ecserr.BadRequest("QuotaExceeded.VSwitch", "Virtual switch quota exceeded: VPC %s has %d vSwitches and may hold %d. Delete a vSwitch it no longer needs, or use another VPC.", v.ID, n, q.VSwitchesPerVPC)
		}
		if !cidrInside(v.CIDR, cidr) {
			return CreateVSwitchResult{}, ecserr.BadRequest("InvalidCidrBlock.Malformed", "CidrBlock %s is not inside the block %s of VPC %s.", cidr, v.CIDR, v.ID)
		}
		if six >= 0 {
			if !v.IPv6CIDR.IsValid() {
				return CreateVSwitchResult{}, ecserr.BadRequest("OperationFailed.VpcNotEnableIpv6", "VPC %s has no IPv6 block; create it with EnableIpv6=true to give vSwitches IPv6 blocks.", v.ID)
			}
			w.IPv6CIDR = vswitchIPv6Block(v.IPv6CIDR, six)
		}
		siblings, err := list[model.VSwitch](tx, KindVSwitch, c)
		if err != nil {
			return CreateVSwitchResult{}, err
		}
		for _, o := range siblings {
			if o.VpcID != v.ID {
				continue
			}
			if o.CIDR.Overlaps(cidr) {
				return CreateVSwitchResult{}, ecserr.BadRequest("InvalidCidrBlock.Overlapped", "CidrBlock %s overlaps %s of vSwitch %s in the same VPC; pick a free block.", cidr, o.CIDR, o.ID)
			}
			if w.IPv6CIDR.IsValid() && o.IPv6CIDR == w.IPv6CIDR {
				return CreateVSwitchResult{}, ecserr.BadRequest("InvalidCidrBlock.Overlapped", "IPv6 block %s (Ipv6CidrBlock=%d) is already used by vSwitch %s.", w.IPv6CIDR, six, o.ID)
			}
		}
		return CreateVSwitchResult{VSwitchId: w.ID}, putVSwitch(tx, w)
	})
}

// DescribeVSwitchesInput filters the caller's vSwitches; zero fields do
// not. The caller's region may be "" when VpcID is given.
type DescribeVSwitchesInput struct {
	Caller    Caller
	IDs       []string // at most MaxDescribeVSwitchIDs
	VpcID     string
	ZoneID    string
	Name      string
	IsDefault bool // Palisade has no default vSwitch: matches none
	// Tags and ResourceGroupID filter as in DescribeVpcsInput.
	Tags            []model.Tag
	ResourceGroupID string
	Page            Page // page numbers
}

// VSwitchView is a vSwitch with its free address count.
type VSwitchView struct {
	VSwitch *model.VSwitch
	// AvailableIPs is the addresses left: the block less Alibaba Cloud's
	// four reserved ones and the instances'.
	AvailableIPs int64
}

// DescribeVSwitches returns one page of the caller's vSwitches, newest
// first.
func (s *Service) DescribeVSwitches(ctx context.Context, in DescribeVSwitchesInput) (Listing[VSwitchView], error) {
	c := in.Caller
	if err := checkIDCount(in.IDs, "VSwitchId", MaxDescribeVSwitchIDs); err != nil {
		return Listing[VSwitchView]{}, err
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[VSwitchView], error) {
		vsws, err := list[model.VSwitch](tx, KindVSwitch, c)
		if err != nil {
			return Listing[VSwitchView]{}, err
		}
		insts, err := list[model.Instance](tx, KindInstance, c)
		if err != nil {
			return Listing[VSwitchView]{}, err
		}
		byCreation(vsws, func(w *model.VSwitch) (int64, string) { return w.Created.Unix(), w.ID })
		var items []VSwitchView
		for _, w := range vsws {
			if len(in.IDs) > 0 && !slices.Contains(in.IDs, w.ID) || in.VpcID != "" && w.VpcID != in.VpcID ||
				in.ZoneID != "" && w.Zone != in.ZoneID || in.Name != "" && w.Name != in.Name || in.IsDefault ||
				!matchTags(w.Tags, in.Tags) || in.ResourceGroupID != "" && in.ResourceGroupID != ResourceGroupID(w.Owner) {
				continue
			}
			used := 0
			for _, inst := range insts {
				if inst.VSwitchID == w.ID {
					used++
				}
			}
			free := int64(1)<<(32-w.CIDR.Bits()) - 4 - int64(used) // 4: Alibaba Cloud's reserved addresses
			items = append(items, VSwitchView{VSwitch: w, AvailableIPs: max(free, 0)})
		}
		return pageOf(items, in.Page), nil
	})
}

// VSwitchRef names a vSwitch of the caller.
type VSwitchRef struct {
	Caller      Caller
	VSwitchID   string
	Idempotency `json:"-"`
}

// DeleteVSwitch deletes a vSwitch no instance uses.
func (s *Service) DeleteVSwitch(ctx context.Context, in VSwitchRef) error {
	c := in.Caller
	_, err := Update(s, ctx, c, "DeleteVSwitch", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		w, err := getVSwitch(tx, c, in.VSwitchID)
		if err != nil {
			return struct{}{}, err
		}
		if err := vswitchUnused(tx, c, w); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, tx.Delete(KindVSwitch, w.ID)
	})
	return err
}
