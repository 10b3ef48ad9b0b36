package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Namespace names. The kind sits between the lab name and the item name, so
// a host, an instance and the shared namespaces never collide; lab names
// have no '-', so "pl-<name>-" belongs to one lab only.
func nsPrefix(lab string) string       { return "pl-" + lab + "-" }
func hostNs(lab, host string) string   { return nsPrefix(lab) + "host-" + host }
func instanceNs(lab, id string) string { return nsPrefix(lab) + "vm-" + nsSafe(id) }
func fabricNs(lab string) string       { return nsPrefix(lab) + "fab" }

// nsSafe is an instance ID as a namespace name may hold it: the ID when it
// is made of letters, digits, '.', '_' and '-' (64 at most), else '#' and
// a hash of it ('#' is in no such ID, so the two kinds never collide). A
// scenario file's IDs are its own names (FORMAT.md asks no shape of them),
// and check judged a file with an instance "web 1" or "a/b" that lab play
// refused.
func nsSafe(id string) string {
	if nameChar.MatchString(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "#" + hex.EncodeToString(sum[:])[:24]
}

// HostNetnsPrefix starts the name of every host namespace of lab (the
// one its agents run in).
func HostNetnsPrefix(lab string) string { return hostNs(lab, "") }

func internetNs(lab string) string        { return nsPrefix(lab) + "inet" }
func fabricPort(underlayIndex int) string { return "u" + strconv.Itoa(underlayIndex) }

const (
	// IfacePrefix starts the host-side interface of every instance; the
	// agent's fail-closed rules match it.
	IfacePrefix = "pi-"
	maxIfname   = 15
	fabIface    = "fab0" // a host's (and the internet's) port on the fabric
	bridgeName  = "br0"
	instIface   = "eth0"
)

var ifaceSafe = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ifaceNames gives every instance a host-side interface name: "pi-" and
// the ID without "i-" when that fits in 15 characters, else a shortened ID
// with a hash. Names are unique across the lab (not only per host) so an
// agent can never confuse two instances; IDs are taken in sorted order so
// the result does not depend on the spec's order.
func ifaceNames(ids []string) map[string]string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	out := make(map[string]string, len(ids))
	used := map[string]bool{}
	for _, id := range ids {
		name := IfacePrefix + strings.TrimPrefix(id, "i-")
		if len(name) > maxIfname || !ifaceSafe.MatchString(name) || used[name] {
			sum := sha256.Sum256([]byte(id))
			name = IfacePrefix + hex.EncodeToString(sum[:])[:maxIfname-len(IfacePrefix)]
		}
		for used[name] { // a hash collision: vanishingly rare, still handled
			sum := sha256.Sum256([]byte(name))
			name = IfacePrefix + hex.EncodeToString(sum[:])[:maxIfname-len(IfacePrefix)]
		}
		used[name] = true
		out[id] = name
	}
	return out
}

// Underlay addressing: index 1 is the internet, host i is index i+2.
var (
	underlayNet   = netip.MustParsePrefix("169.254.128.0/17")
	gatewayV4     = netip.MustParseAddr("169.254.1.1")
	gatewayV6     = netip.MustParseAddr("fe80::1")
	internetIndex = 1
)

func hostIndex(i int) int { return i + 2 }

// underlayV4 is 169.254.128.0 + index.
func underlayV4(index int) netip.Addr {
	b := underlayNet.Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) + uint32(index)
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// underlayV6 is fe80::ff:<index>, a link-local next hop on the fabric.
func underlayV6(index int) netip.Addr {
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	b[11] = 0xff
	b[12], b[13], b[14], b[15] = byte(index>>24), byte(index>>16), byte(index>>8), byte(index)
	return netip.AddrFrom16(b)
}

// MAC addresses are fixed so that every neighbour entry can be written
// ahead as permanent: the kernel's neighbour tables are shared by all
// namespaces and hold 1024 dynamic entries by default (gc_thresh3), which a
// lab of a few hundred instances would overflow; permanent entries do not
// count against it.
var hostVethMAC = net.HardwareAddr{0xee, 0xee, 0xee, 0xee, 0xee, 0xee} // every host-side veth, as Calico does

// instanceMAC is 02:01:<index>, routerMAC 02:02:<underlay index>: locally
// administered unicast.
func instanceMAC(i int) net.HardwareAddr { return indexMAC(0x01, i) }
func routerMAC(index int) net.HardwareAddr {
	return indexMAC(0x02, index)
}

func indexMAC(kind byte, i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, kind, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}
