// Package scenario reads scenario files (a small cloud and the flows it must
// pass or drop; see testdata/scenarios/FORMAT.md) into model resources,
// validating them with the same model code the API uses, and checks each
// flow with the policy engine.
package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// DefaultOwner is the account of resources that name none: the first account.
const DefaultOwner = "1000000000000001"

// Scenario is a loaded, valid scenario.
type Scenario struct {
	File        string
	Name        string
	VPCs        []*model.VPC
	PrefixLists []*model.PrefixList
	// PortRangeLists are the lists rules may take their ports from.
	PortRangeLists []*model.PortRangeList
	Groups         []*model.SecurityGroup
	Instances      []*model.Instance
	ENIs           []*model.NetworkInterface // secondary ENIs, attached to their instances
	Flows          []Flow
	RuleLines      map[string]int // rule ID → line of its permission
}

// Flow is a flow with the verdict it must get.
type Flow struct {
	policy.Flow
	Expect policy.Verdict
	Why    string
	Line   int
}

// Cloud is the scenario as the policy engine sees it.
func (s *Scenario) Cloud() *policy.Cloud {
	return policy.NewCloud(s.Groups, s.NICs(), s.PrefixLists).WithPortRangeLists(s.PortRangeLists)
}

// NICs are the scenario's network interfaces as the policy engine judges
// them: the instances (their primary ENIs), then the secondary ENIs.
func (s *Scenario) NICs() []*model.Instance { return model.NICs(s.Instances, s.ENIs) }

// Load reads and validates a scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse validates a scenario; errors are *Error with the file, line and field.
func Parse(name string, data []byte) (*Scenario, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) { // no document at all: the decoder says only "EOF"
			return nil, &Error{File: name, Msg: "the file is empty; a scenario names its vpcs, securityGroups, instances and flows (see FORMAT.md)"}
		}
		if e := colonValue(name, data, err); e != nil {
			return nil, e
		}
		return nil, yamlError(name, err)
	}
	// One scenario per file: a second document (after ---) was ignored
	// without a word, its flows never checked.
	var next yaml.Node
	if err := dec.Decode(&next); err == nil && len(next.Content) > 0 && !(next.Content[0].Kind == yaml.ScalarNode && next.Content[0].Tag == "!!null") {
		return nil, &Error{File: name, Line: next.Content[0].Line, Msg: "a second YAML document: a file holds one scenario; put this one in a file of its own"}
	} else if err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(name, err)
	}
	var f file
	if len(root.Content) == 0 {
		return nil, &Error{File: name, Msg: "the file is empty; a scenario names its vpcs, securityGroups, instances and flows (see FORMAT.md)"}
	}
	type plain file
	if _, err := decodeStrict(root.Content[0], (*plain)(&f)); err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.File = name
			return nil, e
		}
		return nil, yamlError(name, err)
	}
	b := &builder{s: &Scenario{File: name, Name: f.Name.Value, RuleLines: map[string]int{}}, file: name,
		vpcs: map[string]*model.VPC{}, groups: map[string]*model.SecurityGroup{}, pls: map[string]*model.PrefixList{}, prls: map[string]*model.PortRangeList{}}
	if err := b.build(&f); err != nil {
		return nil, err
	}
	return b.s, nil
}

type builder struct {
	s      *Scenario
	file   string
	vpcs   map[string]*model.VPC
	groups map[string]*model.SecurityGroup
	pls    map[string]*model.PrefixList
	prls   map[string]*model.PortRangeList
}

func (b *builder) fail(line int, field, format string, args ...any) error {
	return &Error{File: b.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// fromModel reports a model error at the field it names, or at the item.
func (b *builder) fromModel(e *ecserr.Error, itemLine int, fields map[string]Field) error {
	line, field := itemLine, ""
	if e.Field != "" {
		field = lowerFirst(e.Field)
		if f, ok := fields[field]; ok && f.Set() {
			line = f.Line
		}
	}
	return &Error{File: b.file, Line: line, Field: field, Msg: e.Message + " (" + e.Code + ")"}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

func required(b *builder, f Field, itemLine int, name string) error {
	if strings.TrimSpace(f.Value) == "" {
		return b.fail(itemLine, name, "is required")
	}
	return nil
}

// created is when every resource of a scenario was made: a fixed time, so
// that what a scenario builds is the same on every run.
var created = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// build turns the decoded file into the scenario, in dependency order:
// VPCs and prefix lists, groups (all of them before any rule, so that rules
// can name any group), their rules, instances, and the flows to check.
func (b *builder) build(f *file) error {
	for _, d := range f.VPCs {
		if err := b.addVPC(&d); err != nil {
			return err
		}
	}
	for _, d := range f.PrefixLists {
		if err := b.addPrefixList(&d); err != nil {
			return err
		}
	}
	for _, d := range f.PortRangeLists {
		if err := b.addPortRangeList(&d); err != nil {
			return err
		}
	}
	for _, d := range f.SecurityGroups {
		if err := b.addGroup(&d); err != nil {
			return err
		}
	}
	if err := b.addRules(f.SecurityGroups); err != nil {
		return err
	}
	x := &addressIndex{ids: map[string]bool{}, privates: map[string]string{}, publics: map[netip.Addr]string{}, nics: map[netip.Addr]string{}}
	for _, d := range f.Instances {
		if err := b.addInstance(&d, x); err != nil {
			return err
		}
	}
	return b.addFlows(f.Flows, x)
}

func (b *builder) addVPC(d *vpcDoc) error {
	if err := required(b, d.VpcID, d.Line, "vpcId"); err != nil {
		return err
	}
	if err := required(b, d.CidrBlock, d.Line, "cidrBlock"); err != nil {
		return err
	}
	if b.vpcs[d.VpcID.Value] != nil {
		return b.fail(d.VpcID.Line, "vpcId", "VPC %s is defined twice", d.VpcID.Value)
	}
	cidr, err := netip.ParsePrefix(d.CidrBlock.Value)
	if err != nil || !cidr.Addr().Is4() {
		return b.fail(d.CidrBlock.Line, "cidrBlock", "%q is not an IPv4 CIDR block", d.CidrBlock.Value)
	}
	if cidr != cidr.Masked() { // one canonical form, as CreateVpc refuses it
		return b.fail(d.CidrBlock.Line, "cidrBlock", "%s has host bits set; write the network address, %s", cidr, cidr.Masked())
	}
	if d.VpcName.Set() && !model.ValidName(d.VpcName.Value) {
		return b.fail(d.VpcName.Line, "vpcName", "%q is not valid: 2 to 128 characters, starting with a letter, then letters, digits, ':', '_', '.' or '-' (InvalidVpcName.Malformed)", d.VpcName.Value)
	}
	v := &model.VPC{ID: d.VpcID.Value, Owner: DefaultOwner, Name: d.VpcName.Value, CIDR: cidr.Masked(), Created: created}
	if d.Ipv6CidrBlock.Set() {
		p, err := netip.ParsePrefix(d.Ipv6CidrBlock.Value)
		if err != nil || !p.Addr().Is6() || p != p.Masked() {
			return b.fail(d.Ipv6CidrBlock.Line, "ipv6CidrBlock", "%q is not an IPv6 CIDR block written as its network address", d.Ipv6CidrBlock.Value)
		}
		v.IPv6CIDR = p.Masked()
	}
	if v.Tags, err = b.tags(d.Tags); err != nil {
		return err
	}
	b.vpcs[v.ID] = v
	b.s.VPCs = append(b.s.VPCs, v)
	return nil
}

func (b *builder) addPrefixList(d *prefixListDoc) error {
	if err := required(b, d.PrefixListID, d.Line, "prefixListId"); err != nil {
		return err
	}
	if b.pls[d.PrefixListID.Value] != nil {
		return b.fail(d.PrefixListID.Line, "prefixListId", "prefix list %s is defined twice", d.PrefixListID.Value)
	}
	pl := &model.PrefixList{ID: d.PrefixListID.Value, Owner: DefaultOwner, Name: d.PrefixListName.Value, AddressFamily: "IPv4", Created: created}
	fields := map[string]Field{"prefixListName": d.PrefixListName, "addressFamily": d.AddressFamily, "maxEntries": d.MaxEntries}
	if d.AddressFamily.Set() {
		var e *ecserr.Error
		if pl.AddressFamily, e = model.ParseAddressFamily(d.AddressFamily.Value); e != nil {
			return b.fromModel(e, d.Line, fields)
		}
	}
	if pl.Name != "" {
		if e := model.ValidatePrefixListName(pl.Name); e != nil {
			return b.fromModel(e, d.Line, fields)
		}
	}
	pl.MaxEntries = max(len(d.Entries), 1)
	if d.MaxEntries.Set() {
		n64, ok := model.ParseCanonicalInt(d.MaxEntries.Value, math.MinInt32, math.MaxInt32)
		if !ok {
			return b.fail(d.MaxEntries.Line, "maxEntries", "%q is not a number in plain decimal", d.MaxEntries.Value)
		}
		n := int(n64)
		if e := model.ValidateMaxEntries(n); e != nil {
			return b.fromModel(e, d.Line, fields)
		}
		pl.MaxEntries = n
	}
	for _, en := range d.Entries {
		cidr, e := model.ParsePrefixListCIDR(en.Value, pl.AddressFamily, "entries", true)
		if e == nil {
			e = pl.AddEntry(model.PrefixEntry{CIDR: cidr})
		}
		if e != nil {
			return b.fail(en.Line, "entries", "%s (%s)", e.Message, e.Code)
		}
	}
	if e := pl.CheckEntryCount(len(pl.Entries)); e != nil {
		return b.fromModel(e, d.Line, fields)
	}
	b.pls[pl.ID] = pl
	b.s.PrefixLists = append(b.s.PrefixLists, pl)
	return nil
}

func (b *builder) addPortRangeList(d *portRangeListDoc) error {
	if err := required(b, d.PortRangeListID, d.Line, "portRangeListId"); err != nil {
		return err
	}
	id := d.PortRangeListID.Value
	if !model.HasPrefix(id, "prl") {
		return b.fail(d.PortRangeListID.Line, "portRangeListId", "%q is not a port range list ID: it starts with prl-", id)
	}
	if b.prls[id] != nil {
		return b.fail(d.PortRangeListID.Line, "portRangeListId", "port range list %s is defined twice", id)
	}
	l := &model.PortRangeList{ID: id, Owner: DefaultOwner, Name: d.PortRangeListName.Value, Description: d.Description.Value,
		Entries: []model.PortEntry{}, Created: created}
	if l.Name == "" {
		l.Name = strings.ReplaceAll(id, "-", "_") // a file need not name its lists; ECS requires a name
	}
	fields := map[string]Field{"portRangeListName": d.PortRangeListName, "description": d.Description, "maxEntries": d.MaxEntries}
	l.MaxEntries = max(len(d.Entries), 1)
	if d.MaxEntries.Set() {
		n64, ok := model.ParseCanonicalInt(d.MaxEntries.Value, math.MinInt32, math.MaxInt32)
		if !ok {
			return b.fail(d.MaxEntries.Line, "maxEntries", "%q is not a number in plain decimal", d.MaxEntries.Value)
		}
		n := int(n64)
		l.MaxEntries = n
	}
	for _, en := range d.Entries {
		r, e := model.ParseListPortRange(en.Value, "entries")
		if e == nil {
			e = l.AddEntry(model.PortEntry{Range: r})
		}
		if e != nil {
			return b.fail(en.Line, "entries", "%s (%s)", e.Message, e.Code)
		}
	}
	if e := l.Validate(); e != nil {
		return b.fromModel(e, d.Line, fields)
	}
	b.prls[id] = l
	b.s.PortRangeLists = append(b.s.PortRangeLists, l)
	return nil
}

// ruleIDStem is what a group's rule IDs are made of: sg-web's rules are
// sgr-web-1, sgr-web-2, …
func ruleIDStem(groupID string) string { return strings.TrimPrefix(groupID, "sg-") }

// addGroup adds a group without its rules.
func (b *builder) addGroup(d *groupDoc) error {
	if err := required(b, d.SecurityGroupID, d.Line, "securityGroupId"); err != nil {
		return err
	}
	id := d.SecurityGroupID.Value
	if b.groups[id] != nil {
		return b.fail(d.SecurityGroupID.Line, "securityGroupId", "security group %s is defined twice", id)
	}
	for other := range b.groups { // web and sg-web: both would number their rules sgr-web-N
		if ruleIDStem(other) == ruleIDStem(id) {
			return b.fail(d.SecurityGroupID.Line, "securityGroupId", "security groups %s and %s would give their rules the same IDs (sgr-%s-N); rename one", other, id, ruleIDStem(id))
		}
	}
	typ, e := model.ParseGroupType(d.SecurityGroupType.Value)
	if e != nil {
		return b.fail(d.SecurityGroupType.Line, "securityGroupType", "%s", e.Message)
	}
	spec := model.GroupSpec{ID: id, Owner: DefaultOwner, Name: d.SecurityGroupName.Value, Description: d.Description.Value,
		Type: typ, VpcID: d.VpcID.Value, Created: created}
	// Name and description as the API checks them (CreateSecurityGroup).
	if d.SecurityGroupName.Set() {
		if e := model.ValidateGroupName(spec.Name); e != nil {
			return b.fail(d.SecurityGroupName.Line, "securityGroupName", "%s (%s)", e.Message, e.Code)
		}
	}
	if d.Description.Set() {
		if e := model.ValidateGroupDescription(spec.Description); e != nil {
			return b.fail(d.Description.Line, "description", "%s (%s)", e.Message, e.Code)
		}
	}
	if d.OwnerID.Set() {
		if _, ok := model.ParseCanonicalInt(d.OwnerID.Value, 0, math.MaxInt64); !ok {
			return b.fail(d.OwnerID.Line, "ownerId", "must be a numeric account ID")
		}
		spec.Owner = d.OwnerID.Value
	}
	if spec.VpcID != "" && b.vpcs[spec.VpcID] == nil {
		return b.fail(d.VpcID.Line, "vpcId", "VPC %s is not defined under vpcs", spec.VpcID)
	}
	if d.InnerAccessPolicy.Set() {
		p, e := model.ParseInnerAccessPolicy(d.InnerAccessPolicy.Value)
		if e != nil {
			return b.fail(d.InnerAccessPolicy.Line, "innerAccessPolicy", "%s", e.Message)
		}
		spec.InnerAccessPolicy = p
	}
	var err error
	if spec.Tags, err = b.tags(d.Tags); err != nil {
		return err
	}
	g, e := model.NewGroup(spec) // the type's defaults and the enterprise rules, as the API applies them
	if e != nil {
		if e.Field == "InnerAccessPolicy" {
			return b.fail(d.InnerAccessPolicy.Line, "innerAccessPolicy", "%s (%s)", e.Message, e.Code)
		}
		return b.fail(d.Line, "vpcId", "%s (%s)", e.Message, e.Code)
	}
	b.groups[id] = g
	b.s.Groups = append(b.s.Groups, g)
	return nil
}

// plOf looks up a prefix list of the scenario.
func (b *builder) plOf(id string) *model.PrefixList { return b.pls[id] }

// lists looks up the scenario's lists for rules' quota weights.
func (b *builder) lists() model.Lists {
	return model.Lists{Prefix: b.plOf, Ports: func(id string) *model.PortRangeList { return b.prls[id] }}
}

// addRules adds each group's permissions and checks its quotas.
func (b *builder) addRules(docs []groupDoc) error {
	plOf := b.plOf
	for gi, d := range docs {
		g := b.s.Groups[gi]
		for pi, p := range d.Permissions {
			if err := b.addRule(g, pi, &p, plOf, created); err != nil {
				return err
			}
		}
		if e := model.CheckRuleQuotas(g, b.lists()); e != nil {
			return b.fail(d.Line, "permissions", "%s (%s)", e.Message, e.Code)
		}
	}
	return nil
}

// addressIndex is what the instances added so far took: IDs, private
// addresses (per VPC; IPv6 ones under "v6|") and public addresses.
type addressIndex struct {
	ids      map[string]bool
	privates map[string]string
	publics  map[netip.Addr]string
	// nics maps each private address (IPv4 and IPv6) to the NIC that owns
	// it, the instance or the ENI; a flow may name a NIC by its address.
	// An IPv4 address used in two VPCs maps to "" (ambiguous).
	nics map[netip.Addr]string
}

// own records that NIC id owns address a.
func (x *addressIndex) own(a netip.Addr, id string) {
	if _, ok := x.nics[a]; ok && a.Is4() {
		x.nics[a] = ""
		return
	}
	x.nics[a] = id
}

func (b *builder) addInstance(d *instanceDoc, x *addressIndex) error {
	if err := required(b, d.InstanceID, d.Line, "instanceId"); err != nil {
		return err
	}
	in := &model.Instance{ID: d.InstanceID.Value, Owner: DefaultOwner, Name: d.InstanceName.Value, VpcID: d.VpcID.Value,
		Status: model.StatusRunning, Created: created}
	if x.ids[in.ID] {
		return b.fail(d.InstanceID.Line, "instanceId", "instance %s is defined twice", in.ID)
	}
	x.ids[in.ID] = true
	if d.InstanceName.Set() && !model.ValidName(in.Name) {
		return b.fail(d.InstanceName.Line, "instanceName", "%q is not valid: 2 to 128 characters, starting with a letter, then letters, digits, ':', '_', '.' or '-' (InvalidInstanceName.Malformed)", in.Name)
	}
	var vpc *model.VPC
	if in.VpcID != "" {
		if vpc = b.vpcs[in.VpcID]; vpc == nil {
			return b.fail(d.VpcID.Line, "vpcId", "VPC %s is not defined under vpcs", in.VpcID)
		}
	}
	var err error
	if in.Tags, err = b.tags(d.Tags); err != nil {
		return err
	}
	if err := b.instanceAddresses(d, in, vpc, x); err != nil {
		return err
	}
	if err := b.instanceGroups(d, in); err != nil {
		return err
	}
	b.s.Instances = append(b.s.Instances, in)
	for i := range d.NetworkInterfaces {
		if err := b.addENI(&d.NetworkInterfaces[i], in, vpc, i+1, x); err != nil {
			return err
		}
	}
	return nil
}

// instanceAddresses sets the instance's private, IPv6 and public addresses,
// each unique where it must be.
func (b *builder) instanceAddresses(d *instanceDoc, in *model.Instance, vpc *model.VPC, x *addressIndex) error {
	if err := required(b, d.PrivateIPAddress, d.Line, "privateIpAddress"); err != nil {
		return err
	}
	a, ok := model.ParseAddr(d.PrivateIPAddress.Value, false)
	if !ok {
		return b.fail(d.PrivateIPAddress.Line, "privateIpAddress", "%q is not an IPv4 address", d.PrivateIPAddress.Value)
	}
	if err := b.hostable(d.PrivateIPAddress, "privateIpAddress", a); err != nil {
		return err
	}
	if vpc != nil && !vpc.CIDR.Contains(a) {
		return b.fail(d.PrivateIPAddress.Line, "privateIpAddress", "%s is outside %s's CIDR block %s", a, vpc.ID, vpc.CIDR)
	}
	key := in.VpcID + "|" + a.String()
	if other, ok := x.privates[key]; ok {
		return b.fail(d.PrivateIPAddress.Line, "privateIpAddress", "%s is already the address of %s", a, other)
	}
	if other, ok := x.publics[a]; ok { // a classic address: those of a VPC are inside its block, publics never
		return b.fail(d.PrivateIPAddress.Line, "privateIpAddress", "%s is already the public address of %s; give each its own", a, other)
	}
	x.privates[key] = in.ID
	x.own(a, in.ID)
	in.PrivateIP = a
	if d.Ipv6Address.Set() {
		a6, ok := model.ParseAddr(d.Ipv6Address.Value, true)
		if !ok {
			return b.fail(d.Ipv6Address.Line, "ipv6Address", "%q is not an IPv6 address", d.Ipv6Address.Value)
		}
		if vpc == nil {
			return b.fail(d.Ipv6Address.Line, "ipv6Address", "only VPC instances have IPv6 addresses")
		}
		if err := b.hostable(d.Ipv6Address, "ipv6Address", a6); err != nil {
			return err
		}
		if err := b.inVPC6(d.Ipv6Address, a6, vpc); err != nil {
			return err
		}
		if other, ok := x.privates["v6|"+a6.String()]; ok {
			return b.fail(d.Ipv6Address.Line, "ipv6Address", "%s is already the address of %s", a6, other)
		}
		x.privates["v6|"+a6.String()] = in.ID
		x.own(a6, in.ID)
		in.IPv6 = a6
	}
	if d.PublicIPAddress.Set() {
		pub, ok := model.ParseAddr(d.PublicIPAddress.Value, false)
		if !ok {
			return b.fail(d.PublicIPAddress.Line, "publicIpAddress", "%q is not an IPv4 address", d.PublicIPAddress.Value)
		}
		if other, ok := x.publics[pub]; ok {
			return b.fail(d.PublicIPAddress.Line, "publicIpAddress", "%s is already the public address of %s", pub, other)
		}
		if !routable(pub) {
			return b.fail(d.PublicIPAddress.Line, "publicIpAddress", "%s is not an address on the internet (unspecified, loopback, link-local, multicast or broadcast)", pub)
		}
		// A public address is on the outside, as an outside end is: inside a
		// VPC's block, or a NIC's private address, it would name two places
		// (check would judge the file, and lab play and apply refuse it).
		for _, v := range b.s.VPCs {
			if v.CIDR.Contains(pub) {
				return b.fail(d.PublicIPAddress.Line, "publicIpAddress", "%s lies inside %s's CIDR block %s; a public address lies outside every VPC", pub, v.ID, v.CIDR)
			}
		}
		if other, ok := x.nics[pub]; ok {
			if other == "" {
				other = "instances of two VPCs"
			}
			return b.fail(d.PublicIPAddress.Line, "publicIpAddress", "%s is already the private address of %s; give each its own", pub, other)
		}
		x.publics[pub] = in.ID
		in.PublicIP = pub
	}
	return nil
}

// routable reports whether an address can be an end on the internet: an
// outside end or a public address. No packet crosses a network from or to
// the others (lab play could not send them; check judged them).
func routable(a netip.Addr) bool {
	return !(a.IsUnspecified() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() ||
		a == netip.AddrFrom4([4]byte{255, 255, 255, 255}))
}

// hostable refuses a NIC address no NIC can hold: unspecified, loopback,
// link-local, multicast or broadcast. check judged a VPC of 169.254.0.0/16
// or an ipv6Address fe80::5, which lab play refused and the API would.
func (b *builder) hostable(f Field, name string, a netip.Addr) error {
	if !routable(a) {
		return b.fail(f.Line, name, "%s is not an address a network interface can hold (unspecified, loopback, link-local, multicast or broadcast); give it an ordinary unicast address", a)
	}
	return nil
}

// inVPC6 refuses an IPv6 address outside its VPC's IPv6 block, when the VPC
// gives one (a NIC's IPv6 address is taken from its vSwitch's /64 of it).
func (b *builder) inVPC6(f Field, a netip.Addr, vpc *model.VPC) error {
	if vpc.IPv6CIDR.IsValid() && !vpc.IPv6CIDR.Contains(a) {
		return b.fail(f.Line, "ipv6Address", "%s is outside %s's IPv6 block %s", a, vpc.ID, vpc.IPv6CIDR)
	}
	return nil
}

// instanceGroups puts the instance in its groups and checks the membership
// and rule invariants.
func (b *builder) instanceGroups(d *instanceDoc, in *model.Instance) error {
	var groups []*model.SecurityGroup
	for _, gf := range d.SecurityGroupIDs {
		g := b.groups[gf.Value]
		if g == nil {
			return b.fail(gf.Line, "securityGroupIds", "security group %s is not defined under securityGroups", gf.Value)
		}
		groups = append(groups, g)
		in.SecurityGroups = append(in.SecurityGroups, g.ID)
	}
	if e := model.CheckInstanceGroups(in, groups); e != nil {
		return b.fail(listLine(d.SecurityGroupIDs, d.Line), "securityGroupIds", "%s (%s)", e.Message, e.Code)
	}
	// The file gives instances no owner: an instance is its groups'
	// account's, as ECS lets an instance join only its own account's
	// groups. (Left at the default, an instance in another account's group
	// belonged to neither: lab play's flow log refused its records.)
	in.Owner = groupsOwner(groups)
	if e := model.CheckNICRules(in.ID, groups, b.lists()); e != nil {
		return b.fail(listLine(d.SecurityGroupIDs, d.Line), "securityGroupIds", "%s (%s)", e.Message, e.Code)
	}
	return nil
}

// groupsOwner is the account of a NIC's groups. Groups of several
// accounts on one NIC, which ECS refuses and the format does not, are
// judged as the file says; the NIC is then the default account's (lab play
// turns its flow log off: a record naming another account's group is not
// the NIC owner's).
func groupsOwner(groups []*model.SecurityGroup) string {
	for _, g := range groups {
		if g.Owner != groups[0].Owner {
			return DefaultOwner
		}
	}
	return groups[0].Owner
}

// listLine is the line of a list's first item (where a list written on one
// line is), or def for an empty list: an error about the whole list points
// there, not at the item holding it.
func listLine(fs []Field, def int) int {
	if len(fs) > 0 && fs[0].Set() {
		return fs[0].Line
	}
	return def
}

// addFlows adds the flows to check, each evaluated once so that a flow the
// engine cannot decide is reported at its line.
func (b *builder) addFlows(docs []flowDoc, x *addressIndex) error {
	cloud := b.s.Cloud()
	lin := policy.NewLinear(cloud)
	for _, d := range docs {
		fl, err := b.flow(&d, x)
		if err != nil {
			return err
		}
		if _, err := policy.Evaluate(lin, fl.Flow); err != nil {
			return b.fail(d.Line, "", "%v", err)
		}
		b.s.Flows = append(b.s.Flows, fl)
	}
	return nil
}

func (b *builder) addRule(g *model.SecurityGroup, index int, p *permissionDoc, plOf func(string) *model.PrefixList, created time.Time) error {
	fields := map[string]Field{
		"direction": p.Direction, "policy": p.Policy, "priority": p.Priority, "ipProtocol": p.IpProtocol,
		"portRange": p.PortRange, "portRangeListId": p.PortRangeListId, "sourcePortRange": p.SourcePortRange, "sourceCidrIp": p.SourceCidrIp,
		"ipv6SourceCidrIp": p.Ipv6SourceCidrIp, "sourceGroupId": p.SourceGroupId, "sourceGroupOwnerId": p.SourceGroupOwnerId,
		"sourcePrefixListId": p.SourcePrefixListId, "destCidrIp": p.DestCidrIp, "ipv6DestCidrIp": p.Ipv6DestCidrIp,
		"destGroupId": p.DestGroupId, "destGroupOwnerId": p.DestGroupOwnerId, "destPrefixListId": p.DestPrefixListId,
		"nicType": p.NicType, "description": p.Description,
	}
	var dir model.Direction
	switch strings.ToLower(p.Direction.Value) {
	case "ingress":
		dir = model.Ingress
	case "egress":
		dir = model.Egress
	case "":
		return b.fail(p.Line, "direction", "is required: ingress or egress")
	default:
		return b.fail(p.Direction.Line, "direction", "%q is not ingress or egress", p.Direction.Value)
	}
	if err := b.onePeer(dir, p); err != nil {
		return err
	}
	ports := p.PortRange.Value
	if proto, ok := model.ParseProtocol(p.IpProtocol.Value); ok && !proto.HasPorts() && ports == "" && p.PortRangeListId.Value == "" {
		// A protocol without ports has one range, -1/-1: a file may leave
		// it out (the API wants it written).
		ports = "-1/-1"
	}
	r, owner, e := model.ParseRule(dir, model.RuleInput{
		Policy: p.Policy.Value, Priority: p.Priority.Value, IpProtocol: p.IpProtocol.Value, PortRange: ports,
		PortRangeListId: p.PortRangeListId.Value,
		SourcePortRange: p.SourcePortRange.Value, NicType: p.NicType.Value, Description: p.Description.Value,
		SourceCidrIp: p.SourceCidrIp.Value, Ipv6SourceCidrIp: p.Ipv6SourceCidrIp.Value, SourceGroupId: p.SourceGroupId.Value,
		SourceGroupOwnerId: p.SourceGroupOwnerId.Value, SourceGroupOwnerAccount: p.SourceGroupOwnerAccount.Value,
		SourcePrefixListId: p.SourcePrefixListId.Value,
		DestCidrIp:         p.DestCidrIp.Value, Ipv6DestCidrIp: p.Ipv6DestCidrIp.Value, DestGroupId: p.DestGroupId.Value,
		DestGroupOwnerId: p.DestGroupOwnerId.Value, DestGroupOwnerAccount: p.DestGroupOwnerAccount.Value,
		DestPrefixListId: p.DestPrefixListId.Value,
		// The file's IDs are its own names: a group or list it defines
		// may be named web or office, and a rule names it so (the peer
		// was refused as no sg-… ID while the group itself loaded). An
		// undefined one is refused below as not defined.
		LocalNames: true,
	}, g.Classic())
	if e != nil {
		return b.fromModel(e, p.Line, fields)
	}
	side := "source"
	if dir == model.Egress {
		side = "dest"
	}
	if r.Peer.GroupID != "" {
		peer := b.groups[r.Peer.GroupID]
		if peer == nil {
			return b.fail(fields[side+"GroupId"].Line, side+"GroupId", "security group %s is not defined under securityGroups", r.Peer.GroupID)
		}
		if owner.ID != "" && owner.ID != peer.Owner || owner.Account != "" && owner.Account != peer.Owner {
			// At the owner field that disagrees, not the rule's first line.
			name, f := side+"GroupOwnerId", fields[side+"GroupOwnerId"]
			if owner.ID == "" || owner.ID == peer.Owner {
				name, f = side+"GroupOwnerAccount", p.SourceGroupOwnerAccount
				if dir == model.Egress {
					f = p.DestGroupOwnerAccount
				}
			}
			return b.fail(f.Line, name, "security group %s belongs to account %s", peer.ID, peer.Owner)
		}
		if e := model.CheckGroupPeer(g, peer, dir); e != nil {
			return b.fromModel(e, p.Line, fields)
		}
		r.Peer.GroupOwner = peer.Owner
	}
	if r.Peer.PrefixListID != "" {
		pl := plOf(r.Peer.PrefixListID)
		if pl == nil {
			return b.fail(fields[side+"PrefixListId"].Line, side+"PrefixListId", "prefix list %s is not defined under prefixLists", r.Peer.PrefixListID)
		}
		if e := model.CheckPrefixListPeer(&r, pl, dir); e != nil {
			return b.fromModel(e, p.Line, fields)
		}
	}
	if r.PortRangeListID != "" && b.prls[r.PortRangeListID] == nil {
		return b.fail(p.PortRangeListId.Line, "portRangeListId", "port range list %s is not defined under portRangeLists", r.PortRangeListID)
	}
	r.ID = fmt.Sprintf("sgr-%s-%d", ruleIDStem(g.ID), index+1)
	r.Created = created
	b.s.RuleLines[r.ID] = p.Line
	g.Rules = append(g.Rules, r)
	return nil
}

func (b *builder) flow(d *flowDoc, x *addressIndex) (Flow, error) {
	instances, publics := x.ids, x.publics
	fl := Flow{Line: d.Line, Why: d.Why.Value}
	// written is the IP version of the ends written as a NIC's address: an
	// IPv6 one makes the flow IPv6, as an IPv6 outside address does.
	written, writtenAt := 0, ""
	outside6 := false      // an end is an IPv6 outside address
	var outside netip.Addr // an outside end, and where it is written
	var outsideAt Field
	outsideName := ""
	for _, end := range []struct {
		f    Field
		name string
		dst  *string
	}{{d.From, "from", &fl.From}, {d.To, "to", &fl.To}} {
		if err := required(b, end.f, d.Line, end.name); err != nil {
			return fl, err
		}
		v := end.f.Value
		*end.dst = v
		if instances[v] {
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return fl, b.fail(end.f.Line, end.name, "%q is neither an instance or network interface defined under instances nor an IP address", v)
		}
		// One canonical form (FORMAT.md, Values): the engine reads a mapped
		// address as the IPv4 one, which the checks below would not see.
		switch {
		case a.Zone() != "":
			return fl, b.fail(end.f.Line, end.name, "%s has a zone; IPv6 addresses take no zone, write %s", v, a.WithZone(""))
		case a.Is4In6():
			return fl, b.fail(end.f.Line, end.name, "%s is an IPv4 address written as IPv6; write %s", v, a.Unmap())
		}
		if id, ok := x.nics[a]; ok {
			if id == "" {
				return fl, b.fail(end.f.Line, end.name, "%s is a private address in more than one VPC; name the instance or network interface instead", a)
			}
			v := 4
			if a.Is6() {
				v = 6
			}
			if written != 0 && written != v {
				return fl, b.fail(end.f.Line, end.name, "%s is an IPv%d address and %s an IPv%d one; write both ends in one family, or name the instances and set ipVersion", a, v, writtenAt, written)
			}
			written, writtenAt = v, a.String()
			*end.dst = id // the NIC that owns the address is the end
			continue
		}
		if !routable(a) {
			return fl, b.fail(end.f.Line, end.name, "%s is not an address on the internet (unspecified, loopback, link-local, multicast or broadcast); an outside end is one, as 198.51.100.7 or 2001:db8::7", a)
		}
		outside6 = outside6 || a.Is6()
		outside, outsideAt, outsideName = a, end.f, end.name
		var inside []string // every VPC that holds it: blocks may be copies
		for _, vpc := range b.s.VPCs {
			if vpc.CIDR.Contains(a) || vpc.IPv6CIDR.IsValid() && vpc.IPv6CIDR.Contains(a) {
				inside = append(inside, vpc.ID)
			}
		}
		if len(inside) > 0 {
			return fl, b.fail(end.f.Line, end.name, "%s lies inside %s; an outside address must be outside every VPC (name the instance instead)", a, strings.Join(inside, " and "))
		}
		if id, ok := publics[a]; ok {
			return fl, b.fail(end.f.Line, end.name, "%s is the public address of %s; name the instance instead", a, id)
		}
	}
	// At the field, with what to do (the engine's errors named no field).
	switch _, fromAddr := netip.ParseAddr(fl.From); {
	case fl.From == fl.To:
		return fl, b.fail(d.To.Line, "to", "is %s, the same end as from; a flow goes between two ends", fl.To)
	case fromAddr == nil && outside.IsValid() && outsideName == "to" && !instances[fl.From]:
		return fl, b.fail(d.To.Line, "to", "%s and %s are both outside addresses; a flow needs an instance at one end at least", fl.From, fl.To)
	}
	if err := b.sameVM(fl.From, fl.To, d.Line); err != nil {
		return fl, err
	}
	if err := required(b, d.IpProtocol, d.Line, "ipProtocol"); err != nil {
		return fl, err
	}
	p, ok := model.ParseProtocol(d.IpProtocol.Value)
	if !ok || p == model.ALL {
		return fl, b.fail(d.IpProtocol.Line, "ipProtocol", "%q is not one of TCP, UDP, ICMP, ICMPv6, GRE", d.IpProtocol.Value)
	}
	fl.Protocol = p
	port := func(f Field, name string) (uint16, error) {
		n, ok := model.ParseCanonicalInt(f.Value, 1, 65535)
		if !ok {
			return 0, b.fail(f.Line, name, "%q is not a port from 1 to 65535", f.Value)
		}
		return uint16(n), nil
	}
	var err error
	switch {
	case p.HasPorts() && !d.Port.Set():
		return fl, b.fail(d.Line, "port", "is required for %s", p)
	case p.HasPorts():
		if fl.Port, err = port(d.Port, "port"); err != nil {
			return fl, err
		}
	case d.Port.Set():
		return fl, b.fail(d.Port.Line, "port", "%s has no ports; leave port out", p)
	}
	if d.SourcePort.Set() {
		if !p.HasPorts() {
			return fl, b.fail(d.SourcePort.Line, "sourcePort", "%s has no ports; leave sourcePort out", p)
		}
		if fl.SourcePort, err = port(d.SourcePort, "sourcePort"); err != nil {
			return fl, err
		}
	}
	switch d.IPVersion.Value {
	case "":
	case "4":
		fl.IPVersion = 4
	case "6":
		fl.IPVersion = 6
	default:
		return fl, b.fail(d.IPVersion.Line, "ipVersion", "%q is not 4 or 6", d.IPVersion.Value)
	}
	switch {
	case written == 0:
	case fl.IPVersion == 0:
		fl.IPVersion = written
	case fl.IPVersion != written:
		return fl, b.fail(d.IPVersion.Line, "ipVersion", "the flow names %s, an IPv%d address, but ipVersion is %d", writtenAt, written, fl.IPVersion)
	}
	// An outside end of the other family than the flow's, at the field that
	// set the family (the engine's error named neither).
	if outside.IsValid() && fl.IPVersion != 0 && outside.Is6() != (fl.IPVersion == 6) {
		if written == 0 {
			return fl, b.fail(d.IPVersion.Line, "ipVersion", "the flow names %s, an IPv%d address, but ipVersion is %d", outside, 10-fl.IPVersion, fl.IPVersion)
		}
		return fl, b.fail(outsideAt.Line, outsideName, "%s is an IPv%d address and %s an IPv%d one; write both ends in one family", outside, 10-written, writtenAt, written)
	}
	// Each ICMP is one family's; say so at the protocol, with the field that
	// makes a flow between instances IPv6 (the engine's own error names neither).
	if six := fl.IPVersion == 6 || fl.IPVersion == 0 && outside6; !p.InFamily(six) {
		if six {
			return fl, b.fail(d.IpProtocol.Line, "ipProtocol", "ICMP is IPv4 and this flow is IPv6: use ICMPv6")
		}
		return fl, b.fail(d.IpProtocol.Line, "ipProtocol", "ICMPv6 is IPv6 and this flow is IPv4: set ipVersion: 6 (the instances' ipv6Address), or use ICMP")
	}
	switch strings.ToLower(d.Expect.Value) {
	case "accept":
		fl.Expect = policy.Accept
	case "drop":
		fl.Expect = policy.Drop
	case "":
		return fl, b.fail(d.Line, "expect", "is required: Accept or Drop")
	default:
		return fl, b.fail(d.Expect.Line, "expect", "%q is not Accept or Drop", d.Expect.Value)
	}
	return fl, nil
}

// onePeer refuses a rule that names more than one kind of peer: FORMAT.md
// gives a rule one of them, and the API would silently ignore all but one
// (a CIDR block wins over a group, a group over a prefix list). Both CIDR
// families together are the model's to refuse, with the API's code.
func (b *builder) onePeer(dir model.Direction, p *permissionDoc) error {
	// A group, its owner or a prefix list on the side that is the local one
	// names nothing (the local side takes a CIDR block only), and the
	// rule, read without it, was wider than written: an egress drop with
	// sourceGroupId dropped for every member of the rule's group.
	type named struct {
		f    Field
		name string
	}
	wrong := []named{{p.DestGroupId, "destGroupId"}, {p.DestGroupOwnerId, "destGroupOwnerId"}, {p.DestGroupOwnerAccount, "destGroupOwnerAccount"}, {p.DestPrefixListId, "destPrefixListId"}}
	peers, local := "sourceCidrIp, ipv6SourceCidrIp, sourceGroupId or sourcePrefixListId", "destCidrIp or ipv6DestCidrIp"
	if dir == model.Egress {
		wrong = []named{{p.SourceGroupId, "sourceGroupId"}, {p.SourceGroupOwnerId, "sourceGroupOwnerId"}, {p.SourceGroupOwnerAccount, "sourceGroupOwnerAccount"}, {p.SourcePrefixListId, "sourcePrefixListId"}}
		peers, local = "destCidrIp, ipv6DestCidrIp, destGroupId or destPrefixListId", "sourceCidrIp or ipv6SourceCidrIp"
	}
	for _, w := range wrong {
		if w.f.Set() {
			return b.fail(w.f.Line, w.name, "names nothing on an %s rule: its peer is %s, and its local side a block (%s); write the rule the other way round, or as one of those", dir, peers, local)
		}
	}
	side := "source"
	kinds := [][2]Field{{p.SourceCidrIp, p.Ipv6SourceCidrIp}, {p.SourceGroupId}, {p.SourcePrefixListId}}
	names := []string{"CidrIp", "GroupId", "PrefixListId"}
	if dir == model.Egress {
		side = "dest"
		kinds = [][2]Field{{p.DestCidrIp, p.Ipv6DestCidrIp}, {p.DestGroupId}, {p.DestPrefixListId}}
	}
	first := ""
	for i, k := range kinds {
		if !k[0].Set() && !k[1].Set() {
			continue
		}
		name := side + names[i]
		if i == 0 && !k[0].Set() {
			name = "ipv6" + strings.ToUpper(side[:1]) + side[1:] + names[i]
		}
		if first != "" {
			return b.fail(k[0].Line, side+names[i], "a rule has one peer, and %s is given beside %s; split it into two rules", side+names[i], first)
		}
		first = name
	}
	return nil
}
