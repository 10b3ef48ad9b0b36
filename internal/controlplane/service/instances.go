package service

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// classicPool is the shared classic network: classic instances of every
// account in a region take their private addresses from it.
var classicPool = model.ClassicNetwork

// Limits of the instance actions.
const (
	MaxLaunchAmount        = 100 // instances of one RunInstances
	MaxBandwidthOut        = 100 // Mbit/s
	MaxInstanceFilterItems = 100 // entries of one instance ID or address list filter
)

// CheckFilterItems refuses a list parameter (param) of more than max
// entries: e.g. an instance ID list over MaxInstanceFilterItems.
func CheckFilterItems(param string, n, max int) error {
	if n > max {
		return ecserr.InvalidParameter(param, fmt.Sprintf("it takes at most %d entries", max))
	}
	return nil
}

// LaunchInput is a RunInstances (Amount instances) or CreateInstance (one)
// request. Addresses are text, as requests give them: the service says
// what is wrong with them.
type LaunchInput struct {
	Caller       Caller
	Amount       int    // 1 to MaxLaunchAmount (RunInstances; CreateInstance makes one)
	ImageID      string // required
	InstanceType string // required
	Name         string
	Description  string
	HostName     string // checked, not kept: responses derive it from the ID
	ZoneID       string // optional with a vSwitch; its zone without
	VSwitchID    string // "" launches into the classic network
	PrivateIP    string // pinned IPv4 address (Amount 1 only)
	IPv6Count    int    // 0 to the instance type's EniIpv6AddressQuantity
	IPv6         []string
	// BandwidthOut (Mbit/s) gives RunInstances instances a public IP when
	// positive.
	BandwidthOut int
	// SecurityGroupID or SecurityGroupIDs: the groups of every instance.
	SecurityGroupID  string
	SecurityGroupIDs []string
	Tags             []model.Tag
	// SystemDisk.*: its category and size (0: ECS's defaults), name and
	// description, kept for DescribeDisks.
	SystemDisk model.SystemDisk
	// UserData, Base64 (at most model.MaxUserData bytes decoded), kept for
	// DescribeUserData.
	UserData string
	// Metadata: HttpEndpoint, HttpTokens and HttpPutResponseHopLimit
	// (zero: ECS's defaults), kept for DescribeInstances.
	Metadata model.MetadataOptions
	// KeyPairName names a key pair of the caller's region (checked in
	// the write); AutoReleaseTime (ISO 8601 UTC, yyyy-MM-ddTHH:mm[:ss]Z)
	// and CreditSpecification (Standard or Unlimited) are kept and
	// answered by DescribeInstances. Omitted when empty, so a ClientToken
	// kept from before they were read still matches.
	KeyPairName         string `json:",omitempty"`
	AutoReleaseTime     string `json:",omitempty"`
	CreditSpecification string `json:",omitempty"`
	DryRun              bool   // check everything, create nothing: answers DryRunOperation
	Idempotency         `json:"-"`
}

// launchSpec is a checked launch.
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
	ipv6         []netip.Addr // pinned, or none
	bandwidthOut int
	groups       []string
	tags         []model.Tag
	systemDisk   model.SystemDisk
	userData     string
	metadata     model.MetadataOptions
	keyPairName  string
	autoRelease  string // as given; launch checks it
	credit       string
	dryRun       bool
}

// parseLaunch checks what a launch says on its own; multi allows Amount.
func parseLaunch(in *LaunchInput, multi bool) (*launchSpec, error) {
	sp := &launchSpec{amount: 1, imageID: in.ImageID, instanceType: in.InstanceType, name: in.Name,
		description: in.Description, zone: in.ZoneID, vswitchID: in.VSwitchID, dryRun: in.DryRun}
	for _, f := range []struct{ name, v string }{{"ImageId", in.ImageID}, {"InstanceType", in.InstanceType}} {
		if f.v == "" {
			return nil, ecserr.MissingParameter(f.name)
		}
	}
	// Both are stored and sent to every agent: their shapes bound them.
	if e := model.ValidateImageID(in.ImageID); e != nil {
		return nil, e
	}
	if e := model.ValidateInstanceType(in.InstanceType); e != nil {
		return nil, e
	}
	if multi {
		sp.amount = in.Amount
		if sp.amount < 1 || sp.amount > MaxLaunchAmount {
			return nil, ecserr.InvalidParameter("Amount", fmt.Sprintf("it must be from 1 to %d", MaxLaunchAmount))
		}
	}
	if err := validateInstanceText(in.Name, in.Description, in.HostName); err != nil {
		return nil, err
	}
	if in.PrivateIP != "" {
		a, err := parsePinnedIP(in.PrivateIP)
		if err != nil {
			return nil, err
		}
		if sp.amount > 1 {
			return nil, ecserr.InvalidParameter("PrivateIpAddress", "a fixed address can only be given with Amount=1")
		}
		sp.privateIP = a
	}
	sp.ipv6Count = in.IPv6Count
	if sp.ipv6Count < 0 || sp.ipv6Count > MaxIPv6PerCall {
		return nil, ecserr.InvalidParameter("Ipv6AddressCount", fmt.Sprintf("it is 0 to %d", MaxIPv6PerCall))
	}
	if six := in.IPv6; len(six) > 0 {
		if sp.ipv6Count > 0 {
			return nil, ecserr.InvalidParameter("Ipv6Address.N", "give Ipv6Address.N or Ipv6AddressCount, not both")
		}
		if sp.amount > 1 {
			return nil, ecserr.InvalidParameter("Ipv6Address.N", "a fixed address can only be given with Amount=1")
		}
		a, err := parseIPv6s(six)
		if err != nil {
			return nil, err
		}
		sp.ipv6 = a
	}
	// The instance's primary ENI holds as many as its type allows.
	if want, quota := len(sp.ipv6)+sp.ipv6Count, model.ENIIPv6Quota(in.InstanceType); want > quota {
		return nil, ecserr.Forbidden("InvalidOperation.Ipv6CountExceeded", "%d IPv6 addresses were asked for; a network interface of %s holds at most %d.", want, in.InstanceType, quota)
	}
	sp.bandwidthOut = in.BandwidthOut
	if sp.bandwidthOut < 0 || sp.bandwidthOut > MaxBandwidthOut {
		return nil, ecserr.InvalidParameter("InternetMaxBandwidthOut", fmt.Sprintf("it must be from 0 to %d Mbit/s", MaxBandwidthOut))
	}
	one, many := in.SecurityGroupID, in.SecurityGroupIDs
	switch {
	case one != "" && len(many) > 0:
		return nil, ecserr.InvalidParameter("SecurityGroupIds.N", "give SecurityGroupId or SecurityGroupIds.N, not both")
	case one != "":
		sp.groups = []string{one}
	case len(many) > 0:
		sp.groups = slices.Clone(many)
	default:
		return nil, ecserr.MissingParameter("SecurityGroupId")
	}
	if err := checkRepeats(sp.groups); err != nil {
		return nil, err
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return nil, e
	}
	sp.tags = in.Tags
	if err := checkSystemDisk(in.SystemDisk); err != nil {
		return nil, err
	}
	sp.systemDisk = in.SystemDisk
	if err := checkUserData(in.UserData); err != nil {
		return nil, err
	}
	sp.userData = in.UserData
	if e := model.ValidateMetadataOptions(in.Metadata); e != nil {
		return nil, e
	}
	sp.metadata = in.Metadata
	if in.KeyPairName != "" {
		if e := model.ValidateKeyPairName(in.KeyPairName); e != nil {
			return nil, e
		}
		if e := keyPairImage(in.ImageID); e != nil {
			return nil, e
		}
		sp.keyPairName = in.KeyPairName
	}
	sp.autoRelease = in.AutoReleaseTime // checked against the clock by launch
	if c := in.CreditSpecification; c != "" {
		if e := model.ValidateCreditSpecification(c); e != nil {
			return nil, e
		}
		sp.credit = c
	}
	return sp, nil
}

// checkSystemDisk checks a launch's SystemDisk.* parameters.
func checkSystemDisk(d model.SystemDisk) error {
	if d.Category != "" && !slices.Contains(model.SystemDiskCategories, d.Category) {
		return ecserr.BadRequest("InvalidSystemDiskCategory.ValueNotSupported", "SystemDisk.Category %q is not supported; use one of %s.", d.Category, strings.Join(model.SystemDiskCategories, ", "))
	}
	if d.Size != 0 && (d.Size < model.MinSystemDiskSize || d.Size > model.MaxSystemDiskSize) {
		return ecserr.BadRequest("InvalidSystemDiskSize.ValueNotSupported", "SystemDisk.Size %d is out of range: give %d to %d GiB.", d.Size, model.MinSystemDiskSize, model.MaxSystemDiskSize)
	}
	return cmp.Or(checkName("InvalidSystemDiskName.Malformed", "SystemDisk.DiskName", d.Name),
		checkDescription("InvalidSystemDiskDescription.Malformed", d.Description))
}

// checkUserData checks user data: Base64, at most model.MaxUserData bytes
// decoded, as ECS bounds it.
func checkUserData(u string) error {
	if u == "" {
		return nil
	}
	if base64.StdEncoding.DecodedLen(len(u)) <= model.MaxUserData+2 { // a huge value is not decoded
		raw, err := base64.StdEncoding.DecodeString(u)
		if err != nil {
			return ecserr.BadRequest("InvalidUserData.Base64FormatInvalid", "UserData is not valid Base64; encode the data with standard Base64 (with padding).")
		}
		if len(raw) <= model.MaxUserData {
			return nil
		}
	}
	return ecserr.BadRequest("InvalidUserData.SizeExceeded", "UserData is larger than %d bytes before Base64 encoding; pass a shorter script or fetch the rest from it.", model.MaxUserData)
}

// validateInstanceText checks a name, description and host name when given.
func validateInstanceText(name, description, hostName string) error {
	if err := cmp.Or(checkName("InvalidInstanceName.Malformed", "InstanceName", name), checkDescription("InvalidDescription.Malformed", description)); err != nil {
		return err
	}
	if hostName != "" && !validHostName(hostName) {
		return ecserr.BadRequest("InvalidHostName.Malformed", "HostName %q is not valid: 2 to 64 letters, digits, '.' or '-', not starting or ending with '.' or '-', without '..'.", hostName)
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
	// foreign is the addresses another account holds: nil but in the
	// classic network, which every account shares.
	foreign map[netip.Addr]bool
	where   string // how errors name the space
}

// allocate returns a free IPv4 address of the space: in the shared
// classic network one probed for (probeAddr).
func (sp *addrSpace) allocate() (netip.Addr, bool) {
	if sp.foreign != nil {
		return probeAddr(sp.v4, func(a netip.Addr) bool { return !sp.taken[a] })
	}
	return allocateAddr(sp.v4, sp.taken)
}

// parsePinnedIP reads the PrivateIpAddress of RunInstances,
// CreateInstance and ModifyInstanceVpcAttribute: an IPv4 address.
func parsePinnedIP(s string) (netip.Addr, error) {
	a, ok := model.ParseAddr(s, false)
	if !ok {
		return netip.Addr{}, ecserr.BadRequest("InvalidPrivateIpAddress.Malformed", "PrivateIpAddress %q is not an IPv4 address.", model.Clip(s))
	}
	return a, nil
}

// checkPinnedIP checks the PrivateIpAddress an instance is to have in
// block, the private block of where (a vSwitch, or the classic network):
// in it, assignable, and not taken (as the caller judges it).
func checkPinnedIP(a netip.Addr, block netip.Prefix, where string, taken bool) error {
	switch {
	case !block.Contains(a):
		return ecserr.BadRequest("InvalidPrivateIpAddress.Mismatch", "PrivateIpAddress %s is not in %s (%s).", a, where, block)
	case !model.Assignable(block, a):
		return ecserr.BadRequest("InvalidPrivateIpAddress.Malformed", "PrivateIpAddress %s is reserved: the first address and the last three of %s cannot be assigned.", a, block)
	case taken:
		return ecserr.BadRequest("InvalidPrivateIpAddress.Duplicated", "PrivateIpAddress %s is already used in %s; pick a free address or leave it out.", a, where)
	}
	return nil
}

// launch creates sp.amount instances in status and returns their IDs. With
// publicIP, a positive InternetMaxBandwidthOut also gives each a public IP.
func (s *Service) launch(tx store.Tx, c Caller, sp *launchSpec, status string, publicIP bool) ([]string, error) {
	base := model.Instance{Region: c.Region, Owner: c.Account, Name: sp.name, Description: sp.description,
		ImageID: sp.imageID, InstanceType: sp.instanceType, BandwidthOut: sp.bandwidthOut, Status: status, Created: s.Now(),
		SystemDisk: sp.systemDisk, UserData: sp.userData, Metadata: sp.metadata, KeyPairName: sp.keyPairName,
		CreditSpecification: sp.credit}
	if sp.autoRelease != "" {
		t, e := model.ParseAutoReleaseTime(sp.autoRelease, s.Now())
		if e != nil {
			return nil, e
		}
		base.AutoReleaseTime = t.Format(model.AutoReleaseTimeFormat)
	}
	if sp.keyPairName != "" {
		if _, err := getKeyPair(tx, c, sp.keyPairName); err != nil {
			return nil, err
		}
	}
	// The whole launch fits, or none of it is made.
	held, err := ownedBy(KindInstance, c).count(tx)
	if err != nil {
		return nil, err
	}
	quotas, err := s.quotasOf(tx, c.Account)
	if err != nil {
		return nil, err
	}
	if q := quotas.Instances; held+sp.amount > q {
		return nil, ecserr.Forbidden("QuotaExceed.ElasticQuota", "The number of the specified ECS instances has exceeded the quota: the account has %d instances in %s and may hold %d, so %d more do not fit. Delete instances it no longer needs, or launch fewer.", held, c.Region, q, sp.amount)
	}
	space, err := launchSpace(tx, c, sp, &base)
	if err != nil {
		return nil, err
	}
	if a := sp.privateIP; a.IsValid() {
		// A DryRun, or a plan's preview, does not say whether another
		// account's classic instance holds the address: that would let
		// a tenant map the others' addresses without launching anything.
		taken := space.taken[a] && !((sp.dryRun || s.Previewing) && space.foreign[a])
		if err := checkPinnedIP(a, space.v4, space.where, taken); err != nil {
			return nil, err
		}
	}
	for _, a := range sp.ipv6 {
		switch {
		case !model.Assignable(space.v6, a):
			return nil, ecserr.BadRequest("InvalidIpv6Address.Mismatch", "Ipv6Address %s is not an assignable address of %s (%s).", a, space.where, space.v6)
		case space.taken6[a]:
			return nil, ecserr.BadRequest("InvalidIpv6Address.Duplicated", "Ipv6Address %s is already used in %s.", a, space.where)
		}
	}
	// Every instance of the launch gets the same groups: check the set once,
	// counting the whole batch against the groups' member limits.
	probe := base
	probe.ID = "being launched"
	if err := setGroups(tx, c, &probe, slices.Clone(sp.groups), sp.amount, joinFull); err != nil {
		return nil, err
	}
	var public *publicAddresses
	if publicIP && sp.bandwidthOut > 0 {
		if public, err = publicIPsTaken(tx, c.Account, quotas.PublicIPs); err != nil {
			return nil, err
		}
		// Checked for the whole launch: allocate's own refusal would name
		// the addresses the launch took before it as the account's.
		if public.held+sp.amount > public.quota {
			return nil, ecserr.BadRequest("QuotaExceeded.Eip", "This account holds %d public addresses (EIPs and instances' public IPs, in all regions together) and may hold %d, so the %d this launch asks for do not fit; release some, launch fewer, or launch without InternetMaxBandwidthOut.", public.held, public.quota, sp.amount)
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
			a, ok := space.allocate()
			if !ok {
				return nil, ecserr.BadRequest("InvalidVSwitchId.IpNotEnough", "%s has no free private address left; use another vSwitch or a larger block.", space.where)
			}
			in.PrivateIP = a
		}
		space.taken[in.PrivateIP] = true
		six := slices.Clone(sp.ipv6)
		for _, a := range six {
			space.taken6[a] = true
		}
		for range sp.ipv6Count {
			a, ok := allocateAddr(space.v6, space.taken6)
			if !ok {
				return nil, ecserr.BadRequest("InvalidVSwitchId.IpNotEnough", "%s has no free IPv6 address left.", space.where)
			}
			space.taken6[a] = true
			six = append(six, a)
		}
		in.SetIPv6s(six)
		if public != nil {
			if in.PublicIP, err = public.allocate(); err != nil {
				return nil, err
			}
		}
		in.SecurityGroups = slices.Clone(sp.groups)
		if err := PutInstance(tx, &in); err != nil {
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
func launchSpace(tx store.Tx, c Caller, sp *launchSpec, in *model.Instance) (*addrSpace, error) {
	space := &addrSpace{taken: map[netip.Addr]bool{}, taken6: map[netip.Addr]bool{}}
	wantSix := sp.ipv6Count > 0 || len(sp.ipv6) > 0
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
		space.v4, space.where, space.foreign = classicPool, "the classic network", map[netip.Addr]bool{}
		all, err := store.ListAs[model.Instance](tx, KindInstance, store.Query{Region: c.Region})
		if err != nil {
			return nil, err
		}
		for _, o := range all {
			if o.Classic() {
				space.taken[o.PrivateIP] = true
				if o.Owner != c.Account {
					space.foreign[o.PrivateIP] = true
				}
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
	if space.taken, space.taken6, err = vswitchTaken(tx, c, w.ID); err != nil {
		return nil, err
	}
	return space, nil
}

// The results RunInstances and CreateInstance keep for a ClientToken retry,
// in the JSON shape earlier servers stored (their ECS responses), so a
// retry across an upgrade still finds its first answer.
type (
	runResult struct {
		InstanceIdSets struct{ InstanceIdSet []string }
	}
	createResult struct{ InstanceId string }
)

// RunInstances launches 1 to MaxLaunchAmount running instances and returns
// their IDs.
func (s *Service) RunInstances(ctx context.Context, in LaunchInput) ([]string, error) {
	c := in.Caller
	sp, err := parseLaunch(&in, true)
	if err != nil {
		return nil, err
	}
	res, err := Update(s, ctx, c, "RunInstances", in.Idempotency, in, func(tx store.Tx) (runResult, error) {
		var r runResult
		ids, err := s.launch(tx, c, sp, model.StatusRunning, true)
		r.InstanceIdSets.InstanceIdSet = ids
		return r, err
	})
	return res.InstanceIdSets.InstanceIdSet, err
}

// CreateInstance creates one stopped instance and returns its ID. As in
// ECS it gets no public IP from BandwidthOut; bind an EIP instead.
func (s *Service) CreateInstance(ctx context.Context, in LaunchInput) (string, error) {
	c := in.Caller
	sp, err := parseLaunch(&in, false)
	if err != nil {
		return "", err
	}
	res, err := Update(s, ctx, c, "CreateInstance", in.Idempotency, in, func(tx store.Tx) (createResult, error) {
		ids, err := s.launch(tx, c, sp, model.StatusStopped, false)
		if err != nil {
			return createResult{}, err
		}
		return createResult{InstanceId: ids[0]}, nil
	})
	return res.InstanceId, err
}

// InstanceView is an instance with what its descriptions show besides it.
type InstanceView struct {
	Instance *model.Instance
	EIP      *model.EIP // the bound EIP, if any
	// PolicyInForce tells whether the agent of the instance's host reports
	// having applied the last change to the instance, its secondary ENIs,
	// their groups and the lists their rules name (policyRevision; false
	// without a host or a report). A tenant sees this, not the revision:
	// revisions count every tenant's writes.
	PolicyInForce bool
	ENIs          []*model.NetworkInterface // the attached secondary ENIs
}

func (s *Service) instanceView(tx store.ReadTx, inst *model.Instance) (InstanceView, error) {
	v := InstanceView{Instance: inst}
	var err error
	if v.ENIs, err = enisOf(tx, Caller{Account: inst.Owner, Region: inst.Region}, inst.ID); err != nil {
		return v, err
	}
	if inst.EipID != "" {
		eip, ok, err := store.GetAs[model.EIP](tx, KindEIP, inst.EipID)
		if err != nil {
			return v, err
		}
		if ok {
			v.EIP = &eip
		}
	}
	if inst.Host != "" {
		rev, err := policyRevision(tx, inst, v.ENIs)
		if err != nil {
			return v, err
		}
		v.PolicyInForce = s.AppliedRevision(inst.Host) >= rev
	}
	return v, nil
}

// policyRevision is the revision of the last write to what an instance's
// own policy is made of: the instance, its secondary ENIs, the groups of
// both and the prefix and port range lists their rules name. (A change to
// the members of a group its rules name is not counted: that is another
// instance's write.)
func policyRevision(tx store.ReadTx, inst *model.Instance, enis []*model.NetworkInterface) (int64, error) {
	var rev int64
	get := func(kind store.Kind, id string) (store.Record, bool, error) {
		r, ok, err := tx.Get(kind, id)
		if ok {
			rev = max(rev, r.Revision)
		}
		return r, ok, err
	}
	note := func(kind store.Kind, id string) error {
		_, _, err := get(kind, id)
		return err
	}
	if err := note(KindInstance, inst.ID); err != nil {
		return 0, err
	}
	groups := slices.Clone(inst.SecurityGroups)
	for _, n := range enis {
		if err := note(KindENI, n.ID); err != nil {
			return 0, err
		}
		groups = append(groups, n.SecurityGroups...)
	}
	slices.Sort(groups)
	lists := map[recordKey]bool{}
	for _, id := range slices.Compact(groups) {
		r, ok, err := get(KindGroup, id)
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		g, err := decode[model.SecurityGroup](r)
		if err != nil {
			return 0, err
		}
		maps.Copy(lists, namedBy(g))
	}
	for k := range lists {
		if k.kind == KindGroup {
			continue // a peer group: its members are other instances' writes
		}
		if err := note(k.kind, k.id); err != nil {
			return 0, err
		}
	}
	return rev, nil
}

// DescribeInstancesInput filters the caller's instances; zero fields do not.
type DescribeInstancesInput struct {
	Caller Caller
	// Address and ID lists, at most MaxInstanceFilterItems each. VPC
	// addresses are "private", classic ones "inner"; an EIP's address is
	// in EIPs, a plain public IP in Public.
	IDs, Private, Inner, Public, EIPs, IPv6 []string
	NetworkType                             string // vpc or classic, any case
	VpcID, VSwitchID, ZoneID, Status        string
	ImageID, InstanceType                   string
	KeyPairName                             string // the key pair held (the launch's or AttachKeyPair's)
	SecurityGroupID                         string
	Name                                    string // * stands for any text
	ResourceGroupID                         string // the account's only group, or none
	Tags                                    []model.Tag
	Page                                    Page
}

func (f *DescribeInstancesInput) check() error {
	for _, l := range []struct {
		name string
		v    []string
	}{{"InstanceIds", f.IDs}, {"PrivateIpAddresses", f.Private}, {"InnerIpAddresses", f.Inner}, {"PublicIpAddresses", f.Public}, {"EipAddresses", f.EIPs}} {
		if err := CheckFilterItems(l.name, len(l.v), MaxInstanceFilterItems); err != nil {
			return err
		}
	}
	switch f.NetworkType = strings.ToLower(f.NetworkType); f.NetworkType {
	case "", "vpc", "classic":
	default:
		return ecserr.InvalidParameter("InstanceNetworkType", "it must be vpc or classic")
	}
	if e := model.ValidateTags(f.Tags); e != nil {
		return e
	}
	return nil
}

func (f *DescribeInstancesInput) match(in *model.Instance) bool {
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
	for _, ex := range []struct{ want, have string }{{f.VpcID, in.VpcID}, {f.VSwitchID, in.VSwitchID}, {f.ZoneID, in.Zone},
		{f.Status, in.Status}, {f.ImageID, in.ImageID}, {f.InstanceType, in.InstanceType}, {f.KeyPairName, in.KeyPairName}} {
		if ex.want != "" && ex.want != ex.have {
			return false
		}
	}
	private, inner := str(in.PrivateIP), ""
	network := "vpc"
	if in.Classic() {
		private, inner, network = "", private, "classic"
	}
	listed := func(list []string, a string) bool { return len(list) == 0 || a != "" && slices.Contains(list, a) }
	return listed(f.IDs, in.ID) &&
		(f.SecurityGroupID == "" || slices.Contains(in.SecurityGroups, f.SecurityGroupID)) &&
		(f.Name == "" || nameMatches(f.Name, in.Name)) &&
		(f.ResourceGroupID == "" || f.ResourceGroupID == ResourceGroupID(in.Owner)) &&
		(f.NetworkType == "" || f.NetworkType == network) &&
		listed(f.Private, private) && listed(f.Inner, inner) && listed(f.Public, plainPublic) &&
		listed(f.EIPs, eip) && (len(f.IPv6) == 0 || slices.ContainsFunc(in.IPv6s(), func(a netip.Addr) bool { return slices.Contains(f.IPv6, a.String()) })) &&
		matchTags(in.Tags, f.Tags)
}

// nameMatches matches a name filter (InstanceName, KeyPairName), where
// each * stands for any text, none too.
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

// newestFirst sorts instances as ECS lists them: newest first, then by ID
// (instanceKey ascends along it).
func newestFirst(insts []*model.Instance) {
	slices.SortStableFunc(insts, func(a, b *model.Instance) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// instanceKey is an instance's order key in newestFirst's order.
func instanceKey(in *model.Instance) string {
	return newestKey(in.Created.Unix(), in.Created.Nanosecond(), in.ID)
}

// DescribeInstances returns one page of the caller's instances in a region,
// newest first.
func (s *Service) DescribeInstances(ctx context.Context, in DescribeInstancesInput) (Listing[InstanceView], error) {
	if err := in.check(); err != nil {
		return Listing[InstanceView]{}, err
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[InstanceView], error) {
		matched, err := matchedInstances(tx, &in)
		if err != nil {
			return Listing[InstanceView]{}, err
		}
		out := Listing[InstanceView]{Total: len(matched)}
		var paged []*model.Instance
		paged, out.NextToken = paginateBy(matched, in.Page, instanceKey)
		for _, inst := range paged {
			inst := new(*inst) // the view's value is shared: the answer gets its own
			v, err := s.instanceView(tx, inst)
			if err != nil {
				return Listing[InstanceView]{}, err
			}
			out.Items = append(out.Items, v)
		}
		return out, nil
	})
}

// matchedInstances is the caller's instances of its region that f's
// filters select, newest first, as DescribeInstances and
// DescribeInstanceStatus list them. From a view's snapshot they are the
// view's values: read only.
func matchedInstances(tx store.ReadTx, f *DescribeInstancesInput) ([]*model.Instance, error) {
	c := f.Caller
	var insts []*model.Instance
	if snap, ok := tx.(*view.Snapshot); ok && c.Region != "" {
		insts = instancesIndexed(snap, c, f)
	} else {
		var err error
		if insts, err = list[model.Instance](tx, KindInstance, c); err != nil {
			return nil, err
		}
	}
	// Both lists are the call's own slices: filtered in place.
	insts = slices.DeleteFunc(insts, func(i *model.Instance) bool { return !f.match(i) })
	newestFirst(insts)
	return insts, nil
}

// instancesIndexed is the caller's instances that DescribeInstances'
// filters may select, from the view's indexes: the narrowest of what the
// ID, address, VPC, vSwitch, group and tag filters select (every instance
// of the caller's region when none is given). They are the view's values:
// read only. match still decides.
func instancesIndexed(snap *view.Snapshot, c Caller, f *DescribeInstancesInput) []*model.Instance {
	var cand candidates
	if len(f.IDs) > 0 {
		cand.narrow(uniqSorted(f.IDs))
	}
	for _, addrs := range [][]string{f.Private, f.Inner, f.Public, f.EIPs, f.IPv6} {
		if len(addrs) == 0 {
			continue
		}
		var ids []string
		for _, a := range addrs {
			ids = append(ids, snap.Indexed(KindInstance, byAddr, scoped(c.Account, c.Region, a))...)
		}
		cand.narrow(uniqSorted(ids))
	}
	for _, ix := range []struct{ name, key string }{{byVPC, f.VpcID}, {byVSwitch, f.VSwitchID}, {byGroup, f.SecurityGroupID}} {
		if ix.key != "" {
			cand.narrow(snap.Indexed(KindInstance, ix.name, ix.key))
		}
	}
	for _, t := range f.Tags {
		cand.narrow(snap.Indexed(KindInstance, byTag, tagKey(c.Account, c.Region, t)))
	}
	ids := cand.ids
	if !cand.set {
		ids = snap.IDs(KindInstance, store.Query{Account: c.Account, Region: c.Region})
	}
	out := make([]*model.Instance, 0, len(ids))
	for _, id := range ids {
		r := snap.Record(KindInstance, id)
		if r == nil || r.Account != c.Account || r.Region != c.Region {
			continue
		}
		out = append(out, r.Object.(*model.Instance))
	}
	return out
}

// DescribeInstanceAttribute returns one instance of the caller.
func (s *Service) DescribeInstanceAttribute(ctx context.Context, c Caller, id string) (InstanceView, error) {
	return View(s, ctx, func(tx store.ReadTx) (InstanceView, error) {
		inst, err := GetInstance(tx, c, id)
		if err != nil {
			return InstanceView{}, err
		}
		return s.instanceView(tx, inst)
	})
}

// InstanceRef names an instance of the caller.
type InstanceRef struct {
	Caller      Caller
	InstanceID  string
	StoppedMode string // StopInstance's: StopCharging or KeepCharging ("": KeepCharging)
	Idempotency `json:"-"`
}

// changeStatus moves one instance along tr, as the batch actions move
// each of theirs. Not a batch of one: a ClientToken keeps this input's
// fingerprint and answer, as earlier servers stored them.
func (s *Service) changeStatus(ctx context.Context, in InstanceRef, tr transition) error {
	c := in.Caller
	_, err := Update(s, ctx, c, tr.action, in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		inst, err := GetInstance(tx, c, in.InstanceID)
		if err != nil {
			return struct{}{}, err
		}
		if err := tr.check(inst); err != nil {
			return struct{}{}, err
		}
		tr.move(inst, in.StoppedMode)
		return struct{}{}, PutInstance(tx, inst)
	})
	return err
}

// setStoppedMode keeps the mode a stop names on a stopped instance ("" for
// none: answered as the default, as for an instance stopped before modes
// were kept) and forgets it when the instance runs again.
func setStoppedMode(inst *model.Instance, mode string) {
	inst.StoppedMode = ""
	if inst.Status == model.StatusStopped {
		inst.StoppedMode = mode
	}
}

// StartInstance starts a stopped instance.
func (s *Service) StartInstance(ctx context.Context, in InstanceRef) error {
	tr := startTransition
	tr.action = "StartInstance"
	return s.changeStatus(ctx, in, tr)
}

// StopInstance stops a running instance.
func (s *Service) StopInstance(ctx context.Context, in InstanceRef) error {
	tr := stopTransition
	tr.action = "StopInstance"
	return s.changeStatus(ctx, in, tr)
}

// DeleteInstanceInput names an instance to delete.
type DeleteInstanceInput struct {
	Caller      Caller
	InstanceID  string
	Force       bool // delete it whatever its status
	Idempotency `json:"-"`
}

// DeleteInstance deletes a stopped instance (any with Force); its EIP stays
// allocated but unbound, its plain public IP returns to the pool.
func (s *Service) DeleteInstance(ctx context.Context, in DeleteInstanceInput) error {
	c := in.Caller
	_, err := Update(s, ctx, c, "DeleteInstance", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		inst, err := GetInstance(tx, c, in.InstanceID)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, deleteInstance(tx, c, inst, in.Force)
	})
	return err
}

// deleteInstance deletes inst, stopped unless force; its EIP stays
// allocated but unbound, its ENIs are released.
func deleteInstance(tx store.Tx, c Caller, inst *model.Instance, force bool) error {
	if inst.Status != model.StatusStopped && !force {
		return ecserr.Forbidden("IncorrectInstanceStatus", "Instance %s is %s; stop it first or pass Force=true.", inst.ID, inst.Status)
	}
	if inst.EipID != "" {
		eip, ok, err := store.GetAs[model.EIP](tx, KindEIP, inst.EipID)
		if err != nil {
			return err
		}
		if ok {
			unbindEIP(&eip)
			if err := putEIP(tx, &eip); err != nil {
				return err
			}
		}
	}
	if err := releaseENIs(tx, c, inst.ID); err != nil {
		return err
	}
	return tx.Delete(KindInstance, inst.ID)
}

// ModifyInstanceInput changes an instance: nil fields stay; a non-empty
// SecurityGroupIDs replaces its whole group set (VPC instances only).
type ModifyInstanceInput struct {
	Caller           Caller
	InstanceID       string
	Name             *string
	Description      *string
	HostName         string // checked, not kept
	SecurityGroupIDs []string
	UserData         *string // Base64, as at launch
	// CreditSpecification, Standard or Unlimited, replaces the launch's
	// (omitted when nil, so a ClientToken kept from before still matches).
	CreditSpecification *string `json:",omitempty"`
	Idempotency         `json:"-"`
}

// ModifyInstanceAttribute renames an instance, changes its description or
// user data, or replaces its security groups.
func (s *Service) ModifyInstanceAttribute(ctx context.Context, in ModifyInstanceInput) error {
	c := in.Caller
	var name, desc string
	if in.Name != nil {
		name = *in.Name
	}
	if in.Description != nil {
		desc = *in.Description
	}
	if err := validateInstanceText(name, desc, in.HostName); err != nil {
		return err
	}
	groups := in.SecurityGroupIDs
	if err := checkRepeats(groups); err != nil {
		return err
	}
	if in.UserData != nil {
		if err := checkUserData(*in.UserData); err != nil {
			return err
		}
	}
	if in.CreditSpecification != nil {
		if e := model.ValidateCreditSpecification(*in.CreditSpecification); e != nil {
			return e
		}
	}
	_, err := Update(s, ctx, c, "ModifyInstanceAttribute", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		inst, err := GetInstance(tx, c, in.InstanceID)
		if err != nil {
			return struct{}{}, err
		}
		if len(groups) > 0 {
			if inst.Classic() {
				return struct{}{}, ecserr.BadRequest("InvalidNetworkType.NotSupported", "Instance %s is on the classic network, whose instances cannot change security groups this way; use JoinSecurityGroup and LeaveSecurityGroup.", inst.ID)
			}
			if len(groups) > model.MaxGroupsPerInstance {
				return struct{}{}, ecserr.BadRequest("JoinedGroupLimitExceed", "Instance %s would be in %d security groups; the limit is %d.", inst.ID, len(groups), model.MaxGroupsPerInstance)
			}
			if err := setGroups(tx, Caller{Account: c.Account, Region: inst.Region}, inst, groups, 1, modifyFull); err != nil {
				return struct{}{}, err
			}
		}
		if in.Name != nil {
			inst.Name = *in.Name
		}
		if in.Description != nil {
			inst.Description = *in.Description
		}
		if in.UserData != nil {
			inst.UserData = *in.UserData
		}
		if in.CreditSpecification != nil {
			inst.CreditSpecification = *in.CreditSpecification
		}
		return struct{}{}, PutInstance(tx, inst)
	})
	return err
}

// AutoReleaseInput sets or (AutoReleaseTime "") cancels when an instance
// would be released: kept and answered, never acted on.
type AutoReleaseInput struct {
	Caller          Caller
	InstanceID      string
	AutoReleaseTime string // as RunInstances takes it; "" cancels
	Idempotency     `json:"-"`
}

// ModifyInstanceAutoReleaseTime changes an instance's AutoReleaseTime.
func (s *Service) ModifyInstanceAutoReleaseTime(ctx context.Context, in AutoReleaseInput) error {
	c := in.Caller
	_, err := Update(s, ctx, c, "ModifyInstanceAutoReleaseTime", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		inst, err := GetInstance(tx, c, in.InstanceID)
		if err != nil {
			return struct{}{}, err
		}
		inst.AutoReleaseTime = ""
		if in.AutoReleaseTime != "" {
			t, e := model.ParseAutoReleaseTime(in.AutoReleaseTime, s.Now())
			if e != nil {
				return struct{}{}, e
			}
			inst.AutoReleaseTime = t.Format(model.AutoReleaseTimeFormat)
		}
		return struct{}{}, PutInstance(tx, inst)
	})
	return err
}
