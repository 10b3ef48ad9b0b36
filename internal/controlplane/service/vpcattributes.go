package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// The VPC product's reads of one resource, and its route tables: what
// Terraform reads back after creating a VPC or a vSwitch.

// ResourceGroupID is the account's default resource group, derived from
// the account so it is the same in every response.
func ResourceGroupID(account string) string {
	h := sha256.Sum256([]byte("rg:" + account))
	return "rg-acfm" + hex.EncodeToString(h[:])[:11]
}

// CheckResourceGroup refuses a ResourceGroupId given on a create that is
// not the caller's one group: any other, or anything not shaped like one,
// names no group of the caller's. "" (left out) is the caller's group.
func CheckResourceGroup(c Caller, rg string) error {
	if rg == "" || model.ValidResourceGroupID(rg) && rg == ResourceGroupID(c.Account) {
		return nil
	}
	return ecserr.New(http.StatusNotFound, "InvalidResourceGroup.NotFound", "ResourceGroupId %q is not a resource group of this account; leave it out or give %s.", model.Clip(rg), ResourceGroupID(c.Account))
}

// dryRunPassed is the answer to a DryRun that would have succeeded.
func dryRunPassed() error {
	return ecserr.BadRequest("DryRunOperation", "Request validation has been passed with DryRun flag set.")
}

// VpcAttributeInput names one VPC of the caller.
type VpcAttributeInput struct {
	Caller    Caller
	VpcID     string
	IsDefault bool // "the default VPC": Palisade has none, so never found
	DryRun    bool
}

// DescribeVpcAttribute returns one VPC with its vSwitches. An unknown VPC
// is 404 InvalidVpcId.NotFound, as everywhere in Palisade: the alicloud
// provider counts any 404 as gone, and no other code is documented for
// this action (more-apis §4.5: unconfirmed).
func (s *Service) DescribeVpcAttribute(ctx context.Context, in VpcAttributeInput) (VpcView, error) {
	c := in.Caller
	return View(s, ctx, func(tx store.ReadTx) (VpcView, error) {
		v, err := getVPC(tx, c, in.VpcID)
		if err != nil {
			return VpcView{}, err
		}
		if in.IsDefault {
			return VpcView{}, ecserr.New(http.StatusNotFound, "InvalidVpcId.NotFound", "VPC %q is not a default VPC (Palisade has none); leave IsDefault out.", in.VpcID)
		}
		if in.DryRun {
			return VpcView{}, dryRunPassed()
		}
		vsws, err := list[model.VSwitch](tx, KindVSwitch, Caller{Account: c.Account, Region: v.Region})
		if err != nil {
			return VpcView{}, err
		}
		return VpcView{VPC: v, VSwitchIDs: vswitchesOf(vsws, v.ID)}, nil
	})
}

// vswitchesOf are the IDs of the vSwitches of VPC vpcID, newest first.
func vswitchesOf(vsws []*model.VSwitch, vpcID string) []string {
	byCreation(vsws, func(w *model.VSwitch) (int64, string) { return w.Created.Unix(), w.ID })
	var ids []string
	for _, w := range vsws {
		if w.VpcID == vpcID {
			ids = append(ids, w.ID)
		}
	}
	return ids
}

// VSwitchAttributeInput names one vSwitch of the caller (in any region
// when the caller's is "").
type VSwitchAttributeInput struct {
	Caller    Caller
	VSwitchID string
	DryRun    bool
}

// DescribeVSwitchAttributes returns one vSwitch with its free address
// count. An unknown vSwitch is 404 InvalidVSwitchId.NotFound, the code the
// alicloud provider's newer reader checks (more-apis §4.5).
func (s *Service) DescribeVSwitchAttributes(ctx context.Context, in VSwitchAttributeInput) (VSwitchView, error) {
	c := in.Caller
	return View(s, ctx, func(tx store.ReadTx) (VSwitchView, error) {
		w, err := getVSwitch(tx, c, in.VSwitchID)
		if err != nil {
			return VSwitchView{}, err
		}
		if in.DryRun {
			return VSwitchView{}, dryRunPassed()
		}
		insts, err := list[model.Instance](tx, KindInstance, Caller{Account: c.Account, Region: w.Region})
		if err != nil {
			return VSwitchView{}, err
		}
		used := 0
		for _, inst := range insts {
			if inst.VSwitchID == w.ID {
				used++
			}
		}
		free := int64(1)<<(32-w.CIDR.Bits()) - 4 - int64(used) // 4: as DescribeVSwitches counts
		return VSwitchView{VSwitch: w, AvailableIPs: max(free, 0)}, nil
	})
}

// Route table and router kinds, as the VPC API spells them.
const (
	RouterTypeVRouter = "VRouter"
	RouteTableSystem  = "System"
)

// RouteTableListInput filters the caller's route tables; zero fields do
// not filter. Palisade has one route table per VPC, its system table.
type RouteTableListInput struct {
	Caller          Caller
	RouterType      string // VRouter (the default) or VBR (none)
	RouterID        string
	VpcID           string
	RouteTableID    string
	RouteTableName  string
	RouteTableType  string // System or Custom (none)
	ResourceGroupID string // the account's only group, or none
	Tags            []model.Tag
	Page            Page // page numbers
}

// RouteTableView is a VPC's system route table: the VPC it belongs to and
// the vSwitches it serves (all of the VPC's).
type RouteTableView struct {
	VPC        *model.VPC
	VSwitchIDs []string
}

// DescribeRouteTableList returns one page of the caller's route tables,
// newest VPC first. A filter that matches nothing is an empty page, not an
// error: Terraform tells a missing table that way (more-apis §4.4).
func (s *Service) DescribeRouteTableList(ctx context.Context, in RouteTableListInput) (Listing[RouteTableView], error) {
	c := in.Caller
	return View(s, ctx, func(tx store.ReadTx) (Listing[RouteTableView], error) {
		vpcs, err := list[model.VPC](tx, KindVPC, c)
		if err != nil {
			return Listing[RouteTableView]{}, err
		}
		vsws, err := list[model.VSwitch](tx, KindVSwitch, c)
		if err != nil {
			return Listing[RouteTableView]{}, err
		}
		byCreation(vpcs, func(v *model.VPC) (int64, string) { return v.Created.Unix(), v.ID })
		var items []RouteTableView
		for _, v := range vpcs {
			switch {
			case in.RouterType != "" && in.RouterType != RouterTypeVRouter,
				in.RouteTableType != "" && in.RouteTableType != RouteTableSystem,
				in.RouterID != "" && in.RouterID != v.Router(),
				in.VpcID != "" && in.VpcID != v.ID,
				in.RouteTableID != "" && in.RouteTableID != v.SystemRouteTable(),
				in.RouteTableName != "" && in.RouteTableName != v.RouteTableName,
				in.ResourceGroupID != "" && in.ResourceGroupID != ResourceGroupID(v.Owner),
				len(in.Tags) > 0: // nor tags
				continue
			}
			items = append(items, RouteTableView{VPC: v, VSwitchIDs: vswitchesOf(slices.Clone(vsws), v.ID)})
		}
		return pageOf(items, in.Page), nil
	})
}
