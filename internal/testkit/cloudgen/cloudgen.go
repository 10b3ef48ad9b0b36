// Package cloudgen generates random clouds (VPCs, groups of both types with
// rules of every kind, instances in several groups, NICs with several IPv6
// addresses, prefix lists, port range lists; with Full also the classic
// network, secondary ENIs and addresses, and another account's groups) and
// random flows over them (AtMoreIPv6 moves some to further addresses),
// reproducibly from a seed; edges.go gives the ports, addresses and flows
// at which the rules change. Differential tests play the same
// cloud through two evaluators (or the policy engine and the kernel) and
// benchmarks use it to build clouds of a given size.
package cloudgen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Config sizes a generated cloud.
type Config struct {
	VPCs          int // at least 1
	Groups        int // per VPC
	Instances     int // per VPC
	RulesPerGroup int // upper bound; each group gets 0..RulesPerGroup rules
	PrefixLists   int
	// PortRangeLists is how many port range lists to make; TCP and UDP
	// rules then take their ports from one now and then.
	PortRangeLists int
	MaxGroups      int     // groups per instance, 1..5
	PublicShare    float64 // share of instances with a public address
	IPv6Share      float64 // share of instances with an IPv6 address
	Enterprise     float64 // share of enterprise groups
	Outside        []netip.Addr

	// The features below are drawn from a generator of their own after
	// the rest, so that a cloud without them is what it always was.

	// ClassicGroups and ClassicInstances make a classic network: basic
	// groups without a VPC, whose rules have an intranet or an internet
	// rule set (NicType), and instances in them at private addresses that
	// overlap the first VPC's.
	ClassicGroups, ClassicInstances int
	// ClassicApart puts the classic instances at addresses of their own
	// (10.250.0.0/16) instead of the first VPC's: the lab routes private
	// addresses across networks, so it needs them apart.
	ClassicApart bool
	// ENIShare is the share of VPC instances with a secondary ENI attached
	// (a NIC of its own, with groups of its own and no public address; it
	// is in Cloud.Instances, as model.NICs gives it to the engine).
	ENIShare float64
	// SecondaryIPShare is the share of VPC NICs with secondary private
	// IPv4 addresses.
	SecondaryIPShare float64
	// OtherAccount is the share of groups owned by a second account; rules
	// naming them as peers name that owner (cross-account peers).
	OtherAccount float64
	// MoreIPv6Share is the share of NICs with an IPv6 address (instances
	// and secondary ENIs) given one or two further IPv6 addresses
	// (MoreIPv6), drawn last from a generator of their own: a seed's cloud
	// is the one it was before, with the further addresses added.
	MoreIPv6Share float64
	// MoreIPv6Locals is the share of rules with an IPv6 CIDR peer whose
	// local side then holds further IPv6 addresses and not the first ones
	// (one address, or the block of every NIC's second one): a NIC's IPv6
	// addresses then see different policies. Off in Small and Full, whose
	// rules stay as they were; MoreIPv6 turns it on.
	MoreIPv6Locals float64
}

// Full is Small with every feature the generator makes: a classic network,
// secondary ENIs and addresses, port range lists and cross-account peers.
var Full = Config{VPCs: 2, Groups: 4, Instances: 6, RulesPerGroup: 8, PrefixLists: 2, PortRangeLists: 2,
	MaxGroups: 3, PublicShare: 0.5, IPv6Share: 0.5, Enterprise: 0.3,
	ClassicGroups: 3, ClassicInstances: 4, ENIShare: 0.4, SecondaryIPShare: 0.4, OtherAccount: 0.3, MoreIPv6Share: 0.5}

// Small is a cloud where every feature interacts often.
var Small = Config{VPCs: 2, Groups: 4, Instances: 6, RulesPerGroup: 8, PrefixLists: 2, PortRangeLists: 2,
	MaxGroups: 3, PublicShare: 0.5, IPv6Share: 0.5, Enterprise: 0.3, MoreIPv6Share: 0.5}

// MoreIPv6 is Full with rules that tell a NIC's IPv6 addresses apart
// (MoreIPv6Locals).
var MoreIPv6 = func() Config { c := Full; c.MoreIPv6Locals = 0.5; return c }()

// Cloud is a generated cloud.
type Cloud struct {
	VPCs        []*model.VPC
	Groups      []*model.SecurityGroup
	Instances   []*model.Instance
	PrefixLists []*model.PrefixList
	// PortRangeLists are the lists rules may take their ports from.
	PortRangeLists []*model.PortRangeList
	Outside        []netip.Addr // outside addresses flows may use
}

// Snapshot indexes the cloud for the policy engine.
func (c *Cloud) Snapshot() *policy.Cloud {
	return policy.NewCloud(c.Groups, c.Instances, c.PrefixLists).WithPortRangeLists(c.PortRangeLists)
}

// ports are drawn from a small set so that rules overlap and tie often.
var ports = []int32{22, 53, 80, 443, 3306, 5432, 6379, 8080}

const owner = "1000000000000001"

// otherOwner is the second account of Config.OtherAccount.
const otherOwner = "1000000000000002"

// Generate builds a random cloud from a seed.
func Generate(seed uint64, cfg Config) *Cloud {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c := &Cloud{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Outside = cfg.Outside
	if len(c.Outside) == 0 {
		c.Outside = []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.5"),
			netip.MustParseAddr("203.0.113.200"), netip.MustParseAddr("2001:db8:ffff::7")}
	}
	for p := range cfg.PrefixLists {
		six := rng.IntN(3) == 0
		pl := &model.PrefixList{ID: fmt.Sprintf("pl-gen%d", p), Owner: owner, AddressFamily: "IPv4", MaxEntries: 10}
		if six {
			pl.AddressFamily = "IPv6"
		}
		for range 1 + rng.IntN(3) {
			pl.Entries = append(pl.Entries, model.PrefixEntry{CIDR: randomPrefix(rng, c, six, nil)})
		}
		c.PrefixLists = append(c.PrefixLists, pl)
	}
	for v := range cfg.VPCs {
		vpc := &model.VPC{ID: fmt.Sprintf("vpc-gen%d", v), Owner: owner,
			CIDR:     netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(v), 0, 0}), 16),
			IPv6CIDR: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(v)}), 56),
			Created:  now}
		c.VPCs = append(c.VPCs, vpc)
		var groups []*model.SecurityGroup
		for g := range cfg.Groups {
			sg := &model.SecurityGroup{ID: fmt.Sprintf("sg-gen%d-%d", v, g), Owner: owner, VpcID: vpc.ID,
				Type: model.Normal, InnerAccessPolicy: model.InnerAccept, Created: now}
			if rng.Float64() < cfg.Enterprise {
				sg.Type, sg.InnerAccessPolicy = model.Enterprise, model.InnerDrop
			} else if rng.IntN(3) == 0 {
				sg.InnerAccessPolicy = model.InnerDrop
			}
			groups = append(groups, sg)
		}
		for i := range cfg.Instances {
			n := i + 10
			in := &model.Instance{ID: fmt.Sprintf("i-gen%d-%d", v, i), Owner: owner, VpcID: vpc.ID,
				PrivateIP: netip.AddrFrom4([4]byte{10, byte(v), byte(n >> 8), byte(n)}),
				Status:    model.StatusRunning, Created: now}
			if rng.Float64() < cfg.IPv6Share {
				b := vpc.IPv6CIDR.Addr().As16()
				b[14], b[15] = byte(n>>8), byte(n)
				in.IPv6 = netip.AddrFrom16(b)
			}
			if rng.Float64() < cfg.PublicShare {
				in.PublicIP = netip.AddrFrom4([4]byte{192, 0, 2, byte(len(c.Instances) + 1)})
			}
			// All of one type: pick the first group, then others of its type.
			first := groups[rng.IntN(len(groups))]
			in.SecurityGroups = []string{first.ID}
			for range rng.IntN(max(cfg.MaxGroups, 1)) {
				g := groups[rng.IntN(len(groups))]
				if g.Type == first.Type && !contains(in.SecurityGroups, g.ID) {
					in.SecurityGroups = append(in.SecurityGroups, g.ID)
				}
			}
			c.Instances = append(c.Instances, in)
		}
		for _, sg := range groups {
			for r := range rng.IntN(cfg.RulesPerGroup + 1) {
				sg.Rules = append(sg.Rules, randomRule(rng, c, sg, groups, fmt.Sprintf("sgr-%s-%d", sg.ID[3:], r)))
			}
		}
		c.Groups = append(c.Groups, groups...)
	}
	usePortRangeLists(c, cfg, seed)
	addFeatures(c, cfg, seed)
	addMoreIPv6(c, cfg, seed)
	return c
}

// addMoreIPv6 gives some NICs with an IPv6 address one or two more, in
// the same /64 (the vSwitch's block) and apart from every other NIC's:
// byte 12 of the NIC's first address set to 1 or 2 (first addresses keep
// it 0). A /120 or /128 peer drawn around a first address thus leaves the
// further ones out, while a group peer stands for them all.
func addMoreIPv6(c *Cloud, cfg Config, seed uint64) {
	if cfg.MoreIPv6Share == 0 {
		return
	}
	rng := rand.New(rand.NewPCG(seed^0x6a09e667f3bcc909, seed+13))
	for _, in := range c.Instances {
		if !in.IPv6.IsValid() || rng.Float64() >= cfg.MoreIPv6Share {
			continue
		}
		for j := range 1 + rng.IntN(2) {
			b := in.IPv6.As16()
			b[12] = byte(1 + j)
			in.MoreIPv6 = append(in.MoreIPv6, netip.AddrFrom16(b))
		}
	}
	if cfg.MoreIPv6Locals == 0 {
		return
	}
	more := map[string][]netip.Addr{} // by VPC
	for _, in := range c.Instances {
		more[in.VpcID] = append(more[in.VpcID], in.MoreIPv6...)
	}
	for _, g := range c.Groups {
		for i := range g.Rules {
			r := &g.Rules[i]
			if g.VpcID == "" || len(more[g.VpcID]) == 0 || !r.Peer.CIDR.IsValid() || !r.Peer.CIDR.Addr().Is6() || rng.Float64() >= cfg.MoreIPv6Locals {
				continue
			}
			a := more[g.VpcID][rng.IntN(len(more[g.VpcID]))]
			if rng.IntN(2) == 0 {
				r.Local = netip.PrefixFrom(a, 128)
				continue
			}
			// Byte 12 is 1 in every NIC's second address and 0 in first ones.
			b := a.As16()
			b[12], b[13], b[14], b[15] = 1, 0, 0, 0
			r.Local = netip.PrefixFrom(netip.AddrFrom16(b), 104)
		}
	}
}

// addFeatures adds the classic network, secondary ENIs and addresses and
// the second account, from a generator of its own (see Config).
func addFeatures(c *Cloud, cfg Config, seed uint64) {
	if cfg.ClassicGroups == 0 && cfg.ENIShare == 0 && cfg.SecondaryIPShare == 0 && cfg.OtherAccount == 0 {
		return
	}
	rng := rand.New(rand.NewPCG(seed^0x2545f4914f6cdd1d, seed+7))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Secondary ENIs first, so that secondary addresses may go to them too.
	vpcInstances := slices.Clone(c.Instances)
	for k, in := range vpcInstances {
		if rng.Float64() >= cfg.ENIShare {
			continue
		}
		n := 10 + k
		var peers []*model.SecurityGroup
		first := c.group(in.SecurityGroups[0])
		for _, g := range c.Groups {
			if g.VpcID == in.VpcID && g.Type == first.Type {
				peers = append(peers, g)
			}
		}
		eni := &model.NetworkInterface{ID: fmt.Sprintf("eni-gen%d", k), Owner: in.Owner, Type: model.ENISecondary,
			Status: model.ENIInUse, InstanceID: in.ID, VpcID: in.VpcID,
			PrivateIP: netip.AddrFrom4([4]byte{10, in.PrivateIP.As4()[1], 2, byte(n)}), Created: now}
		if in.IPv6.IsValid() && rng.IntN(2) == 0 {
			b := in.IPv6.As16()
			b[13] = 2
			eni.IPv6 = netip.AddrFrom16(b)
		}
		// Often other groups than its instance's: a NIC is judged by its own.
		for range 1 + rng.IntN(2) {
			if g := peers[rng.IntN(len(peers))]; !contains(eni.SecurityGroups, g.ID) {
				eni.SecurityGroups = append(eni.SecurityGroups, g.ID)
			}
		}
		c.Instances = append(c.Instances, model.NICs([]*model.Instance{in}, []*model.NetworkInterface{eni})[1])
	}
	for _, in := range c.Instances {
		if rng.Float64() >= cfg.SecondaryIPShare {
			continue
		}
		b := in.PrivateIP.As4()
		for j := range 1 + rng.IntN(2) {
			in.SecondaryIPs = append(in.SecondaryIPs, netip.AddrFrom4([4]byte{10, b[1], 1 + b[2] + byte(3+j), b[3]}))
		}
	}
	// Some rules hold the secondary addresses on their local side and not
	// the primary ones: a NIC's addresses then see different policies.
	for _, g := range c.Groups {
		for i := range g.Rules {
			r := &g.Rules[i]
			if cfg.SecondaryIPShare > 0 && r.Peer.CIDR.IsValid() && r.Peer.CIDR.Addr().Is4() && rng.IntN(6) == 0 {
				vpc := slices.IndexFunc(c.VPCs, func(v *model.VPC) bool { return v.ID == g.VpcID })
				r.Local = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, c.VPCs[vpc].CIDR.Addr().As4()[1], 4, 0}), 24)
			}
		}
	}
	// The classic network: basic groups without a VPC.
	var classic []*model.SecurityGroup
	for g := range cfg.ClassicGroups {
		sg := &model.SecurityGroup{ID: fmt.Sprintf("sg-classic%d", g), Owner: owner, Type: model.Normal,
			InnerAccessPolicy: model.InnerAccept, Created: now}
		if rng.IntN(3) == 0 {
			sg.InnerAccessPolicy = model.InnerDrop
		}
		classic = append(classic, sg)
	}
	for i := range cfg.ClassicInstances {
		if len(classic) == 0 {
			break
		}
		n := i + 10
		// The first VPC's addresses again: the networks are apart.
		second := byte(0)
		if cfg.ClassicApart {
			second = 250
		}
		in := &model.Instance{ID: fmt.Sprintf("i-classic%d", i), Owner: owner,
			PrivateIP: netip.AddrFrom4([4]byte{10, second, byte(n >> 8), byte(n)}), Status: model.StatusRunning, Created: now}
		if rng.Float64() < cfg.PublicShare {
			in.PublicIP = netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + i)})
		}
		in.SecurityGroups = []string{classic[rng.IntN(len(classic))].ID}
		for range rng.IntN(max(cfg.MaxGroups, 1)) {
			if g := classic[rng.IntN(len(classic))]; !contains(in.SecurityGroups, g.ID) {
				in.SecurityGroups = append(in.SecurityGroups, g.ID)
			}
		}
		c.Instances = append(c.Instances, in)
	}
	for _, sg := range classic {
		for r := range rng.IntN(cfg.RulesPerGroup + 1) {
			rule := randomRule(rng, c, sg, classic, fmt.Sprintf("sgr-%s-%d", sg.ID[3:], r))
			rule.Local = netip.Prefix{} // quintuple rules are the VPC's
			if rule.Peer.GroupID == "" && rng.IntN(2) == 0 {
				rule.NicType = model.Internet
			}
			sg.Rules = append(sg.Rules, rule)
		}
	}
	c.Groups = append(c.Groups, classic...)
	// A second account owns some groups; the rules naming them say so.
	other := map[string]bool{}
	for _, g := range c.Groups {
		if rng.Float64() < cfg.OtherAccount {
			g.Owner, other[g.ID] = otherOwner, true
		}
	}
	for _, g := range c.Groups {
		for i := range g.Rules {
			if r := &g.Rules[i]; other[r.Peer.GroupID] {
				r.Peer.GroupOwner = otherOwner
			}
		}
	}
}

// group returns the generated group with the ID, or nil.
func (c *Cloud) group(id string) *model.SecurityGroup {
	for _, g := range c.Groups {
		if g.ID == id {
			return g
		}
	}
	return nil
}

// usePortRangeLists makes the configured port range lists and gives some
// TCP and UDP rules one in place of their PortRange. It draws from its own
// generator, so that clouds without lists are what they always were.
func usePortRangeLists(c *Cloud, cfg Config, seed uint64) {
	if cfg.PortRangeLists == 0 {
		return
	}
	rng := rand.New(rand.NewPCG(seed^0x5bd1e995, seed))
	for l := range cfg.PortRangeLists {
		pl := &model.PortRangeList{ID: fmt.Sprintf("prl-gen%d", l), Owner: owner, Name: fmt.Sprintf("gen%d", l), MaxEntries: 10}
		for range 1 + rng.IntN(3) {
			a := ports[rng.IntN(len(ports))]
			e := model.PortEntry{Range: model.PortRange{Start: a, End: a}}
			if rng.IntN(3) == 0 {
				e.Range.End = a + int32(rng.IntN(100))
			}
			if model.PortEntryIndex(pl.Entries, e.Range) < 0 {
				pl.Entries = append(pl.Entries, e)
			}
		}
		c.PortRangeLists = append(c.PortRangeLists, pl)
	}
	for _, g := range c.Groups {
		for i := range g.Rules {
			if r := &g.Rules[i]; r.Protocol.HasPorts() && rng.IntN(4) == 0 {
				r.PortRange, r.PortRangeListID = model.PortRange{}, c.PortRangeLists[rng.IntN(len(c.PortRangeLists))].ID
			}
		}
	}
}

func contains(s []string, x string) bool {
	for _, e := range s {
		if e == x {
			return true
		}
	}
	return false
}

// randomPrefix draws a prefix that often contains instance or outside addresses.
func randomPrefix(rng *rand.Rand, c *Cloud, six bool, vpc *model.VPC) netip.Prefix {
	var base netip.Addr
	var cands []netip.Addr
	for _, in := range c.Instances {
		if six && in.IPv6.IsValid() {
			cands = append(cands, in.IPv6)
		} else if !six {
			cands = append(cands, in.PrivateIP)
			if in.PublicIP.IsValid() {
				cands = append(cands, in.PublicIP)
			}
		}
	}
	for _, a := range c.Outside {
		if a.Is6() == six {
			cands = append(cands, a)
		}
	}
	if len(cands) == 0 || rng.IntN(5) == 0 {
		if six {
			return netip.MustParsePrefix("::/0")
		}
		return netip.MustParsePrefix("0.0.0.0/0")
	}
	base = cands[rng.IntN(len(cands))]
	var bits int
	if six {
		bits = []int{0, 32, 56, 64, 120, 128}[rng.IntN(6)]
	} else {
		bits = []int{0, 8, 16, 24, 28, 32}[rng.IntN(6)]
	}
	p, _ := base.Prefix(bits)
	return p
}

func randomRule(rng *rand.Rand, c *Cloud, sg *model.SecurityGroup, groups []*model.SecurityGroup, id string) model.Rule {
	r := model.Rule{ID: id, NicType: model.Intranet, Priority: []int{1, 1, 2, 5, 50, 100}[rng.IntN(6)]}
	r.Direction = model.Ingress
	if rng.IntN(2) == 0 {
		r.Direction = model.Egress
	}
	r.Policy = model.Accept
	if rng.IntN(3) == 0 {
		r.Policy = model.Drop
	}
	six := rng.IntN(4) == 0
	r.Protocol = []model.Protocol{model.TCP, model.TCP, model.UDP, model.ICMP, model.GRE, model.ALL}[rng.IntN(6)]
	if six && r.Protocol == model.ICMP {
		r.Protocol = model.ICMPv6
	}
	r.PortRange = model.AnyPort
	if r.Protocol.HasPorts() {
		a := ports[rng.IntN(len(ports))]
		switch rng.IntN(4) {
		case 0:
			r.PortRange = model.PortRange{Start: 1, End: 65535}
		case 1:
			r.PortRange = model.PortRange{Start: a, End: a + int32(rng.IntN(3000))}
		default:
			r.PortRange = model.PortRange{Start: a, End: a}
		}
		if rng.IntN(8) == 0 {
			r.SourcePortRange = []model.PortRange{{Start: 1, End: 1023}, {Start: 32768, End: 65535}}[rng.IntN(2)]
		}
	}
	switch k := rng.IntN(10); {
	case k < 5 || sg.Type == model.Enterprise:
		r.Peer.CIDR = randomPrefix(rng, c, six, nil)
		r.Peer.CIDRText = r.Peer.CIDR.String()
	case k < 8:
		var peers []*model.SecurityGroup
		for _, g := range groups {
			if g.Type == model.Normal && g != sg {
				peers = append(peers, g)
			}
		}
		if len(peers) == 0 {
			r.Peer.CIDR = randomPrefix(rng, c, six, nil)
			break
		}
		r.Peer.GroupID, r.Peer.GroupOwner = peers[rng.IntN(len(peers))].ID, owner
		if r.Protocol == model.ICMPv6 {
			r.Protocol = model.ICMP
		}
	default:
		var pls []*model.PrefixList
		for _, pl := range c.PrefixLists {
			if (pl.AddressFamily == "IPv6") == six {
				pls = append(pls, pl)
			}
		}
		if len(pls) == 0 {
			r.Peer.CIDR = randomPrefix(rng, c, six, nil)
			break
		}
		r.Peer.PrefixListID = pls[rng.IntN(len(pls))].ID
	}
	if rng.IntN(10) == 0 && r.Peer.CIDR.IsValid() {
		// A quintuple rule: restrict the instance side too.
		var local netip.Prefix
		if r.Peer.CIDR.Addr().Is6() {
			local = netip.MustParsePrefix("2001:db8::/40")
		} else {
			local = netip.MustParsePrefix([]string{"10.0.0.0/16", "10.1.0.0/16", "10.0.0.0/8"}[rng.IntN(3)])
		}
		if local != r.Peer.CIDR.Masked() {
			r.Local = local
		}
	}
	return r
}

// Flows draws n random flows: between instances (of the same or another
// VPC) and to and from outside addresses, over every protocol.
func (c *Cloud) Flows(seed uint64, n int) []policy.Flow {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	var out []policy.Flow
	for len(out) < n {
		f := policy.Flow{Protocol: []model.Protocol{model.TCP, model.TCP, model.UDP, model.ICMP, model.GRE}[rng.IntN(5)]}
		six := rng.IntN(4) == 0
		if six {
			f.IPVersion = 6
			if f.Protocol == model.ICMP {
				f.Protocol = model.ICMPv6
			}
		}
		pick := func() string {
			if rng.IntN(4) == 0 {
				var cands []netip.Addr
				for _, a := range c.Outside {
					if a.Is6() == six {
						cands = append(cands, a)
					}
				}
				if len(cands) > 0 {
					return cands[rng.IntN(len(cands))].String()
				}
			}
			return c.Instances[rng.IntN(len(c.Instances))].ID
		}
		f.From, f.To = pick(), pick()
		if f.From == f.To || f.From[0] != 'i' && f.To[0] != 'i' {
			continue
		}
		if f.Protocol.HasPorts() {
			p := ports[rng.IntN(len(ports))]
			f.Port = uint16(p + int32(rng.IntN(3))*int32(rng.IntN(2)))
			if rng.IntN(4) == 0 {
				f.SourcePort = uint16([]int{80, 1000, 40000, 60000}[rng.IntN(4)])
			}
		}
		out = append(out, f)
	}
	return out
}

// AtMoreIPv6 returns the flows with some IPv6 flows moved to further
// addresses of their instance ends: an end with MoreIPv6 is, three times
// in four, sent from or to one of them (Flow.FromAddr, ToAddr). It draws from
// a generator of its own, so the flows are those given, ends and ports
// alike; the others are returned as they are.
func (c *Cloud) AtMoreIPv6(flows []policy.Flow, seed uint64) []policy.Flow {
	rng := rand.New(rand.NewPCG(seed^0xbb67ae8584caa73b, seed+29))
	byID := make(map[string]*model.Instance, len(c.Instances))
	for _, in := range c.Instances {
		byID[in.ID] = in
	}
	out := slices.Clone(flows)
	for i := range out {
		f := &out[i]
		if f.IPVersion != 6 {
			continue
		}
		for _, e := range []struct {
			id string
			a  *netip.Addr
		}{{f.From, &f.FromAddr}, {f.To, &f.ToAddr}} {
			if in := byID[e.id]; in != nil && len(in.MoreIPv6) > 0 && rng.IntN(4) != 0 {
				*e.a = in.MoreIPv6[rng.IntN(len(in.MoreIPv6))]
			}
		}
	}
	return out
}
