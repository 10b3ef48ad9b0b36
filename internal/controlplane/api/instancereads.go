package api

import (
	"context"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// The reads Terraform's alicloud_instance makes besides the instance's
// own: its system disk, user data, maintenance attributes and RAM role;
// and the changes it makes to the disk's size and the maintenance
// attributes; and alicloud_ecs_instance_set's look for instances released
// at launch.
func (s *Service) diskActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"DescribeDisks":                         s.describeDisks,
		"DescribeUserData":                      s.describeUserData,
		"DescribeInstanceMaintenanceAttributes": s.describeInstanceMaintenanceAttributes,
		"DescribeInstanceRamRole":               s.describeInstanceRamRole,
		"DescribeInstanceHistoryEvents":         s.describeInstanceHistoryEvents,
		// The changes alicloud_instance makes to them after the create.
		"ResizeDisk":                          s.resizeDisk,
		"ModifyDiskAttribute":                 s.modifyDiskAttribute,
		"ModifyInstanceMaintenanceAttributes": s.modifyInstanceMaintenanceAttributes,
	}
}

type diskAttachmentItem struct {
	InstanceId   string
	Device       string
	AttachedTime string
}

// diskItem is a disk in DescribeDisks.
type diskItem struct {
	DiskId                        string
	DiskName                      string
	Description                   string
	Type                          string
	Category                      string
	Size                          int
	PerformanceLevel              string
	Status                        string
	InstanceId                    string
	RegionId                      string
	ZoneId                        string
	Device                        string
	ImageId                       string
	SourceSnapshotId              string
	AutoSnapshotPolicyId          string
	StorageClusterId              string
	KMSKeyId                      string
	Encrypted                     bool
	DeleteWithInstance            bool
	DeleteAutoSnapshot            bool
	EnableAutoSnapshot            bool
	EnableAutomatedSnapshotPolicy bool
	Portable                      bool
	DiskChargeType                string
	MultiAttach                   string
	CreationTime                  string
	AttachedTime                  string
	DetachedTime                  string
	ExpiredTime                   string
	ResourceGroupId               string
	Tags                          tagSet
	Attachments                   struct{ Attachment []diskAttachmentItem }
	OperationLocks                struct{ OperationLock []lockReasonItem }
}

const systemDiskDevice = "/dev/xvda"

func diskOut(d service.Disk) diskItem {
	in := d.Instance
	item := diskItem{DiskId: d.ID, DiskName: d.Name, Description: d.Description, Type: "system", Category: d.Category,
		Size: d.Size, Status: "In_use", InstanceId: in.ID, RegionId: in.Region, ZoneId: in.Zone, Device: systemDiskDevice,
		ImageId: in.ImageID, DeleteWithInstance: true, DeleteAutoSnapshot: true, DiskChargeType: "PostPaid",
		MultiAttach: "Disabled", CreationTime: timeText(in.Created), AttachedTime: timeText(in.Created),
		ExpiredTime: "2099-12-31T15:59Z", ResourceGroupId: resourceGroupID(in.Owner), Tags: tagsOut(nil)}
	if d.Category == "cloud_essd" {
		item.PerformanceLevel = "PL1" // ECS's default level
	}
	item.Attachments.Attachment = []diskAttachmentItem{{InstanceId: in.ID, Device: systemDiskDevice, AttachedTime: item.AttachedTime}}
	return item
}

type describeDisksResponse struct {
	rpc.Base
	NextToken  string
	TotalCount int
	PageNumber int
	PageSize   int
	Disks      struct{ Disk []diskItem }
}

func (s *Service) describeDisks(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := parsePage(p, 10, 100, 10, 100)
	if err != nil {
		return nil, err
	}
	in := service.DescribeDisksInput{Caller: c, InstanceID: p.Get("InstanceId"), DiskType: p.Get("DiskType"),
		Category: p.Get("Category"), ResourceGroupID: p.Get("ResourceGroupId"), Page: pg}
	ids, e := p.JSONList("DiskIds")
	if e != nil {
		return nil, e
	}
	in.DiskIDs = ids
	res, err := s.DescribeDisks(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describeDisksResponse{NextToken: res.NextToken, TotalCount: res.Total, PageNumber: pg.Number, PageSize: pg.Size}
	out.Disks.Disk = []diskItem{}
	for _, d := range res.Items {
		out.Disks.Disk = append(out.Disks.Disk, diskOut(d))
	}
	return out, nil
}

type describeUserDataResponse struct {
	rpc.Base
	RegionId   string
	InstanceId string
	UserData   string
}

func (s *Service) describeUserData(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	id := req.Params.Get("InstanceId")
	u, err := s.DescribeUserData(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return &describeUserDataResponse{RegionId: c.Region, InstanceId: id, UserData: u}, nil
}

type maintenanceAttributeItem struct {
	InstanceId          string
	NotifyOnMaintenance bool
	ActionOnMaintenance struct {
		Value, DefaultValue string
		SupportedValues     struct{ SupportedValue []string }
	}
	MaintenanceWindows struct {
		MaintenanceWindow []struct{ StartTime, EndTime string }
	}
}

type describeMaintenanceResponse struct {
	rpc.Base
	TotalCount            int
	PageNumber            int
	PageSize              int
	NextToken             string // with MaxResults or NextToken, as DescribeInstances
	MaintenanceAttributes struct{ MaintenanceAttribute []maintenanceAttributeItem }
}

// describeInstanceMaintenanceAttributes answers each instance's
// maintenance attributes: as ModifyInstanceMaintenanceAttributes set them,
// else ECS's defaults (recover on maintenance, no notice, no window).
func (s *Service) describeInstanceMaintenanceAttributes(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := parsePage(p, 10, 100, 10, 100)
	if err != nil {
		return nil, err
	}
	if e := p.CheckList("InstanceId", false, true); e != nil {
		return nil, e // a bare InstanceId would be read as no filter at all
	}
	res, err := s.DescribeInstanceMaintenance(ctx, c, p.List("InstanceId"), pg)
	if err != nil {
		return nil, err
	}
	out := &describeMaintenanceResponse{TotalCount: res.Total, PageNumber: pg.Number, PageSize: pg.Size, NextToken: res.NextToken}
	out.MaintenanceAttributes.MaintenanceAttribute = []maintenanceAttributeItem{}
	for _, in := range res.Items {
		m := in.MaintenanceOf()
		a := maintenanceAttributeItem{InstanceId: in.ID, NotifyOnMaintenance: m.Notify}
		a.ActionOnMaintenance.Value, a.ActionOnMaintenance.DefaultValue = m.Action, model.DefaultMaintenanceAction
		a.ActionOnMaintenance.SupportedValues.SupportedValue = slices.Clone(model.MaintenanceActions)
		a.MaintenanceWindows.MaintenanceWindow = []struct{ StartTime, EndTime string }{}
		for _, w := range m.Windows {
			a.MaintenanceWindows.MaintenanceWindow = append(a.MaintenanceWindows.MaintenanceWindow, struct{ StartTime, EndTime string }{w.Start, w.End})
		}
		out.MaintenanceAttributes.MaintenanceAttribute = append(out.MaintenanceAttributes.MaintenanceAttribute, a)
	}
	return out, nil
}

type describeInstanceRamRoleResponse struct {
	rpc.Base
	RegionId            string
	TotalCount          int
	NextToken           string // with MaxResults or NextToken, as DescribeInstances
	InstanceRamRoleSets struct {
		InstanceRamRoleSet []struct{ InstanceId, RamRoleName string }
	}
}

// describeInstanceRamRole answers each instance InstanceIds names with no
// role (RamRoleName ""): Palisade attaches none (RunInstances refuses
// RamRoleName), so a RamRoleName filter selects no instance.
func (s *Service) describeInstanceRamRole(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := parsePage(p, 10, 50, 10, 50)
	if err != nil {
		return nil, err
	}
	ids, e := p.JSONList("InstanceIds")
	if e != nil {
		return nil, e
	}
	if p.Get("RamRoleName") != "" {
		ids = nil // no instance holds a role, so none holds that one
	}
	res, err := s.DescribeInstanceRamRoles(ctx, c, ids, pg)
	if err != nil {
		return nil, err
	}
	out := &describeInstanceRamRoleResponse{RegionId: c.Region, TotalCount: res.Total, NextToken: res.NextToken}
	out.InstanceRamRoleSets.InstanceRamRoleSet = []struct{ InstanceId, RamRoleName string }{}
	for _, in := range res.Items {
		out.InstanceRamRoleSets.InstanceRamRoleSet = append(out.InstanceRamRoleSets.InstanceRamRoleSet, struct{ InstanceId, RamRoleName string }{in.ID, ""})
	}
	return out, nil
}

// resizeDisk serves ResizeDisk (alicloud_instance's system_disk_size).
func (s *Service) resizeDisk(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.ResizeDiskInput{Caller: c, DiskID: p.Get("DiskId"), Type: p.Get("Type"), Idempotency: idempotency(req)}
	var e *ecserr.Error
	if in.NewSize, e = p.Int("NewSize", 0); e != nil {
		return nil, e
	}
	if err := s.ResizeDisk(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

// modifyInstanceMaintenanceAttributes serves
// ModifyInstanceMaintenanceAttributes (alicloud_instance's
// maintenance_action, maintenance_notify and maintenance_time):
// InstanceId.N, ActionOnMaintenance, NotifyOnMaintenance and
// MaintenanceWindow.N.StartTime/EndTime, each left as it is when absent.
func (s *Service) modifyInstanceMaintenanceAttributes(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	if e := p.CheckList("InstanceId", false, true); e != nil {
		return nil, e
	}
	if e := p.CheckList("MaintenanceWindow", true, true); e != nil {
		return nil, e
	}
	in := service.MaintenanceInput{Caller: c, InstanceIDs: p.List("InstanceId"), Idempotency: idempotency(req)}
	if p.Has("ActionOnMaintenance") {
		in.Action = p.Optional("ActionOnMaintenance")
	}
	var e *ecserr.Error
	if in.Notify, e = p.OptionalBool("NotifyOnMaintenance"); e != nil {
		return nil, e
	}
	for _, w := range p.Structs("MaintenanceWindow") {
		win, e := model.ParseMaintenanceWindow(w.Get("StartTime"), w.Get("EndTime"))
		if e != nil {
			return nil, e
		}
		in.Windows = append(in.Windows, win)
	}
	if err := s.ModifyInstanceMaintenance(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

// modifyDiskAttribute serves ModifyDiskAttribute of one system disk
// (alicloud_instance's system_disk_name and system_disk_description).
// DiskIds.N, the batch form, and the snapshot and release settings are
// refused rather than ignored: Palisade keeps no snapshots, and a system
// disk goes with its instance.
func (s *Service) modifyDiskAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	if len(p.List("DiskIds")) > 0 {
		return nil, ecserr.BadRequest("OperationUnsupported.DiskIds", "Palisade changes one disk at a time: give DiskId, not DiskIds.N.")
	}
	for _, name := range []string{"DeleteWithInstance", "DeleteAutoSnapshot", "EnableAutoSnapshot", "BurstingEnabled"} {
		if p.Has(name) {
			return nil, ecserr.BadRequest("OperationUnsupported."+name, "Palisade keeps %s of a system disk as ECS sets it; leave it out.", name)
		}
	}
	in := service.ModifyDiskInput{Caller: c, DiskID: p.Get("DiskId"), Name: p.Optional("DiskName"), Description: p.Optional("Description"),
		Idempotency: idempotency(req)}
	if err := s.ModifyDiskAttribute(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

// historyResourceTypes are DescribeInstanceHistoryEvents' ResourceType
// values.
var historyResourceTypes = map[string]bool{"": true, "instance": true, "ddh": true, "managedhost": true}

type describeInstanceHistoryEventsResponse struct {
	rpc.Base
	TotalCount, PageNumber, PageSize int
	InstanceSystemEventSet           struct{ InstanceSystemEventType []struct{} }
}

// describeInstanceHistoryEvents serves DescribeInstanceHistoryEvents with
// no event: Palisade's instances have no system events (no host fails
// under them, none is released at launch). Terraform's
// alicloud_ecs_instance_set asks it after RunInstances for the instances
// ECS released (SystemFailure.Delete); without it the create failed after
// the instances were made, leaving them outside the state.
func (s *Service) describeInstanceHistoryEvents(ctx context.Context, req *rpc.Request) (any, error) {
	// The caller is checked; another account's instance IDs answer as its
	// own do, with no event.
	if _, err := s.callerOf(ctx, req, true); err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := parsePage(p, 10, 100, 10, 100)
	if err != nil {
		return nil, err
	}
	if t := p.Get("ResourceType"); !historyResourceTypes[t] {
		return nil, ecserr.InvalidParameter("ResourceType", "it is instance, ddh or managedhost")
	}
	out := &describeInstanceHistoryEventsResponse{PageNumber: pg.Number, PageSize: pg.Size}
	out.InstanceSystemEventSet.InstanceSystemEventType = []struct{}{}
	return out, nil
}
