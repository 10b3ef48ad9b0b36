package nft

import (
	"encoding/binary"
	"fmt"
	"maps"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Drifted reports whether the table in the kernel is no longer what this
// Kernel last applied: the table, its base chain's hook and rules, its
// chains and their rules (a digest: a rule replaced in place is seen), the
// names of its sets and maps and all their elements, tuple sets' and
// merged verdict maps' included (an interface taken out of a map is not
// filtered at all); counter values are left out, as the traffic moves
// them. Another program did it (a `flush ruleset`, as restarting the
// nftables service does; the table deleted or flushed; a chain flushed; a
// rule replaced; an element added or deleted). It first asks the kernel's
// ruleset generation, which any committed change of any table moves, and
// reads the table only when it moved since this Kernel's last Apply or
// check, so it is cheap enough to ask every few seconds, and on each of
// Watch's notices. On drift the Kernel forgets what it applied, so that
// the next Apply reads the table and writes all that differs. false
// before the first Apply.
func (k *Kernel) Drifted() (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return false, errClosed
	}
	if k.applied == nil {
		return false, nil
	}
	gen, genErr := k.generation()
	if genErr == nil && gen == k.gen && k.gen != 0 {
		return false, nil
	}
	if k.conn == nil {
		if err := k.dial(); err != nil {
			return false, err
		}
	}
	now, err := k.read()
	if err != nil {
		k.redial()
		return false, err
	}
	if sameShape(now, k.applied) && sameElements(now, k.applied) {
		if genErr == nil {
			k.gen = gen // another table changed: nothing to see until the next change
		}
		return false, nil
	}
	k.state = nil
	return true, nil
}

// FailClosed applies rs when the table holds no policy (see Table). An
// agent that cannot reach its server at start does, so that a host whose
// table is gone drops its instances' traffic until the agent knows their
// policy, rather than pass it all.
func (k *Kernel) FailClosed(rs *Ruleset) (bool, error) {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return false, errClosed
	}
	if k.conn == nil {
		if err := k.dial(); err != nil {
			k.mu.Unlock()
			return false, err
		}
	}
	// Asked at each retry of an agent whose server is away: the table is
	// read again only once the ruleset generation moved.
	gen, genErr := k.generation()
	if genErr == nil && gen != 0 && gen == k.heldGen {
		k.mu.Unlock()
		return false, nil
	}
	st, err := k.read()
	if err != nil {
		k.redial()
		k.mu.Unlock()
		return false, err
	}
	if st.table && st.base && st.baseSig != "" {
		if genErr == nil {
			k.heldGen = gen
		}
		k.mu.Unlock()
		return false, nil
	}
	// Apply reads the table again: the generation moved since this Kernel
	// last applied or checked (a flushed table still has its chains, empty).
	k.mu.Unlock()
	if _, err := k.Apply(rs); err != nil {
		return false, err
	}
	return true, nil
}

// sameShape compares two states but for the elements of sets and maps.
func sameShape(a, b *kstate) bool {
	return a.table == b.table && a.base == b.base && a.baseHook == b.baseHook && a.baseSig == b.baseSig &&
		maps.Equal(a.chains, b.chains) && // names and rules
		maps.EqualFunc(a.sets, b.sets, func(_, _ *kset) bool { return true }) && // names
		maps.EqualFunc(a.maps, b.maps, func(_, _ map[string]string) bool { return true })
}

// sameElements compares the elements of a state read with those of the
// state applied (of the same shape).
func sameElements(now, applied *kstate) bool {
	for name, s := range applied.sets {
		if !maps.Equal(s.elems, now.sets[name].elems) {
			return false
		}
	}
	for name, m := range applied.maps {
		if !maps.Equal(m, now.maps[name]) {
			return false
		}
	}
	return true
}

// generation is the kernel's nftables ruleset generation
// (NFT_MSG_GETGEN), which every committed change of any table moves. The
// nftables library has no call for it: one netlink request on a socket of
// the Kernel's namespace.
func (k *Kernel) generation() (uint32, error) {
	if k.genConn == nil {
		cfg := &netlink.Config{}
		if k.ns != nil {
			cfg.NetNS = int(k.ns.Fd())
		}
		c, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
		if err != nil {
			return 0, fmt.Errorf("netfilter netlink%s: %w", k.where(), err)
		}
		k.genConn = c
	}
	c := k.genConn
	req := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN), Flags: netlink.Request},
		Data:   []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0}, // struct nfgenmsg
	}
	msgs, err := c.Execute(req)
	if err != nil {
		c.Close() // dialed again next time
		k.genConn = nil
		return 0, fmt.Errorf("ruleset generation%s: %w", k.where(), err)
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, err
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return ad.Uint32(), nil
			}
		}
	}
	return 0, fmt.Errorf("ruleset generation%s: no NFTA_GEN_ID in the answer", k.where())
}
