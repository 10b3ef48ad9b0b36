package nft

import (
	"context"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Watch calls changed after each committed transaction that touched the
// table (NFT_MSG_* notifications of the namespace's nftables), whoever
// committed it, this process included, and when the kernel dropped
// notifications (a socket buffer overrun: something changed, it is not
// known what). It calls changed once as soon as it listens, too: what
// changed before was not heard. It returns nil when ctx is done, or an
// error when it cannot listen; a caller then falls back on checking now
// and then.
//
// It says only that the table may have changed: Drifted tells another
// program's change from this Kernel's own applies, and from the other
// tables of the namespace.
func (k *Kernel) Watch(ctx context.Context, changed func()) error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return errClosed
	}
	cfg := &netlink.Config{}
	if k.ns != nil {
		cfg.NetNS = int(k.ns.Fd())
	}
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
	k.mu.Unlock()
	if err != nil {
		return fmt.Errorf("netfilter netlink%s: %w (the agent needs CAP_NET_ADMIN)", k.where(), err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer func() {
		if stop() {
			c.Close()
		}
	}()
	// A flush of a big table notifies each rule and element deleted: a
	// big buffer keeps them, and an overrun is reported anyway.
	if err := bigBuffers(c); err != nil {
		return fmt.Errorf("netfilter netlink%s: %w", k.where(), err)
	}
	if err := c.JoinGroup(unix.NFNLGRP_NFTABLES); err != nil {
		return fmt.Errorf("listen to nftables changes%s: %w", k.where(), err)
	}
	changed()
	name := k.table.Name
	touched := false
	for {
		msgs, err := c.Receive()
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, unix.ENOBUFS) {
			touched = false
			changed()
			continue
		}
		if err != nil {
			return fmt.Errorf("listen to nftables changes%s: %w", k.where(), err)
		}
		for _, m := range msgs {
			switch {
			case m.Header.Type>>8 != unix.NFNL_SUBSYS_NFTABLES:
			case m.Header.Type&0xff == unix.NFT_MSG_NEWGEN:
				// The end of a transaction: one call for all it did.
				if touched {
					touched = false
					changed()
				}
			case !touched && touches(m.Data, name):
				touched = true
			}
		}
	}
}

// touches reports whether a notification (struct nfgenmsg, then
// attributes) is of an object of the inet table name: in the messages of
// tables, chains, rules, sets, elements, objects and flowtables, attribute
// 1 names the table (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE,
// ...).
func touches(data []byte, name string) bool {
	if len(data) < 4 || data[0] != unix.NFPROTO_INET {
		return false
	}
	ad, err := netlink.NewAttributeDecoder(data[4:])
	if err != nil {
		return true // unreadable: look at the table rather than miss a change
	}
	for ad.Next() {
		if ad.Type() == 1 {
			return ad.String() == name
		}
	}
	return ad.Err() != nil
}
