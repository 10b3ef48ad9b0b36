package flowlog

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// attr encodes a netlink attribute (nested when given attributes).
func attr(typ uint16, v []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nested(typ uint16, attrs ...[]byte) []byte {
	return attr(typ|0x8000, bytes.Join(attrs, nil))
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// message encodes a netlink message of ctnetlink type msg (nfgenmsg first).
func message(subsys, msg uint8, attrs ...[]byte) []byte {
	body := append([]byte{2, 0, 0, 0}, bytes.Join(attrs, nil)...) // AF_INET, version, res_id
	b := binary.NativeEndian.AppendUint32(nil, uint32(16+len(body)))
	b = binary.NativeEndian.AppendUint16(b, uint16(subsys)<<8|uint16(msg))
	b = append(b, make([]byte, 10)...) // flags, seq, pid
	return append(b, body...)
}

func flowAttrs(id uint32, label []byte, op, ob, rp, rb uint64) [][]byte {
	out := [][]byte{
		nested(ctaTupleOrig,
			nested(ctaTupleIP, attr(ctaIPv4Src, []byte{10, 0, 0, 1}), attr(ctaIPv4Dst, []byte{10, 0, 0, 2})),
			nested(ctaTupleProto, attr(ctaProtoNum, []byte{6}), attr(ctaProtoSrc, be16(40000)), attr(ctaProtoDst, be16(80)))),
		nested(ctaCountersOrig, attr(ctaCountersPackets, be64(op)), attr(ctaCountersBytes, be64(ob))),
		nested(ctaCountersReply, attr(ctaCountersPackets, be64(rp)), attr(ctaCountersBytes, be64(rb))),
		attr(ctaID, be32(id)),
	}
	if label != nil {
		out = append(out, attr(ctaLabels, label))
	}
	return out
}

// TestParseMessages decodes the events the kernel sends, as the collector's
// reader gets them: several messages in a datagram, foreign or malformed
// ones skipped.
func TestParseMessages(t *testing.T) {
	label := bytes.Repeat([]byte{0xab}, 16)
	tu := tuple{src: netip.MustParseAddr("10.0.0.1"), dst: netip.MustParseAddr("10.0.0.2"), sport: 40000, dport: 80, proto: 6}
	newMsg := message(nfnlSubsysCTNetlink, ipctnlMsgCtNew, flowAttrs(7, label, 1, 60, 0, 0)...)
	delMsg := message(nfnlSubsysCTNetlink, ipctnlMsgCtDelete, flowAttrs(7, nil, 3, 180, 2, 120)...)
	truncated := message(nfnlSubsysCTNetlink, ipctnlMsgCtNew, flowAttrs(8, label, 1, 60, 0, 0)...)
	binary.NativeEndian.PutUint16(truncated[20:], 0xff) // the first attribute claims more than there is
	type got struct {
		destroy        bool
		id             uint32
		t              tuple
		label          string
		packets, bytes uint64
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want []got
	}{
		{"new", newMsg, []got{{false, 7, tu, string(label), 1, 60}}},
		{"destroy, counters of both directions", delMsg, []got{{true, 7, tu, "", 5, 300}}},
		{"two in one datagram", append(append([]byte{}, newMsg...), delMsg...),
			[]got{{false, 7, tu, string(label), 1, 60}, {true, 7, tu, "", 5, 300}}},
		{"another subsystem", message(4, 0, flowAttrs(9, label, 1, 1, 1, 1)...), nil},
		{"an update", message(nfnlSubsysCTNetlink, 1, flowAttrs(9, label, 1, 1, 1, 1)...), nil},
		{"malformed attribute", truncated, nil},
		{"no ID", message(nfnlSubsysCTNetlink, ipctnlMsgCtNew, flowAttrs(9, label, 1, 1, 1, 1)[:3]...), nil},
		{"cut short", newMsg[:len(newMsg)-8], nil},
		{"empty", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var evs []got
			var ev ctEvent
			parseMessages(tc.in, &ev, func(e *ctEvent) {
				evs = append(evs, got{e.destroy, e.id, e.t, string(e.label), e.packets, e.bytes})
			})
			if len(evs) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", evs, tc.want)
			}
			for i := range evs {
				if evs[i] != tc.want[i] {
					t.Errorf("event %d: %+v, want %+v", i, evs[i], tc.want[i])
				}
			}
		})
	}
}
