package ops

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func (s *Service) instanceActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"RunInstances":              s.RunInstances,
		"CreateInstance":            s.CreateInstance,
		"DescribeInstances":         s.DescribeInstances,
		"DescribeInstanceAttribute": s.DescribeInstanceAttribute,
		"StartInstance":             s.StartInstance,
		"StopInstance":              s.StopInstance,
		"DeleteInstance":            s.DeleteInstance,
		"ModifyInstanceAttribute":   s.ModifyInstanceAttribute,
	}
}

// classicPool is the shared classic network: classic instances of every
// account in a region take their private addresses from it.
var classicPool = netip.MustParsePrefix("10.0.0.0/8")

// Limits of RunInstances.
const (
	maxAmount       = 100
	maxBandwidthOut = 100 // Mbit/s
)

// launchSpec is a validated RunInstances or CreateInstance request.
type launchSpec struct {
	amount       int
	imageID      string
	instanceType string
	name         string
	description  string
	zone         string
	vswitchID    string
	privateIP    netip.Addr // pinned, or zero to allocate
	ipv6Count    int
	ipv6         netip.Addr // pinned, or zero
	bandwidthOut int
	groups       []string
	tags         []model.Tag
	dryRun       bool
}

// parseLaunch checks what a launch request says on its own; multi allows
// Amount (RunInstances).
func parseLaunch(p rpc.Params, multi bool) (*launchSpec, error) {
	sp := &launchSpec{amount: 1, imageID: p.Get("ImageId"), instanceType: p.Get("InstanceType"), name: p.Get("InstanceName"),
		description: p.Get("Description"), zone: p.Get("ZoneId"), vswitchID: p.Get("VSwitchId")}
	for _, name := range []string{"ImageId", "InstanceType"} {
		if !p.Has(name) {
			return nil, ecserr.MissingParameter(name)
		}
	}
	var e *ecserr.Error
	if multi {
		if sp.amount, e = p.Int("Amount", 1); e != nil {
			return nil, e
		}
		if sp.amount < 1 || sp.amount > maxAmount {
			return nil, ecserr.InvalidParameter("Amount", fmt.Sprintf("it must be from 1 to %d", maxAmount))
		}
	}
	if err := validateInstanceText(p); err != nil {
		return nil, err
	}
	if p.Has("PrivateIpAddress") {
		a, err := netip.ParseAddr(p.Get("PrivateIpAddress"))
		if err != nil || !a.Is4() {
			return nil, ecserr.BadRequest("InvalidPrivateIpAddress.Malformed", "PrivateIpAddress %q is not an IPv4 address.", p.Get("PrivateIpAddress"))
		}
		if sp.amount > 1 {
			return nil, ecserr.InvalidParameter("PrivateIpAddress", "a fixed address can only be given with Amount=1")
		}
		sp.privateIP = a
	}
	if sp.ipv6Count, e = p.Int("Ipv6AddressCount", 0); e != nil {
		return nil, e
	}
	if sp.ipv6Count < 0 || sp.ipv6Count > 1 {
		return nil, ecserr.InvalidParameter("Ipv6AddressCount", "Palisade gives an instance at most one IPv6 address: use 0 or 1")
	}
	if six := p.List("Ipv6Address"); len(six) > 0 {
		a, err := netip.ParseAddr(six[0])
		switch {
		case len(six) > 1:
			return nil, ecserr.InvalidParameter("Ipv6Address.N", "Palisade gives an instance at most one IPv6 address")
		case sp.ipv6Count > 0:
			return nil, ecserr.InvalidParameter("Ipv6Address.N", "give Ipv6Address.N or Ipv6AddressCount, not both")
		case err != nil || !a.Is6() || a.Is4In6():
			return nil, ecserr.BadRequest("InvalidIpv6Address.Malformed", "Ipv6Address.1 %q is not an IPv6 address.", six[0])
		case sp.amount > 1:
			return nil, ecserr.InvalidParameter("Ipv6Address.N", "a fixed address can only be given with Amount=1")
		}
		sp.ipv6 = a
	}
	if sp.bandwidthOut, e = p.Int("InternetMaxBandwidthOut", 0); e != nil {
		return nil, e
	}
	if sp.bandwidthOut < 0 || sp.bandwidthOut > maxBandwidthOut {
		return nil, ecserr.InvalidParameter("InternetMaxBandwidthOut", fmt.Sprintf("it must be from 0 to %d Mbit/s", maxBandwidthOut))
	}
	one, many := p.Get("SecurityGroupId"), p.List("SecurityGroupIds")
	switch {
	case one != "" && len(many) > 0:
		return nil, ecserr.InvalidParameter("SecurityGroupIds.N", "give SecurityGroupId or SecurityGroupIds.N, not both")
	case one != "":
		sp.groups = []string{one}
	case len(many) > 0:
		sp.groups = many
	default:
		return nil, ecserr.MissingParameter("SecurityGroupId")
	}
	if err := checkRepeats(sp.groups); err != nil {
		return nil, err
	}
	var err error
	if sp.tags, err = tagsFromParams(p); err != nil {
		return nil, err
	}
	if sp.dryRun, e = p.Bool("DryRun", false); e != nil {
		return nil, e
	}
	return sp, nil
}

// validateInstanceText checks InstanceName, Description and HostName when
// given.
func validateInstanceText(p rpc.Params) error {
	if p.Has("InstanceName") && !model.ValidName(p.Get("InstanceName")) {
		return ecserr.BadRequest("InvalidInstanceName.Malformed", "InstanceName %q is not valid: 2 to 128 characters, starting with a letter, then letters, digits, ':', '_', '.' or '-', not starting with http:// or https://.", p.Get("InstanceName"))
	}
	if p.Has("Description") && !model.ValidDescription(p.Get("Description")) {
		return ecserr.BadRequest("InvalidDescription.Malformed", "Description must be 2 to 256 characters and not start with http:// or https://.")
	}
	if p.Has("HostName") && !validHostName(p.Get("HostName")) {
		return ecserr.BadRequest("InvalidHostName.Malformed", "HostName %q is not valid: 2 to 64 letters, digits, '.' or '-', not starting or ending with '.' or '-', without '..'.", p.Get("HostName"))
	}
	return nil
}

func validHostName(s string) bool {
	if len(s) < 2 || len(s) > 64 || strings.Contains(s, "..") || strings.ContainsAny(s[:1]+s[len(s)-1:], ".-") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// checkRepeats refuses a group list naming a group twice, before any lookup.
func checkRepeats(ids []string) error {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return ecserr.New(http.StatusNotFound, "InvalidParameter.SecurityGroupIdRepeated", "Security group %s is given more than once.", id)
		}
		seen[id] = true
	}
	return nil
}

// addrSpace is where one launch takes its addresses: a vSwitch, or the
// classic network.
type addrSpace struct {
	v4, v6        netip.Prefix
	taken, taken6 map[netip.Addr]bool
	where         string // how errors name the space
}

// launch creates sp.amount instances in status and returns their IDs. With
// publicIP, a positive InternetMaxBandwidthOut also gives each a public IP.
func (s *Service) launch(tx store.Tx, c caller, sp *launchSpec, status string, publicIP bool) ([]string, error) {
	base := model.Instance{Region: c.Region, Owner: c.Account, Name: sp.name, Description: sp.description,
		ImageID: sp.imageID, InstanceType: sp.instanceType, Status: status, Created: s.Now()}
	space, err := launchSpace(tx, c, sp, &base)
	if err != nil {
		return nil, err
	}
	if a := sp.privateIP; a.IsValid() {
		switch {
		case !space.v4.Contains(a):
			return nil, ecserr.BadRequest("InvalidPrivateIpAddress.Mismatch", "PrivateIpAddress %s is not in %s (%s).", a, space.where, space.v4)
		case !assignable(space.v4, a):
			return nil, ecserr.BadRequest("InvalidPrivateIpAddress.Malformed", "PrivateIpAddress %s is reserved: the first address and the last three of %s cannot be assigned.", a, space.v4)
		case space.taken[a]:
			return nil, ecserr.BadRequest("InvalidPrivateIpAddress.Duplicated", "PrivateIpAddress %s is already used in %s; pick a free address or leave it out.", a, space.where)
		}
	}
	if a := sp.ipv6; a.IsValid() {
		switch {
		case !assignable(space.v6, a):
			return nil, ecserr.BadRequest("InvalidIpv6Address.Mismatch", "Ipv6Address %s is not an assignable address of %s (%s).", a, space.where, space.v6)
		case space.taken6[a]:
			return nil, ecserr.BadRequest("InvalidIpv6Address.Duplicated", "Ipv6Address %s is already used in %s.", a, space.where)
		}
	}
	// Every instance of the launch gets the same groups: check the set once,
	// counting the whole batch against the groups' member limits.
	probe := base
	probe.ID = "being launched"
	if err := setGroups(tx, c, &probe, slices.Clone(sp.groups), sp.amount); err != nil {
		return nil, err
	}
	var public map[netip.Addr]bool
	if publicIP && sp.bandwidthOut > 0 {
		if public, err = publicIPsTaken(tx); err != nil {
			return nil, err
		}
	}
	var ids []string
	for range sp.amount {
		in := base
		in.ID = model.NewID("i")
		in.Tags = slices.Clone(sp.tags)
		if in.Name == "" {
			in.Name = in.ID // as ECS names unnamed instances
		}
		if in.PrivateIP = sp.privateIP; !in.PrivateIP.IsValid() {
			a, ok := allocateAddr(space.v4, space.taken)
			if !ok {
				return nil, ecserr.BadRequest("InvalidVSwitchId.IpNotEnough", "%s has no free private address left; use another vSwitch or a larger block.", space.where)
			}
			in.PrivateIP = a
		}
		space.taken[in.PrivateIP] = true
		if in.IPv6 = sp.ipv6; !in.IPv6.IsValid() && sp.ipv6Count > 0 {
			a, ok := allocateAddr(space.v6, space.taken6)
			if !ok {
				return nil, ecserr.BadRequest("InvalidVSwitchId.IpNotEnough", "%s has no free IPv6 address left.", space.where)
			}
			in.IPv6 = a
		}
		if in.IPv6.IsValid() {
			space.taken6[in.IPv6] = true
		}
		if public != nil {
			if in.PublicIP, err = allocatePublicIP(public); err != nil {
				return nil, err
			}
		}
		in.SecurityGroups = slices.Clone(sp.groups)
		if err := putInstance(tx, &in); err != nil {
			return nil, err
		}
		ids = append(ids, in.ID)
	}
	if sp.dryRun { // every check passed; the error rolls the transaction back
		return nil, ecserr.BadRequest("DryRunOperation", "Request validation has been passed with DryRun flag set.")
	}
	return ids, nil
}

// launchSpace resolves the network of a launch (the vSwitch, or the classic
// network without one), fills the instance's zone and network, and collects
// the addresses already taken there.
func launchSpace(tx store.Tx, c caller, sp *launchSpec, in *model.Instance) (*addrSpace, error) {
	space := &addrSpace{taken: map[netip.Addr]bool{}, taken6: map[netip.Addr]bool{}}
	wantSix := sp.ipv6Count > 0 || sp.ipv6.IsValid()
	if sp.vswitchID == "" {
		if wantSix {
			return nil, ecserr.BadRequest("InvalidNetworkType.NotSupported", "Classic instances have no IPv6 address; give VSwitchId to launch into a VPC.")
		}
		r, _ := model.LookupRegion(c.Region)
		in.Zone = sp.zone
		if in.Zone == "" {
			in.Zone = r.Zones[0]
		} else if err := checkZone(c.Region, in.Zone); err != nil {
			return nil, err
		}
		space.v4, space.where = classicPool, "the classic network"
		all, err := store.ListAs[model.Instance](tx, KindInstance, store.Query{Region: c.Region})
		if err != nil {
			return nil, err
		}
		for _, o := range all {
			if o.Classic() {
				space.taken[o.PrivateIP] = true
			}
		}
		return space, nil
	}
	w, err := getVSwitch(tx, c, sp.vswitchID)
	if err != nil {
		return nil, err
	}
	if sp.zone != "" && sp.zone != w.Zone {
		return nil, ecserr.BadRequest("InvalidVSwitchId.Mismatch", "vSwitch %s is in zone %s, not in %s; leave ZoneId out or give the vSwitch's zone.", w.ID, w.Zone, sp.zone)
	}
	if wantSix && !w.IPv6CIDR.IsValid() {
		return nil, ecserr.BadRequest("InvalidVSwitch.Ipv6NotTurnOn", "vSwitch %s has no IPv6 block; create it with Ipv6CidrBlock in a VPC with IPv6.", w.ID)
	}
	in.Zone, in.VpcID, in.VSwitchID = w.Zone, w.VpcID, w.ID
	space.v4, space.v6, space.where = w.CIDR, w.IPv6CIDR, "vSwitch "+w.ID
	insts, err := list[model.Instance](tx, KindInstance, c)
	if err != nil {
		return nil, err
	}
	for _, o := range insts {
		if o.VSwitchID == w.ID {
			space.taken[o.PrivateIP] = true
			if o.IPv6.IsValid() {
				space.taken6[o.IPv6] = true
			}
		}
	}
	return space, nil
}

type runInstancesResponse struct {
	rpc.Base
	OrderId        string
	TradePrice     float64
	InstanceIdSets struct{ InstanceIdSet []string }
}

// RunInstances launches 1 to 100 running instances.
func (s *Service) RunInstances(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	sp, err := parseLaunch(req.Params, true)
	if err != nil {
		return nil, err
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*runInstancesResponse, error) {
		ids, err := s.launch(tx, c, sp, model.StatusRunning, true)
		if err != nil {
			return nil, err
		}
		out := &runInstancesResponse{}
		out.InstanceIdSets.InstanceIdSet = ids
		return out, nil
	})
}

type createInstanceResponse struct {
	rpc.Base
	InstanceId string
	OrderId    string
	TradePrice float64
}

// CreateInstance creates one stopped instance. As in ECS it gets no public
// IP from InternetMaxBandwidthOut; bind an EIP instead.
func (s *Service) CreateInstance(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	sp, err := parseLaunch(req.Params, false)
	if err != nil {
		return nil, err
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*createInstanceResponse, error) {
		ids, err := s.launch(tx, c, sp, model.StatusStopped, false)
		if err != nil {
			return nil, err
		}
		return &createInstanceResponse{InstanceId: ids[0]}, nil
	})
}

// --- the instance as ECS shows it ---

type ipAddressSet struct{ IpAddress []string }

type vpcAttributesItem struct {
	VpcId            string
	VSwitchId        string
	NatIpAddress     string
	PrivateIpAddress ipAddressSet
}

type instanceEipItem struct {
	AllocationId         string
	IpAddress            string
	Bandwidth            int
	InternetChargeType   string
	IsSupportUnassociate bool
}

type privateIPSetItem struct {
	PrivateIpAddress string
	Primary          bool
}

type ipv6SetItem struct{ Ipv6Address string }

type networkInterfaceItem struct {
	NetworkInterfaceId string
	Type               string
	MacAddress         string
	PrimaryIpAddress   string
	VSwitchId          string
	SecurityGroupIds   struct{ SecurityGroupId []string }
	PrivateIpSets      struct{ PrivateIpSet []privateIPSetItem }
	Ipv6Sets           struct{ Ipv6Set []ipv6SetItem }
}

// instanceItem is an instance in DescribeInstances.
type instanceItem struct {
	InstanceId              string
	InstanceName            string
	Description             string
	HostName                string
	ImageId                 string
	InstanceType            string
	RegionId                string
	ZoneId                  string
	Status                  string
	InstanceNetworkType     string
	CreationTime            string
	StartTime               string
	ExpiredTime             string
	InstanceChargeType      string
	InternetChargeType      string
	InternetMaxBandwidthIn  int
	InternetMaxBandwidthOut int
	Cpu                     int
	Memory                  int
	OSType                  string
	SerialNumber            string
	ResourceGroupId         string
	StoppedMode             string
	IoOptimized             bool
	DeletionProtection      bool
	SecurityGroupIds        struct{ SecurityGroupId []string }
	InnerIpAddress          ipAddressSet
	PublicIpAddress         ipAddressSet
	EipAddress              instanceEipItem
	VpcAttributes           vpcAttributesItem
	NetworkInterfaces       struct{ NetworkInterface []networkInterfaceItem }
	OperationLocks          struct{ LockReason []lockReasonItem }
	Tags                    tagSet
	// Palisade extensions. PalisadeHost is the host whose agent enforces
	// the instance's policy; PalisadeAppliedRevision is the store revision
	// that agent reports having applied (0 until it reports).
	PalisadeHost            string
	PalisadeAppliedRevision int64
}

func networkType(in *model.Instance) string {
	if in.Classic() {
		return "classic"
	}
	return "vpc"
}

// Derived identifiers: Palisade keeps no ENIs or hardware, but clients
// expect stable values.

func hostNameOf(in *model.Instance) string { return "iZ" + idSuffix(in.ID) + "Z" }
func eniID(in *model.Instance) string      { return "eni-" + idSuffix(in.ID) }

func macAddress(in *model.Instance) string {
	h := sha256.Sum256([]byte("mac:" + in.ID))
	return fmt.Sprintf("00:16:3e:%02x:%02x:%02x", h[0], h[1], h[2]) // Alibaba Cloud's OUI
}

func serialNumber(in *model.Instance) string {
	h := sha256.Sum256([]byte("sn:" + in.ID))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// instanceAddresses are the address fields shared by both instance shapes.
type instanceAddresses struct {
	inner, public []string
	vpc           vpcAttributesItem
	eip           instanceEipItem
}

func addressesOf(tx store.ReadTx, in *model.Instance) (instanceAddresses, error) {
	var a instanceAddresses
	if in.Classic() {
		a.inner = []string{in.PrivateIP.String()}
	} else {
		a.vpc = vpcAttributesItem{VpcId: in.VpcID, VSwitchId: in.VSwitchID, PrivateIpAddress: ipAddressSet{[]string{in.PrivateIP.String()}}}
	}
	switch {
	case in.EipID != "":
		a.eip = instanceEipItem{AllocationId: in.EipID, IpAddress: in.PublicIP.String(), IsSupportUnassociate: true}
		eip, ok, err := store.GetAs[model.EIP](tx, KindEIP, in.EipID)
		if err != nil {
			return a, err
		}
		if ok {
			a.eip.Bandwidth, _ = strconv.Atoi(eip.Bandwidth)
			a.eip.InternetChargeType = eip.ChargeType
		}
	case in.PublicIP.IsValid():
		a.public = []string{in.PublicIP.String()}
	}
	return a, nil
}

func (s *Service) instanceOut(tx store.ReadTx, in *model.Instance) (instanceItem, error) {
	a, err := addressesOf(tx, in)
	if err != nil {
		return instanceItem{}, err
	}
	item := instanceItem{InstanceId: in.ID, InstanceName: in.Name, Description: in.Description, HostName: hostNameOf(in),
		ImageId: in.ImageID, InstanceType: in.InstanceType, RegionId: in.Region, ZoneId: in.Zone, Status: in.Status,
		InstanceNetworkType: networkType(in), CreationTime: timeText(in.Created), StartTime: timeText(in.Created),
		ExpiredTime: "2099-12-31T15:59Z", InstanceChargeType: "PostPaid", InternetChargeType: "PayByTraffic",
		OSType: "linux", SerialNumber: serialNumber(in), ResourceGroupId: resourceGroupID(in.Owner),
		StoppedMode: "Not-applicable", IoOptimized: true, InnerIpAddress: ipAddressSet{a.inner},
		PublicIpAddress: ipAddressSet{a.public}, EipAddress: a.eip, VpcAttributes: a.vpc, Tags: tagsOut(in.Tags),
		PalisadeHost: in.Host}
	if in.Host != "" {
		item.PalisadeAppliedRevision = s.AppliedRevision(in.Host)
	}
	item.SecurityGroupIds.SecurityGroupId = slices.Clone(in.SecurityGroups)
	if !in.Classic() { // classic instances have no ENI
		nic := networkInterfaceItem{NetworkInterfaceId: eniID(in), Type: "Primary", MacAddress: macAddress(in),
			PrimaryIpAddress: in.PrivateIP.String(), VSwitchId: in.VSwitchID}
		nic.SecurityGroupIds.SecurityGroupId = slices.Clone(in.SecurityGroups)
		nic.PrivateIpSets.PrivateIpSet = []privateIPSetItem{{PrivateIpAddress: in.PrivateIP.String(), Primary: true}}
		if in.IPv6.IsValid() {
			nic.Ipv6Sets.Ipv6Set = []ipv6SetItem{{Ipv6Address: in.IPv6.String()}}
		}
		item.NetworkInterfaces.NetworkInterface = []networkInterfaceItem{nic}
	}
	return item, nil
}

type describeInstancesResponse struct {
	rpc.Base
	NextToken  string
	TotalCount int `json:",omitempty" xml:",omitempty"`
	PageNumber int `json:",omitempty" xml:",omitempty"`
	PageSize   int `json:",omitempty" xml:",omitempty"`
	Instances  struct{ Instance []instanceItem }
}

// instanceFilter holds the DescribeInstances filters.
type instanceFilter struct {
	ids, private, inner, public, eips, ipv6 []string
	network                                 string
	tags                                    []model.Tag
	p                                       rpc.Params
}

func parseInstanceFilter(p rpc.Params) (*instanceFilter, error) {
	f := &instanceFilter{p: p, ipv6: p.List("Ipv6Address")}
	for name, dst := range map[string]*[]string{"InstanceIds": &f.ids, "PrivateIpAddresses": &f.private,
		"InnerIpAddresses": &f.inner, "PublicIpAddresses": &f.public, "EipAddresses": &f.eips} {
		v, e := p.JSONList(name)
		if e != nil {
			return nil, e
		}
		if len(v) > 100 {
			return nil, ecserr.InvalidParameter(name, "it takes at most 100 entries")
		}
		*dst = v
	}
	switch f.network = strings.ToLower(p.Get("InstanceNetworkType")); f.network {
	case "", "vpc", "classic":
	default:
		return nil, ecserr.InvalidParameter("InstanceNetworkType", "it must be vpc or classic")
	}
	var err error
	if f.tags, err = tagsFromParams(p); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *instanceFilter) match(in *model.Instance) bool {
	p := f.p
	str := func(a netip.Addr) string {
		if a.IsValid() {
			return a.String()
		}
		return ""
	}
	plainPublic, eip := "", ""
	if in.EipID != "" {
		eip = str(in.PublicIP)
	} else {
		plainPublic = str(in.PublicIP)
	}
	exact := map[string]string{"VpcId": in.VpcID, "VSwitchId": in.VSwitchID, "ZoneId": in.Zone, "Status": in.Status,
		"ImageId": in.ImageID, "InstanceType": in.InstanceType}
	for name, have := range exact {
		if p.Has(name) && p.Get(name) != have {
			return false
		}
	}
	// VPC addresses are "private", classic ones "inner".
	private, inner := str(in.PrivateIP), ""
	if in.Classic() {
		private, inner = "", private
	}
	listed := func(list []string, a string) bool { return len(list) == 0 || a != "" && slices.Contains(list, a) }
	return listed(f.ids, in.ID) &&
		(!p.Has("SecurityGroupId") || slices.Contains(in.SecurityGroups, p.Get("SecurityGroupId"))) &&
		(!p.Has("InstanceName") || nameMatches(p.Get("InstanceName"), in.Name)) &&
		(f.network == "" || f.network == networkType(in)) &&
		listed(f.private, private) && listed(f.inner, inner) && listed(f.public, plainPublic) &&
		listed(f.eips, eip) && listed(f.ipv6, str(in.IPv6)) &&
		matchTags(in.Tags, f.tags)
}

// nameMatches matches an InstanceName filter, where * stands for any text.
func nameMatches(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	rest := name[len(parts[0]):]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, part)
		if i < 0 {
			return false
		}
		rest = rest[i+len(part):]
	}
	return strings.HasSuffix(rest, parts[len(parts)-1])
}

// DescribeInstances lists the caller's instances in a region, newest first.
func (s *Service) DescribeInstances(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	pg, err := parsePage(req.Params, 10, 100, 10, 100)
	if err != nil {
		return nil, err
	}
	f, err := parseInstanceFilter(req.Params)
	if err != nil {
		return nil, err
	}
	return view(s, ctx, func(tx store.ReadTx) (*describeInstancesResponse, error) {
		insts, err := list[model.Instance](tx, KindInstance, c)
		if err != nil {
			return nil, err
		}
		slices.SortStableFunc(insts, func(a, b *model.Instance) int {
			if c := b.Created.Compare(a.Created); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		var matched []*model.Instance
		for _, in := range insts {
			if f.match(in) {
				matched = append(matched, in)
			}
		}
		out := &describeInstancesResponse{}
		var pageOf []*model.Instance
		pageOf, out.NextToken = paginate(matched, pg)
		for _, in := range pageOf {
			item, err := s.instanceOut(tx, in)
			if err != nil {
				return nil, err
			}
			out.Instances.Instance = append(out.Instances.Instance, item)
		}
		if !pg.Tokens {
			out.TotalCount, out.PageNumber, out.PageSize = len(matched), pg.Number, pg.Size
		}
		return out, nil
	})
}

type describeInstanceAttributeResponse struct {
	rpc.Base
	InstanceId              string
	InstanceName            string
	Description             string
	HostName                string
	ImageId                 string
	InstanceType            string
	RegionId                string
	ZoneId                  string
	Status                  string
	InstanceNetworkType     string
	CreationTime            string
	ExpiredTime             string
	InstanceChargeType      string
	InternetChargeType      string
	InternetMaxBandwidthIn  int
	InternetMaxBandwidthOut int
	Cpu                     int
	Memory                  int
	SerialNumber            string
	StoppedMode             string
	IoOptimized             string
	ClusterId               string
	VlanId                  string
	CreditSpecification     string
	EnableJumboFrame        bool
	SecurityGroupIds        struct{ SecurityGroupId []string }
	InnerIpAddress          ipAddressSet
	PublicIpAddress         ipAddressSet
	VpcAttributes           vpcAttributesItem
	EipAddress              struct {
		AllocationId       string
		IpAddress          string
		Bandwidth          int
		InternetChargeType string
	}
	OperationLocks          struct{ LockReason []lockReasonItem }
	PalisadeHost            string // see instanceItem
	PalisadeAppliedRevision int64
}

// DescribeInstanceAttribute returns one instance.
func (s *Service) DescribeInstanceAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	return view(s, ctx, func(tx store.ReadTx) (*describeInstanceAttributeResponse, error) {
		in, err := getInstance(tx, c, req.Params.Get("InstanceId"))
		if err != nil {
			return nil, err
		}
		a, err := addressesOf(tx, in)
		if err != nil {
			return nil, err
		}
		out := &describeInstanceAttributeResponse{InstanceId: in.ID, InstanceName: in.Name, Description: in.Description,
			HostName: hostNameOf(in), ImageId: in.ImageID, InstanceType: in.InstanceType, RegionId: in.Region, ZoneId: in.Zone,
			Status: in.Status, InstanceNetworkType: networkType(in), CreationTime: timeText(in.Created),
			ExpiredTime: "2099-12-31T15:59Z", InstanceChargeType: "PostPaid", InternetChargeType: "PayByTraffic",
			SerialNumber: serialNumber(in), StoppedMode: "Not-applicable", IoOptimized: "optimized",
			InnerIpAddress: ipAddressSet{a.inner}, PublicIpAddress: ipAddressSet{a.public}, VpcAttributes: a.vpc,
			PalisadeHost: in.Host}
		if in.Host != "" {
			out.PalisadeAppliedRevision = s.AppliedRevision(in.Host)
		}
		out.SecurityGroupIds.SecurityGroupId = slices.Clone(in.SecurityGroups)
		out.EipAddress.AllocationId, out.EipAddress.IpAddress = a.eip.AllocationId, a.eip.IpAddress
		out.EipAddress.Bandwidth, out.EipAddress.InternetChargeType = a.eip.Bandwidth, a.eip.InternetChargeType
		return out, nil
	})
}

// --- lifecycle ---

// changeStatus moves an instance from one status to another, refusing any
// other starting status.
func (s *Service) changeStatus(ctx context.Context, req *rpc.Request, from, to string) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		in, err := getInstance(tx, c, req.Params.Get("InstanceId"))
		if err != nil {
			return nil, err
		}
		if in.Status != from {
			return nil, ecserr.Forbidden("IncorrectInstanceStatus", "Instance %s is %s; %s needs a %s instance.", in.ID, in.Status, req.Action, from)
		}
		in.Status = to
		return &rpc.Base{}, putInstance(tx, in)
	})
}

// StartInstance starts a stopped instance.
func (s *Service) StartInstance(ctx context.Context, req *rpc.Request) (any, error) {
	return s.changeStatus(ctx, req, model.StatusStopped, model.StatusRunning)
}

// StopInstance stops a running instance.
func (s *Service) StopInstance(ctx context.Context, req *rpc.Request) (any, error) {
	return s.changeStatus(ctx, req, model.StatusRunning, model.StatusStopped)
}

// DeleteInstance deletes a stopped instance (any instance with Force=true);
// its EIP stays allocated but unbound, its plain public IP returns to the
// pool.
func (s *Service) DeleteInstance(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	force, e := req.Params.Bool("Force", false)
	if e != nil {
		return nil, e
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		in, err := getInstance(tx, c, req.Params.Get("InstanceId"))
		if err != nil {
			return nil, err
		}
		if in.Status != model.StatusStopped && !force {
			return nil, ecserr.Forbidden("IncorrectInstanceStatus", "Instance %s is %s; stop it first or pass Force=true.", in.ID, in.Status)
		}
		if in.EipID != "" {
			eip, ok, err := store.GetAs[model.EIP](tx, KindEIP, in.EipID)
			if err != nil {
				return nil, err
			}
			if ok {
				eip.Status, eip.InstanceID = EipAvailable, ""
				if err := putEIP(tx, &eip); err != nil {
					return nil, err
				}
			}
		}
		return &rpc.Base{}, tx.Delete(KindInstance, in.ID)
	})
}

// ModifyInstanceAttribute renames an instance, changes its description, or
// replaces its whole set of security groups with SecurityGroupIds.N.
func (s *Service) ModifyInstanceAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	p := req.Params
	// HostName is checked but not kept: the model has no field for it, and
	// responses derive the host name from the instance ID.
	if err := validateInstanceText(p); err != nil {
		return nil, err
	}
	groups := p.List("SecurityGroupIds")
	if err := checkRepeats(groups); err != nil {
		return nil, err
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		in, err := getInstance(tx, c, p.Get("InstanceId"))
		if err != nil {
			return nil, err
		}
		if len(groups) > 0 {
			if in.Classic() {
				return nil, ecserr.BadRequest("InvalidNetworkType.NotSupported", "Instance %s is on the classic network, whose instances cannot change security groups this way; use JoinSecurityGroup and LeaveSecurityGroup.", in.ID)
			}
			if len(groups) > model.MaxGroupsPerInstance {
				return nil, ecserr.BadRequest("JoinedGroupLimitExceed", "Instance %s would be in %d security groups; the limit is %d.", in.ID, len(groups), model.MaxGroupsPerInstance)
			}
			if err := setGroups(tx, caller{Account: c.Account, Region: in.Region}, in, groups, 1); err != nil {
				return nil, err
			}
		}
		if p.Has("InstanceName") {
			in.Name = p.Get("InstanceName")
		}
		if p.Has("Description") {
			in.Description = p.Get("Description")
		}
		return &rpc.Base{}, putInstance(tx, in)
	})
}
