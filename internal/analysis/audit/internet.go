package audit

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// What the internet is, said here once: the exposure checks, SGA-025's
// drops that hide it together, the rule checks' "from anywhere" (SGA-007
// leaves those blocks to the exposure checks; SGA-008, -009, -011, -017)
// and the console's warning all ask it here.
//
// The internet of a family is its public addresses: every IPv4 address
// but nonPublic's blocks; in IPv6, global unicast, 2000::/3 (see
// nonPublic). A set of addresses is the internet when it holds more public
// addresses than any block SGA-007 calls a wide public range can:
// internetMin, an IPv4 /1 (half the family) or an IPv6 /4 (half of
// 2000::/3, as IPv4's /1 is about half of its public addresses). So
// 0.0.0.0/1 and 128.0.0.0/1 together are the internet, as 0.0.0.0/0 is,
// and 2000::/4 and 3000::/4, as ::/0, ::/1 and 2000::/3 are, while an IPv4
// /1 alone, 2000::/4 alone, 8000::/1 (no public address) or 0.0.0.0/0
// behind a higher-priority drop of most of it are not. A drop of a few
// blocks in front of 0.0.0.0/0 still leaves the port open to the internet.
// A port is open to the internet when the public addresses the policy
// admits on it, from all its rules together, are the internet.

// u128 is a count of addresses (an IPv6 block's overflows 64 bits).
type u128 struct{ hi, lo uint64 }

func (a u128) add(b u128) u128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	return u128{a.hi + b.hi + c, lo}
}

func (a u128) sub(b u128) u128 {
	lo, c := bits.Sub64(a.lo, b.lo, 0)
	return u128{a.hi - b.hi - c, lo}
}

func (a u128) cmp(b u128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

// half is a/2, rounded down.
func (a u128) half() u128 { return u128{a.hi >> 1, a.lo>>1 | a.hi<<63} }

// internetMin is, per family, the count of public addresses a set must
// hold to be the internet: more than this.
var internetMin = [2]u128{{0, 1 << 31}, {1 << 60, 0}}

// nonPublicRanges are nonPublic as ranges, per family, sorted.
var nonPublicRanges = func() (out [2][]iprange.Range) {
	for _, p := range nonPublic {
		f := family(p.Addr().Is6())
		out[f] = append(out[f], iprange.FromPrefix(p))
	}
	out[0], out[1] = iprange.Normalize(out[0]), iprange.Normalize(out[1])
	return out
}()

// publicCount returns how many public addresses a range holds. (No
// public part is a whole family, so none overflows.)
func publicCount(r iprange.Range) u128 {
	var n u128
	for _, p := range iprange.Subtract(r, nonPublicRanges[family(r.Is6())]) {
		n = n.add(u128{p.Hi().Hi, p.Hi().Lo}.sub(u128{p.Lo().Hi, p.Lo().Lo})).add(u128{0, 1})
	}
	return n
}

// publicCountAll is publicCount over sorted, disjoint ranges.
func publicCountAll(rs []iprange.Range) u128 {
	var n u128
	for _, r := range rs {
		n = n.add(publicCount(r))
	}
	return n
}

// publicTotal is, per family, the count of every public address.
var publicTotal = [2]u128{publicCount(iprange.All(false)), publicCount(iprange.All(true))}

// isInternet reports whether sorted, disjoint ranges of a family are the
// internet.
func isInternet(rs []iprange.Range, six bool) bool {
	return publicCountAll(rs).cmp(internetMin[family(six)]) > 0
}

// Internet reports whether one block alone is the internet: 0.0.0.0/0;
// ::/0, ::/1, ::/2 or 2000::/3.
func Internet(p netip.Prefix) bool {
	return p.IsValid() && isInternet([]iprange.Range{iprange.FromPrefix(p)}, p.Addr().Is6())
}

// HalfInternet reports whether one block holds more than half the public
// addresses that make the internet (internetMin), so that it and one more
// such block (its other half) are the internet together: 0.0.0.0/1,
// 128.0.0.0/1, 2000::/4, 3000::/4, and every block Internet reports. The
// console warns before a rule from such a block opens an administration
// or database port.
func HalfInternet(p netip.Prefix) bool {
	return p.IsValid() && publicCount(iprange.FromPrefix(p)).cmp(internetMin[family(p.Addr().Is6())].half()) > 0
}

// HalfInternetBlocks returns the smallest blocks HalfInternet reports:
// it reports a block exactly when the block holds one of them (it grows
// with the block). The console's form checks that as a rule is typed.
func HalfInternetBlocks() []netip.Prefix { return slices.Clone(halfInternetBlocks) }

var halfInternetBlocks = func() []netip.Prefix {
	var out []netip.Prefix
	var walk func(p netip.Prefix)
	walk = func(p netip.Prefix) {
		if !HalfInternet(p) {
			return
		}
		lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
		hi := netip.PrefixFrom(iprange.FromPrefix(lo).Last().Next(), p.Bits()+1)
		if !HalfInternet(lo) && !HalfInternet(hi) {
			out = append(out, p)
			return
		}
		walk(lo)
		walk(hi)
	}
	walk(netip.MustParsePrefix("0.0.0.0/0"))
	walk(netip.MustParsePrefix("::/0"))
	return out
}()

// verdict is whether the internet is let in on some ports, and by which
// rules: the fewest of the accepting rules, largest share first, that
// together admit enough of it (rules[0] is the one blamed), all of one
// part when one part's rules admit it (judgeNew).
type verdict struct {
	open  bool
	rules []int
	part  int // the part (of source ports) where rules[0] admits it
}

// judge judges ports on what an address space's ingress admits from the
// internet, one family of a space at a time.
type judge struct {
	s     *space.Space
	six   bool
	anon  iprange.Key // an address no rule names (when ok)
	ok    bool
	named u128 // the public addresses some rule names, or an intra-group grant holds
	memo  map[string]verdict
	key   []byte
	ids   map[*space.AddrTable]uint32 // each table's number in memo keys
}

func newJudge(s *space.Space, six bool) *judge {
	j := &judge{s: s, six: six, memo: map[string]verdict{}, ids: map[*space.AddrTable]uint32{}}
	j.anon, j.ok = s.Anonymous(six)
	j.named = publicCountAll(s.Named(six))
	return j
}

// judgeTables judges one run of ports: tables[k] is how part parts[k]
// decides the addresses there (parts in the order that prefers a rule to
// blame: the default source port's first).
func (j *judge) judgeTables(parts []int, tables []*space.AddrTable) verdict {
	j.key = j.key[:0]
	for _, t := range tables {
		id, ok := j.ids[t]
		if !ok {
			id = uint32(len(j.ids))
			j.ids[t] = id
		}
		j.key = binary.LittleEndian.AppendUint32(j.key, id)
	}
	if v, ok := j.memo[string(j.key)]; ok {
		return v
	}
	v := j.judgeNew(parts, tables)
	j.memo[string(j.key)] = v
	return v
}

func (j *judge) judgeNew(parts []int, tables []*space.AddrTable) verdict {
	f := family(j.six)
	rule := func(d space.Decider) bool { return d >= 0 && j.s.Accepts(d) }
	// Every address no rule names meets what the anonymous one does: when
	// that alone settles it, the tables need not be read.
	if j.ok {
		for k, t := range tables {
			if d := t.Decide(j.anon); rule(d) && publicTotal[f].sub(j.named).cmp(internetMin[f]) > 0 {
				return verdict{open: true, rules: []int{int(d)}, part: parts[k]}
			}
		}
		anyAccept := slices.ContainsFunc(tables, func(t *space.AddrTable) bool { return rule(t.Decide(j.anon)) })
		if !anyAccept && j.named.cmp(internetMin[f]) <= 0 {
			return verdict{}
		}
	}
	// Otherwise add up what the rules admit (accepts from the internet
	// come from rules only). A connection comes from one source port:
	// the first part (the default source port's first) whose rules alone
	// admit the internet is blamed, by its rules, as a flow naming no
	// source port is (the fast path above picks the same part: when the
	// anonymous address alone is the internet, the named addresses of an
	// earlier part cannot be). Only when no part does is it open through
	// several parts' rules together: the remote end picks its source port.
	last := iprange.Last(j.six)
	var admitted []iprange.Range        // over every part
	byRule := map[int][]iprange.Range{} // what each rule admits, over every part
	first := map[int]int{}              // the part where a rule first admits
	var order []int
	for k, t := range tables {
		share := map[int]u128{} // in this part, where runs are disjoint
		var sum u128
		var inPart []int
		var start iprange.Key
		by := space.Decider(-1)
		var started bool
		flush := func(end iprange.Key) {
			if !started || !rule(by) {
				return
			}
			r := iprange.New(start, end, j.six)
			n := publicCount(r)
			if n == (u128{}) {
				return
			}
			ri := int(by)
			admitted = append(admitted, r)
			byRule[ri] = append(byRule[ri], r)
			if _, ok := first[ri]; !ok {
				first[ri] = parts[k]
				order = append(order, ri)
			}
			if _, ok := share[ri]; !ok {
				inPart = append(inPart, ri)
			}
			share[ri] = share[ri].add(n)
			sum = sum.add(n)
		}
		t.EachRun(func(at iprange.Key, d space.Decider) {
			if started {
				flush(at.Prev())
			}
			start, by, started = at, d, true
		})
		flush(last)
		if sum.cmp(internetMin[f]) > 0 {
			return blame(inPart, share, parts[k], f)
		}
	}
	if !isInternet(iprange.Normalize(admitted), j.six) {
		return verdict{}
	}
	// A rule admitting on several parts admits the same addresses there
	// more than once: count each rule's addresses, and theirs together,
	// once.
	share := map[int]u128{}
	for ri, rs := range byRule {
		byRule[ri] = iprange.Normalize(rs)
		share[ri] = publicCountAll(byRule[ri])
	}
	sortBlame(order, share)
	v := verdict{open: true, part: first[order[0]]}
	var got []iprange.Range
	for _, ri := range order {
		v.rules = append(v.rules, ri)
		if got = iprange.Normalize(append(got, byRule[ri]...)); isInternet(got, j.six) {
			break
		}
	}
	return v
}

// blame makes the verdict on one part whose accepting rules (share: the
// public addresses each admits, disjoint) together admit the internet.
func blame(rules []int, share map[int]u128, part, f int) verdict {
	sortBlame(rules, share)
	v := verdict{open: true, part: part}
	var sum u128
	for _, ri := range rules {
		v.rules = append(v.rules, ri)
		if sum = sum.add(share[ri]); sum.cmp(internetMin[f]) > 0 {
			break
		}
	}
	return v
}

// sortBlame orders rules as they are blamed: the most public addresses
// admitted first; at a tie, the first in evaluation order (a program's
// rules are: priority, a drop before an accept, group, rule), as the
// evaluator names the deciding rule.
func sortBlame(rules []int, share map[int]u128) {
	slices.SortFunc(rules, func(a, b int) int { return cmp.Or(share[b].cmp(share[a]), cmp.Compare(a, b)) })
}

// viewOf reads a view of one family: which ports the policy opens to the
// internet, and through which rules.
func viewOf(s *space.Space, six bool) *view {
	j := newJudge(s, six)
	v := &view{anon: j.anon, ok: j.ok}
	f := family(six)
	def := s.PartOf(policy.DefaultSourcePort)
	// The parts a connection can come from, the default source port's
	// first (source port 0 is none).
	var parts []int
	if def >= 0 {
		parts = append(parts, def)
	}
	for part := range s.Parts {
		if part != def && s.Parts[part].SourcePorts.Hi != 0 {
			parts = append(parts, part)
		}
	}
	icmp := space.ICMP
	if six {
		icmp = space.ICMPv6
	}
	for p := range space.NProto {
		if !p.Ports() && p != icmp && p != space.GRE {
			continue // no flow of this family uses it
		}
		use := parts
		if !p.Ports() && len(parts) > 0 {
			use = parts[:1] // source ports do not apply
		}
		// The ports where any part's tables change, and each part's
		// table there.
		var pts []*space.PortTable
		var ps []int
		var starts []uint16
		for _, part := range use {
			if pt := s.Parts[part].Tables[f][p]; pt != nil {
				pts, ps = append(pts, pt), append(ps, part)
				starts = append(starts, pt.Starts...)
			}
		}
		if len(pts) == 0 {
			continue
		}
		slices.Sort(starts)
		starts = slices.Compact(starts)
		tables := make([]*space.AddrTable, len(pts))
		for i, lo := range starts {
			hi := uint16(65535)
			if i+1 < len(starts) {
				hi = starts[i+1] - 1
			}
			for k, pt := range pts {
				at, _ := slices.BinarySearch(pt.Starts, lo)
				if at == len(pt.Starts) || pt.Starts[at] != lo {
					at--
				}
				tables[k] = pt.Addrs[at]
			}
			vd := j.judgeTables(ps, tables)
			if !vd.open {
				continue
			}
			if p.Ports() {
				if hi == 0 {
					continue
				}
				lo = max(lo, 1)
			}
			o := opening{proto: p, lo: lo, hi: hi, rule: vd.rules[0], rules: vd.rules, sports: s.Parts[vd.part].SourcePorts}
			if n := len(v.open); n > 0 {
				if l := &v.open[n-1]; l.proto == p && int(l.hi)+1 == int(lo) && slices.Equal(l.rules, o.rules) && l.sports == o.sports {
					l.hi = hi
					continue
				}
			}
			v.open = append(v.open, o)
		}
	}
	if j.ok {
		for di, dr := range s.Program.Rules {
			if dr.Policy == model.Drop && s.Covers(di, six, j.anon) {
				v.drops = append(v.drops, di)
			}
		}
	}
	return v
}
