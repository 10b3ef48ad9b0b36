package space

import "github.com/palisade-sg/palisade/internal/core/iprange"

func searchPort(starts []uint16, p uint16) int {
	lo, hi := 0, len(starts)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if starts[m] <= p {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}

// gallop is iprange.Search for a k known to lie in piece from or later: it
// probes onwards in growing steps, so that a run of searches for sorted
// keys costs about the log of the distance between them.
func gallop(starts []iprange.Key, from int, k iprange.Key) int {
	step := 1
	for from+step < len(starts) && !k.Less(starts[from+step]) {
		from += step
		step *= 2
	}
	// starts[from] <= k < starts[from+step] (or the end).
	return from + iprange.Search(starts[from:min(from+step, len(starts))], k)
}
