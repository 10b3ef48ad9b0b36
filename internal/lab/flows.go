package lab

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// ProbeFlows sends each flow as the first packet of a new connection, as
// the policy engine judges it. A kernel that has seen the reverse flow (B to
// A after A to B, for GRE or the same UDP ports) rightly passes the packet as
// part of that connection, so flows conntrack could tie together go out in
// separate batches, with conntrack flushed before each batch.
func ProbeFlows(ctx context.Context, l *Lab, flows []policy.Flow, o ProbeOptions) ([]ProbeResult, error) {
	out := make([]ProbeResult, len(flows))
	for _, batch := range flowBatches(flows) {
		if err := FlushConntrack(l); err != nil {
			return nil, err
		}
		probes := make([]ProbeSpec, len(batch))
		for i, fi := range batch {
			probes[i] = FlowProbe(flows[fi])
		}
		for i, r := range ProbeWith(ctx, l, probes, o) {
			out[batch[i]] = r
		}
	}
	return out, nil
}

// flowBatches splits flows so that no batch holds two flows conntrack could
// tie together: the same ends (either way round, as a reply would) with the
// same protocol and, for TCP and UDP, the same ports. ICMP echoes carry
// unique identifiers and never conflict.
func flowBatches(flows []policy.Flow) [][]int {
	var out [][]int
	var used []map[string]bool
	for i, f := range flows {
		key := tieKey(f, i)
		bi := 0
		for bi < len(out) && used[bi][key] {
			bi++
		}
		if bi == len(out) {
			out = append(out, nil)
			used = append(used, map[string]bool{})
		}
		out[bi] = append(out[bi], i)
		used[bi][key] = true
	}
	return out
}

// tieKey names the connection a flow could belong to, its ends unordered.
func tieKey(f policy.Flow, i int) string {
	a, b := endKey(f.From), endKey(f.To)
	switch f.Protocol {
	case model.ICMP, model.ICMPv6:
		return "#" + strconv.Itoa(i)
	case model.TCP, model.UDP:
		sport := f.SourcePort
		if sport == 0 {
			sport = policy.DefaultSourcePort
		}
		a, b = fmt.Sprintf("%s:%d", a, sport), fmt.Sprintf("%s:%d", b, f.Port)
	}
	if a > b {
		a, b = b, a
	}
	six := f.IPVersion == 6 || strings.Contains(f.From, ":") || strings.Contains(f.To, ":") // an IPv6 outside address
	return fmt.Sprintf("%s|%s|%s|%v", f.Protocol, a, b, six)
}

// endKey names a flow's end as conntrack sees it: an address in its one
// form, so that 2001:DB8::1 and 2001:db8:0::1 are the one host they are
// (written apart, two flows between the same ends shared a batch, and the
// second passed as the reply of the first); an instance by its ID.
func endKey(end string) string {
	if a, err := netip.ParseAddr(end); err == nil {
		return a.Unmap().String()
	}
	return end
}

// RecheckTimeout is the timeout of the second look at probes that were not
// delivered: a loaded machine can hold a delivered packet's answer past the
// usual timeout, and the second look, one probe at a time, tells that apart
// from a drop (a drop is a drop however long one waits).
const RecheckTimeout = 3 * time.Second

// Recheck sends again, one at a time and with RecheckTimeout, the flows
// whose probes were not delivered but are expected to be, and updates their
// results. expected[i] says whether flow i should be delivered.
func Recheck(ctx context.Context, l *Lab, flows []policy.Flow, results []ProbeResult, expected []bool) error {
	var idx []int
	var again []policy.Flow
	for i, r := range results {
		if expected[i] && !r.Delivered && r.Err == nil {
			idx = append(idx, i)
			again = append(again, flows[i])
		}
	}
	if len(again) == 0 {
		return nil
	}
	rs, err := ProbeFlows(ctx, l, again, ProbeOptions{Timeout: RecheckTimeout, Parallel: 1})
	if err != nil {
		return err
	}
	for j, i := range idx {
		results[i] = rs[j]
	}
	return nil
}
