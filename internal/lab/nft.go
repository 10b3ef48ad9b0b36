package lab

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
)

// The lab's own table. It never touches table palisade, which the agent owns.
const labTable = "palisade_lab"

// hostRuleset isolates VPCs in a host: a packet from an instance's private
// address to the private address of an instance in another VPC is dropped
// (VPCs meet only through public addresses, NATed in the internet). It runs
// at forward priority -10, before the agent's policy.
func hostRuleset(s *Spec) string {
	vpcs := map[string][]netip.Addr{}
	var all []netip.Addr
	for _, in := range s.Instances {
		vpcs[in.VPC] = append(vpcs[in.VPC], in.PrivateIP)
		all = append(all, in.PrivateIP)
	}
	names := make([]string, 0, len(vpcs))
	for v := range vpcs {
		names = append(names, v)
	}
	slices.Sort(names)

	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", labTable)
	fmt.Fprintf(&b, "\tset private { type ipv4_addr; %s}\n", elements(all))
	var vmap []string
	for i, v := range names {
		fmt.Fprintf(&b, "\t# vpc_%d is %q\n", i, v)
		fmt.Fprintf(&b, "\tset vpc_%d { type ipv4_addr; %s}\n", i, elements(vpcs[v]))
		fmt.Fprintf(&b, "\tchain from_vpc_%d { ip daddr @private ip daddr != @vpc_%d drop; }\n", i, i)
		for _, a := range vpcs[v] {
			vmap = append(vmap, fmt.Sprintf("%s : jump from_vpc_%d", a, i))
		}
	}
	fmt.Fprintf(&b, "\tmap vpc_of { type ipv4_addr : verdict; %s}\n", elementList(vmap))
	fmt.Fprintf(&b, "\tchain forward { type filter hook forward priority -10; policy accept; ip saddr vmap @vpc_of; }\n")
	b.WriteString("}\n")
	return b.String()
}

// internetRuleset is the NAT of the internet: a public address stands for
// its instance's private address in both directions. Traffic for a public
// address is DNATed (prerouting; output for packets the outside addresses
// send); traffic from a private address with a public one is SNATed
// (postrouting when forwarded; input when an outside address receives it).
// A private address without a public one gets nowhere, and nothing reaches
// a private address unless it was DNATed (replies aside).
func internetRuleset(s *Spec) string {
	var private, unnated []netip.Addr
	var dnat, snat []string
	for _, in := range s.Instances {
		private = append(private, in.PrivateIP)
		if !in.PublicIP.IsValid() {
			unnated = append(unnated, in.PrivateIP)
			continue
		}
		dnat = append(dnat, fmt.Sprintf("%s : %s", in.PublicIP, in.PrivateIP))
		snat = append(snat, fmt.Sprintf("%s : %s", in.PrivateIP, in.PublicIP))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {\n", labTable)
	fmt.Fprintf(&b, "\tset private { type ipv4_addr; %s}\n", elements(private))
	fmt.Fprintf(&b, "\tset unnated { type ipv4_addr; %s}\n", elements(unnated))
	fmt.Fprintf(&b, "\tmap public_to_private { type ipv4_addr : ipv4_addr; %s}\n", elementList(dnat))
	fmt.Fprintf(&b, "\tmap private_to_public { type ipv4_addr : ipv4_addr; %s}\n", elementList(snat))
	b.WriteString("\tchain no_public { type filter hook prerouting priority -150; policy accept; ip saddr @unnated drop; }\n")
	b.WriteString("\tchain dnat_in { type nat hook prerouting priority -100; policy accept; dnat to ip daddr map @public_to_private; }\n")
	b.WriteString("\tchain dnat_local { type nat hook output priority -100; policy accept; dnat to ip daddr map @public_to_private; }\n")
	b.WriteString("\tchain snat_out { type nat hook postrouting priority 100; policy accept; snat to ip saddr map @private_to_public; }\n")
	b.WriteString("\tchain snat_local { type nat hook input priority 100; policy accept; snat to ip saddr map @private_to_public; }\n")
	const guard = "ct direction original ip daddr @private ct status & dnat == 0 drop"
	fmt.Fprintf(&b, "\tchain private_forward { type filter hook forward priority 0; policy accept; %s; }\n", guard)
	fmt.Fprintf(&b, "\tchain private_local { type filter hook output priority 0; policy accept; %s; }\n", guard)
	b.WriteString("}\n")
	return b.String()
}

func elements(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return elementList(s)
}

// elementList is an "elements = { … }; " clause, or nothing for an empty
// set (nft refuses an empty element list).
func elementList(e []string) string {
	if len(e) == 0 {
		return ""
	}
	return "elements = { " + strings.Join(e, ", ") + " }; "
}

// applyNft loads a ruleset with nft inside a namespace.
func applyNft(ns, ruleset string) error {
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := StartIn(ns, cmd); err != nil {
		return fmt.Errorf("nft in %s: %w (is nft installed?)", ns, err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("nft in %s: %w: %s", ns, err, strings.TrimSpace(out.String()))
	}
	return nil
}
