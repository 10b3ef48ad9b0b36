package space

import (
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// ClassKey names the space of an instance's policy on one direction and
// path. Instances with the same key have the same Program (the same groups)
// and the same answers to the rules' local CIDRs, so their spaces are equal:
// analyses build one space per key.
func ClassKey(c *policy.Cloud, in *model.Instance, dir model.Direction, nic model.NicType) string {
	groups := c.GroupsOf(in)
	classic := slices.ContainsFunc(groups, (*model.SecurityGroup).Classic)
	if !classic {
		nic = model.Intranet // VPC rules apply on every path
	}
	var b strings.Builder
	for i, g := range groups {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(g.ID)
	}
	b.WriteString("|" + string(dir) + "|" + string(nic) + "|")
	// A local CIDR splits the instances of one program; record its answer
	// for each of the instance's addresses (the same filter as the pooling).
	for _, g := range groups {
		for ri := range g.Rules {
			r := &g.Rules[ri]
			if r.Direction != dir || g.Classic() && r.NicType != nic || !r.Local.IsValid() {
				continue
			}
			l := r.Local.Masked()
			b.WriteByte('0' + bit(l.Contains(in.PrivateIP)) + 2*bit(in.IPv6.IsValid() && l.Contains(in.IPv6)))
		}
	}
	return b.String()
}

func bit(b bool) byte {
	if b {
		return 1
	}
	return 0
}
