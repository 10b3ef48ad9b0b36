package lab

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// result is the outcome of one probe that could be sent.
type result struct {
	delivered        bool
	detail           string
	seenSrc, seenDst netip.Addr
}

// send runs one probe. It reports an error only when the probe could not be
// sent at all; a packet the network lost is simply not delivered.
func send(ctx context.Context, p *plan, timeout time.Duration) (result, error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	switch p.proto {
	case model.TCP:
		return probeTCP(p, deadline)
	case model.UDP:
		return probeUDP(p, deadline)
	case model.ICMP, model.ICMPv6:
		return probeEcho(p, deadline)
	case model.GRE:
		return probeGRE(p, deadline)
	}
	return result{}, fmt.Errorf("protocol %s cannot be probed", p.proto)
}

// probeTCP connects: an answer, SYN-ACK or RST, means the SYN arrived;
// silence until the deadline means it did not.
func probeTCP(p *plan, deadline time.Time) (result, error) {
	f, rc, err := socketIn(p.srcNs, p.six, unix.SOCK_STREAM, 0)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	dst := sockaddr(p.dst, p.dport)
	cerr, err := prepare(rc, p, p.sport, dst)
	if err != nil {
		return result{}, err
	}
	if errors.Is(cerr, unix.EINPROGRESS) {
		f.SetWriteDeadline(deadline)
		// Connecting again reports progress: EALREADY while the SYN is out,
		// then success or the error that ended it.
		werr := rc.Write(func(fd uintptr) bool {
			cerr = unix.Connect(int(fd), dst)
			return !errors.Is(cerr, unix.EALREADY) && !errors.Is(cerr, unix.EINPROGRESS)
		})
		if werr != nil {
			return result{detail: waitDetail(werr)}, nil
		}
	}
	switch {
	case cerr == nil, errors.Is(cerr, unix.EISCONN):
		return result{delivered: true, detail: "connected"}, nil
	case errors.Is(cerr, unix.ECONNREFUSED):
		return result{delivered: true, detail: "connection refused (RST)"}, nil
	}
	return result{detail: errDetail(cerr)}, nil
}

// probeUDP sends a datagram on a connected socket: a reply, or the port
// unreachable error the destination's kernel sends back, means it arrived.
func probeUDP(p *plan, deadline time.Time) (result, error) {
	f, rc, err := socketIn(p.srcNs, p.six, unix.SOCK_DGRAM, 0)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	cerr, err := prepare(rc, p, p.sport, sockaddr(p.dst, p.dport))
	if err != nil {
		return result{}, err
	}
	if cerr != nil {
		return result{detail: errDetail(cerr)}, nil
	}
	if ok, detail := write(f, rc, token(), deadline); !ok {
		return result{detail: detail}, nil
	}
	buf := make([]byte, 2048)
	_, detail, rerr := read(f, rc, buf, deadline)
	switch {
	case rerr == nil:
		return result{delivered: true, detail: "reply"}, nil
	case errors.Is(rerr, unix.ECONNREFUSED):
		return result{delivered: true, detail: "port unreachable"}, nil
	}
	return result{detail: detail}, nil
}

// probeEcho sends an echo request from a ping socket (the kernel gives it
// an identifier of its own and routes the reply back to it by that).
func probeEcho(p *plan, deadline time.Time) (result, error) {
	proto, request, reply := unix.IPPROTO_ICMP, byte(8), byte(0)
	if p.six {
		proto, request, reply = unix.IPPROTO_ICMPV6, 128, 129
	}
	f, rc, err := socketIn(p.srcNs, p.six, unix.SOCK_DGRAM, proto)
	if err != nil {
		return result{}, fmt.Errorf("%w (ping sockets need net.ipv4.ping_group_range to include the group)", err)
	}
	defer f.Close()
	cerr, err := prepare(rc, p, 0, sockaddr(p.dst, 0))
	if err != nil {
		return result{}, err
	}
	if cerr != nil {
		return result{detail: errDetail(cerr)}, nil
	}
	seq := uint16(echoSeq.Add(1))
	tok := token()
	msg := append([]byte{request, 0, 0, 0, 0, 0, byte(seq >> 8), byte(seq)}, tok...)
	if ok, detail := write(f, rc, msg, deadline); !ok {
		return result{detail: detail}, nil
	}
	buf := make([]byte, 2048)
	for {
		n, detail, rerr := read(f, rc, buf, deadline)
		if rerr != nil {
			return result{detail: detail}, nil
		}
		if n >= 8 && buf[0] == reply && binary.BigEndian.Uint16(buf[6:8]) == seq && bytes.Equal(buf[8:n], tok) {
			return result{delivered: true, detail: "echo reply"}, nil
		}
	}
}

// probeGRE sends a GRE packet with a unique payload to a raw socket opened
// in the destination first; delivered means the destination saw it.
func probeGRE(p *plan, deadline time.Time) (result, error) {
	rx, rxc, err := socketIn(p.dstNs, p.six, unix.SOCK_RAW, unix.IPPROTO_GRE)
	if err != nil {
		return result{}, err
	}
	defer rx.Close()
	var serr error
	err = rxc.Control(func(fd uintptr) {
		if p.six {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		}
	})
	if err = errors.Join(err, serr); err != nil {
		return result{}, err
	}
	tx, txc, err := socketIn(p.srcNs, p.six, unix.SOCK_RAW, unix.IPPROTO_GRE)
	if err != nil {
		return result{}, err
	}
	defer tx.Close()
	if _, err := prepare(txc, p, 0, nil); err != nil {
		return result{}, err
	}
	tok := token()
	// GRE version 0 carrying a local experimental EtherType: nothing in
	// the kernel decapsulates it.
	pkt := append([]byte{0, 0, 0x88, 0xb5}, tok...)
	tx.SetWriteDeadline(deadline)
	werr := txc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), pkt, 0, sockaddr(p.dst, 0))
		return !errors.Is(serr, unix.EAGAIN)
	})
	if werr != nil {
		return result{detail: waitDetail(werr)}, nil
	}
	if serr != nil {
		return result{detail: errDetail(serr)}, nil
	}
	buf := make([]byte, 4096)
	for {
		// An IPv4 raw socket reads the IP header too; the token is unique
		// wherever it sits.
		n, from, to, detail, rerr := recvPacket(rx, rxc, buf, p.six, deadline)
		if rerr != nil {
			return result{detail: detail}, nil
		}
		if bytes.Contains(buf[:n], tok) {
			return result{delivered: true, detail: "seen by the destination", seenSrc: from, seenDst: to}, nil
		}
	}
}

// recvPacket reads one packet with the addresses it carried as it arrived.
func recvPacket(f *os.File, rc syscall.RawConn, buf []byte, six bool, deadline time.Time) (n int, from, to netip.Addr, detail string, err error) {
	oob := make([]byte, 256)
	var (
		oobn int
		sa   unix.Sockaddr
		rerr error
	)
	f.SetReadDeadline(deadline)
	werr := rc.Read(func(fd uintptr) bool {
		n, oobn, _, sa, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if werr != nil {
		return 0, from, to, waitDetail(werr), werr
	}
	if rerr != nil {
		return 0, from, to, errDetail(rerr), rerr
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		from = netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		from = netip.AddrFrom16(sa.Addr)
	}
	msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= unix.SizeofInet4Pktinfo:
			to = netip.AddrFrom4([4]byte(m.Data[8:12])) // struct in_pktinfo: ifindex, spec_dst, addr
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_PKTINFO && len(m.Data) >= unix.SizeofInet6Pktinfo:
			to = netip.AddrFrom16([16]byte(m.Data[0:16])) // struct in6_pktinfo: addr, ifindex
		}
	}
	return n, from, to, "", nil
}
