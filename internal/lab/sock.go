package lab

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// socketIn opens a non-blocking socket inside a namespace; it stays there
// whatever thread uses it later. The file is registered with the runtime
// poller, so waiting for it costs a goroutine, not a thread.
func socketIn(ns string, six bool, typ, proto int) (*os.File, syscall.RawConn, error) {
	family := unix.AF_INET
	if six {
		family = unix.AF_INET6
	}
	var fd int
	err := inNetns(ns, func() error {
		var err error
		fd, err = unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("socket in %s: %w", ns, err)
	}
	f := os.NewFile(uintptr(fd), "probe")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, rc, nil
}

func sockaddr(a netip.Addr, port uint16) unix.Sockaddr {
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(port), Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Port: int(port), Addr: a.As16()}
}

// prepare sets the socket up: reusable address (probes from one port to
// several destinations), no lingering (no TIME_WAIT for the next probe of
// the same 4-tuple), bound to the source, connected unless dst is nil.
func prepare(rc syscall.RawConn, p *plan, sport uint16, dst unix.Sockaddr) (connectErr, err error) {
	cerr := rc.Control(func(fd uintptr) {
		s := int(fd)
		if err = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return
		}
		if err = unix.SetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1}); err != nil {
			return
		}
		if err = unix.Bind(s, sockaddr(p.src, sport)); err != nil {
			err = fmt.Errorf("bind %s port %d in %s: %w", p.src, sport, p.srcNs, err)
			return
		}
		if dst != nil {
			connectErr = unix.Connect(s, dst)
		}
	})
	return connectErr, errors.Join(cerr, err)
}

func write(f *os.File, rc syscall.RawConn, b []byte, deadline time.Time) (bool, string) {
	var serr error
	f.SetWriteDeadline(deadline)
	werr := rc.Write(func(fd uintptr) bool {
		_, serr = unix.Write(int(fd), b)
		return !errors.Is(serr, unix.EAGAIN)
	})
	if werr != nil {
		return false, waitDetail(werr)
	}
	if serr != nil {
		return false, errDetail(serr)
	}
	return true, ""
}

// read waits for one datagram; the error is the socket's (a reported ICMP
// error) or the deadline's.
func read(f *os.File, rc syscall.RawConn, buf []byte, deadline time.Time) (int, string, error) {
	var (
		n    int
		rerr error
	)
	f.SetReadDeadline(deadline)
	werr := rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if werr != nil {
		return 0, waitDetail(werr), werr
	}
	if rerr != nil {
		return 0, errDetail(rerr), rerr
	}
	return n, "", nil
}

func waitDetail(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "timeout"
	}
	return err.Error()
}

// errDetail names a socket error; EPERM on the way out is a local nft drop.
func errDetail(err error) string {
	if errors.Is(err, unix.EPERM) {
		return "dropped by the sender's own output rules (EPERM)"
	}
	return err.Error()
}

var (
	echoSeq   atomic.Uint32
	tokenSeq  atomic.Uint64
	tokenBase = func() [8]byte {
		var b [8]byte
		rand.Read(b[:])
		return b
	}()
)

// token is a payload no other probe (of this or another process) carries.
func token() []byte {
	b := make([]byte, 16)
	copy(b, tokenBase[:])
	binary.BigEndian.PutUint64(b[8:], tokenSeq.Add(1))
	return b
}
