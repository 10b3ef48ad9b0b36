package service

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
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
	if err := CheckFilterItems("DiskIds", len(f.DiskIDs), MaxDiskFilterItems); err != nil {
		return err
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
		return pageBy(matched, in.Page, func(d Disk) string { return instanceKey(d.Instance) }), nil
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
// (every one in the region when ids is empty), newest first, for their
// maintenance attributes (model.Instance.MaintenanceOf). Another account's
// instance is left out, as one that does not exist.
func (s *Service) DescribeInstanceMaintenance(ctx context.Context, c Caller, ids []string, pg Page) (Listing[*model.Instance], error) {
	if err := CheckFilterItems("InstanceId.N", len(ids), MaxInstanceFilterItems); err != nil {
		return Listing[*model.Instance]{}, err
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[*model.Instance], error) {
		insts, err := instancesNamed(tx, c, ids)
		if err != nil {
			return Listing[*model.Instance]{}, err
		}
		return pageBy(insts, pg, instanceKey), nil
	})
}

// DescribeInstanceRamRoles returns the caller's instances that ids names,
// newest first, for DescribeInstanceRamRole: each is answered, with no
// role (Palisade attaches none), as ECS answers an instance without one;
// Terraform's data "alicloud_instances" keeps only the instances answered.
// With no ids it names none (ECS asks for InstanceIds or RamRoleName).
func (s *Service) DescribeInstanceRamRoles(ctx context.Context, c Caller, ids []string, pg Page) (Listing[*model.Instance], error) {
	if err := CheckFilterItems("InstanceIds", len(ids), MaxInstanceFilterItems); err != nil {
		return Listing[*model.Instance]{}, err
	}
	if len(ids) == 0 {
		return Listing[*model.Instance]{}, nil
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[*model.Instance], error) {
		insts, err := instancesNamed(tx, c, ids)
		if err != nil {
			return Listing[*model.Instance]{}, err
		}
		return pageBy(insts, pg, instanceKey), nil
	})
}

// instancesNamed is the caller's instances in the region, newest first:
// those ids names (one of another account, or none, is left out), or every
// one when ids is empty. They may be the view's values: read only.
func instancesNamed(tx store.ReadTx, c Caller, ids []string) ([]*model.Instance, error) {
	return matchedInstances(tx, &DescribeInstancesInput{Caller: c, IDs: ids})
}

// ResizeDiskInput grows a system disk (ResizeDisk).
type ResizeDiskInput struct {
	Caller      Caller
	DiskID      string
	NewSize     int    // GiB
	Type        string // offline (default) or online
	Idempotency `json:"-"`
}

// ResizeDisk grows the system disk of one of the caller's instances, as
// ECS does: only larger (403 InvalidDiskSize.TooSmall otherwise), within
// the system disk's bound, the instance Running or Stopped. Online resizing
// is refused for the basic "cloud" category, which ECS resizes offline
// only. Palisade keeps no disks: the new size is what DescribeDisks reads.
func (s *Service) ResizeDisk(ctx context.Context, in ResizeDiskInput) error {
	c := in.Caller
	switch {
	case in.DiskID == "":
		return ecserr.MissingParameter("DiskId")
	case in.NewSize == 0:
		return ecserr.MissingParameter("NewSize")
	}
	switch in.Type {
	case "", "offline", "online":
	default:
		return ecserr.InvalidParameter("Type", "it is offline or online")
	}
	_, err := Update(s, ctx, c, "ResizeDisk", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		inst, err := diskInstance(tx, c, in.DiskID)
		if err != nil {
			return struct{}{}, err
		}
		d := inst.SystemDiskOf()
		switch {
		case in.NewSize <= d.Size:
			return struct{}{}, ecserr.Forbidden("InvalidDiskSize.TooSmall", "Disk %s is %d GiB; NewSize %d must be larger: a disk only grows.", in.DiskID, d.Size, in.NewSize)
		case in.NewSize > model.MaxSystemDiskSize:
			return struct{}{}, ecserr.Forbidden("InvalidParameter", "NewSize %d is over %d GiB, the most a system disk takes.", in.NewSize, model.MaxSystemDiskSize)
		case inst.Status != model.StatusRunning && inst.Status != model.StatusStopped:
			return struct{}{}, ecserr.Forbidden("OperationDenied", "Instance %s of disk %s is %s; it must be Running or Stopped to resize the disk.", inst.ID, in.DiskID, inst.Status)
		case in.Type == "online" && d.Category == "cloud":
			return struct{}{}, ecserr.Forbidden("OperationDenied", "Disk %s is a basic disk (cloud), which resizes offline only; send Type offline.", in.DiskID)
		}
		inst.SystemDisk.Size = in.NewSize
		return struct{}{}, PutInstance(tx, inst)
	})
	return err
}

// diskInstance loads the instance a system disk ID names: the disk is
// derived from its instance (model.Instance.SystemDiskID). An unknown disk,
// or another account's, is 404 InvalidDiskId.NotFound.
func diskInstance(tx store.ReadTx, c Caller, diskID string) (*model.Instance, error) {
	notFound := ecserr.New(http.StatusNotFound, "InvalidDiskId.NotFound", "The specified disk %q does not exist.", model.Clip(diskID))
	if !model.HasPrefix(diskID, "d") {
		return nil, notFound
	}
	inst, err := GetInstance(tx, c, model.DerivedID("i", diskID))
	if ecserr.Is(err, "InvalidInstanceId.NotFound") {
		return nil, notFound
	}
	return inst, err
}

// MaintenanceInput changes the maintenance attributes of instances
// (ModifyInstanceMaintenanceAttributes); nil fields stay as they are.
type MaintenanceInput struct {
	Caller      Caller
	InstanceIDs []string
	Action      *string
	Notify      *bool
	Windows     []model.MaintenanceWindow // nil: unchanged
	Idempotency `json:"-"`
}

// ModifyInstanceMaintenance sets the maintenance attributes of the caller's
// instances: every one named must be the caller's (one unknown refuses the
// whole call, which changes nothing).
func (s *Service) ModifyInstanceMaintenance(ctx context.Context, in MaintenanceInput) error {
	c := in.Caller
	switch {
	case len(in.InstanceIDs) == 0:
		return ecserr.MissingParameter("InstanceId.N")
	case len(in.InstanceIDs) > MaxInstanceFilterItems:
		return CheckFilterItems("InstanceId.N", len(in.InstanceIDs), MaxInstanceFilterItems)
	case in.Action != nil && !slices.Contains(model.MaintenanceActions, *in.Action):
		return ecserr.InvalidParameter("ActionOnMaintenance", fmt.Sprintf("%q is not supported; use one of %v", model.Clip(*in.Action), model.MaintenanceActions))
	case len(in.Windows) > 1:
		return ecserr.InvalidParameter("MaintenanceWindow.N", "it takes one window")
	}
	_, err := Update(s, ctx, c, "ModifyInstanceMaintenanceAttributes", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		for _, id := range uniqSorted(in.InstanceIDs) {
			inst, err := GetInstance(tx, c, id)
			if err != nil {
				return struct{}{}, err
			}
			m := &inst.Maintenance
			if in.Action != nil {
				m.Action = *in.Action
			}
			if in.Notify != nil {
				m.Notify = *in.Notify
			}
			if in.Windows != nil {
				m.Windows = slices.Clone(in.Windows)
			}
			if err := PutInstance(tx, inst); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	return err
}

// MetadataInput changes an instance's metadata options
// (ModifyInstanceMetadataOptions); "" and 0 leave an option as it is.
type MetadataInput struct {
	Caller      Caller
	InstanceID  string
	Options     model.MetadataOptions
	Idempotency `json:"-"`
}

// ModifyInstanceMetadata changes one of the caller's instances' metadata
// options. Palisade runs no metadata service: DescribeInstances answers
// them as set.
func (s *Service) ModifyInstanceMetadata(ctx context.Context, in MetadataInput) error {
	c := in.Caller
	if in.InstanceID == "" {
		return ecserr.MissingParameter("InstanceId")
	}
	if e := model.ValidateMetadataOptions(in.Options); e != nil {
		return e
	}
	_, err := Update(s, ctx, c, "ModifyInstanceMetadataOptions", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		inst, err := GetInstance(tx, c, in.InstanceID)
		if err != nil {
			return struct{}{}, err
		}
		m, o := &inst.Metadata, in.Options
		if o.Endpoint != "" {
			m.Endpoint = o.Endpoint
		}
		if o.Tokens != "" {
			m.Tokens = o.Tokens
		}
		if o.HopLimit != 0 {
			m.HopLimit = o.HopLimit
		}
		return struct{}{}, PutInstance(tx, inst)
	})
	return err
}

// ModifyDiskInput renames a system disk or changes its description
// (ModifyDiskAttribute); nil fields stay, "" clears.
type ModifyDiskInput struct {
	Caller      Caller
	DiskID      string
	Name        *string
	Description *string
	Idempotency `json:"-"`
}

// ModifyDiskAttribute changes the name or description of the system disk
// of one of the caller's instances (alicloud_instance's system_disk_name
// and system_disk_description), checked as RunInstances checks them.
func (s *Service) ModifyDiskAttribute(ctx context.Context, in ModifyDiskInput) error {
	c := in.Caller
	if in.DiskID == "" {
		return ecserr.MissingParameter("DiskId")
	}
	if err := cmp.Or(checkName("InvalidDiskName.Malformed", "DiskName", value(in.Name)),
		checkDescription("InvalidDescription.Malformed", value(in.Description))); err != nil {
		return err
	}
	_, err := Update(s, ctx, c, "ModifyDiskAttribute", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		inst, err := diskInstance(tx, c, in.DiskID)
		if err != nil {
			return struct{}{}, err
		}
		if in.Name != nil {
			inst.SystemDisk.Name = *in.Name
		}
		if in.Description != nil {
			inst.SystemDisk.Description = *in.Description
		}
		return struct{}{}, PutInstance(tx, inst)
	})
	return err
}
