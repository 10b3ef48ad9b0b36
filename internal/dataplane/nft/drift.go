package nft

import "maps"

// Drifted reports whether the table in the kernel lost the shape of what
// this Kernel last applied: the table, its base chain's hook and rules, the
// names of its chains, sets and maps. Another program did it (a `flush
// ruleset`, as restarting the nftables service does; the table deleted or
// flushed). It reads no element, so it is cheap enough to ask every few
// seconds; an element taken out of a set is not seen. On drift the Kernel
// forgets what it applied, so that the next Apply reads the table and
// writes all that is missing. false before the first Apply and after a
// failed one (the next Apply reads the table anyway).
func (k *Kernel) Drifted() (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return false, errClosed
	}
	if k.state == nil {
		return false, nil
	}
	if k.conn == nil {
		if err := k.dial(); err != nil {
			return false, err
		}
	}
	now, err := k.readTable(false)
	if err != nil {
		k.redial()
		return false, err
	}
	if sameShape(now, k.state) {
		return false, nil
	}
	k.state = nil
	return true, nil
}

// sameShape compares two states but for the elements of sets and maps.
func sameShape(a, b *kstate) bool {
	return a.table == b.table && a.base == b.base && a.baseHook == b.baseHook && a.baseSig == b.baseSig &&
		maps.Equal(a.chains, b.chains) && sameKeys(a.sets, b.sets) && sameKeys(a.maps, b.maps)
}

func sameKeys[V any](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}
