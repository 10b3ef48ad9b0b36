package sessions

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"

	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// Kernel is the connection table of a network namespace, through netlink.
type Kernel struct {
	conn *conntrack.Conn
	ns   *os.File
}

// Open opens the connection table of the named network namespace (`ip
// netns`; "" is the caller's), the one the agent programs.
func Open(netns string) (*Kernel, error) {
	k := &Kernel{}
	nc := &netlink.Config{}
	if netns != "" {
		f, err := os.Open(filepath.Join(nft.NetnsDir, netns))
		if err != nil {
			return nil, fmt.Errorf("sessions: open network namespace %q: %w", netns, err)
		}
		k.ns = f
		nc.NetNS = int(f.Fd())
	}
	c, err := conntrack.Dial(nc)
	if err != nil {
		k.Close()
		return nil, fmt.Errorf("sessions: conntrack (is the nf_conntrack module loaded, and the agent root?): %w", err)
	}
	k.conn = c
	return k, nil
}

// Dump lists the table's connections.
func (k *Kernel) Dump() ([]conntrack.Flow, error) { return k.conn.Dump(nil) }

// Delete deletes one connection.
func (k *Kernel) Delete(f conntrack.Flow) error { return k.conn.Delete(f) }

// Close releases the socket.
func (k *Kernel) Close() error {
	if k.conn != nil {
		k.conn.Close()
	}
	if k.ns != nil {
		k.ns.Close()
	}
	return nil
}
