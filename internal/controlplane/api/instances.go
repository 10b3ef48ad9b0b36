package api

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func (s *Service) instanceActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"RunInstances":              s.runInstances,
		"CreateInstance":            s.createInstance,
		"DescribeInstances":         s.describeInstances,
		"DescribeInstanceAttribute": s.describeInstanceAttribute,
		"StartInstance":             s.lifecycle(s.StartInstance),
		"StopInstance":              s.stopInstance,
		"DeleteInstance":            s.deleteInstance,
		"ModifyInstanceAttribute":   s.modifyInstanceAttribute,
		// Kept and answered: Palisade releases no instance by itself.
		"ModifyInstanceAutoReleaseTime": s.modifyInstanceAutoReleaseTime,
		// Kept and answered: Palisade runs no metadata service.
		"ModifyInstanceMetadataOptions": s.modifyInstanceMetadataOptions,
	}
}

// metadataParams reads HttpEndpoint, HttpTokens and
// HttpPutResponseHopLimit (RunInstances, ModifyInstanceMetadataOptions).
func metadataParams(p rpc.Params) (model.MetadataOptions, error) {
	m := model.MetadataOptions{Endpoint: p.Get("HttpEndpoint"), Tokens: p.Get("HttpTokens")}
	var e *ecserr.Error
	if m.HopLimit, e = p.Int("HttpPutResponseHopLimit", 0); e != nil {
		return m, e
	}
	if v := p.Get("InstanceMetadataTags"); v != "" && v != "disabled" {
		// Not kept: the metadata service Palisade does not run would
		// serve them.
		return m, ecserr.BadRequest("OperationUnsupported.InstanceMetadataTags", "Palisade keeps no instance tags in metadata; leave InstanceMetadataTags out (or disabled). Nothing was changed.")
	}
	if p.Has("HttpPutResponseHopLimit") {
		if e := model.CheckHopLimit(m.HopLimit); e != nil {
			return m, e
		}
	}
	return m, nil
}

func (s *Service) modifyInstanceMetadataOptions(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	in := service.MetadataInput{Caller: c, InstanceID: req.Params.Get("InstanceId"), Idempotency: idempotency(req)}
	if in.Options, err = metadataParams(req.Params); err != nil {
		return nil, err
	}
	if err := s.ModifyInstanceMetadata(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

// launchInput reads a RunInstances or CreateInstance request.
func launchInput(c caller, req *rpc.Request) (service.LaunchInput, error) {
	p := req.Params
	in := service.LaunchInput{Caller: c, ImageID: p.Get("ImageId"), InstanceType: p.Get("InstanceType"), Name: p.Get("InstanceName"),
		Description: p.Get("Description"), HostName: p.Get("HostName"), ZoneID: p.Get("ZoneId"), VSwitchID: p.Get("VSwitchId"),
		PrivateIP: p.Get("PrivateIpAddress"), IPv6: p.List("Ipv6Address"), SecurityGroupID: p.Get("SecurityGroupId"),
		SecurityGroupIDs: p.List("SecurityGroupIds"), KeyPairName: p.Get("KeyPairName"), AutoReleaseTime: p.Get("AutoReleaseTime"),
		CreditSpecification: p.Get("CreditSpecification"), Idempotency: idempotency(req)}
	var e *ecserr.Error
	if in.Amount, e = p.Int("Amount", 1); e != nil {
		return in, e
	}
	if in.IPv6Count, e = p.Int("Ipv6AddressCount", 0); e != nil {
		return in, e
	}
	if in.BandwidthOut, e = p.Int("InternetMaxBandwidthOut", 0); e != nil {
		return in, e
	}
	if in.DryRun, e = p.Bool("DryRun", false); e != nil {
		return in, e
	}
	in.SystemDisk.Category, in.SystemDisk.Name, in.SystemDisk.Description = p.Get("SystemDisk.Category"), p.Get("SystemDisk.DiskName"), p.Get("SystemDisk.Description")
	if in.SystemDisk.Size, e = p.Int("SystemDisk.Size", 0); e != nil {
		return in, e
	}
	in.UserData = p.Get("UserData")
	if p.Has("RamRoleName") { // dropped, Terraform's role_name would differ at every plan
		return in, ecserr.BadRequest("OperationUnsupported.RamRole", "Palisade attaches no RAM roles to instances; leave RamRoleName (role_name) out.")
	}
	if p.Get("DeploymentSetId") != "" { // a placement Palisade has no notion of
		return in, ecserr.BadRequest("OperationUnsupported.DeploymentSet", "Palisade has no deployment sets; leave DeploymentSetId (deployment_set_id) out. Nothing was created.").At("DeploymentSetId")
	}
	var err error
	if in.Metadata, err = metadataParams(p); err != nil {
		return in, err
	}
	// Not read: launching without the interfaces and groups it names would
	// answer success for an instance other than the one asked for.
	if len(p.Structs("NetworkInterface")) > 0 {
		return in, ecserr.BadRequest("OperationUnsupported.NetworkInterface", "Palisade launches an instance with one network interface, "+
			"from VSwitchId, SecurityGroupId or SecurityGroupIds.N and PrivateIpAddress; leave NetworkInterface.N out and add interfaces "+
			"with CreateNetworkInterface and AttachNetworkInterface. Nothing was created.")
	}
	if err := service.CheckResourceGroup(c, p.Get("ResourceGroupId")); err != nil {
		return in, err
	}
	if in.Tags, err = tagParams(p); err != nil {
		return in, err
	}
	return in, nil
}

type runInstancesResponse struct {
	rpc.Base
	OrderId        string
	TradePrice     float64
	InstanceIdSets struct{ InstanceIdSet []string }
}

func (s *Service) runInstances(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	in, err := launchInput(c, req)
	if err != nil {
		return nil, err
	}
	ids, err := s.RunInstances(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &runInstancesResponse{}
	out.InstanceIdSets.InstanceIdSet = ids
	return out, nil
}

type createInstanceResponse struct {
	rpc.Base
	InstanceId string
	OrderId    string
	TradePrice float64
}

func (s *Service) createInstance(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	in, err := launchInput(c, req)
	if err != nil {
		return nil, err
	}
	id, err := s.CreateInstance(ctx, in)
	if err != nil {
		return nil, err
	}
	return &createInstanceResponse{InstanceId: id}, nil
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
	// AssociatedPublicIp is the EIP standing for the address, on an ENI's
	// primary address only (DescribeNetworkInterfaces).
	AssociatedPublicIp *associatedPublicIP `json:",omitempty" xml:",omitempty"`
}

type ipv6SetItem struct{ Ipv6Address string }

// ipv6Sets lists a NIC's IPv6 addresses in order, nil when it has none.
func ipv6Sets(addrs []netip.Addr) []ipv6SetItem {
	var out []ipv6SetItem
	for _, a := range addrs {
		out = append(out, ipv6SetItem{a.String()})
	}
	return out
}

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
	InstanceOwnerId         int64 // the account's UID: an import learns the owner from it
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
	instanceSystem
	InstanceTypeFamily string
	instanceTypeFacts
	SerialNumber       string
	ResourceGroupId    string
	StoppedMode        string
	SpotStrategy       string
	IoOptimized        bool
	DeletionProtection bool
	SecurityGroupIds   struct{ SecurityGroupId []string }
	InnerIpAddress     ipAddressSet
	PublicIpAddress    ipAddressSet
	EipAddress         instanceEipItem
	VpcAttributes      vpcAttributesItem
	NetworkInterfaces  struct{ NetworkInterface []networkInterfaceItem }
	OperationLocks     struct{ LockReason []lockReasonItem }
	Tags               tagSet
	MetadataOptions    metadataOptions
	// KeyPairName (the launch's, or AttachKeyPair's), AutoReleaseTime and
	// CreditSpecification as set; "" when none, and KeyPairName then left
	// out, as ECS leaves it out of an instance without one.
	KeyPairName         string `json:",omitempty" xml:",omitempty"`
	AutoReleaseTime     string
	CreditSpecification string
	instanceAbsences
	// Palisade extensions. PalisadeHost is the host whose agent enforces
	// the instance's policy; PalisadePolicyInForce tells whether that
	// agent reports having applied the last change to the instance, its
	// ENIs and their groups (service.InstanceView.PolicyInForce).
	PalisadeHost          string
	PalisadePolicyInForce bool
}

// instanceSystem is what an instance's image says of its system, from the
// catalogue (service.CatalogueImage). RunInstances takes any well-formed
// ImageId: one not catalogued has no names Palisade knows, so OSName and
// OSNameEn are left out (a typed client reads them nil), and its OSType
// reads linux, as every instance's did before it was read from the
// catalogue.
type instanceSystem struct {
	OSName   string `json:",omitempty" xml:",omitempty"`
	OSNameEn string `json:",omitempty" xml:",omitempty"`
	OSType   string
}

func systemOf(imageID string) instanceSystem {
	if im, ok := service.CatalogueImage(imageID); ok {
		return instanceSystem{OSName: im.OSName, OSNameEn: im.OSNameEn, OSType: im.OSType}
	}
	return instanceSystem{OSType: "linux"}
}

// cpuOptions is an instance's CPU topology. The catalogue's types are all
// x86 with two threads a core, as ECS answers them (ecs.g7.large: one core
// of two threads); a type of one vCPU has one core of one thread.
type cpuOptions struct {
	CoreCount      int
	ThreadsPerCore int
	Numa           string // no longer used, ECS says; empty
}

// instanceTypeFacts are what only the instance type's specification
// answers: left out for a type not in instanceTypeSpecs, whose vCPUs and
// GPUs Palisade does not know.
type instanceTypeFacts struct {
	CpuOptions *cpuOptions `json:",omitempty" xml:",omitempty"`
	GPUAmount  *int        `json:",omitempty" xml:",omitempty"`
	GPUSpec    *string     `json:",omitempty" xml:",omitempty"`
}

func typeFactsOf(typ string) instanceTypeFacts {
	spec, ok := instanceTypeSpecs[typ]
	if !ok || spec.cpu == 0 {
		return instanceTypeFacts{}
	}
	threads := 2
	if spec.cpu%2 != 0 {
		threads = 1
	}
	// None of the catalogue's types has a GPU (DescribeInstanceTypes).
	return instanceTypeFacts{CpuOptions: &cpuOptions{CoreCount: spec.cpu / threads, ThreadsPerCore: threads}, GPUAmount: new(0), GPUSpec: new("")}
}

// dedicatedHostAttribute is ECS's "not on a dedicated host": Palisade has
// no dedicated hosts.
type dedicatedHostAttribute struct{ DedicatedHostId, DedicatedHostName string }

// instanceAbsences are the fields ECS writes for an instance that has none
// of what they name, as every Palisade instance has none: no deployment
// set, dedicated host, capacity reservation, VLAN or cluster, no
// hibernation, subscription or spot price, not in the
// recycle bin. ImageOptions and PrivateDnsNameOptions are written empty,
// as ECS writes them for such an instance.
type instanceAbsences struct {
	DeploymentSetId        string
	DedicatedHostAttribute struct {
		dedicatedHostAttribute
		DedicatedHostClusterId string
	}
	DedicatedInstanceAttribute struct{ Tenancy, Affinity string }
	EcsCapacityReservationAttr struct{ CapacityReservationId, CapacityReservationPreference string }
	HibernationOptions         struct{ Configured bool }
	ImageOptions               struct{}
	PrivateDnsNameOptions      struct{}
	VlanId                     string
	ClusterId                  string
	SaleCycle                  string
	SpotPriceLimit             float64
	Recyclable                 bool
}

// metadataOptions is an instance's MetadataOptions: as set, else ECS's
// defaults; the hop limit only once set (ECS leaves it out).
type metadataOptions struct {
	HttpEndpoint, HttpTokens string
	HttpPutResponseHopLimit  int `json:",omitempty" xml:",omitempty"`
}

func metadataOf(in *model.Instance) metadataOptions {
	m := in.MetadataOf()
	return metadataOptions{HttpEndpoint: m.Endpoint, HttpTokens: m.Tokens, HttpPutResponseHopLimit: m.HopLimit}
}

// internetMaxBandwidthIn is what ECS answers for an instance's inbound
// bandwidth, which no longer limits anything (RunInstances'
// InternetMaxBandwidthIn is ignored, as Terraform says ECS ignores it).
const internetMaxBandwidthIn = -1

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

func addressesOf(v service.InstanceView) instanceAddresses {
	in := v.Instance
	var a instanceAddresses
	if in.Classic() {
		a.inner = []string{in.PrivateIP.String()}
	} else {
		a.vpc = vpcAttributesItem{VpcId: in.VpcID, VSwitchId: in.VSwitchID, PrivateIpAddress: ipAddressSet{[]string{in.PrivateIP.String()}}}
	}
	switch {
	case in.EipID != "":
		a.eip = instanceEipItem{AllocationId: in.EipID, IpAddress: in.PublicIP.String(), IsSupportUnassociate: true}
		if eip := v.EIP; eip != nil {
			a.eip.Bandwidth, _ = strconv.Atoi(eip.Bandwidth)
			a.eip.InternetChargeType = eip.ChargeType
		}
	case in.PublicIP.IsValid():
		a.public = []string{in.PublicIP.String()}
	}
	return a
}

func instanceOut(v service.InstanceView) instanceItem {
	in, a := v.Instance, addressesOf(v)
	item := instanceItem{InstanceId: in.ID, InstanceName: in.Name, Description: in.Description, HostName: hostNameOf(in),
		ImageId: in.ImageID, InstanceType: in.InstanceType, RegionId: in.Region, ZoneId: in.Zone, Status: in.Status,
		InstanceNetworkType: networkType(in), CreationTime: timeText(in.Created), StartTime: timeText(in.Created),
		ExpiredTime: "2099-12-31T15:59Z", InstanceChargeType: "PostPaid", InternetChargeType: "PayByTraffic",
		InternetMaxBandwidthOut: in.BandwidthOut, Cpu: instanceTypeSpecs[in.InstanceType].cpu,
		Memory: instanceTypeSpecs[in.InstanceType].memory, instanceSystem: systemOf(in.ImageID),
		InstanceTypeFamily: instanceTypeFamily(in.InstanceType), instanceTypeFacts: typeFactsOf(in.InstanceType),
		SerialNumber: serialNumber(in), ResourceGroupId: resourceGroupID(in.Owner),
		StoppedMode: stoppedModeOf(in), SpotStrategy: "NoSpot", IoOptimized: true, InnerIpAddress: ipAddressSet{a.inner},
		PublicIpAddress: ipAddressSet{a.public}, EipAddress: a.eip, VpcAttributes: a.vpc, Tags: tagsOut(in.Tags),
		MetadataOptions: metadataOf(in), KeyPairName: in.KeyPairName, AutoReleaseTime: in.AutoReleaseTime,
		CreditSpecification: in.CreditSpecification, InternetMaxBandwidthIn: internetMaxBandwidthIn, PalisadeHost: in.Host}
	item.PalisadePolicyInForce = v.PolicyInForce
	item.InstanceOwnerId = ownerID(in.Owner)
	item.SecurityGroupIds.SecurityGroupId = slices.Clone(in.SecurityGroups)
	if !in.Classic() { // classic instances have no ENI
		nic := networkInterfaceItem{NetworkInterfaceId: eniID(in), Type: "Primary", MacAddress: macAddress(in),
			PrimaryIpAddress: in.PrivateIP.String(), VSwitchId: in.VSwitchID}
		nic.SecurityGroupIds.SecurityGroupId = slices.Clone(in.SecurityGroups)
		nic.PrivateIpSets.PrivateIpSet = privateIPSets(in.PrivateIP, in.SecondaryIPs)
		nic.Ipv6Sets.Ipv6Set = ipv6Sets(in.IPv6s())
		item.NetworkInterfaces.NetworkInterface = []networkInterfaceItem{nic}
		for _, n := range v.ENIs { // the secondary ENIs, each with its own groups
			sec := networkInterfaceItem{NetworkInterfaceId: n.ID, Type: n.Type, MacAddress: n.MAC,
				PrimaryIpAddress: n.PrivateIP.String(), VSwitchId: n.VSwitchID}
			sec.SecurityGroupIds.SecurityGroupId = slices.Clone(n.SecurityGroups)
			sec.PrivateIpSets.PrivateIpSet = privateIPSets(n.PrivateIP, n.SecondaryIPs)
			sec.Ipv6Sets.Ipv6Set = ipv6Sets(n.IPv6s())
			item.NetworkInterfaces.NetworkInterface = append(item.NetworkInterfaces.NetworkInterface, sec)
		}
	}
	return item
}

type describeInstancesResponse struct {
	rpc.Base
	NextToken string
	// nil under token paging; see describeSecurityGroupsResponse.
	TotalCount *int `json:",omitempty" xml:",omitempty"`
	PageNumber *int `json:",omitempty" xml:",omitempty"`
	PageSize   *int `json:",omitempty" xml:",omitempty"`
	Instances  struct{ Instance []instanceItem }
}

func (s *Service) describeInstances(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := parsePage(p, 10, 100, 10, 100)
	if err != nil {
		return nil, err
	}
	in := service.DescribeInstancesInput{Caller: c, IPv6: p.List("Ipv6Address"), NetworkType: p.Get("InstanceNetworkType"),
		VpcID: p.Get("VpcId"), VSwitchID: p.Get("VSwitchId"), ZoneID: p.Get("ZoneId"), Status: p.Get("Status"),
		ImageID: p.Get("ImageId"), InstanceType: p.Get("InstanceType"), KeyPairName: p.Get("KeyPairName"), SecurityGroupID: p.Get("SecurityGroupId"),
		Name: p.Get("InstanceName"), ResourceGroupID: p.Get("ResourceGroupId"), Page: pg}
	for _, l := range []struct {
		name string
		dst  *[]string
	}{{"InstanceIds", &in.IDs}, {"PrivateIpAddresses", &in.Private}, {"InnerIpAddresses", &in.Inner},
		{"PublicIpAddresses", &in.Public}, {"EipAddresses", &in.EIPs}} {
		v, e := p.JSONList(l.name)
		if e != nil {
			return nil, e
		}
		*l.dst = v
	}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	res, err := s.DescribeInstances(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describeInstancesResponse{NextToken: res.NextToken}
	for _, v := range res.Items {
		out.Instances.Instance = append(out.Instances.Instance, instanceOut(v))
	}
	if !pg.Tokens {
		out.TotalCount, out.PageNumber, out.PageSize = new(res.Total), new(pg.Number), new(pg.Size)
	}
	return out, nil
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
	EnableNetworkEncryption bool // Palisade encrypts no traffic between instances
	// NetworkOptions repeats the two; BandwidthWeighting, which only some
	// types take, is left out.
	NetworkOptions         struct{ EnableJumboFrame, EnableNetworkEncryption bool }
	DedicatedHostAttribute dedicatedHostAttribute
	SecurityGroupIds       struct{ SecurityGroupId []string }
	InnerIpAddress         ipAddressSet
	PublicIpAddress        ipAddressSet
	VpcAttributes          vpcAttributesItem
	EipAddress             struct {
		AllocationId       string
		IpAddress          string
		Bandwidth          int
		InternetChargeType string
	}
	OperationLocks        struct{ LockReason []lockReasonItem }
	PalisadeHost          string // see instanceItem
	PalisadePolicyInForce bool
}

func (s *Service) describeInstanceAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	v, err := s.DescribeInstanceAttribute(ctx, c, req.Params.Get("InstanceId"))
	if err != nil {
		return nil, err
	}
	in, a := v.Instance, addressesOf(v)
	out := &describeInstanceAttributeResponse{InstanceId: in.ID, InstanceName: in.Name, Description: in.Description,
		HostName: hostNameOf(in), ImageId: in.ImageID, InstanceType: in.InstanceType, RegionId: in.Region, ZoneId: in.Zone,
		Status: in.Status, InstanceNetworkType: networkType(in), CreationTime: timeText(in.Created),
		ExpiredTime: "2099-12-31T15:59Z", InstanceChargeType: "PostPaid", InternetChargeType: "PayByTraffic",
		InternetMaxBandwidthOut: in.BandwidthOut, Cpu: instanceTypeSpecs[in.InstanceType].cpu,
		Memory: instanceTypeSpecs[in.InstanceType].memory, SerialNumber: serialNumber(in), StoppedMode: stoppedModeOf(in), IoOptimized: "optimized",
		InnerIpAddress: ipAddressSet{a.inner}, PublicIpAddress: ipAddressSet{a.public}, VpcAttributes: a.vpc,
		CreditSpecification: in.CreditSpecification, InternetMaxBandwidthIn: internetMaxBandwidthIn, PalisadeHost: in.Host}
	out.PalisadePolicyInForce = v.PolicyInForce
	out.SecurityGroupIds.SecurityGroupId = slices.Clone(in.SecurityGroups)
	out.EipAddress.AllocationId, out.EipAddress.IpAddress = a.eip.AllocationId, a.eip.IpAddress
	out.EipAddress.Bandwidth, out.EipAddress.InternetChargeType = a.eip.Bandwidth, a.eip.InternetChargeType
	return out, nil
}

// lifecycle serves Start and StopInstance.
func (s *Service) lifecycle(act func(context.Context, service.InstanceRef) error) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		c, err := s.callerOf(ctx, req, false)
		if err != nil {
			return nil, err
		}
		if err := act(ctx, service.InstanceRef{Caller: c, InstanceID: req.Params.Get("InstanceId"), Idempotency: idempotency(req)}); err != nil {
			return nil, err
		}
		return &rpc.Base{}, nil
	}
}

// stopInstance serves StopInstance, which also takes StoppedMode.
func (s *Service) stopInstance(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	mode, e := stoppedMode(req.Params)
	if e != nil {
		return nil, e
	}
	in := service.InstanceRef{Caller: c, InstanceID: req.Params.Get("InstanceId"), StoppedMode: mode, Idempotency: idempotency(req)}
	if err := s.StopInstance(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

func (s *Service) deleteInstance(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	force, e := req.Params.Bool("Force", false)
	if e != nil {
		return nil, e
	}
	if err := s.DeleteInstance(ctx, service.DeleteInstanceInput{Caller: c, InstanceID: req.Params.Get("InstanceId"), Force: force, Idempotency: idempotency(req)}); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

func (s *Service) modifyInstanceAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.ModifyInstanceInput{Caller: c, InstanceID: p.Get("InstanceId"), HostName: p.Get("HostName"),
		SecurityGroupIDs: p.List("SecurityGroupIds"), Idempotency: idempotency(req)}
	if p.Has("InstanceName") {
		in.Name = new(p.Get("InstanceName"))
	}
	if p.Has("Description") {
		in.Description = new(p.Get("Description"))
	}
	if p.Has("UserData") {
		in.UserData = new(p.Get("UserData"))
	}
	if p.Has("CreditSpecification") {
		in.CreditSpecification = new(p.Get("CreditSpecification"))
	}
	if err := s.ModifyInstanceAttribute(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

func (s *Service) modifyInstanceAutoReleaseTime(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false) // RegionId optional, as for ModifyInstanceAttribute
	if err != nil {
		return nil, err
	}
	p := req.Params
	if err := s.ModifyInstanceAutoReleaseTime(ctx, service.AutoReleaseInput{Caller: c, InstanceID: p.Get("InstanceId"),
		AutoReleaseTime: p.Get("AutoReleaseTime"), Idempotency: idempotency(req)}); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}
