package flowlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Conntrack events are the collector's hot path: two per connection (new,
// with the label; destroy, with the counts: destroy events carry no label).
// They are read many datagrams per system call (recvmmsg) into one reused
// buffer, and only the attributes a record needs are decoded, in place; a
// general-purpose decoder (ti-mo/conntrack's Listen) allocates a flow per
// event and peeks at each datagram before reading it.

// Netlink constants of ctnetlink (linux/netfilter/nfnetlink_conntrack.h).
const (
	nfnlSubsysCTNetlink = 1
	ipctnlMsgCtNew      = 0
	ipctnlMsgCtDelete   = 2
	nfnlgrpCtNew        = 1
	nfnlgrpCtDestroy    = 3

	ctaTupleOrig     = 1
	ctaCountersOrig  = 9
	ctaCountersReply = 10
	ctaID            = 12
	ctaLabels        = 22

	ctaTupleIP    = 1
	ctaTupleProto = 2
	ctaIPv4Src    = 1
	ctaIPv4Dst    = 2
	ctaIPv6Src    = 3
	ctaIPv6Dst    = 4
	ctaProtoNum   = 1
	ctaProtoSrc   = 2
	ctaProtoDst   = 3

	ctaCountersPackets = 1
	ctaCountersBytes   = 2

	nlaTypeMask = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

// ctEvent is what the collector takes from one conntrack event.
type ctEvent struct {
	destroy        bool
	id             uint32
	t              tuple
	label          []byte // 16 bytes, or nil; points into the read buffer
	packets, bytes uint64 // orig plus reply
}

// Event batches: datagrams per recvmmsg, and room per datagram (an event
// is a few hundred bytes).
const (
	eventBatch = 64
	eventSlot  = 1024
)

// eventSocket is a netlink socket of a namespace subscribed to conntrack's
// new and destroy events.
type eventSocket struct {
	f    *os.File // non-blocking, on the runtime's poller: Close wakes a read
	buf  []byte
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
}

// openEvents subscribes to the events of the namespace ns (nil: the
// caller's), with a receive buffer of rcvbuf bytes.
func openEvents(ns *os.File, rcvbuf int) (*eventSocket, error) {
	type result struct {
		fd  int
		err error
	}
	open := func() result {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_NETFILTER)
		if err != nil {
			return result{-1, err}
		}
		// Beyond the default buffer, a burst of connections would overflow
		// it before the collector runs (ENOBUFS: events lost, counted).
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
		}
		sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1<<(nfnlgrpCtNew-1) | 1<<(nfnlgrpCtDestroy-1)}
		if err := unix.Bind(fd, sa); err != nil {
			unix.Close(fd)
			return result{-1, err}
		}
		return result{fd, nil}
	}
	var r result
	if ns == nil {
		r = open()
	} else {
		// A socket belongs to the namespace of the thread that makes it.
		done := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends in the other namespace
			if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
				done <- result{-1, err}
				return
			}
			done <- open()
		}()
		r = <-done
	}
	if r.err != nil {
		return nil, fmt.Errorf("flowlog: subscribe to conntrack events: %w", r.err)
	}
	s := &eventSocket{f: os.NewFile(uintptr(r.fd), "ctnetlink-events"), buf: make([]byte, eventBatch*eventSlot),
		hdrs: make([]unix.Mmsghdr, eventBatch), iovs: make([]unix.Iovec, eventBatch)}
	for i := range s.hdrs {
		s.iovs[i].Base = &s.buf[i*eventSlot]
		s.iovs[i].SetLen(eventSlot)
		s.hdrs[i].Hdr.Iov = &s.iovs[i]
		s.hdrs[i].Hdr.SetIovlen(1)
	}
	return s, nil
}

// errEventsLost is a read that found the socket's buffer had overflowed.
var errEventsLost = errors.New("conntrack events lost (receive buffer overflow)")

// recv waits for a batch of events and returns how many datagrams it
// holds, for parse. It returns errEventsLost when the kernel dropped
// events, os.ErrClosed once closed.
func (s *eventSocket) recv() (int, error) {
	rc, err := s.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&s.hdrs[0])), uintptr(len(s.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN {
			return false // wait on the poller
		}
		n, rerr = int(r), nil
		if e != 0 {
			rerr = e
		}
		return true
	})
	switch {
	case err != nil:
		return 0, err
	case errors.Is(rerr, unix.ENOBUFS):
		return 0, errEventsLost
	case rerr != nil:
		return 0, rerr
	}
	return n, nil
}

// parse passes each event of the n datagrams recv got to fn; the event's
// label is valid only during the call.
func (s *eventSocket) parse(n int, fn func(*ctEvent)) {
	var ev ctEvent
	for i := range n {
		l := int(s.hdrs[i].Len)
		if s.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 || l > eventSlot {
			continue // cannot be an event of ours
		}
		parseMessages(s.buf[i*eventSlot:i*eventSlot+l], &ev, fn)
	}
}

func (s *eventSocket) Close() error { return s.f.Close() }

// parseMessages decodes the ctnetlink new and delete messages in b.
func parseMessages(b []byte, ev *ctEvent, fn func(*ctEvent)) {
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return
		}
		typ := binary.NativeEndian.Uint16(b[4:6])
		if typ>>8 == nfnlSubsysCTNetlink && (typ&0xff == ipctnlMsgCtNew || typ&0xff == ipctnlMsgCtDelete) &&
			l >= unix.NLMSG_HDRLEN+4 && parseFlow(b[unix.NLMSG_HDRLEN+4:l], ev) {
			ev.destroy = typ&0xff == ipctnlMsgCtDelete
			fn(ev)
		}
		b = b[min(nlAlign(l), len(b)):]
	}
}

func nlAlign(n int) int { return (n + 3) &^ 3 }

// attrs calls fn with each netlink attribute of b (type without flags);
// false on malformed input.
func attrs(b []byte, fn func(typ uint16, v []byte)) bool {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		if l < 4 || l > len(b) {
			return false
		}
		fn(binary.NativeEndian.Uint16(b[2:4])&nlaTypeMask, b[4:l])
		b = b[min(nlAlign(l), len(b)):]
	}
	return true
}

// parseFlow decodes the attributes of a conntrack message into ev.
func parseFlow(b []byte, ev *ctEvent) bool {
	*ev = ctEvent{}
	var haveID bool
	ok := attrs(b, func(typ uint16, v []byte) {
		switch typ {
		case ctaTupleOrig:
			parseTuple(v, &ev.t)
		case ctaCountersOrig, ctaCountersReply:
			attrs(v, func(typ uint16, v []byte) {
				if len(v) != 8 {
					return
				}
				switch typ {
				case ctaCountersPackets:
					ev.packets += binary.BigEndian.Uint64(v)
				case ctaCountersBytes:
					ev.bytes += binary.BigEndian.Uint64(v)
				}
			})
		case ctaID:
			if len(v) == 4 {
				ev.id, haveID = binary.BigEndian.Uint32(v), true
			}
		case ctaLabels:
			if len(v) == 16 {
				ev.label = v
			}
		}
	})
	return ok && haveID
}

func parseTuple(b []byte, t *tuple) {
	attrs(b, func(typ uint16, v []byte) {
		switch typ {
		case ctaTupleIP:
			attrs(v, func(typ uint16, v []byte) {
				switch typ {
				case ctaIPv4Src, ctaIPv6Src:
					t.src, _ = netip.AddrFromSlice(v)
				case ctaIPv4Dst, ctaIPv6Dst:
					t.dst, _ = netip.AddrFromSlice(v)
				}
			})
		case ctaTupleProto:
			attrs(v, func(typ uint16, v []byte) {
				switch {
				case typ == ctaProtoNum && len(v) == 1:
					t.proto = v[0]
				case typ == ctaProtoSrc && len(v) == 2:
					t.sport = binary.BigEndian.Uint16(v)
				case typ == ctaProtoDst && len(v) == 2:
					t.dport = binary.BigEndian.Uint16(v)
				}
			})
		}
	})
}
