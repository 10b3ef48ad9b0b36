package apply

import (
	"fmt"
	"maps"
	"slices"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Secondary ENIs: marked with the file ID in a tag (as groups and
// instances), created on a vSwitch holding their address, attached to their
// instance, their groups set with ModifyNetworkInterfaceAttribute.

// instanceRef is the account ID of a file instance, or the placeholder of
// the one this run launches (a new or replaced instance).
func (b *builder) instanceRef(id string) (ref_ string, replaced bool) {
	r := ref("i", id)
	for _, s := range b.p.Steps {
		if s.creates == r {
			return r, b.insts[id] != nil
		}
	}
	if in, ok := b.insts[id]; ok {
		return in.ID, false
	}
	return r, false
}

// diffENIs converges the file's secondary ENIs and, with --prune, removes
// the managed ones the file does not name.
func (b *builder) diffENIs() error {
	// The vSwitches the new ENIs need come first, all of them, as the plan's
	// order is (CreateVSwitch before the ENI steps): vSwitch makes one on
	// first use, which would otherwise fall between two ENIs' steps.
	for _, n := range b.sc.ENIs {
		if cur, ok := b.enis[n.ID]; !ok || b.eniMoved(cur, n) {
			b.vSwitch(endpoint{n.ID, n.VpcID, n.PrivateIP, n.IPv6})
		}
	}
	named := map[string]bool{}
	for _, n := range b.sc.ENIs {
		named[n.ID] = true
		want := make([]string, len(n.SecurityGroups))
		for i, g := range n.SecurityGroups {
			want[i] = b.groupID(g)
		}
		inst, replaced := b.instanceRef(n.InstanceID)
		cur, ok := b.enis[n.ID]
		if ok && b.eniMoved(cur, n) {
			b.removeENI(n.ID, cur, "replaced: its VPC or addresses changed")
			ok = false
		}
		if !ok {
			p := map[string]string{"PrimaryIpAddress": n.PrivateIP.String(), "Tag.1.Key": Marker, "Tag.1.Value": n.ID,
				"VSwitchId": b.vSwitch(endpoint{n.ID, n.VpcID, n.PrivateIP, n.IPv6})}
			for i, g := range want {
				p[fmt.Sprintf("SecurityGroupIds.%d", i+1)] = g
			}
			if n.IPv6.IsValid() {
				p["Ipv6Address.1"] = n.IPv6.String()
			}
			r := ref("eni", n.ID)
			b.add(Step{Product: "Ecs", Action: "CreateNetworkInterface", Resource: n.ID, Params: p, creates: r, idField: "NetworkInterfaceId"})
			b.add(Step{Product: "Ecs", Action: "AttachNetworkInterface", Resource: n.ID, Params: map[string]string{"NetworkInterfaceId": r, "InstanceId": inst}})
			continue
		}
		if !slices.Equal(cur.SecurityGroups, want) {
			p := map[string]string{"NetworkInterfaceId": cur.ID}
			for i, g := range want {
				p[fmt.Sprintf("SecurityGroupId.%d", i+1)] = g
			}
			b.add(Step{Product: "Ecs", Action: "ModifyNetworkInterfaceAttribute", Resource: n.ID, Params: p})
		}
		if cur.InstanceID != inst {
			// A replaced instance's deletion detaches its ENIs itself.
			if cur.InstanceID != "" && !(replaced && cur.InstanceID == b.insts[n.InstanceID].ID) {
				b.add(Step{Product: "Ecs", Action: "DetachNetworkInterface", Resource: n.ID,
					Params: map[string]string{"NetworkInterfaceId": cur.ID, "InstanceId": cur.InstanceID}})
			}
			b.add(Step{Product: "Ecs", Action: "AttachNetworkInterface", Resource: n.ID, Params: map[string]string{"NetworkInterfaceId": cur.ID, "InstanceId": inst}})
		}
	}
	var left []string
	for _, id := range slices.Sorted(maps.Keys(b.enis)) {
		if named[id] {
			continue
		}
		if !b.opt.Prune {
			left = append(left, id)
			continue
		}
		b.removeENI(id, b.enis[id], "not in the file")
	}
	if len(left) > 0 {
		b.p.Warnings = append(b.p.Warnings, fmt.Sprintf("left in place, managed by apply but not in the file (use --prune to remove): %v", left))
	}
	return nil
}

// eniMoved reports whether an ENI's VPC or addresses differ from the
// file's: it cannot be changed in place, only replaced.
func (b *builder) eniMoved(cur, n *model.NetworkInterface) bool {
	return cur.PrivateIP != n.PrivateIP || cur.IPv6 != n.IPv6 || cur.VpcID != b.vpcID(n.VpcID)
}

// removeENI detaches (if attached) and deletes an ENI.
func (b *builder) removeENI(fileID string, cur *model.NetworkInterface, why string) {
	if cur.InstanceID != "" {
		b.add(Step{Product: "Ecs", Action: "DetachNetworkInterface", Resource: fileID, Note: why,
			Params: map[string]string{"NetworkInterfaceId": cur.ID, "InstanceId": cur.InstanceID}})
	}
	b.add(Step{Product: "Ecs", Action: "DeleteNetworkInterface", Resource: fileID, Note: why,
		Params: map[string]string{"NetworkInterfaceId": cur.ID}})
}
