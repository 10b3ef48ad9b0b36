// Package model holds Palisade's resources as plain data (accounts, regions,
// VPCs, vSwitches, instances, security groups with their rules, prefix lists,
// EIPs) and the validation of every field a client can send. The operations
// layer, the scenario loader and the analyzers all build resources through
// the parse functions here, so an input that the API refuses is refused
// everywhere with the same ECS error code.
package model

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// ClassicNetwork is the block of the shared classic network: classic
// instances of every account take their private addresses from it (and
// have no IPv6 address). An analysis that may not read another account's
// classic group's members knows no more than that they are here.
var ClassicNetwork = netip.MustParsePrefix("10.0.0.0/8")

// Account is a tenant, or the operator's own account. Every resource
// belongs to exactly one tenant account.
type Account struct {
	UID     string    `json:"uid"` // 16 random digits, e.g. "5827364019283746"
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Operator marks the operator's account: its keys administer accounts
	// and hosts, and it owns no resources (it is not a tenant).
	Operator bool `json:"operator,omitempty"`
	// First marks the tenant the first start made (the one
	// PALISADE_ACCESS_KEY_ID names a key of, and that imports without an
	// owner go to).
	First bool `json:"first,omitempty"`
	// Disabled accounts' keys are refused.
	Disabled bool `json:"disabled,omitempty"`
	// EnvKeys are the IDs of keys a start stored from the environment
	// (PALISADE_*_KEY_ID), so that a later start with the same variables
	// does not make one deleted since again.
	EnvKeys []string `json:"envKeys,omitempty"`
	// Quotas are the operator's overrides of the server's quotas for this
	// account (PalisadeSetAccountQuotas); nil or a zero field: none.
	Quotas *Quotas `json:"quotas,omitempty"`
}

// Quotas bound how many resources an account may hold (see the service's
// Quotas, which this is the stored form of). A zero field has no value of
// its own: the server's, or its default, applies.
type Quotas struct {
	VPCs            int `json:"vpcs,omitempty"`
	VSwitchesPerVPC int `json:"vswitchesPerVpc,omitempty"`
	Instances       int `json:"instances,omitempty"`
	SecurityGroups  int `json:"securityGroups,omitempty"`
	ENIs            int `json:"enis,omitempty"`
	FlowLogs        int `json:"flowLogs,omitempty"`
	PrefixLists     int `json:"prefixLists,omitempty"`
	PortRangeLists  int `json:"portRangeLists,omitempty"`
	PublicIPs       int `json:"publicIps,omitempty"`
	KeyPairs        int `json:"keyPairs,omitempty"`
}

// AccessKey authenticates API calls on behalf of an account.
type AccessKey struct {
	ID      string    `json:"id"`
	Secret  string    `json:"secret"`
	Account string    `json:"account"`
	Created time.Time `json:"created"`
	// Inactive keys are refused (RAM's Status Inactive); the zero value is
	// Active, as keys stored before the status existed are.
	Inactive bool `json:"inactive,omitempty"`
	// Host, set on a key of the operator's account, scopes the key to that
	// host: it may call only the host actions, for that host.
	Host string `json:"host,omitempty"`
}

// Key statuses, as RAM names them.
const (
	KeyActive   = "Active"
	KeyInactive = "Inactive"
)

// Status is the key's RAM status, Active or Inactive.
func (k AccessKey) Status() string {
	if k.Inactive {
		return KeyInactive
	}
	return KeyActive
}

// VPC is a private network. Instances in different VPCs cannot reach each
// other at their private addresses.
type VPC struct {
	ID          string       `json:"id"`
	Region      string       `json:"region"`
	Owner       string       `json:"owner"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	CIDR        netip.Prefix `json:"cidr"`
	IPv6CIDR    netip.Prefix `json:"ipv6Cidr,omitzero"`
	Created     time.Time    `json:"created"`
	// VRouterID and RouteTableID name the router and the system route
	// table every VPC gets (Palisade routes nothing; clients read the IDs).
	// VPCs stored before they were kept have none: see Router and
	// SystemRouteTable.
	VRouterID    string `json:"vRouterId,omitempty"`
	RouteTableID string `json:"routeTableId,omitempty"`
	// RouteTableName and RouteTableDescription are the system route
	// table's own (ModifyRouteTableAttributes).
	RouteTableName        string `json:"routeTableName,omitempty"`
	RouteTableDescription string `json:"routeTableDescription,omitempty"`
	Tags                  []Tag  `json:"tags,omitempty"`
}

// Router is the VPC's vRouter ID: the stored one, or for a VPC stored
// before it was kept the ID Palisade always reported, "vrt-" and the VPC
// ID's body.
func (v *VPC) Router() string {
	if v.VRouterID != "" {
		return v.VRouterID
	}
	return DerivedID("vrt", v.ID)
}

// SystemRouteTable is the VPC's system route table ID, as Router.
func (v *VPC) SystemRouteTable() string {
	if v.RouteTableID != "" {
		return v.RouteTableID
	}
	return DerivedID("vtb", v.ID)
}

// DerivedID is prefix and the body of id (what follows its prefix's "-"):
// the ID of a resource that exists only with id's.
func DerivedID(prefix, id string) string {
	_, body, _ := strings.Cut(id, "-")
	return prefix + "-" + body
}

// VSwitch is a subnet of a VPC in one zone; instances take their private
// addresses from it.
type VSwitch struct {
	ID          string       `json:"id"`
	Region      string       `json:"region"`
	Owner       string       `json:"owner"`
	VpcID       string       `json:"vpcId"`
	Zone        string       `json:"zone"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	CIDR        netip.Prefix `json:"cidr"`
	IPv6CIDR    netip.Prefix `json:"ipv6Cidr,omitzero"`
	Created     time.Time    `json:"created"`
	Tags        []Tag        `json:"tags,omitempty"`
}

// Instance status values, as ECS reports them.
const (
	StatusPending  = "Pending"
	StatusRunning  = "Running"
	StatusStarting = "Starting"
	StatusStopping = "Stopping"
	StatusStopped  = "Stopped"
)

// Instance is a virtual machine with one primary NIC. An empty VpcID means a
// classic-network instance.
type Instance struct {
	ID          string     `json:"id"`
	Region      string     `json:"region"`
	Owner       string     `json:"owner"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Zone        string     `json:"zone"`
	VpcID       string     `json:"vpcId"`
	VSwitchID   string     `json:"vSwitchId"`
	PrivateIP   netip.Addr `json:"privateIp"`
	// SecondaryIPs are the primary ENI's secondary private IPv4 addresses
	// (AssignPrivateIpAddresses), in assignment order: addresses of the
	// same NIC, under the same groups.
	SecondaryIPs []netip.Addr `json:"secondaryIps,omitempty"`
	// IPv6 is the primary ENI's first IPv6 address, MoreIPv6 its others
	// in assignment order (IPv6s gives them all); a record from before
	// several were kept has only "ipv6".
	IPv6     netip.Addr   `json:"ipv6,omitzero"`
	MoreIPv6 []netip.Addr `json:"moreIpv6,omitempty"`
	PublicIP netip.Addr   `json:"publicIp,omitzero"`
	EipID    string       `json:"eipId,omitempty"` // set when PublicIP comes from an EIP
	Status   string       `json:"status"`
	// StoppedMode is how a stopped instance was stopped (StopCharging or
	// KeepCharging; "" when the stop named none, answered as KeepCharging,
	// the default), "" while it runs: ECS answers it back (else
	// Not-applicable), and Terraform's stopped_mode reads it.
	StoppedMode    string    `json:"stoppedMode,omitempty"`
	ImageID        string    `json:"imageId"`
	InstanceType   string    `json:"instanceType"`
	BandwidthOut   int       `json:"bandwidthOut,omitempty"` // InternetMaxBandwidthOut at launch, Mbit/s
	SecurityGroups []string  `json:"securityGroups"`         // 1..5 IDs, all of one type, in join order
	Tags           []Tag     `json:"tags,omitempty"`
	Created        time.Time `json:"created"`
	// SystemDisk is the system disk the launch asked for (zero: ECS's
	// defaults, see SystemDiskOf). Palisade keeps no disks: it is kept so
	// DescribeDisks answers what was written.
	SystemDisk SystemDisk `json:"systemDisk,omitzero"`
	// UserData is the launch's user data, Base64 as given (at most
	// MaxUserData bytes once decoded).
	UserData string `json:"userData,omitempty"`
	// Maintenance is what the instance does on a maintenance event
	// (ModifyInstanceMaintenanceAttributes; zero: ECS's defaults, see
	// MaintenanceOf). Palisade keeps it so the reads answer what was set.
	Maintenance Maintenance `json:"maintenance,omitzero"`
	// Metadata is how its metadata service answers (RunInstances'
	// HttpEndpoint and HttpTokens, ModifyInstanceMetadataOptions; zero:
	// ECS's defaults, see MetadataOf). Palisade runs no metadata service:
	// it keeps them so the reads answer what was set.
	Metadata MetadataOptions `json:"metadata,omitzero"`
	// KeyPairName is the instance's key pair of the account and region,
	// its login key: the launch's, then AttachKeyPair's (DetachKeyPair
	// clears it; DeleteKeyPairs refuses it while the instance holds it);
	// "" for none.
	KeyPairName string `json:"keyPairName,omitempty"`
	// AutoReleaseTime is when ECS would release the instance
	// (RunInstances' AutoReleaseTime, yyyy-MM-ddTHH:mmZ): kept and
	// answered, never acted on (Palisade releases nothing by itself).
	AutoReleaseTime string `json:"autoReleaseTime,omitempty"`
	// CreditSpecification is a burstable type's performance mode
	// (Standard or Unlimited), kept and answered; "" for none.
	CreditSpecification string `json:"creditSpecification,omitempty"`
	// Placement: the host that enforces this instance's policy (set by agents).
	Host      string `json:"host,omitempty"`
	Interface string `json:"interface,omitempty"`
}

// SystemDisk is an instance's system disk as launched.
type SystemDisk struct {
	Category    string `json:"category,omitempty"`
	Size        int    `json:"size,omitempty"` // GiB
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

// ECS's system disk defaults, and the bounds of its size and of user data.
const (
	DefaultSystemDiskCategory = "cloud_efficiency"
	DefaultSystemDiskSize     = 40
	MinSystemDiskSize         = 20
	MaxSystemDiskSize         = 2048
	MaxUserData               = 32 << 10 // bytes, before Base64
)

// SystemDiskCategories are the categories a system disk may have.
var SystemDiskCategories = []string{"cloud", "cloud_efficiency", "cloud_ssd", "cloud_essd", "cloud_auto", "cloud_essd_entry"}

// Maintenance is an instance's maintenance attributes.
type Maintenance struct {
	Action  string              `json:"action,omitempty"` // one of MaintenanceActions
	Notify  bool                `json:"notify,omitempty"` // NotifyOnMaintenance
	Windows []MaintenanceWindow `json:"windows,omitempty"`
}

// MaintenanceWindow is a daily window, "HH:00:00" in UTC+8 as ECS takes it.
type MaintenanceWindow struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// DefaultMaintenanceAction is ECS's ActionOnMaintenance, and
// MaintenanceActions those an instance without local disks supports (all
// of Palisade's: it keeps none).
const DefaultMaintenanceAction = "AutoRecover"

var MaintenanceActions = []string{"Stop", "AutoRecover"}

// MaintenanceOf is the instance's maintenance attributes with ECS's default
// action filled in.
func (i *Instance) MaintenanceOf() Maintenance {
	m := i.Maintenance
	if m.Action == "" {
		m.Action = DefaultMaintenanceAction
	}
	return m
}

// MetadataOptions are an instance's metadata service options.
type MetadataOptions struct {
	Endpoint string `json:"endpoint,omitempty"` // HttpEndpoint: enabled or disabled
	Tokens   string `json:"tokens,omitempty"`   // HttpTokens: optional or required
	HopLimit int    `json:"hopLimit,omitempty"` // HttpPutResponseHopLimit, 1 to 64; 0: not set
}

// ECS's metadata options when a launch names none.
const (
	DefaultMetadataEndpoint = "enabled"
	DefaultMetadataTokens   = "optional"
	MaxMetadataHopLimit     = 64
)

// MetadataOf is the instance's metadata options with ECS's defaults filled
// in (the hop limit stays unset: ECS does not say its default).
func (i *Instance) MetadataOf() MetadataOptions {
	m := i.Metadata
	if m.Endpoint == "" {
		m.Endpoint = DefaultMetadataEndpoint
	}
	if m.Tokens == "" {
		m.Tokens = DefaultMetadataTokens
	}
	return m
}

// ValidateMetadataOptions checks metadata options as a request gives them
// ("" and 0: not given).
func ValidateMetadataOptions(m MetadataOptions) *ecserr.Error {
	switch {
	case m.Endpoint != "" && m.Endpoint != "enabled" && m.Endpoint != "disabled":
		return ecserr.InvalidParameter("HttpEndpoint", "enabled or disabled")
	case m.Tokens != "" && m.Tokens != "optional" && m.Tokens != "required":
		return ecserr.InvalidParameter("HttpTokens", "optional or required")
	case m.HopLimit != 0:
		return CheckHopLimit(m.HopLimit)
	}
	return nil
}

// CheckHopLimit checks an HttpPutResponseHopLimit that was given: 1 to
// MaxMetadataHopLimit (0 given is out of range, not "not set").
func CheckHopLimit(n int) *ecserr.Error {
	if n < 1 || n > MaxMetadataHopLimit {
		return ecserr.InvalidParameter("HttpPutResponseHopLimit", fmt.Sprintf("a number from 1 to %d", MaxMetadataHopLimit))
	}
	return nil
}

// SystemDiskOf is the instance's system disk with ECS's defaults filled in
// (instances stored before disks were kept have none).
func (i *Instance) SystemDiskOf() SystemDisk {
	d := i.SystemDisk
	if d.Category == "" {
		d.Category = DefaultSystemDiskCategory
	}
	if d.Size == 0 {
		d.Size = DefaultSystemDiskSize
	}
	return d
}

// SystemDiskID is the ID of the instance's system disk, derived from its
// own so it is stable without a record.
func (i *Instance) SystemDiskID() string { return DerivedID("d", i.ID) }

// Classic reports whether the instance is on the classic network.
func (i *Instance) Classic() bool { return i.VpcID == "" }

// Addresses returns the instance's private addresses (the primary IPv4,
// the secondary IPv4s, then its IPv6 addresses if any): the addresses a
// group peer stands for, and those a packet reaches the NIC on.
func (i *Instance) Addresses() []netip.Addr {
	return append(append([]netip.Addr{i.PrivateIP}, i.SecondaryIPs...), i.IPv6s()...)
}

// IPv6s returns the instance's (its primary ENI's) IPv6 addresses, the
// first one first; nil when it has none.
func (i *Instance) IPv6s() []netip.Addr { return ipv6s(i.IPv6, i.MoreIPv6) }

// SetIPv6s sets the instance's IPv6 addresses, the first one first: the
// first of a NIC is its IPv6, so unassigning it promotes the next.
func (i *Instance) SetIPv6s(a []netip.Addr) { i.IPv6, i.MoreIPv6 = splitIPv6s(a) }

func ipv6s(first netip.Addr, more []netip.Addr) []netip.Addr {
	if !first.IsValid() {
		return nil
	}
	return append([]netip.Addr{first}, more...)
}

func splitIPv6s(a []netip.Addr) (netip.Addr, []netip.Addr) {
	switch len(a) {
	case 0:
		return netip.Addr{}, nil
	case 1:
		return a[0], nil
	}
	return a[0], slices.Clone(a[1:])
}

// GroupType is the kind of a security group.
type GroupType string

const (
	Normal     GroupType = "normal"     // basic
	Enterprise GroupType = "enterprise" // advanced
)

// InnerAccessPolicy values.
const (
	InnerAccept = "Accept"
	InnerDrop   = "Drop"
)

// SecurityGroup is a stateful firewall policy shared by its member instances.
type SecurityGroup struct {
	ID                string    `json:"id"`
	Region            string    `json:"region"`
	Owner             string    `json:"owner"`
	Name              string    `json:"name"`
	Description       string    `json:"description"`
	Type              GroupType `json:"type"`
	VpcID             string    `json:"vpcId"` // empty: classic network
	InnerAccessPolicy string    `json:"innerAccessPolicy"`
	// ResourceGroupID is the resource group it was created in or moved to
	// (JoinResourceGroup), "" when never named: Terraform's
	// alicloud_security_group reads it back into a resource_group_id
	// that is not computed, so a group made without one must answer none.
	ResourceGroupID string    `json:"resourceGroupId,omitempty"`
	Tags            []Tag     `json:"tags,omitempty"`
	Created         time.Time `json:"created"`
	Rules           []Rule    `json:"rules"` // in creation order
}

// Classic reports whether the group is on the classic network.
func (g *SecurityGroup) Classic() bool { return g.VpcID == "" }

// InnerAccept reports whether members of the group always reach each other.
func (g *SecurityGroup) InnerAccept() bool {
	return g.Type == Normal && g.InnerAccessPolicy == InnerAccept
}

// GroupPeerRules counts the rules whose peer is a security group (quota: 20).
func (g *SecurityGroup) GroupPeerRules() int {
	n := 0
	for _, r := range g.Rules {
		if r.Peer.GroupID != "" {
			n++
		}
	}
	return n
}

// Tag is a key-value label on a resource.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// PrefixList is a named set of CIDR blocks that rules may use as a peer.
type PrefixList struct {
	ID            string        `json:"id"`
	Region        string        `json:"region"`
	Owner         string        `json:"owner"`
	Name          string        `json:"name"`
	Description   string        `json:"description"`
	AddressFamily string        `json:"addressFamily"` // IPv4 | IPv6
	MaxEntries    int           `json:"maxEntries"`
	Entries       []PrefixEntry `json:"entries"`
	Tags          []Tag         `json:"tags,omitempty"`
	Created       time.Time     `json:"created"`
}

// PrefixEntry is one CIDR block of a prefix list.
type PrefixEntry struct {
	CIDR        netip.Prefix `json:"cidr"`
	Description string       `json:"description,omitempty"`
}

// EIP is an elastic public IPv4 address that can be bound to an instance
// or to a secondary ENI.
type EIP struct {
	ID         string     `json:"id"` // eip-…
	Region     string     `json:"region"`
	Owner      string     `json:"owner"`
	Name       string     `json:"name"`
	Address    netip.Addr `json:"address"`
	InstanceID string     `json:"instanceId,omitempty"` // i-… or eni-…
	// InstanceType is what InstanceID is: EipToENI for an ENI, "" (a
	// record from before ENIs took EIPs too) or EipToInstance for an
	// instance.
	InstanceType string `json:"instanceType,omitempty"`
	// PrivateIP is the private address the association named
	// (PrivateIpAddress), unset when it named none: Terraform's
	// private_ip_address forces a new association when it reads back
	// otherwise than written.
	PrivateIP   netip.Addr `json:"privateIp,omitzero"`
	Bandwidth   string     `json:"bandwidth"`
	ChargeType  string     `json:"chargeType"`
	Status      string     `json:"status"` // Available | InUse
	Description string     `json:"description,omitempty"`
	Tags        []Tag      `json:"tags,omitempty"`
	Created     time.Time  `json:"created"`
}

// What an EIP is bound to (EIP.InstanceType, AssociateEipAddress's
// InstanceType).
const (
	EipToInstance = "EcsInstance"
	EipToENI      = "NetworkInterface"
)

// BoundTo is the type of what the EIP is bound to ("" when unbound).
func (e *EIP) BoundTo() string {
	switch {
	case e.InstanceID == "":
		return ""
	case e.InstanceType == "":
		return EipToInstance
	}
	return e.InstanceType
}
