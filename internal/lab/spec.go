package lab

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Spec describes a lab.
type Spec struct {
	Name      string       `json:"name"`  // short: [a-z0-9]{1,12}; namespaces are pl-<name>-…
	Hosts     []string     `json:"hosts"` // host names
	Instances []Instance   `json:"instances"`
	Outside   []netip.Addr `json:"outside,omitempty"` // "internet" addresses the lab must hold, v4 and v6
}

// Instance is one instance of a lab.
type Instance struct {
	ID        string     `json:"id"`
	VPC       string     `json:"vpc"` // "" is the classic network, one network like any VPC
	PrivateIP netip.Addr `json:"privateIp"`
	IPv6      netip.Addr `json:"ipv6,omitzero"`
	// MoreIPv6 are the NIC's further IPv6 addresses: its interface holds
	// them all, and the lab routes each to it. Probes use IPv6 unless they
	// name one of them (ProbeSpec.FromAddr, ToAddr).
	MoreIPv6 []netip.Addr `json:"moreIpv6,omitempty"`
	PublicIP netip.Addr   `json:"publicIp,omitzero"`
	Host     string       `json:"host"`
	// NICOf, when set, makes this a secondary ENI of that instance: its
	// veth is eth<Device> in the instance's namespace (see AttachENIs).
	NICOf  string `json:"nicOf,omitempty"`
	Device int    `json:"device,omitempty"`
}

// ipv6s is the instance's IPv6 addresses, the first one first.
func (in *Instance) ipv6s() []netip.Addr {
	if !in.IPv6.IsValid() {
		return nil
	}
	return append([]netip.Addr{in.IPv6}, in.MoreIPv6...)
}

// MaxHosts bounds the hosts of a lab: every pair of hosts gets permanent
// neighbour entries on the fabric, so the cost grows with its square.
const MaxHosts = 256

// SpecFromCloud lays a cloud's instances out on hosts h0…h<hosts-1>, in
// instance ID order, round-robin, so the same cloud always gives the same lab.
func SpecFromCloud(c *policy.Cloud, name string, hosts int, outside []netip.Addr) Spec {
	hosts = max(hosts, 1)
	s := Spec{Name: name, Outside: slices.Clone(outside)}
	for h := range hosts {
		s.Hosts = append(s.Hosts, fmt.Sprintf("h%d", h))
	}
	ids := make([]string, 0, len(c.Instances))
	for id := range c.Instances {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		in := c.Instances[id]
		s.Instances = append(s.Instances, Instance{ID: id, VPC: in.VpcID, PrivateIP: in.PrivateIP,
			IPv6: in.IPv6, MoreIPv6: slices.Clone(in.MoreIPv6), PublicIP: in.PublicIP, Host: s.Hosts[i%hosts]})
	}
	return s
}

var (
	labName  = regexp.MustCompile(`^[a-z0-9]{1,12}$`)
	nameChar = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	// The underlay and the gateways use link-local space; no spec address may.
	reservedV4 = netip.MustParsePrefix("169.254.0.0/16")
)

// CheckName refuses a lab name that is not 1 to 12 lowercase letters and
// digits: a name makes file names and globs (lab down removes NAME.db*).
func CheckName(name string) error {
	if !labName.MatchString(name) {
		return fmt.Errorf("lab name %q: use 1 to 12 lowercase letters and digits", name)
	}
	return nil
}

// Validate reports the first problem of a spec, saying how to fix it.
func (s *Spec) Validate() error {
	if err := CheckName(s.Name); err != nil {
		return err
	}
	if len(s.Hosts) == 0 || len(s.Hosts) > MaxHosts {
		return fmt.Errorf("a lab needs 1 to %d hosts, got %d", MaxHosts, len(s.Hosts))
	}
	hosts := map[string]bool{}
	for _, h := range s.Hosts {
		if !nameChar.MatchString(h) {
			return fmt.Errorf("host name %q: use 1 to 64 letters, digits, '.', '_' or '-'", h)
		}
		if hosts[h] {
			return fmt.Errorf("host %q is listed twice", h)
		}
		hosts[h] = true
	}
	owner := map[netip.Addr]string{} // every address belongs to one thing only
	claim := func(a netip.Addr, who string) error {
		if prev, ok := owner[a]; ok {
			return fmt.Errorf("address %s is used by %s and %s; give each its own address", a, prev, who)
		}
		owner[a] = who
		return nil
	}
	ids := map[string]bool{}
	private := map[netip.Addr]string{}
	for _, in := range s.Instances {
		if in.ID == "" {
			return fmt.Errorf("an instance has no ID; give each one")
		}
		if ids[in.ID] {
			return fmt.Errorf("instance %s is listed twice", in.ID)
		}
		ids[in.ID] = true
		if !hosts[in.Host] {
			return fmt.Errorf("instance %s is on host %q, which is not in Hosts %v", in.ID, in.Host, s.Hosts)
		}
		who := "instance " + in.ID
		if err := checkAddr(in.PrivateIP, false, who+" private address"); err != nil {
			return err
		}
		if prev, ok := private[in.PrivateIP]; ok {
			return fmt.Errorf("instances %s and %s share the private address %s; a lab routes private addresses across VPCs, so give each its own or put them in labs apart (lab play does, Spec.Split)", prev, in.ID, in.PrivateIP)
		}
		private[in.PrivateIP] = in.ID
		if err := claim(in.PrivateIP, who); err != nil {
			return err
		}
		if !in.IPv6.IsValid() && len(in.MoreIPv6) > 0 {
			return fmt.Errorf("%s has further IPv6 addresses but no first one (IPv6)", who)
		}
		for _, a := range in.ipv6s() {
			if err := checkAddr(a, true, who+" IPv6 address"); err != nil {
				return err
			}
			if err := claim(a, who); err != nil {
				return err
			}
		}
		if in.PublicIP.IsValid() {
			if err := checkAddr(in.PublicIP, false, who+" public address"); err != nil {
				return err
			}
			if err := claim(in.PublicIP, who+" (public)"); err != nil {
				return err
			}
		}
	}
	if err := s.checkENIs(); err != nil {
		return err
	}
	for _, a := range s.Outside {
		if err := checkAddr(a, a.Is6(), "outside address"); err != nil {
			return err
		}
		if err := claim(a, "outside address "+a.String()); err != nil {
			return err
		}
	}
	return nil
}

// checkAddr refuses addresses the lab cannot route as an ordinary unicast
// address of the given family.
func checkAddr(a netip.Addr, six bool, what string) error {
	switch {
	case !a.IsValid():
		return fmt.Errorf("%s is missing", what)
	case a.Is4In6():
		return fmt.Errorf("%s %s: write it as plain IPv4", what, a)
	case a.Is6() != six && six:
		return fmt.Errorf("%s %s is not IPv6", what, a)
	case a.Is6() != six:
		return fmt.Errorf("%s %s is not IPv4", what, a)
	case a.IsUnspecified(), a.IsLoopback(), a.IsMulticast(), a.IsLinkLocalUnicast(), reservedV4.Contains(a):
		return fmt.Errorf("%s %s is not an ordinary unicast address (the lab reserves link-local space for itself)", what, a)
	case a.Zone() != "":
		return fmt.Errorf("%s %s: drop the zone", what, a)
	}
	return nil
}

// Bind returns the cloud with each of the lab's instances bound to its host
// and host-side interface, as the lab's placement stores them (instances the
// lab does not hold stay unbound).
func Bind(c *policy.Cloud, l *Lab) *policy.Cloud {
	groups := make([]*model.SecurityGroup, 0, len(c.Groups))
	for _, g := range c.Groups {
		groups = append(groups, g)
	}
	pls := make([]*model.PrefixList, 0, len(c.PrefixLists))
	for _, p := range c.PrefixLists {
		pls = append(pls, p)
	}
	ins := make([]*model.Instance, 0, len(c.Instances))
	for _, in := range c.Instances {
		cp := *in
		if li, ok := l.Instance(in.ID); ok {
			cp.Host, cp.Interface = li.Host, l.Interface(in.ID)
		}
		ins = append(ins, &cp)
	}
	lists := make([]*model.PortRangeList, 0, len(c.PortRangeLists))
	for _, l := range c.PortRangeLists {
		lists = append(lists, l)
	}
	return policy.NewCloud(groups, ins, pls).WithPortRangeLists(lists)
}
