package service

import (
	"context"
	"fmt"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// MaxDiskFilterItems bounds DescribeDisks' DiskIds, as ECS does.
const MaxDiskFilterItems = 100

// Disk is an instance's system disk: Palisade keeps no disks, so each
// instance has exactly this one, derived from it (model.Instance.SystemDisk).
type Disk struct {
	ID       string
	Instance *model.Instance
	model.SystemDisk
}

// DescribeDisksInput filters the caller's disks; zero fields do not.
type DescribeDisksInput struct {
	Caller          Caller
	DiskIDs         []string // at most MaxDiskFilterItems; nil: any, empty: none
	InstanceID      string
	DiskType        string // all, system or data
	Category        string
	ResourceGroupID string // the account's only group, or none
	Page            Page
}

func (f *DescribeDisksInput) check() error {
	if len(f.DiskIDs) > MaxDiskFilterItems {
		return ecserr.InvalidParameter("DiskIds", fmt.Sprintf("it takes at most %d entries", MaxDiskFilterItems))
	}
	switch f.DiskType {
	case "", "all", "system", "data":
	default:
		return ecserr.BadRequest("InvalidDiskType.ValueNotSupported", "DiskType %q is not supported; use all, system or data.", f.DiskType)
	}
	return nil
}

func (f *DescribeDisksInput) match(d Disk) bool {
	return (f.DiskIDs == nil || slices.Contains(f.DiskIDs, d.ID)) && // [] selects none, as ECS's
		(f.InstanceID == "" || f.InstanceID == d.Instance.ID) &&
		f.DiskType != "data" && // Palisade keeps no data disks
		(f.Category == "" || f.Category == "all" || f.Category == d.Category) &&
		(f.ResourceGroupID == "" || f.ResourceGroupID == ResourceGroupID(d.Instance.Owner))
}

// DescribeDisks returns one page of the system disks of the caller's
// instances in a region, newest first. A filter naming another account's
// instance or disk selects nothing, as one naming no disk.
func (s *Service) DescribeDisks(ctx context.Context, in DescribeDisksInput) (Listing[Disk], error) {
	c := in.Caller
	if err := in.check(); err != nil {
		return Listing[Disk]{}, err
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[Disk], error) {
		var named []string
		if in.InstanceID != "" {
			named = []string{in.InstanceID}
		}
		insts, err := instancesNamed(tx, c, named)
		if err != nil {
			return Listing[Disk]{}, err
		}
		var matched []Disk
		for _, inst := range insts {
			d := Disk{ID: inst.SystemDiskID(), Instance: inst, SystemDisk: inst.SystemDiskOf()}
			if in.match(d) {
				matched = append(matched, d)
			}
		}
		return pageOf(matched, in.Page), nil
	})
}

// DescribeUserData returns the user data of one instance of the caller
// (Base64, "" when it has none).
func (s *Service) DescribeUserData(ctx context.Context, c Caller, id string) (string, error) {
	return View(s, ctx, func(tx store.ReadTx) (string, error) {
		inst, err := GetInstance(tx, c, id)
		if err != nil {
			return "", err
		}
		return inst.UserData, nil
	})
}

// DescribeInstanceMaintenance returns the caller's instances that ids names
// (every one in the region when ids is empty), newest first: Palisade keeps
// no maintenance settings, so each has ECS's defaults. Another account's
// instance is left out, as one that does not exist.
func (s *Service) DescribeInstanceMaintenance(ctx context.Context, c Caller, ids []string, pg Page) (Listing[*model.Instance], error) {
	if len(ids) > MaxInstanceFilterItems {
		return Listing[*model.Instance]{}, ecserr.InvalidParameter("InstanceId.N", fmt.Sprintf("it takes at most %d entries", MaxInstanceFilterItems))
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[*model.Instance], error) {
		insts, err := instancesNamed(tx, c, ids)
		if err != nil {
			return Listing[*model.Instance]{}, err
		}
		return pageOf(insts, pg), nil
	})
}

// instancesNamed lists the caller's instances in the region, newest first:
// those ids names (one of another account, or none, is left out), or every
// one when ids is empty. Named ones are looked up, not found by a scan.
func instancesNamed(tx store.ReadTx, c Caller, ids []string) ([]*model.Instance, error) {
	if len(ids) == 0 {
		insts, err := list[model.Instance](tx, KindInstance, c)
		if err != nil {
			return nil, err
		}
		newestFirst(insts)
		return insts, nil
	}
	var insts []*model.Instance
	for _, id := range uniqSorted(ids) {
		rec, ok, err := tx.Get(KindInstance, id)
		if err != nil {
			return nil, err
		}
		if !ok || rec.Account != c.Account || c.Region != "" && rec.Region != c.Region {
			continue
		}
		inst, err := decode[model.Instance](rec)
		if err != nil {
			return nil, err
		}
		insts = append(insts, inst)
	}
	newestFirst(insts)
	return insts, nil
}
