package model

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// ENI types and statuses, as ECS reports them.
const (
	ENIPrimary   = "Primary"
	ENISecondary = "Secondary"

	ENIAvailable = "Available" // not attached
	ENIInUse     = "InUse"     // attached to an instance
)

// Quotas of elastic network interfaces (ECS defaults).
const (
	MaxGroupsPerENI   = MaxGroupsPerInstance // 1–5 groups on each ENI
	MaxENIsPerAccount = 100                  // secondary ENIs per account and region
	DefaultENIQuota   = 2                    // ENIs per instance (with the primary) for a type not in eniQuotas
)

// NetworkInterface is an elastic network interface (ENI): the unit a
// security group governs. Every instance has a primary ENI, which is the
// instance itself as stored (see Instance.PrimaryENI); secondary ENIs are
// stored on their own and attach to one instance at a time, in its VPC and
// zone, each with its own groups and addresses.
type NetworkInterface struct {
	ID          string     `json:"id"` // eni-…
	Region      string     `json:"region"`
	Owner       string     `json:"owner"`
	Name        string     `json:"name,omitempty"`
	Description string     `json:"description,omitempty"`
	Type        string     `json:"type"`   // Primary | Secondary
	Status      string     `json:"status"` // Available | InUse
	InstanceID  string     `json:"instanceId,omitempty"`
	DeviceIndex int        `json:"deviceIndex,omitempty"` // 0 the primary, 1… secondaries in attach order
	Zone        string     `json:"zone"`
	VpcID       string     `json:"vpcId"`
	VSwitchID   string     `json:"vSwitchId"`
	PrivateIP   netip.Addr `json:"privateIp"`
	// SecondaryIPs are its secondary private IPv4 addresses, in
	// assignment order (AssignPrivateIpAddresses).
	SecondaryIPs []netip.Addr `json:"secondaryIps,omitempty"`
	// IPv6 is its first IPv6 address, MoreIPv6 its others in assignment
	// order (IPv6s gives them all).
	IPv6            netip.Addr   `json:"ipv6,omitzero"`
	MoreIPv6        []netip.Addr `json:"moreIpv6,omitempty"`
	MAC             string       `json:"mac"`
	SecurityGroups  []string     `json:"securityGroups"` // 1..5 IDs, in join order
	DeleteOnRelease bool         `json:"deleteOnRelease,omitempty"`
	// ResourceGroupID is the resource group it was created in or moved to
	// (JoinResourceGroup), "" when never named: see SecurityGroup's.
	ResourceGroupID string    `json:"resourceGroupId,omitempty"`
	Tags            []Tag     `json:"tags,omitempty"`
	Created         time.Time `json:"created"`
	// Placement: the host and interface that enforce this ENI's policy
	// (set by agents, as for an instance's primary ENI).
	Host      string `json:"host,omitempty"`
	Interface string `json:"interface,omitempty"`
	// PublicIP is the address of the EIP EipID bound to the ENI (NAT
	// mode: it stands for the primary private IPv4); it stays with the
	// ENI when it is detached and moved. A primary ENI's are its instance's.
	PublicIP netip.Addr `json:"publicIp,omitzero"`
	EipID    string     `json:"eipId,omitempty"`
}

// Attached reports whether the ENI is attached to an instance and so
// carries traffic.
func (n *NetworkInterface) Attached() bool { return n.InstanceID != "" && n.Status == ENIInUse }

// SecondaryNIC reports whether the ENI is a NIC of its own: a secondary ENI
// attached to an instance (a primary ENI is its instance's NIC). It is one
// while that instance exists (NICs).
func (n *NetworkInterface) SecondaryNIC() bool { return n.Type != ENIPrimary && n.Attached() }

// Addresses returns the ENI's private addresses (the primary IPv4, the
// secondary IPv4s, then its IPv6 addresses if any).
func (n *NetworkInterface) Addresses() []netip.Addr {
	return append(append([]netip.Addr{n.PrivateIP}, n.SecondaryIPs...), n.IPv6s()...)
}

// IPv6s returns the ENI's IPv6 addresses, the first one first; nil when
// it has none.
func (n *NetworkInterface) IPv6s() []netip.Addr { return ipv6s(n.IPv6, n.MoreIPv6) }

// SetIPv6s sets the ENI's IPv6 addresses, the first one first.
func (n *NetworkInterface) SetIPv6s(a []netip.Addr) { n.IPv6, n.MoreIPv6 = splitIPv6s(a) }

// NIC is the ENI as the policy engine sees a network interface: the engine
// decides per NIC and takes a NIC in the shape of an instance (its ID, VPC,
// addresses, groups and placement), so an instance is its primary NIC and
// each secondary ENI is a NIC of its own, judged with its own groups and
// reached from the internet at its own EIP, if it has one.
func (n *NetworkInterface) NIC() *Instance {
	return &Instance{
		ID: n.ID, Region: n.Region, Owner: n.Owner, Name: n.Name, Description: n.Description,
		Zone: n.Zone, VpcID: n.VpcID, VSwitchID: n.VSwitchID, PrivateIP: n.PrivateIP, SecondaryIPs: n.SecondaryIPs, IPv6: n.IPv6,
		MoreIPv6: n.MoreIPv6, Status: StatusRunning, SecurityGroups: n.SecurityGroups, Tags: n.Tags, Created: n.Created,
		Host: n.Host, Interface: n.Interface, PublicIP: n.PublicIP, EipID: n.EipID,
	}
}

// PrimaryENI is the instance's primary ENI, derived from the instance: its
// groups and addresses are the instance's. Its ID is "eni-" and the
// instance ID's body, stable for the instance's life.
func (i *Instance) PrimaryENI() *NetworkInterface {
	return &NetworkInterface{
		ID: DerivedID("eni", i.ID), Region: i.Region, Owner: i.Owner, Type: ENIPrimary, Status: ENIInUse,
		InstanceID: i.ID, Zone: i.Zone, VpcID: i.VpcID, VSwitchID: i.VSwitchID, PrivateIP: i.PrivateIP,
		SecondaryIPs: i.SecondaryIPs, IPv6: i.IPv6, MoreIPv6: i.MoreIPv6, MAC: MACOf(i.ID), SecurityGroups: i.SecurityGroups,
		Created: i.Created, Host: i.Host, Interface: i.Interface, PublicIP: i.PublicIP, EipID: i.EipID,
	}
}

// NICs returns the network interfaces the policy engine judges: each
// instance (its primary NIC), then each attached secondary ENI whose
// instance is among them, as a NIC (see NetworkInterface.NIC).
func NICs(instances []*Instance, enis []*NetworkInterface) []*Instance {
	if len(enis) == 0 {
		return instances
	}
	ids := make(map[string]bool, len(instances))
	for _, in := range instances {
		ids[in.ID] = true
	}
	out := append([]*Instance(nil), instances...)
	for _, n := range enis {
		if n.SecondaryNIC() && ids[n.InstanceID] {
			out = append(out, n.NIC())
		}
	}
	return out
}

// MACOf is a stable MAC address in Alibaba Cloud's OUI for a resource ID:
// the instance's for a primary ENI (as DescribeInstances has always shown
// it), the ENI's own for a secondary.
func MACOf(id string) string {
	h := sha256.Sum256([]byte("mac:" + id))
	return fmt.Sprintf("00:16:3e:%02x:%02x:%02x", h[0], h[1], h[2])
}

// eniQuotas is each instance type's EniQuantity, which counts the primary
// ENI (ecs.g6 family, more-apis §6.1).
var eniQuotas = map[string]int{
	"ecs.g6.large": 2, "ecs.g6.xlarge": 3, "ecs.g6.2xlarge": 4, "ecs.g6.3xlarge": 6,
	"ecs.g6.4xlarge": 8, "ecs.g6.6xlarge": 8, "ecs.g6.8xlarge": 8, "ecs.g6.13xlarge": 7, "ecs.g6.26xlarge": 15,
}

// ENIQuota is how many ENIs, the primary included, an instance of the type
// may have; a type Palisade does not know gets DefaultENIQuota.
func ENIQuota(instanceType string) int {
	if n, ok := eniQuotas[instanceType]; ok {
		return n
	}
	return DefaultENIQuota
}

// InstanceTypeForENIs returns the known instance type that takes n ENIs,
// the primary included, with the fewest (the first by name among equals):
// what an instance needs to be launched as to attach n-1 secondary ENIs.
// It reports false when no known type takes n.
func InstanceTypeForENIs(n int) (string, bool) {
	best := ""
	for t, q := range eniQuotas {
		if q >= n && (best == "" || q < eniQuotas[best] || q == eniQuotas[best] && t < best) {
			best = t
		}
	}
	return best, best != ""
}

// Private IPv4 addresses of one ENI (more-apis §6.1, ECS's
// AssignPrivateIpAddresses): an ENI not attached takes up to
// MaxSecondaryIPsUnattached secondary addresses; attached (or an instance's
// primary ENI), all its IPv4 addresses, the primary included, are bounded by
// its instance type's EniPrivateIpAddressQuantity (ENIIPv4Quota).
const (
	MaxSecondaryIPsUnattached = 49
	DefaultENIIPv4Quota       = 6 // ecs.g7.large's, for a type not in eniIPv4Quotas
)

// eniIPv4Quotas is each instance type's EniPrivateIpAddressQuantity (the
// private IPv4 addresses of one ENI, the primary included).
var eniIPv4Quotas = map[string]int{
	"ecs.g6.large": 6, "ecs.g6.xlarge": 10, "ecs.g6.2xlarge": 10, "ecs.g6.3xlarge": 10,
	"ecs.g6.4xlarge": 20, "ecs.g6.6xlarge": 20, "ecs.g6.8xlarge": 20, "ecs.g6.13xlarge": 20, "ecs.g6.26xlarge": 20,
	"ecs.g7.large": 6, "ecs.g7.xlarge": 15, "ecs.c7.large": 6, "ecs.r7.large": 6,
}

// ENIIPv4Quota is how many private IPv4 addresses, the primary included,
// one ENI of an instance of the type may hold.
func ENIIPv4Quota(instanceType string) int {
	if n, ok := eniIPv4Quotas[instanceType]; ok {
		return n
	}
	return DefaultENIIPv4Quota
}

// IPv4Quota is how many private IPv4 addresses, the primary included, an
// ENI may hold: its instance's type's quota when it is attached to in (or
// is in's primary ENI), else the quota of an ENI that is not attached.
func IPv4Quota(in *Instance) int {
	if in == nil {
		return 1 + MaxSecondaryIPsUnattached
	}
	return ENIIPv4Quota(in.InstanceType)
}

// IPv6 addresses of one ENI (ECS's AssignIpv6Addresses): an ENI not
// attached takes up to MaxIPv6Unattached; attached (or an instance's
// primary ENI), up to its instance type's EniIpv6AddressQuantity
// (ENIIPv6Quota), from ECS's instance-family tables.
const (
	MaxIPv6Unattached   = 10
	DefaultENIIPv6Quota = 6 // ecs.g7.large's, for a type not in eniIPv6Quotas
)

// eniIPv6Quotas is each instance type's EniIpv6AddressQuantity: the 7th
// generation gives as many as IPv4 addresses, the 6th and the shared and
// burstable types one.
var eniIPv6Quotas = map[string]int{
	"ecs.g7.large": 6, "ecs.g7.xlarge": 15, "ecs.c7.large": 6, "ecs.r7.large": 6,
	"ecs.g6.large": 1, "ecs.g6.xlarge": 1, "ecs.g6.2xlarge": 1, "ecs.g6.3xlarge": 1,
	"ecs.g6.4xlarge": 1, "ecs.g6.6xlarge": 1, "ecs.g6.8xlarge": 1, "ecs.g6.13xlarge": 1, "ecs.g6.26xlarge": 1,
	"ecs.c6.large": 1, "ecs.t6-c1m1.large": 1, "ecs.t5-lc1m1.small": 1, "ecs.e-c1m1.large": 1, "ecs.u1-c1m1.large": 1,
}

// ENIIPv6Quota is how many IPv6 addresses one ENI of an instance of the
// type may hold (DescribeInstanceTypes' EniIpv6AddressQuantity).
func ENIIPv6Quota(instanceType string) int {
	if n, ok := eniIPv6Quotas[instanceType]; ok {
		return n
	}
	return DefaultENIIPv6Quota
}

// IPv6Quota is how many IPv6 addresses an ENI may hold: its instance's
// type's quota when it is attached to in (or is in's primary ENI), else
// MaxIPv6Unattached.
func IPv6Quota(in *Instance) int {
	if in == nil {
		return MaxIPv6Unattached
	}
	return ENIIPv6Quota(in.InstanceType)
}

// CheckENIGroups checks a full group set for an ENI: 1 to 5 groups, no
// repeats, all of one type, all VPC groups in the ENI's VPC.
func CheckENIGroups(n *NetworkInterface, groups []*SecurityGroup) *ecserr.Error {
	if e := checkGroupSet("Network interface", n.ID, MaxGroupsPerENI, groups); e != nil {
		return e
	}
	for _, g := range groups {
		if g.Classic() {
			return ecserr.Forbidden("InvalidSecurityGroupId.NotVpc", "Security group %s is a classic-network group; a network interface takes VPC groups.", g.ID)
		}
		if g.VpcID != n.VpcID {
			return ecserr.Forbidden("InvalidOperation.VpcMismatch", "Security group %s is in %s but network interface %s is in %s; groups must be in the interface's VPC.", g.ID, g.VpcID, n.ID, n.VpcID)
		}
	}
	return nil
}

// CheckAttach checks that an ENI may attach to an instance that already
// has attached secondary ENIs: the ENI available, the instance Running or
// Stopped, in its VPC and zone, below its type's ENI quota, with no more
// private IPv4 or IPv6 addresses than an ENI of its type holds.
func CheckAttach(n *NetworkInterface, in *Instance, attached int) *ecserr.Error {
	switch {
	case n.Type == ENIPrimary:
		return ecserr.Forbidden("InvalidOperation.InvalidEniType", "Network interface %s is a primary interface and cannot be attached.", n.ID)
	case n.Status != ENIAvailable:
		return ecserr.BadRequest("InvalidOperation.InvalidEniState", "Network interface %s is %s; only an Available interface can be attached.", n.ID, n.Status)
	case in.Status != StatusRunning && in.Status != StatusStopped:
		return ecserr.BadRequest("InvalidOperation.InvalidEcsState", "Instance %s is %s; it must be Running or Stopped.", in.ID, in.Status)
	case in.VpcID != n.VpcID:
		return ecserr.Forbidden("InvalidOperation.VpcMismatch", "Network interface %s is in %s but instance %s is in %s.", n.ID, n.VpcID, in.ID, in.VpcID)
	case in.Zone != n.Zone:
		return ecserr.Forbidden("InvalidOperation.AvailabilityZoneMismatch", "Network interface %s is in zone %s but instance %s is in %s.", n.ID, n.Zone, in.ID, in.Zone)
	case attached+1 >= ENIQuota(in.InstanceType):
		return ecserr.Forbidden("EniPerInstanceLimitExceeded", "Instance %s (%s) has %d network interfaces with its primary, its type's limit.", in.ID, in.InstanceType, attached+1)
	case 1+len(n.SecondaryIPs) > IPv4Quota(in):
		return ecserr.Forbidden("InvalidOperation.Ipv4CountExceeded", "Network interface %s has %d private IPv4 addresses; an interface of %s (%s) holds at most %d. Unassign some first (UnassignPrivateIpAddresses).", n.ID, 1+len(n.SecondaryIPs), in.ID, in.InstanceType, IPv4Quota(in))
	case len(n.IPv6s()) > IPv6Quota(in):
		return ecserr.Forbidden("InvalidOperation.Ipv6CountExceeded", "Network interface %s has %d IPv6 addresses; an interface of %s (%s) holds at most %d. Unassign some first (UnassignIpv6Addresses).", n.ID, len(n.IPv6s()), in.ID, in.InstanceType, IPv6Quota(in))
	}
	return nil
}

// ValidateENIName checks a NetworkInterfaceName: 2–128 characters of
// letters (any script), digits, ":", "_", ".", "-" (more-apis §6.2), not
// http(s)://. Characters, as ValidName counts them: counting bytes refused
// a name of 43 Chinese letters and took one of a single letter, and every
// byte past ASCII passed as a letter (a zero-width space, a symbol).
func ValidateENIName(s string) *ecserr.Error {
	if s == "" {
		return nil
	}
	n := utf8.RuneCountInString(s)
	ok := n >= 2 && n <= 128 && ValidText(s) && !hasURLPrefix(s)
	for _, c := range s {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !strings.ContainsRune(":_.-", c) {
			ok = false
		}
	}
	if !ok {
		return ecserr.BadRequest("InvalidParameter", "NetworkInterfaceName %q must be 2 to 128 characters of letters, digits, colons, underscores, periods and hyphens.", Clip(s)).At("NetworkInterfaceName")
	}
	return nil
}
