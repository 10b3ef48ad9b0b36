package space

import "github.com/palisade-sg/palisade/internal/core/model"

// Proto is a protocol slot of the packet space.
type Proto uint8

const (
	TCP Proto = iota
	UDP
	ICMP
	ICMPv6
	GRE
	// Other is every IP protocol without a slot of its own; only rules of
	// protocol ALL match it.
	Other
	NProto
)

var protoNames = [NProto]string{"TCP", "UDP", "ICMP", "ICMPv6", "GRE", "other"}

func (p Proto) String() string { return protoNames[p] }

// Ports reports whether the protocol carries ports.
func (p Proto) Ports() bool { return p == TCP || p == UDP }

// Model returns the protocol as rules and flows name it (ALL for Other).
func (p Proto) Model() model.Protocol {
	switch p {
	case TCP:
		return model.TCP
	case UDP:
		return model.UDP
	case ICMP:
		return model.ICMP
	case ICMPv6:
		return model.ICMPv6
	case GRE:
		return model.GRE
	}
	return model.ALL
}

// Number is a representative IP protocol number of the slot (253, reserved
// for experiments, stands for Other).
func (p Proto) Number() uint8 {
	if p == Other {
		return 253
	}
	return p.Model().Number()
}

// ProtoOf returns the slot of an IP protocol number.
func ProtoOf(number uint8) Proto {
	switch number {
	case 6:
		return TCP
	case 17:
		return UDP
	case 1:
		return ICMP
	case 58:
		return ICMPv6
	case 47:
		return GRE
	}
	return Other
}

// SlotOf returns the slot of a flow protocol (Other for ALL).
func SlotOf(p model.Protocol) Proto {
	if p == model.ALL {
		return Other
	}
	return ProtoOf(p.Number())
}

// matchesSlot reports whether a rule of protocol r matches packets of slot p.
func matchesSlot(r model.Protocol, p Proto) bool {
	return r == model.ALL || p != Other && r.Number() == p.Number()
}

// Protos lists every slot.
func Protos() []Proto { return []Proto{TCP, UDP, ICMP, ICMPv6, GRE, Other} }
