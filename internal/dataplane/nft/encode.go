package nft

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/palisade-sg/palisade/internal/core/iprange"
	"golang.org/x/sys/unix"
)

// encoder turns rules into netlink expressions, the way nft 1.0 encodes the
// same statements (so `nft list` shows them as Rule.String does).
type encoder struct {
	table *nftables.Table
	conn  *nftables.Conn // receives the anonymous sets of BuildLinear rules; nil: a dry run
	// nextID numbers the sets of one batch. Every set gets an explicit ID:
	// the library's own counter is global and could collide with ours.
	nextID uint32
}

func (e *encoder) setID() uint32 {
	e.nextID++
	return e.nextID
}

// userData is the rule comment naming its security-group rule, in the
// format nft uses for comments.
func userData(k RuleKey) []byte {
	if k == (RuleKey{}) {
		return nil
	}
	return userdata.AppendString(nil, userdata.TypeComment, k.String())
}

// keyOf parses userData back.
func keyOf(ud []byte) (RuleKey, bool) {
	// The library's reader panics on malformed user data, which a rule
	// someone else put in the table may carry: walk the TLVs here.
	for len(ud) >= 2 {
		typ, n := ud[0], int(ud[1])
		if len(ud) < 2+n {
			break
		}
		if userdata.Type(typ) == userdata.TypeComment {
			return parseKey(strings.TrimRight(string(ud[2:2+n]), "\x00"))
		}
		ud = ud[2+n:]
	}
	return RuleKey{}, false
}

// parseKey parses RuleKey.String.
func parseKey(s string) (RuleKey, bool) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return RuleKey{}, false
	}
	return RuleKey{s[:i], s[i+1:]}, true
}

// rule encodes one rule; counter holds the initial counter values.
func (e *encoder) rule(r Rule, counter Counter) ([]expr.Any, error) {
	var x []expr.Any
	if r.CtState != "" {
		bits := map[string]uint32{CtEstablishedRelated: 2 | 4, CtInvalid: 1, CtNew: 8}[r.CtState]
		if bits == 0 {
			return nil, fmt.Errorf("ct state %q is not supported", r.CtState)
		}
		x = append(x,
			&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			// ct state bits are in host byte order.
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binary.NativeEndian.AppendUint32(nil, bits), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)})
	}
	if r.NotSyn {
		// As nft encodes "tcp flags != syn / fin,syn,rst,ack".
		const fin, syn, rst, ack = 0x01, 0x02, 0x04, 0x10
		x = append(x, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{fin | syn | rst | ack}, Xor: []byte{0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{syn}})
	}
	x = iface(x, r.IIF, expr.MetaKeyIIFNAME)
	x = iface(x, r.OIF, expr.MetaKeyOIFNAME)
	if r.Proto != 0 {
		x = append(x, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{r.Proto}})
	}
	x = portMatch(x, r.DPort, 2)
	if r.DPortSet != "" {
		x = append(x, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Lookup{SourceRegister: 1, SetName: r.DPortSet})
	}
	x = portMatch(x, r.SPort, 0)
	if r.Family != AnyFamily {
		x = append(x, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{nfproto(r.Family)}})
	} else if len(r.Addrs) > 0 {
		return nil, fmt.Errorf("rule %q matches addresses but has no family", r)
	}
	for _, a := range r.Addrs {
		var err error
		if x, err = e.addr(x, a, r.Family); err != nil {
			return nil, err
		}
	}
	if t := r.Tuple; t.Set != "" {
		// The fields of a concatenation go to consecutive 32-bit registers
		// (8 is NFT_REG32_00, the first word of register 1).
		off, n := uint32(12), uint32(4)
		if r.Family == IPv6 {
			off, n = 8, 16
		} else if r.Family != IPv4 {
			return nil, fmt.Errorf("tuple lookup in %s without a family", t.Set)
		}
		if t.Dst {
			off += n
		}
		x = append(x, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
		if t.VMap {
			// The element's verdict goes to the verdict register (0): the
			// rule ends here.
			return append(x, &expr.Lookup{SourceRegister: 1, SetName: t.Set, IsDestRegSet: true, DestRegister: 0}), nil
		}
		x = append(x, &expr.Lookup{SourceRegister: 1, SetName: t.Set})
	}
	if o := r.Over; o != nil {
		x = append(x, &expr.Limit{Type: expr.LimitTypePkts, Rate: uint64(o.Rate), Over: true, Unit: expr.LimitTimeSecond, Burst: o.Burst})
	}
	if l := r.Log; l != nil {
		if l.Egress {
			x = append(x, &expr.Ct{Key: expr.CtKeyLABELS, Register: 1},
				&expr.Meta{Key: expr.MetaKeyMARK, Register: 1, SourceRegister: true})
		}
		x = append(x, &expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX, Group: l.Group, Data: []byte(l.Prefix)})
	}
	if r.Counter {
		x = append(x, &expr.Counter{Packets: counter.Packets, Bytes: counter.Bytes})
	}
	if r.Label.ID != 0 {
		x = append(x, &expr.Immediate{Register: 1, Data: r.Label.Bytes()},
			&expr.Ct{Key: expr.CtKeyLABELS, Register: 1, SourceRegister: true})
	}
	switch v := r.Verdict; v.Kind {
	case Accept:
		x = append(x, &expr.Verdict{Kind: expr.VerdictAccept})
	case Drop:
		x = append(x, &expr.Verdict{Kind: expr.VerdictDrop})
	case Return:
		x = append(x, &expr.Verdict{Kind: expr.VerdictReturn})
	case Jump:
		x = append(x, &expr.Verdict{Kind: expr.VerdictJump, Chain: v.Chain})
	case Goto:
		x = append(x, &expr.Verdict{Kind: expr.VerdictGoto, Chain: v.Chain})
	case VMap:
		key := expr.MetaKeyIIFNAME
		if v.OIF {
			key = expr.MetaKeyOIFNAME
		}
		x = append(x, &expr.Meta{Key: key, Register: 1},
			&expr.Lookup{SourceRegister: 1, SetName: v.Map, IsDestRegSet: true, DestRegister: 0})
	default:
		return nil, fmt.Errorf("verdict %q is not supported", v.Kind)
	}
	return x, nil
}

func nfproto(f Family) byte {
	if f == IPv6 {
		return unix.NFPROTO_IPV6
	}
	return unix.NFPROTO_IPV4
}

// portMatch tests the transport port at offset (0 source, 2 destination).
func portMatch(x []expr.Any, p Ports, offset uint32) []expr.Any {
	if p.IsZero() {
		return x
	}
	x = append(x, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: offset, Len: 2})
	be := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	if p.From == p.To {
		return append(x, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be(p.From)})
	}
	return append(x, &expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: be(p.From)},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: be(p.To)})
}

func iface(x []expr.Any, i Iface, key expr.MetaKey) []expr.Any {
	if i.Name != "" {
		x = append(x, &expr.Meta{Key: key, Register: 1})
		if i.Wildcard {
			x = append(x, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(i.Name)})
		} else {
			x = append(x, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(i.Name)})
		}
	}
	if i.Set != "" {
		x = append(x, &expr.Meta{Key: key, Register: 1}, &expr.Lookup{SourceRegister: 1, SetName: i.Set, Invert: i.Not})
	}
	return x
}

// addr tests one address field.
func (e *encoder) addr(x []expr.Any, a AddrMatch, fam Family) ([]expr.Any, error) {
	off, n := uint32(12), uint32(4) // ip saddr
	if fam == IPv6 {
		off, n = 8, 16
	}
	if a.Dst {
		off += n
	}
	x = append(x, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
	switch {
	case a.Set != "":
		return append(x, &expr.Lookup{SourceRegister: 1, SetName: a.Set, Invert: a.Not}), nil
	case a.Anon != nil:
		elems := make([]nftables.SetElement, len(a.Anon))
		for k, v := range a.Anon {
			elems[k] = nftables.SetElement{Key: v.AsSlice()}
		}
		typ := nftables.TypeIPAddr
		if fam == IPv6 {
			typ = nftables.TypeIP6Addr
		}
		s, err := e.anon(typ, elems)
		if err != nil {
			return nil, err
		}
		return append(x, &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID, Invert: a.Not}), nil
	}
	p := a.Prefix.Masked()
	if familyOf(p.Addr()) != fam {
		return nil, fmt.Errorf("prefix %s is not of family %s", p, familyName(fam))
	}
	op := expr.CmpOpEq
	if a.Not {
		op = expr.CmpOpNeq
	}
	if !p.IsSingleIP() {
		x = append(x, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: prefixMask(p.Bits(), int(n)), Xor: make([]byte, n)})
	}
	return append(x, &expr.Cmp{Op: op, Register: 1, Data: p.Addr().AsSlice()}), nil
}

// prefixMask is the network mask of a prefix length, n bytes long.
func prefixMask(bits, n int) []byte {
	m := make([]byte, n)
	for i := range bits {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// anon adds a constant anonymous set to the batch for the rule being built.
func (e *encoder) anon(typ nftables.SetDatatype, elems []nftables.SetElement) (*nftables.Set, error) {
	s := &nftables.Set{Table: e.table, Name: "__set%d", ID: e.setID(), Anonymous: true, Constant: true, KeyType: typ, KeyByteOrder: binaryutil.BigEndian}
	if e.conn == nil { // a dry run
		return s, nil
	}
	if err := e.conn.AddSet(s, elems); err != nil {
		return nil, fmt.Errorf("anonymous set: %w", err)
	}
	return s, nil
}

// ifname is an interface name as the kernel compares it: NUL-padded to
// IFNAMSIZ.
func ifname(n string) []byte {
	b := make([]byte, 16)
	copy(b, n)
	return b
}

// tupleKeys encodes a tuple element as the start and end of its interval,
// each field padded to a 32-bit word.
func tupleKeys(e TupleElem) (start, end []byte) {
	port := e.Port
	if port.IsZero() {
		port = Ports{0, 65535}
	}
	key := func(p uint16, a netip.Addr) []byte {
		b := []byte{e.Proto, 0, 0, 0}
		b = binary.BigEndian.AppendUint16(b, p)
		b = append(b, 0, 0)
		return append(b, a.AsSlice()...)
	}
	pf := e.Addr.Masked()
	return key(port.From, pf.Addr()), key(port.To, iprange.LastAddr(pf))
}
