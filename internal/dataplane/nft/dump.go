package nft

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ruleCounters sums the counters of the rules of some chains by the
// security-group rule named in their comment. It asks for one chain at a
// time (a dump of the whole table costs the kernel time quadratic in its
// size) and decodes only the counter and the comment of each rule (the
// library decodes every expression, several times slower).
func (k *Kernel) ruleCounters(chains []string) (map[RuleKey]Counter, error) {
	out := map[RuleKey]Counter{}
	if len(chains) == 0 {
		return out, nil
	}
	cfg := &netlink.Config{}
	if k.ns != nil {
		cfg.NetNS = int(k.ns.Fd())
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
	if err != nil {
		return nil, fmt.Errorf("netlink%s: %w", k.where(), err)
	}
	defer conn.Close()
	if err := bigBuffers(conn); err != nil {
		return nil, err
	}
	for _, chain := range chains {
		attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
			{Type: unix.NFTA_RULE_TABLE, Data: []byte(k.table.Name + "\x00")},
			{Type: unix.NFTA_RULE_CHAIN, Data: []byte(chain + "\x00")},
		})
		if err != nil {
			return nil, err
		}
		msgs, err := conn.Execute(netlink.Message{
			Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE), Flags: netlink.Request | netlink.Dump},
			Data:   append([]byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0}, attrs...),
		})
		if err != nil {
			return nil, fmt.Errorf("read the counters of chain %s%s: %w", chain, k.where(), err)
		}
		for _, m := range msgs {
			if len(m.Data) < 4 {
				continue
			}
			key, c, err := decodeRuleCounter(m.Data[4:])
			if err != nil {
				return nil, fmt.Errorf("read the counters of chain %s%s: %w", chain, k.where(), err)
			}
			if key != nil {
				out[*key] = out[*key].add(c)
			}
		}
	}
	return out, nil
}

// decodeRuleCounter reads the rule key in a rule's comment (nil if none)
// and its counter.
func decodeRuleCounter(b []byte) (key *RuleKey, c Counter, err error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, c, err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_RULE_USERDATA:
			if k, ok := keyOf(ad.Bytes()); ok {
				key = &k
			}
		case unix.NFTA_RULE_EXPRESSIONS:
			ad.Nested(func(list *netlink.AttributeDecoder) error {
				for list.Next() {
					list.Nested(func(e *netlink.AttributeDecoder) error {
						var name string
						for e.Next() {
							switch e.Type() {
							case unix.NFTA_EXPR_NAME:
								name = e.String()
							case unix.NFTA_EXPR_DATA:
								if name == "counter" {
									e.Nested(func(d *netlink.AttributeDecoder) error {
										d.ByteOrder = binary.BigEndian
										for d.Next() {
											switch d.Type() {
											case unix.NFTA_COUNTER_BYTES:
												c.Bytes += d.Uint64()
											case unix.NFTA_COUNTER_PACKETS:
												c.Packets += d.Uint64()
											}
										}
										return nil
									})
								}
							}
						}
						return nil
					})
				}
				return nil
			})
		}
	}
	return key, c, ad.Err()
}
