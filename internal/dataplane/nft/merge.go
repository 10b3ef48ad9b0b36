package nft

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"

	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Merging runs of rules (Options.MergeRuns).
//
// Within a chain, a packet takes the verdict of the first rule it matches.
// Two facts make it possible to replace many rules by a few set lookups
// without changing any verdict, or which rule a packet is counted for:
//
//   - a rule may move before another that no packet can match together with
//     it (their match spaces do not overlap): no packet sees the difference;
//   - among rules with the same verdict, only which one is counted depends on
//     their order.
//
// So the rules are grouped into blocks of one verdict, a rule joining the
// last block of its verdict if it overlaps none of the rules it moves past.
// A block of mergeable rules becomes lookups in tuple sets whose elements
// carry per-rule counters. A set may not hold overlapping elements (the
// kernel refuses them), so a block is split into layers, looked up in turn: a
// rule goes one layer above the highest earlier rule of the block it
// overlaps. A packet matching several rules of a block is then found first
// in the layer of the earliest of them, which is the one counted.

// box is the match space of a rule, over-approximated when it tests a set.
type box struct {
	fam          Family
	proto        [2]uint8
	dport, sport Ports
	src, dst     iprange.Range // address ranges, the whole family when untested
}

func fullPorts() Ports { return Ports{0, 65535} }

func boxOf(r *Rule) box {
	b := box{fam: r.Family, proto: [2]uint8{0, 255}, dport: fullPorts(), sport: fullPorts()}
	if r.Proto != 0 {
		b.proto = [2]uint8{r.Proto, r.Proto}
	}
	if !r.DPort.IsZero() {
		b.dport = r.DPort
	}
	if !r.SPort.IsZero() {
		b.sport = r.SPort
	}
	b.src, b.dst = iprange.All(r.Family == IPv6), iprange.All(r.Family == IPv6)
	for _, a := range r.Addrs {
		if a.Set != "" || a.Anon != nil || a.Not || !a.Prefix.IsValid() {
			continue // may match anything: keep the whole range
		}
		rg := iprange.FromPrefix(a.Prefix)
		if a.Dst {
			b.dst = rg
		} else {
			b.src = rg
		}
	}
	return b
}

func (a box) overlaps(b box) bool {
	if a.fam != b.fam && a.fam != AnyFamily && b.fam != AnyFamily {
		return false
	}
	ports := func(x, y Ports) bool { return x.From <= y.To && y.From <= x.To }
	addrs := func(x, y iprange.Range) bool {
		if x.Is6() != y.Is6() {
			return true // an AnyFamily box: be safe
		}
		return x.Overlaps(y)
	}
	return a.proto[0] <= b.proto[1] && b.proto[0] <= a.proto[1] &&
		ports(a.dport, b.dport) && ports(a.sport, b.sport) && addrs(a.src, b.src) && addrs(a.dst, b.dst)
}

// mergeable reports whether a rule can be an element of a tuple set: a TCP
// or UDP rule (their packets always carry ports) testing only its
// destination port and an inline remote prefix.
func mergeable(r *Rule, remoteDst bool) bool {
	if r.Proto != 6 && r.Proto != 17 || !r.SPort.IsZero() || r.DPortSet != "" || r.Family == AnyFamily || r.Key == (RuleKey{}) ||
		r.Verdict.Kind != Return && r.Verdict.Kind != Drop || len(r.Addrs) > 1 {
		return false
	}
	for _, a := range r.Addrs {
		if a.Dst != remoteDst || !a.Prefix.IsValid() || a.Not {
			return false
		}
	}
	return true
}

// maxMergeRules bounds the rules of a chain mergeRuns takes: its time
// grows with the square of their number (each rule is held against those
// it may move past, and against the earlier ones of its block). Valid
// policies stay far below (model.MaxRulesPerNIC rules, each one nft rule
// per address family); a server that sends far more (faulty or hostile: a
// frame may hold a million rules) gets them written as they are, in time
// linear in their number, instead of an agent busy for hours.
const maxMergeRules = 4 * model.MaxRulesPerNIC

type block struct {
	merge   bool
	verdict Verdict
	fam     Family
	rules   []int // indexes into the rules, in their order
}

// mergeRuns rewrites the security-group rules of a chain (in order, without
// the intra-group rules and the default), ents being their deciding entries.
// With flow logging, a rule left alone reports its entry (decide), and a
// merged lookup is a verdict map whose element goes to its entry's chain.
func (b *builder) mergeRuns(rules []Rule, ents []Entry, remoteDst bool) []Rule {
	boxes := make([]box, len(rules))
	for i := range rules {
		boxes[i] = boxOf(&rules[i])
	}
	var blocks []*block
	for i := range rules {
		r := &rules[i]
		if mergeable(r, remoteDst) {
			if j := joinable(blocks, boxes, i, r); j >= 0 {
				blocks[j].rules = append(blocks[j].rules, i)
				continue
			}
		}
		blocks = append(blocks, &block{merge: mergeable(r, remoteDst), verdict: r.Verdict, fam: r.Family, rules: []int{i}})
	}
	var out []Rule
	for _, bl := range blocks {
		if !bl.merge || len(bl.rules) == 1 {
			for _, i := range bl.rules {
				out = append(out, b.decide(rules[i], ents[i])...)
			}
			continue
		}
		for _, layer := range layers(bl.rules, boxes) {
			elems := make([]TupleElem, len(layer))
			for k, i := range layer {
				r := &rules[i]
				pf := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
				if r.Family == IPv6 {
					pf = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
				}
				if len(r.Addrs) == 1 {
					pf = r.Addrs[0].Prefix.Masked()
				}
				elems[k] = TupleElem{Proto: r.Proto, Port: r.DPort, Addr: pf, Key: r.Key}
				if b.flow.on {
					elems[k].Chain = b.decideChain(r, ents[i])
				}
			}
			if b.flow.on {
				out = append(out, Rule{Family: bl.fam, Tuple: Tuple{Set: b.tupleSet(bl.fam, elems, true), Dst: remoteDst, VMap: true}})
				continue
			}
			out = append(out, Rule{Family: bl.fam, Tuple: Tuple{Set: b.tupleSet(bl.fam, elems, false), Dst: remoteDst}, Verdict: bl.verdict})
		}
	}
	return out
}

// joinable returns the last block r can join, or -1: one of its verdict
// and family, with no rule after it that r overlaps.
func joinable(blocks []*block, boxes []box, i int, r *Rule) int {
	for j := len(blocks) - 1; j >= 0; j-- {
		bl := blocks[j]
		if bl.merge && bl.verdict == r.Verdict && bl.fam == r.Family {
			return j
		}
		for _, k := range bl.rules {
			if boxes[k].overlaps(boxes[i]) {
				return -1
			}
		}
	}
	return -1
}

// layers splits a block so that no layer holds overlapping rules and a
// packet's earliest matching rule is in the lowest layer it matches.
func layers(rules []int, boxes []box) [][]int {
	layer := map[int]int{}
	var out [][]int
	for n, i := range rules {
		l := 0
		for _, k := range rules[:n] {
			if boxes[k].overlaps(boxes[i]) {
				l = max(l, layer[k]+1)
			}
		}
		layer[i] = l
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], i)
	}
	return out
}

// tupleSet registers a tuple set (a verdict map with vmap) named by a hash
// of its elements.
func (b *builder) tupleSet(fam Family, elems []TupleElem, vmap bool) string {
	s := Set{Type: Tuple4, Interval: true, Tuples: elems, VMap: vmap}
	if fam == IPv6 {
		s.Type = Tuple6
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s", layoutVersion, s.Type)
	if vmap {
		h.Write([]byte(" : verdict"))
	}
	for _, e := range elems {
		fmt.Fprintf(h, "\n%s", e)
	}
	s.Name = "r_" + hex.EncodeToString(h.Sum(nil))[:16]
	if _, ok := b.sets[s.Name]; !ok {
		b.sets[s.Name] = &s
	}
	return s.Name
}

// String renders the element as nft lists it.
func (e TupleElem) String() string {
	port := Ports{0, 65535}
	if !e.Port.IsZero() {
		port = e.Port
	}
	s := fmt.Sprintf("%s . %s . %s comment %s", protoName(e.Proto), port, prefixString(e.Addr), quote(e.Key.String()))
	if e.Chain != "" {
		s += " : goto " + e.Chain
	}
	return s
}
