package apply

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// Options say how to converge.
type Options struct {
	Region string
	Zone   string // where new vSwitches go; "" = the region's first zone
	Prune  bool   // also remove managed resources the file does not name
	// Image and InstanceType of new instances; "" = the defaults below.
	Image, InstanceType string
}

// What new instances are launched with: the file says nothing about it.
const (
	DefaultImage        = "aliyun_3_x64_20G_alibase_20240819.vhd"
	DefaultInstanceType = "ecs.g7.large"
)

// FileError is a file apply cannot converge an account to (exit 2).
type FileError struct{ Msg string }

func (e *FileError) Error() string { return e.Msg }

// builder compares the file with the account and appends the steps.
type builder struct {
	sc  *scenario.Scenario
	st  *State
	opt Options
	p   *Plan

	// The managed resources of the account, by file ID.
	vpcs   map[string]VPC
	groups map[string]*model.SecurityGroup
	insts  map[string]*model.Instance
	pls    map[string]*model.PrefixList
	prls   map[string]*model.PortRangeList
	enis   map[string]*model.NetworkInterface // secondary ENIs (see diffENIs)
	// toFile maps the account's IDs of managed resources to file IDs.
	toFile map[string]string
	// vSwitches planned in this run (vswitches.go), by VPC file ID, and
	// the references of those made so far, by VPC file ID and block.
	planned map[string][]*plannedVSwitch
	newVSw  map[string]string
}

// Build plans the calls that converge the account st to the file sc, and
// the flows they open and close.
func Build(sc *scenario.Scenario, st *State, opt Options) (*Plan, error) {
	if opt.Zone == "" {
		if r, ok := model.LookupRegion(opt.Region); ok && len(r.Zones) > 0 {
			opt.Zone = r.Zones[0]
		}
	}
	opt.Image = cmpOr(opt.Image, DefaultImage)
	opt.InstanceType = cmpOr(opt.InstanceType, DefaultInstanceType)
	b := &builder{sc: sc, st: st, opt: opt, p: &Plan{File: sc.File, Region: opt.Region, Steps: []Step{}},
		vpcs: map[string]VPC{}, groups: map[string]*model.SecurityGroup{}, insts: map[string]*model.Instance{},
		pls: map[string]*model.PrefixList{}, prls: map[string]*model.PortRangeList{}, enis: map[string]*model.NetworkInterface{}, toFile: map[string]string{}, newVSw: map[string]string{}}
	if err := b.checkFile(); err != nil {
		return nil, err
	}
	if err := b.index(); err != nil {
		return nil, err
	}
	for _, w := range st.Account.Warnings {
		b.p.Warnings = append(b.p.Warnings, "reading the account: "+w.String())
	}
	for _, f := range []func() error{b.diffVPCs, b.diffPrefixLists, b.diffPortRangeLists, b.diffGroups, b.diffRules, b.checkVSwitches, b.diffInstances, b.diffENIs, b.prune} {
		if err := f(); err != nil {
			return nil, err
		}
	}
	if err := b.flows(); err != nil {
		return nil, err
	}
	return b.p, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkFile refuses what apply cannot make: resources of another account,
// and a group or instance with the most tags a file allows, whose marker
// (a tag too) would be one past the API's limit: CreateSecurityGroup or
// RunInstances refused it (NumberExceed.Tags) after the steps before it.
func (b *builder) checkFile() error {
	for _, g := range b.sc.Groups {
		if g.Owner != scenario.DefaultOwner {
			return &FileError{fmt.Sprintf("%s: security group %s belongs to account %s (ownerId); apply converges only the caller's account, so every group must be its own", b.sc.File, g.ID, g.Owner)}
		}
		if err := b.tagRoom("security group", g.ID, g.Tags); err != nil {
			return err
		}
	}
	for _, in := range b.sc.Instances {
		if err := b.tagRoom("instance", in.ID, in.Tags); err != nil {
			return err
		}
	}
	return nil
}

// tagRoom refuses more of the file's tags than fit beside the marker.
func (b *builder) tagRoom(kind, id string, tags []model.Tag) error {
	if len(tags) > model.MaxTags-1 {
		return &FileError{fmt.Sprintf("%s: %s %s has %d tags, and apply keeps its marker (%s) among a resource's %d, so it makes at most %d of the file's: remove %d", b.sc.File, kind, id, len(tags), Marker, model.MaxTags, model.MaxTags-1, len(tags)-(model.MaxTags-1))}
	}
	return nil
}

// index finds the managed resources of the account by their marker. Two
// resources of a kind with one file ID are a conflict the user must settle.
func (b *builder) index() error {
	acct := b.st.Account
	for _, err := range []error{
		marked(b, "VPCs", b.st.VPCs, b.vpcs, func(v VPC) (string, string, bool) { return v.FileID, v.ID, v.FileID != "" }),
		marked(b, "security groups", acct.Groups, b.groups, func(g *model.SecurityGroup) (string, string, bool) { return byTags(g.ID, g.Tags) }),
		marked(b, "instances", acct.Instances, b.insts, func(in *model.Instance) (string, string, bool) { return byTags(in.ID, in.Tags) }),
		marked(b, "prefix lists", acct.PrefixLists, b.pls, func(pl *model.PrefixList) (string, string, bool) { return byDesc(pl.ID, pl.Description) }),
		marked(b, "port range lists", acct.PortRangeLists, b.prls, func(l *model.PortRangeList) (string, string, bool) { return byDesc(l.ID, l.Description) }),
		marked(b, "network interfaces", acct.ENIs, b.enis, func(n *model.NetworkInterface) (string, string, bool) { return byTags(n.ID, n.Tags) }),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// marked files each of items that mark finds a marker on (its file ID, and
// its ID in the account) in byFile and b.toFile; kind names them in the
// error of two with one file ID.
func marked[T any](b *builder, kind string, items []T, byFile map[string]T, mark func(T) (file, id string, ok bool)) error {
	for _, it := range items {
		file, id, ok := mark(it)
		if !ok {
			continue
		}
		if o, ok := byFile[file]; ok {
			_, first, _ := mark(o)
			return fmt.Errorf("the account has two %s marked %s=%s (%s and %s): delete one, or remove its marker", kind, Marker, file, first, id)
		}
		byFile[file], b.toFile[id] = it, file
	}
	return nil
}

func byTags(id string, tags []model.Tag) (string, string, bool) {
	file, ok := idOfTags(tags)
	return file, id, ok
}

func byDesc(id, desc string) (string, string, bool) {
	file, ok := idOfDesc(desc)
	return file, id, ok
}

func (b *builder) add(s Step) {
	if s.Params == nil {
		s.Params = map[string]string{}
	}
	s.Params["RegionId"] = b.opt.Region
	b.p.Steps = append(b.p.Steps, s)
}

// Account IDs of file resources, or the placeholder of one made in the run.
func (b *builder) vpcID(id string) string {
	if v, ok := b.vpcs[id]; ok {
		return v.ID
	}
	return ref("vpc", id)
}

func (b *builder) groupID(id string) string {
	if g, ok := b.groups[id]; ok {
		return g.ID
	}
	return ref("sg", id)
}

func (b *builder) plID(id string) string {
	if pl, ok := b.pls[id]; ok {
		return pl.ID
	}
	return ref("pl", id)
}

// vpcIPv6 is the IPv6 block apply gives a VPC of the file. CreateVpc takes
// a /56 only, and the API gives NICs IPv6 addresses only from their VPC's
// block, while the file may give a block of another length, or none beside
// NICs with IPv6 addresses (FORMAT.md: an ipv6Address lies in its VPC's
// ipv6CidrBlock when the VPC gives one). So it is the file's block when
// that is a /56, else the /56 that holds the file's longer block or its
// NICs' IPv6 addresses (for a shorter block without them, its first /56);
// none for a VPC with neither. When no /56 holds them all, the file is
// refused before any step (it failed at CreateVSwitch or RunInstances, the
// steps before them applied).
func (b *builder) vpcIPv6(v *model.VPC) (netip.Prefix, error) {
	var addrs []netip.Addr
	var owners []string
	for _, e := range b.endpoints() {
		if e.vpc == v.ID && e.ipv6.IsValid() {
			addrs, owners = append(addrs, e.ipv6), append(owners, e.id)
		}
	}
	var want netip.Prefix
	switch {
	case v.IPv6CIDR.IsValid() && v.IPv6CIDR.Bits() >= 56:
		want = netip.PrefixFrom(v.IPv6CIDR.Addr(), 56).Masked()
	case len(addrs) > 0:
		want = netip.PrefixFrom(addrs[0], 56).Masked()
	case v.IPv6CIDR.IsValid():
		want = netip.PrefixFrom(v.IPv6CIDR.Addr(), 56).Masked()
	default:
		return netip.Prefix{}, nil
	}
	for i, a := range addrs {
		if !want.Contains(a) {
			return netip.Prefix{}, &FileError{fmt.Sprintf("%s: VPC %s: CreateVpc takes one IPv6 /56, from which the API gives NICs their IPv6 addresses, and no /56 holds both %s's %s and %s's %s: give the VPC's NICs IPv6 addresses of one /56, and the VPC that /56 as its ipv6CidrBlock", b.sc.File, v.ID, owners[0], addrs[0], owners[i], a)}
		}
	}
	return want, nil
}

func (b *builder) diffVPCs() error {
	for _, v := range b.sc.VPCs {
		six, err := b.vpcIPv6(v)
		if err != nil {
			return err
		}
		cur, ok := b.vpcs[v.ID]
		if !ok {
			// A block the file takes and CreateVpc does not (outside the
			// private ranges, or a mask past /28) is refused before any
			// step, not at its CreateVpc after the VPCs before it.
			if _, e := model.ParsePrivateCIDR(v.CIDR.String(), model.VPCMinBits, model.VPCMaxBits); e != nil {
				return &FileError{fmt.Sprintf("%s: VPC %s: %s (%s): give it a block CreateVpc takes", b.sc.File, v.ID, e.Message, e.Code)}
			}
			p := map[string]string{"CidrBlock": v.CIDR.String(), "Description": markerDesc(v.ID)}
			if v.Name != "" {
				p["VpcName"] = v.Name
			}
			if six.IsValid() {
				p["Ipv6CidrBlock"] = six.String()
			}
			addTagParams(p, 1, v.Tags)
			b.add(Step{Product: "Vpc", Action: "CreateVpc", Resource: v.ID, Params: p, creates: ref("vpc", v.ID), idField: "VpcId"})
			continue
		}
		if cur.CIDR != v.CIDR {
			return &ConflictError{cur.ID, v.ID, "cidrBlock", cur.CIDR.String(), v.CIDR.String()}
		}
		if six.IsValid() && cur.IPv6CIDR != six {
			have := "none"
			if cur.IPv6CIDR.IsValid() {
				have = cur.IPv6CIDR.String()
			}
			return &ConflictError{cur.ID, v.ID, "ipv6CidrBlock", have, six.String()}
		}
		if v.Name != "" && v.Name != cur.Name {
			b.p.Warnings = append(b.p.Warnings, fmt.Sprintf("%s (%s): vpcName is %q, the file says %q; apply does not rename VPCs", v.ID, cur.ID, cur.Name, v.Name))
		}
		b.diffTags("Vpc", "VPC", v.ID, cur.ID, cur.Tags, v.Tags)
	}
	return nil
}

func (b *builder) diffPrefixLists() error {
	for _, pl := range b.sc.PrefixLists {
		cur, ok := b.pls[pl.ID]
		if !ok {
			p := map[string]string{"PrefixListName": cmpOr(pl.Name, pl.ID), "AddressFamily": pl.AddressFamily,
				"MaxEntries": strconv.Itoa(pl.MaxEntries), "Description": markerDesc(pl.ID)}
			for i, e := range pl.Entries {
				p[fmt.Sprintf("Entry.%d.Cidr", i+1)] = e.CIDR.String()
			}
			b.add(Step{Product: "Ecs", Action: "CreatePrefixList", Resource: pl.ID, Params: p, creates: ref("pl", pl.ID), idField: "PrefixListId"})
			continue
		}
		if cur.AddressFamily != pl.AddressFamily {
			return &ConflictError{cur.ID, pl.ID, "addressFamily", cur.AddressFamily, pl.AddressFamily}
		}
		p := map[string]string{"PrefixListId": cur.ID}
		if pl.Name != "" && pl.Name != cur.Name {
			p["PrefixListName"] = pl.Name
		}
		have := map[netip.Prefix]bool{}
		for _, e := range cur.Entries {
			have[e.CIDR.Masked()] = true
		}
		want := map[netip.Prefix]bool{}
		n := 0
		for _, e := range pl.Entries {
			want[e.CIDR.Masked()] = true
			if !have[e.CIDR.Masked()] {
				n++
				p[fmt.Sprintf("AddEntry.%d.Cidr", n)] = e.CIDR.String()
			}
		}
		n = 0
		for _, e := range cur.Entries {
			if !want[e.CIDR.Masked()] {
				n++
				p[fmt.Sprintf("RemoveEntry.%d.Cidr", n)] = e.CIDR.String()
			}
		}
		if pl.MaxEntries != cur.MaxEntries && len(pl.Entries) > cur.MaxEntries {
			b.p.Warnings = append(b.p.Warnings, fmt.Sprintf("%s (%s): maxEntries is %d, the file's %d entries need more; apply does not resize prefix lists", pl.ID, cur.ID, cur.MaxEntries, len(pl.Entries)))
		}
		if len(p) > 1 {
			b.add(Step{Product: "Ecs", Action: "ModifyPrefixList", Resource: pl.ID, Params: p})
		}
	}
	return nil
}

// defaultInner is the InnerAccessPolicy CreateSecurityGroup gives a type.
func defaultInner(t model.GroupType) string {
	if t == model.Enterprise {
		return model.InnerDrop
	}
	return model.InnerAccept
}

func (b *builder) diffGroups() error {
	for _, g := range b.sc.Groups {
		cur, ok := b.groups[g.ID]
		if !ok {
			p := map[string]string{"SecurityGroupType": string(g.Type), "Tag.1.Key": Marker, "Tag.1.Value": g.ID}
			if g.VpcID != "" {
				p["VpcId"] = b.vpcID(g.VpcID)
			}
			if g.Name != "" {
				p["SecurityGroupName"] = g.Name
			}
			if g.Description != "" {
				p["Description"] = g.Description
			}
			addTagParams(p, 2, userTags(g.Tags))
			b.add(Step{Product: "Ecs", Action: "CreateSecurityGroup", Resource: g.ID, Params: p, creates: ref("sg", g.ID), idField: "SecurityGroupId"})
			if g.InnerAccessPolicy != defaultInner(g.Type) {
				b.add(Step{Product: "Ecs", Action: "ModifySecurityGroupPolicy", Resource: g.ID,
					Params: map[string]string{"SecurityGroupId": ref("sg", g.ID), "InnerAccessPolicy": g.InnerAccessPolicy}})
			}
			continue
		}
		if cur.Type != g.Type {
			return &ConflictError{cur.ID, g.ID, "securityGroupType", string(cur.Type), string(g.Type)}
		}
		if want := b.vpcID(g.VpcID); g.VpcID == "" && cur.VpcID != "" || g.VpcID != "" && cur.VpcID != want {
			return &ConflictError{cur.ID, g.ID, "vpcId", cmpOr(b.toFile[cur.VpcID], cmpOr(cur.VpcID, "(classic)")), cmpOr(g.VpcID, "(classic)")}
		}
		p := map[string]string{"SecurityGroupId": cur.ID}
		if g.Name != "" && g.Name != cur.Name {
			p["SecurityGroupName"] = g.Name
		}
		if g.Description != "" && g.Description != cur.Description {
			p["Description"] = g.Description
		}
		if len(p) > 1 {
			b.add(Step{Product: "Ecs", Action: "ModifySecurityGroupAttribute", Resource: g.ID, Params: p})
		}
		b.diffTags("Ecs", "securitygroup", g.ID, cur.ID, cur.Tags, g.Tags)
		if cur.InnerAccessPolicy != g.InnerAccessPolicy {
			b.add(Step{Product: "Ecs", Action: "ModifySecurityGroupPolicy", Resource: g.ID, Note: cur.InnerAccessPolicy + " → " + g.InnerAccessPolicy,
				Params: map[string]string{"SecurityGroupId": cur.ID, "InnerAccessPolicy": g.InnerAccessPolicy}})
		}
	}
	return nil
}

func (b *builder) diffInstances() error {
	for _, in := range b.sc.Instances {
		want := make([]string, len(in.SecurityGroups))
		for i, g := range in.SecurityGroups {
			want[i] = b.groupID(g)
		}
		cur, ok := b.insts[in.ID]
		if ok {
			why := b.instanceMoved(in, cur)
			if need := b.nicsOf(in); why == "" && cur.InstanceType != "" && model.ENIQuota(cur.InstanceType) < need {
				// Refused now, not at the AttachNetworkInterface after
				// the steps before it ran.
				return &FileError{fmt.Sprintf("%s: instance %s is %s (%s), which takes %d network interfaces with its primary, and the file gives it %d secondary ones: delete the instance (DeleteInstance), and apply launches it again as a type that takes them", b.sc.File, in.ID, cur.ID, cur.InstanceType, model.ENIQuota(cur.InstanceType), need-1)}
			}
			if why == "" {
				b.membership(in, cur, want)
				b.diffTags("Ecs", "instance", in.ID, cur.ID, cur.Tags, in.Tags)
				continue
			}
			b.add(Step{Product: "Ecs", Action: "DeleteInstance", Resource: in.ID, Note: "replaced: " + why,
				Params: map[string]string{"InstanceId": cur.ID, "Force": "true"}})
		}
		p := map[string]string{"ImageId": b.opt.Image, "InstanceType": b.instanceType(in), "Amount": "1",
			"PrivateIpAddress": in.PrivateIP.String(), "Tag.1.Key": Marker, "Tag.1.Value": in.ID}
		for i, g := range want {
			p[fmt.Sprintf("SecurityGroupIds.%d", i+1)] = g
		}
		if in.Name != "" {
			p["InstanceName"] = in.Name
		}
		addTagParams(p, 2, userTags(in.Tags))
		if in.PublicIP.IsValid() {
			p["InternetMaxBandwidthOut"] = "1" // the API picks the address
		}
		if in.IPv6.IsValid() {
			p["Ipv6Address.1"] = in.IPv6.String()
		}
		if in.VpcID != "" {
			p["VSwitchId"] = b.vSwitch(endpoint{in.ID, in.VpcID, in.PrivateIP, in.IPv6})
		}
		b.add(Step{Product: "Ecs", Action: "RunInstances", Resource: in.ID, Params: p, creates: ref("i", in.ID), idField: "InstanceIdSets.InstanceIdSet"})
	}
	return nil
}

// nicsOf is how many network interfaces the file gives an instance, its
// primary included.
func (b *builder) nicsOf(in *model.Instance) int {
	n := 1
	for _, e := range b.sc.ENIs {
		if e.InstanceID == in.ID {
			n++
		}
	}
	return n
}

// instanceType is the type a new instance is launched as: the chosen one,
// unless the file gives the instance more secondary ENIs than that type
// takes (ecs.g7.large takes one; FORMAT.md allows 14), then the known type
// with the fewest ENIs that takes them, so that every AttachNetworkInterface
// of the plan is one the API accepts.
func (b *builder) instanceType(in *model.Instance) string {
	need := b.nicsOf(in)
	if model.ENIQuota(b.opt.InstanceType) >= need {
		return b.opt.InstanceType
	}
	if t, ok := model.InstanceTypeForENIs(need); ok {
		return t
	}
	return b.opt.InstanceType
}

// instanceMoved says what of an instance's network the API cannot change
// in place ("" when nothing): the VPC, the addresses, having a public one.
func (b *builder) instanceMoved(in, cur *model.Instance) string {
	switch {
	case in.VpcID == "" && cur.VpcID != "" || in.VpcID != "" && b.vpcID(in.VpcID) != cur.VpcID:
		return fmt.Sprintf("vpcId %s → %s", cmpOr(b.toFile[cur.VpcID], cmpOr(cur.VpcID, "(classic)")), cmpOr(in.VpcID, "(classic)"))
	case in.PrivateIP != cur.PrivateIP:
		return fmt.Sprintf("privateIpAddress %s → %s", cur.PrivateIP, in.PrivateIP)
	case in.IPv6 != cur.IPv6:
		return fmt.Sprintf("ipv6Address %v → %v", cur.IPv6, in.IPv6)
	case in.PublicIP.IsValid() != cur.PublicIP.IsValid():
		return fmt.Sprintf("public address %v → %v", cur.PublicIP.IsValid(), in.PublicIP.IsValid())
	}
	return ""
}

// membership converges an existing instance's groups and name.
func (b *builder) membership(in, cur *model.Instance, want []string) {
	same := len(want) == len(cur.SecurityGroups)
	for _, g := range want {
		same = same && slices.Contains(cur.SecurityGroups, g)
	}
	p := map[string]string{"InstanceId": cur.ID}
	if in.Name != "" && in.Name != cur.Name {
		p["InstanceName"] = in.Name
	}
	if !same && cur.VpcID == "" {
		// Classic instances change groups one at a time, and always keep one.
		for _, g := range want {
			if !slices.Contains(cur.SecurityGroups, g) {
				b.add(Step{Product: "Ecs", Action: "JoinSecurityGroup", Resource: in.ID, Params: map[string]string{"InstanceId": cur.ID, "SecurityGroupId": g}})
			}
		}
		for _, g := range cur.SecurityGroups {
			if !slices.Contains(want, g) {
				b.add(Step{Product: "Ecs", Action: "LeaveSecurityGroup", Resource: in.ID, Params: map[string]string{"InstanceId": cur.ID, "SecurityGroupId": g}})
			}
		}
	} else if !same {
		for i, g := range want {
			p[fmt.Sprintf("SecurityGroupIds.%d", i+1)] = g
		}
	}
	if len(p) > 1 {
		b.add(Step{Product: "Ecs", Action: "ModifyInstanceAttribute", Resource: in.ID, Params: p})
	}
}

// prune removes, with --prune, the managed resources the file does not
// name, dependents first; without it, it says what is left.
func (b *builder) prune() error {
	var left []string
	named := map[string]bool{} // kind + ":" + file ID
	for _, v := range b.sc.VPCs {
		named["vpc:"+v.ID] = true
	}
	for _, pl := range b.sc.PrefixLists {
		named["pl:"+pl.ID] = true
	}
	for _, g := range b.sc.Groups {
		named["sg:"+g.ID] = true
	}
	for _, in := range b.sc.Instances {
		named["i:"+in.ID] = true
	}
	var steps []Step
	for _, id := range slices.Sorted(maps.Keys(b.insts)) {
		if !named["i:"+id] {
			left = append(left, id)
			steps = append(steps, Step{Product: "Ecs", Action: "DeleteInstance", Resource: id, Note: "not in the file",
				Params: map[string]string{"InstanceId": b.insts[id].ID, "Force": "true"}})
		}
	}
	var groups []Step
	for _, id := range slices.Sorted(maps.Keys(b.groups)) {
		if named["sg:"+id] {
			continue
		}
		left = append(left, id)
		g := b.groups[id]
		// Rules naming other groups go first, so that the groups can go in any order.
		for _, r := range g.Rules {
			if r.Peer.GroupID != "" {
				steps = append(steps, revokeStep(id, g.ID, r, "before deleting the group"))
			}
		}
		groups = append(groups, Step{Product: "Ecs", Action: "DeleteSecurityGroup", Resource: id, Note: "not in the file",
			Params: map[string]string{"SecurityGroupId": g.ID}})
	}
	steps = append(steps, groups...)
	prlLeft, prlSteps := b.prunePortLists()
	left, steps = append(left, prlLeft...), append(steps, prlSteps...)
	for _, id := range slices.Sorted(maps.Keys(b.pls)) {
		if !named["pl:"+id] {
			left = append(left, id)
			steps = append(steps, Step{Product: "Ecs", Action: "DeletePrefixList", Resource: id, Note: "not in the file",
				Params: map[string]string{"PrefixListId": b.pls[id].ID}})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(b.vpcs)) {
		if named["vpc:"+id] {
			continue
		}
		left = append(left, id)
		v := b.vpcs[id]
		for _, w := range b.st.VSwitches {
			if w.VpcID == v.ID && w.FileVPC == id {
				steps = append(steps, Step{Product: "Vpc", Action: "DeleteVSwitch", Resource: id, Note: "made by apply for the VPC",
					Params: map[string]string{"VSwitchId": w.ID}})
			}
		}
		steps = append(steps, Step{Product: "Vpc", Action: "DeleteVpc", Resource: id, Note: "not in the file",
			Params: map[string]string{"VpcId": v.ID}})
	}
	if !b.opt.Prune {
		if len(left) > 0 {
			b.p.Warnings = append(b.p.Warnings, fmt.Sprintf("left in place, managed by apply but not in the file (use --prune to remove): %v", left))
		}
		return nil
	}
	for _, s := range steps {
		b.add(s)
	}
	return nil
}
