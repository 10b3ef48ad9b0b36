package nft

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"github.com/palisade-sg/palisade/internal/core/iprange"
	"golang.org/x/sys/unix"
)

// kstate is what the table holds, as far as Apply needs to know.
type kstate struct {
	table    bool
	base     bool   // the base chain exists
	baseHook bool   // ... with the right hook, type and policy
	baseSig  string // ... and these rules (see exprSig)
	// chains are the other chains. A chain is named by its content, so its
	// name says what it holds, unless another program changed it: flushed
	// it, took rules out, or replaced one in place (`nft replace rule`,
	// which keeps the count and the handle); its sum then differs.
	chains map[string]kchain
	sets   map[string]*kset
	maps   map[string]map[string]string // map → interface → chain
}

// kchain is a chain other than the base chain: how many rules it holds
// and a digest of them (see ruleSum).
type kchain struct {
	rules int
	sum   [sha256.Size]byte
}

// kset is a set: its type and its elements by canonical key (see elemKeys,
// tupleElemKey).
type kset struct {
	typ      SetType
	interval bool
	vmap     bool // a tuple verdict map (its elements go to chains)
	elems    map[string]bool
}

func emptyState() *kstate {
	return &kstate{chains: map[string]kchain{}, sets: map[string]*kset{}, maps: map[string]map[string]string{}}
}

// ruleSum digests a chain's rules as the kernel lists them, leaving out
// what exprSig leaves out (counter values, anonymous set names): what
// another program rewrote changes it, traffic does not.
func ruleSum(rules []*nftables.Rule) [sha256.Size]byte {
	h := sha256.New()
	for _, r := range rules {
		io.WriteString(h, exprSig(r.Exprs))
		fmt.Fprintf(h, "\x00%x\n", r.UserData)
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// read reads the table from the kernel.
func (k *Kernel) read() (*kstate, error) {
	st := emptyState()
	exists, err := k.tableExists()
	if err != nil || !exists {
		return st, err
	}
	st.table = true
	chains, err := k.tableChains()
	if err != nil {
		return nil, err
	}
	for _, c := range chains {
		rules, err := k.conn.GetRules(k.table, c)
		if err != nil {
			return nil, fmt.Errorf("list chain %s%s: %w", c.Name, k.where(), err)
		}
		if c.Name != BaseChain {
			st.chains[c.Name] = kchain{rules: len(rules), sum: ruleSum(rules)}
			continue
		}
		st.base = true
		st.baseHook = c.Hooknum != nil && *c.Hooknum == *nftables.ChainHookForward &&
			c.Priority != nil && *c.Priority == *nftables.ChainPriorityFilter &&
			c.Type == nftables.ChainTypeFilter && c.Policy != nil && *c.Policy == nftables.ChainPolicyAccept
		var sigs []string
		for _, r := range rules {
			sigs = append(sigs, exprSig(r.Exprs))
		}
		st.baseSig = strings.Join(sigs, "\n")
	}
	sets, err := k.conn.GetSets(k.table)
	if err != nil {
		return nil, fmt.Errorf("list sets%s: %w", k.where(), err)
	}
	for _, s := range sets {
		if s.Anonymous {
			continue
		}
		elems, err := k.conn.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("list set %s%s: %w", s.Name, k.where(), err)
		}
		if s.IsMap && s.Concatenation {
			// A tuple verdict map (the interface maps are no
			// concatenations). The library reads a verdict map's key type
			// as "verdict": take it for Tuple4. Tuple sets are named by
			// their content, type included, so the type needs no check;
			// their elements are read, as another program may have
			// taken one out or put one in.
			ks := &kset{typ: Tuple4, interval: true, vmap: true, elems: map[string]bool{}}
			for _, e := range elems {
				ks.elems[tupleElemKey(e.Key, e.KeyEnd, elemVerdict(e))] = true
			}
			st.sets[s.Name] = ks
			continue
		}
		if s.IsMap {
			m := map[string]string{}
			for _, e := range elems {
				m[trimName(e.Key)] = verdictChain(e)
			}
			st.maps[s.Name] = m
			continue
		}
		ks := &kset{interval: s.Interval, elems: map[string]bool{}}
		switch s.KeyType.GetNFTMagic() {
		case nftables.TypeIPAddr.GetNFTMagic():
			ks.typ = IPv4Addr
		case nftables.TypeIP6Addr.GetNFTMagic():
			ks.typ = IPv6Addr
		case nftables.TypeIFName.GetNFTMagic():
			ks.typ = IfName
		case nftables.TypeInetService.GetNFTMagic():
			ks.typ = PortSet
		default:
			if t := SetType(s.KeyType.Name); isTuple(t) {
				ks.typ = t
				for _, e := range elems {
					ks.elems[tupleElemKey(e.Key, e.KeyEnd, "")] = true
				}
				st.sets[s.Name] = ks
				continue
			}
		}
		for _, key := range kernelElemKeys(ks, elems) {
			ks.elems[key] = true
		}
		st.sets[s.Name] = ks
	}
	return st, nil
}

// tableChains lists the chains of the table, the base chain included.
func (k *Kernel) tableChains() ([]*nftables.Chain, error) {
	cs, err := k.conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("list chains%s: %w", k.where(), err)
	}
	return slices.DeleteFunc(cs, func(c *nftables.Chain) bool { return c.Table == nil || c.Table.Name != k.table.Name }), nil
}

// verdictChain is the chain a verdict-map element jumps to.
func verdictChain(e nftables.SetElement) string {
	_, chain := elemVerdictOf(e)
	return chain
}

// elemVerdict is a verdict-map element's verdict, its code and chain, for
// comparison.
func elemVerdict(e nftables.SetElement) string {
	code, chain := elemVerdictOf(e)
	return fmt.Sprintf("%d %s", code, chain)
}

// elemVerdictOf is a verdict-map element's verdict code and chain. The
// library returns the element's data as the nested verdict attributes,
// unless it decoded them itself.
func elemVerdictOf(e nftables.SetElement) (code int32, chain string) {
	if e.VerdictData != nil {
		return int32(e.VerdictData.Kind), e.VerdictData.Chain
	}
	ad, err := netlink.NewAttributeDecoder(e.Val)
	if err != nil {
		return 0, ""
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_VERDICT_CODE:
			code = int32(ad.Uint32())
		case unix.NFTA_VERDICT_CHAIN:
			chain = ad.String()
		}
	}
	return code, chain
}

// tupleElemKey is a tuple set's element as a canonical key: its range's
// ends in hex and, in a verdict map, its verdict (see elemVerdict). Apply
// decodes it back (parseTupleKey) to delete an element another program
// put in.
func tupleElemKey(start, end []byte, verdict string) string {
	return hex.EncodeToString(start) + "-" + hex.EncodeToString(end) + "|" + verdict
}

func parseTupleKey(key string) (start, end []byte, err error) {
	r, _, _ := strings.Cut(key, "|")
	a, b, _ := strings.Cut(r, "-")
	if start, err = hex.DecodeString(a); err != nil {
		return nil, nil, err
	}
	end, err = hex.DecodeString(b)
	return start, end, err
}

func trimName(b []byte) string {
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// elemKeys returns a set's elements as canonical keys: addresses, names, or
// for interval sets the merged ranges the kernel holds.
func elemKeys(s *Set) []string {
	var out []string
	switch {
	case s.Type == PortSet:
		for _, p := range s.Ports {
			out = append(out, p.String())
		}
	case s.Interval:
		for _, r := range iprange.MergePrefixes(s.Prefixes) {
			out = append(out, r.String())
		}
	case s.Type == IfName:
		out = append(out, s.Names...)
	default:
		for _, a := range s.Addrs {
			out = append(out, a.String())
		}
	}
	return out
}

// kernelElemKeys decodes the elements read from the kernel into the keys
// elemKeys gives.
func kernelElemKeys(ks *kset, elems []nftables.SetElement) []string {
	var out []string
	switch {
	case ks.typ == PortSet:
		out = kernelPortKeys(elems)
	case ks.interval:
		type edge struct {
			a   netip.Addr
			end bool
		}
		var edges []edge
		for _, e := range elems {
			if a, ok := netip.AddrFromSlice(e.Key); ok {
				edges = append(edges, edge{a, e.IntervalEnd})
			}
		}
		slices.SortFunc(edges, func(x, y edge) int { return x.a.Compare(y.a) })
		// A start opens a range, the next end (one past its last address)
		// closes it; a start without an end runs to the top.
		for i, e := range edges {
			if e.end {
				continue
			}
			last := iprange.LastAddr(netip.PrefixFrom(e.a, 0))
			if i+1 < len(edges) && edges[i+1].end {
				last = edges[i+1].a.Prev()
			}
			out = append(out, iprange.FromAddrs(e.a, last).String())
		}
	case ks.typ == IfName:
		for _, e := range elems {
			out = append(out, trimName(e.Key))
		}
	default:
		for _, e := range elems {
			if a, ok := netip.AddrFromSlice(e.Key); ok {
				out = append(out, a.String())
			}
		}
	}
	return out
}

// exprSig renders expressions for comparison, leaving out what the kernel
// fills in or renames, counter values and the IDs and names of anonymous
// sets, and the source register of a "ct set", which the library does not
// read back.
func exprSig(xs []expr.Any) string {
	var b strings.Builder
	for _, x := range xs {
		switch v := x.(type) {
		case *expr.Counter:
			b.WriteString("counter;")
			continue
		case *expr.Lookup:
			l := *v
			l.SetID = 0
			if strings.HasPrefix(l.SetName, "__set") {
				l.SetName = "__set"
			}
			fmt.Fprintf(&b, "lookup%+v;", l)
			continue
		case *expr.Ct:
			// The library reads no source register back: a "ct set"
			// (the flow-log label) lists as a load into register 0.
			if v.SourceRegister || v.Register == 0 {
				fmt.Fprintf(&b, "ctset{Key:%d Direction:%d};", v.Key, v.Direction)
				continue
			}
		}
		fmt.Fprintf(&b, "%T%+v;", x, x)
	}
	return b.String()
}

func isTuple(t SetType) bool { return t == Tuple4 || t == Tuple6 }

// kernelPortKeys decodes a port set's interval elements into the keys
// elemKeys gives (Ports.String of each range).
func kernelPortKeys(elems []nftables.SetElement) []string {
	type edge struct {
		p   int
		end bool
	}
	var edges []edge
	for _, e := range elems {
		if len(e.Key) >= 2 {
			edges = append(edges, edge{int(binary.BigEndian.Uint16(e.Key)), e.IntervalEnd})
		}
	}
	slices.SortFunc(edges, func(x, y edge) int { return x.p - y.p })
	var out []string
	for i, e := range edges {
		if e.end {
			continue
		}
		last := 65535
		if i+1 < len(edges) && edges[i+1].end {
			last = edges[i+1].p - 1
		}
		out = append(out, Ports{uint16(e.p), uint16(last)}.String())
	}
	return out
}
