package scenario

import "gopkg.in/yaml.v3"

// The file as written. Field names follow the ECS API in lowerCamelCase.

type file struct {
	Name           Field              `yaml:"name"`
	Description    Field              `yaml:"description"`
	VPCs           []vpcDoc           `yaml:"vpcs"`
	PrefixLists    []prefixListDoc    `yaml:"prefixLists"`
	PortRangeLists []portRangeListDoc `yaml:"portRangeLists"`
	SecurityGroups []groupDoc         `yaml:"securityGroups"`
	Instances      []instanceDoc      `yaml:"instances"`
	Flows          []flowDoc          `yaml:"flows"`
}

type vpcDoc struct {
	Line          int      `yaml:"-"`
	VpcID         Field    `yaml:"vpcId"`
	CidrBlock     Field    `yaml:"cidrBlock"`
	Ipv6CidrBlock Field    `yaml:"ipv6CidrBlock"`
	VpcName       Field    `yaml:"vpcName"`
	Tags          *tagsDoc `yaml:"tags"`
}

type prefixListDoc struct {
	Line           int     `yaml:"-"`
	PrefixListID   Field   `yaml:"prefixListId"`
	PrefixListName Field   `yaml:"prefixListName"`
	AddressFamily  Field   `yaml:"addressFamily"`
	MaxEntries     Field   `yaml:"maxEntries"`
	Entries        []Field `yaml:"entries"`
}

type portRangeListDoc struct {
	Line              int     `yaml:"-"`
	PortRangeListID   Field   `yaml:"portRangeListId"`
	PortRangeListName Field   `yaml:"portRangeListName"`
	Description       Field   `yaml:"description"`
	MaxEntries        Field   `yaml:"maxEntries"`
	Entries           []Field `yaml:"entries"` // "start/end"
}

type groupDoc struct {
	Line              int             `yaml:"-"`
	SecurityGroupID   Field           `yaml:"securityGroupId"`
	SecurityGroupName Field           `yaml:"securityGroupName"`
	Description       Field           `yaml:"description"`
	SecurityGroupType Field           `yaml:"securityGroupType"`
	VpcID             Field           `yaml:"vpcId"`
	OwnerID           Field           `yaml:"ownerId"`
	InnerAccessPolicy Field           `yaml:"innerAccessPolicy"`
	Tags              *tagsDoc        `yaml:"tags"`
	Permissions       []permissionDoc `yaml:"permissions"`
}

type permissionDoc struct {
	Line                    int   `yaml:"-"`
	Direction               Field `yaml:"direction"`
	Policy                  Field `yaml:"policy"`
	Priority                Field `yaml:"priority"`
	IpProtocol              Field `yaml:"ipProtocol"`
	PortRange               Field `yaml:"portRange"`
	PortRangeListId         Field `yaml:"portRangeListId"`
	SourcePortRange         Field `yaml:"sourcePortRange"`
	SourceCidrIp            Field `yaml:"sourceCidrIp"`
	Ipv6SourceCidrIp        Field `yaml:"ipv6SourceCidrIp"`
	SourceGroupId           Field `yaml:"sourceGroupId"`
	SourceGroupOwnerId      Field `yaml:"sourceGroupOwnerId"`
	SourceGroupOwnerAccount Field `yaml:"sourceGroupOwnerAccount"`
	SourcePrefixListId      Field `yaml:"sourcePrefixListId"`
	DestCidrIp              Field `yaml:"destCidrIp"`
	Ipv6DestCidrIp          Field `yaml:"ipv6DestCidrIp"`
	DestGroupId             Field `yaml:"destGroupId"`
	DestGroupOwnerId        Field `yaml:"destGroupOwnerId"`
	DestGroupOwnerAccount   Field `yaml:"destGroupOwnerAccount"`
	DestPrefixListId        Field `yaml:"destPrefixListId"`
	NicType                 Field `yaml:"nicType"`
	Description             Field `yaml:"description"`
}

type instanceDoc struct {
	Line             int      `yaml:"-"`
	InstanceID       Field    `yaml:"instanceId"`
	InstanceName     Field    `yaml:"instanceName"`
	VpcID            Field    `yaml:"vpcId"`
	PrivateIPAddress Field    `yaml:"privateIpAddress"`
	Ipv6Address      Field    `yaml:"ipv6Address"`
	PublicIPAddress  Field    `yaml:"publicIpAddress"`
	SecurityGroupIDs []Field  `yaml:"securityGroupIds"`
	Tags             *tagsDoc `yaml:"tags"`
	// NetworkInterfaces are the instance's secondary ENIs.
	NetworkInterfaces []eniDoc `yaml:"networkInterfaces"`
}

// eniDoc is a secondary ENI attached to its instance.
type eniDoc struct {
	Line               int     `yaml:"-"`
	NetworkInterfaceID Field   `yaml:"networkInterfaceId"`
	VSwitchID          Field   `yaml:"vSwitchId"`
	PrimaryIPAddress   Field   `yaml:"primaryIpAddress"`
	Ipv6Address        Field   `yaml:"ipv6Address"`
	SecurityGroupIDs   []Field `yaml:"securityGroupIds"`
}

type flowDoc struct {
	Line       int   `yaml:"-"`
	From       Field `yaml:"from"`
	To         Field `yaml:"to"`
	IpProtocol Field `yaml:"ipProtocol"`
	Port       Field `yaml:"port"`
	SourcePort Field `yaml:"sourcePort"`
	IPVersion  Field `yaml:"ipVersion"`
	Expect     Field `yaml:"expect"`
	Why        Field `yaml:"why"`
}

func (d *vpcDoc) UnmarshalYAML(n *yaml.Node) (err error) {
	type plain vpcDoc
	d.Line, err = decodeStrict(n, (*plain)(d))
	return
}

func (d *prefixListDoc) UnmarshalYAML(n *yaml.Node) (err error) {
	type plain prefixListDoc
	d.Line, err = decodeStrict(n, (*plain)(d))
	return
}

func (d *portRangeListDoc) UnmarshalYAML(n *yaml.Node) (err error) {
	type plain portRangeListDoc
	d.Line, err = decodeStrict(n, (*plain)(d))
	return
}

func (d *groupDoc) UnmarshalYAML(n *yaml.Node) (err error) {
	type plain groupDoc
	d.Line, err = decodeStrict(n, (*plain)(d))
	return
}

func (d *permissionDoc) UnmarshalYAML(n *yaml.Node) (err error) {
	type plain permissionDoc
	d.Line, err = decodeStrict(n, (*plain)(d))
	return
}

func (d *instanceDoc) UnmarshalYAML(n *yaml.Node) (err error) {
	type plain instanceDoc
	d.Line, err = decodeStrict(n, (*plain)(d))
	return
}

func (d *eniDoc) UnmarshalYAML(n *yaml.Node) (err error) {
	type plain eniDoc
	d.Line, err = decodeStrict(n, (*plain)(d))
	return
}

func (d *flowDoc) UnmarshalYAML(n *yaml.Node) (err error) {
	type plain flowDoc
	d.Line, err = decodeStrict(n, (*plain)(d))
	return
}
