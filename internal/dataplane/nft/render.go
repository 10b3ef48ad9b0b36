package nft

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/iprange"
)

// String renders the ruleset in nft syntax, close to what `nft list table`
// prints (without counter values): for humans, golden tests and dry runs.
// `nft -f` accepts it.
func (rs *Ruleset) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", rs.Table)
	var blocks []string
	for _, s := range rs.Sets {
		blocks = append(blocks, renderSet(&s))
	}
	for _, m := range rs.Maps {
		blocks = append(blocks, renderMap(&m))
	}
	for _, c := range rs.Chains {
		blocks = append(blocks, renderChain(&c))
	}
	b.WriteString(strings.Join(blocks, "\n"))
	b.WriteString("}\n")
	return b.String()
}

func renderSet(s *Set) string {
	var b strings.Builder
	if s.VMap {
		fmt.Fprintf(&b, "\tmap %s {\n\t\ttype %s : verdict\n", s.Name, s.Type)
	} else {
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n", s.Name, s.Type)
	}
	var elems []string
	switch {
	case isTuple(s.Type):
		b.WriteString("\t\tflags interval\n\t\tcounter\n")
		for _, e := range s.Tuples {
			elems = append(elems, e.String())
		}
	case s.Type == PortSet:
		b.WriteString("\t\tflags interval\n")
		for _, p := range s.Ports {
			elems = append(elems, p.String())
		}
	case s.Interval:
		b.WriteString("\t\tflags interval\n")
		for _, r := range iprange.MergePrefixes(s.Prefixes) {
			elems = append(elems, r.String())
		}
	case s.Type == IfName:
		for _, n := range s.Names {
			elems = append(elems, quote(n))
		}
	default:
		for _, a := range s.Addrs {
			elems = append(elems, a.String())
		}
	}
	if len(elems) > 0 {
		fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(elems, ", "))
	}
	b.WriteString("\t}\n")
	return b.String()
}

func renderMap(m *Map) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\tmap %s {\n\t\ttype ifname : verdict\n", m.Name)
	if len(m.Elems) > 0 {
		elems := make([]string, len(m.Elems))
		for i, e := range m.Elems {
			elems[i] = fmt.Sprintf("%s : jump %s", quote(e.Interface), e.Chain)
		}
		fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(elems, ", "))
	}
	b.WriteString("\t}\n")
	return b.String()
}

func renderChain(c *Chain) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\tchain %s {\n", c.Name)
	if c.Base {
		b.WriteString("\t\ttype filter hook forward priority filter; policy accept;\n")
	}
	for _, r := range c.Rules {
		fmt.Fprintf(&b, "\t\t%s\n", r.String())
	}
	b.WriteString("\t}\n")
	return b.String()
}

// String renders one rule in nft syntax.
func (r Rule) String() string { return string(r.appendTo(nil)) }

// appendTo renders the rule into b; chain names hash this rendering.
func (r Rule) appendTo(b []byte) []byte {
	w := func(s ...string) {
		for _, x := range s {
			if len(b) > 0 && b[len(b)-1] != '\n' {
				b = append(b, ' ')
			}
			b = append(b, x...)
		}
	}
	if r.CtState != "" {
		w("ct state", r.CtState)
	}
	if r.NotSyn {
		w("tcp flags != syn / fin,syn,rst,ack")
	}
	r.IIF.render(w, "iifname")
	r.OIF.render(w, "oifname")
	name := protoName(r.Proto)
	switch {
	case (r.Proto == 6 || r.Proto == 17) && !(r.DPort.IsZero() && r.SPort.IsZero() && r.DPortSet == ""):
		// nft lists "meta l4proto tcp th dport 22" as "tcp dport 22".
		if !r.DPort.IsZero() {
			w(name, "dport", r.DPort.String())
		}
		if r.DPortSet != "" {
			w(name, "dport", "@"+r.DPortSet)
		}
		if !r.SPort.IsZero() {
			w(name, "sport", r.SPort.String())
		}
	case r.Proto != 0:
		w("meta l4proto", name)
	}
	if len(r.Addrs) == 0 && r.Tuple.Set == "" && r.Family != AnyFamily {
		w("meta nfproto", familyName(r.Family))
	}
	for _, a := range r.Addrs {
		a.render(w, r.Family)
	}
	if t := r.Tuple; t.Set != "" && t.VMap {
		field := map[bool]string{false: "ip saddr", true: "ip daddr"}[t.Dst]
		if r.Family == IPv6 {
			field = "ip6" + field[2:]
		}
		w("meta l4proto . th dport .", field, "vmap", "@"+t.Set)
	} else if t.Set != "" {
		w("meta l4proto . th dport .")
		AddrMatch{Dst: t.Dst, Set: t.Set}.render(w, r.Family)
	}
	if o := r.Over; o != nil {
		w("limit rate over", fmt.Sprintf("%d/second burst %d packets", o.Rate, o.Burst))
	}
	if l := r.Log; l != nil {
		if l.Egress {
			w("meta mark set ct label") // the label's first 32 bits
		}
		w("log prefix", quote(l.Prefix), "group", fmt.Sprint(l.Group))
	}
	if r.Counter {
		w("counter")
	}
	if r.Label.ID != 0 {
		// nft names label bits, not values: this form is for humans.
		w("ct label set", fmt.Sprintf("0x%x", r.Label.Bytes()))
	}
	if r.Verdict.Kind != "" {
		w(r.Verdict.String())
	}
	if k := r.Key.String(); k != "" {
		w("comment", quote(k))
	}
	return b
}

func (i Iface) render(w func(...string), field string) {
	if i.Name != "" {
		n := i.Name
		if i.Wildcard {
			n += "*"
		}
		w(field, quote(n))
	}
	switch {
	case i.Set == "":
	case i.Not:
		w(field, "!=", "@"+i.Set)
	default:
		w(field, "@"+i.Set)
	}
}

func (a AddrMatch) render(w func(...string), fam Family) {
	field := "ip"
	if fam == IPv6 {
		field = "ip6"
	}
	dir := "saddr"
	if a.Dst {
		dir = "daddr"
	}
	w(field, dir)
	if a.Not {
		w("!=")
	}
	switch {
	case a.Set != "":
		w("@" + a.Set)
	case a.Anon != nil:
		w("{")
		for k, x := range a.Anon {
			if k < len(a.Anon)-1 {
				w(x.String() + ",")
			} else {
				w(x.String())
			}
		}
		w("}")
	default:
		w(prefixString(a.Prefix))
	}
}

func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

func (p Ports) String() string {
	if p.From == p.To {
		return fmt.Sprint(p.From)
	}
	return fmt.Sprintf("%d-%d", p.From, p.To)
}

func (v Verdict) String() string {
	switch v.Kind {
	case Jump, Goto:
		return string(v.Kind) + " " + v.Chain
	case VMap:
		if v.OIF {
			return "oifname vmap @" + v.Map
		}
		return "iifname vmap @" + v.Map
	}
	return string(v.Kind)
}

// protoName is how nft names an IP protocol.
func protoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 47:
		return "gre"
	case 58:
		return "ipv6-icmp"
	}
	return fmt.Sprint(p)
}

func familyName(f Family) string {
	if f == IPv6 {
		return "ipv6"
	}
	return "ipv4"
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// layoutVersion is part of every chain's hash: a change in how chains are
// encoded must give them new names, so that an upgraded agent replaces them.
const layoutVersion = "palisade-nft-1"

// chainName names a chain by a hash of its rules.
func chainName(prefix string, rules []Rule) string {
	h := sha256.New()
	b := []byte(layoutVersion + "\n")
	for _, r := range rules {
		b = append(r.appendTo(b), '\n')
	}
	h.Write(b)
	return prefix + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}
