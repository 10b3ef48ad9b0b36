package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Listen opens a TCP listener inside an instance, on all its addresses. A
// socket stays in the namespace it was made in, so the caller may use it
// from any goroutine.
func Listen(l *Lab, instanceID string, port uint16) (net.Listener, error) {
	ns, err := l.instanceNetns(instanceID)
	if err != nil {
		return nil, err
	}
	var ln net.Listener
	err = inNetns(ns, func() error {
		var err error
		ln, err = net.Listen("tcp", ":"+strconv.Itoa(int(port)))
		return err
	})
	return ln, err
}

// Dial connects from inside an instance (or, for an outside address, from
// the internet) to addr over TCP.
func Dial(ctx context.Context, l *Lab, from string, addr netip.AddrPort) (net.Conn, error) {
	ns := l.InstanceNetns(from)
	var d net.Dialer
	if ns == "" {
		src, err := netip.ParseAddr(from)
		if err != nil {
			return nil, fmt.Errorf("lab %s has no instance %q", l.Spec.Name, from)
		}
		ns = l.InternetNetns()
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
	}
	var c net.Conn
	err := inNetns(ns, func() error {
		var err error
		c, err = d.DialContext(ctx, "tcp", addr.String())
		return err
	})
	return c, err
}

// ListenUDP opens a UDP socket inside an instance, on all its addresses.
func ListenUDP(l *Lab, instanceID string, port uint16) (net.PacketConn, error) {
	ns, err := l.instanceNetns(instanceID)
	if err != nil {
		return nil, err
	}
	var pc net.PacketConn
	err = inNetns(ns, func() error {
		var err error
		pc, err = net.ListenPacket("udp", ":"+strconv.Itoa(int(port)))
		return err
	})
	return pc, err
}

// DialUDP opens a connected UDP socket from inside an instance to addr.
func DialUDP(l *Lab, from string, addr netip.AddrPort) (net.Conn, error) {
	ns, err := l.instanceNetns(from)
	if err != nil {
		return nil, err
	}
	var c net.Conn
	err = inNetns(ns, func() error {
		var err error
		c, err = net.Dial("udp", addr.String())
		return err
	})
	return c, err
}

// instanceNetns is the namespace of an instance, or an error naming it.
func (l *Lab) instanceNetns(id string) (string, error) {
	if ns := l.InstanceNetns(id); ns != "" {
		return ns, nil
	}
	return "", fmt.Errorf("lab %s has no instance %q", l.Spec.Name, id)
}
