package audit

import (
	"fmt"
	"net/netip"

	"github.com/palisade-sg/palisade/internal/core/model"
)

func init() {
	register(Check{ID: "SGA-021", Title: "Port range where single ports would do", Severity: Low, Run: wideRanges})
}

// SGA-021 (ScoutSuite opens-port-range): an ingress TCP or UDP accept that
// opens more than Options.MaxPortRange ports, whatever its source; a
// service listens on a few ports, and a wide range opens every port a
// member may come to listen on. A rule a drop of its own group hides is
// skipped. Whether the internet reaches the range is SGA-001/006's
// question; this one is about the rule's form, so it fires for any peer.
// A rule with a port range list is judged by the widest entry of the list:
// each entry is a range someone chose to open.
func wideRanges(in *Input) []Finding {
	limit := in.Options.MaxPortRange
	if limit < 0 {
		return nil
	}
	var out []Finding
	eachRule(in.Cloud, func(g *model.SecurityGroup, r *model.Rule) {
		if r.Protocol != model.TCP && r.Protocol != model.UDP || !in.live(g, r, model.Ingress) {
			return
		}
		n := 0
		for _, pr := range in.Cloud.DestPorts(r) {
			n = max(n, int(pr.End)-int(pr.Start)+1)
		}
		if n <= limit {
			return
		}
		out = append(out, ruleFinding("SGA-021", Low, g, r,
			fmt.Sprintf("%s opens %s (%d ports) to %s, more than the %d ports this audit allows in one rule.", ruleTitle(g, r), what(r), n, peerName(r, netip.Prefix{}), limit),
			"Open only the ports the members' services listen on, one rule (or a few narrow ranges) per service."))
	})
	return out
}
