package nft

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// NetnsDir is where `ip netns` keeps named network namespaces.
const NetnsDir = "/var/run/netns"

// Kernel is the Table of one network namespace's nftables, through
// netlink. Its methods may be called from several goroutines.
type Kernel struct {
	mu    sync.Mutex
	netns string
	ns    *os.File // the namespace, nil for the current one
	table *nftables.Table
	conn  *nftables.Conn
	// genConn asks the ruleset generation (generation), kept open: each
	// Apply and check asks it, and a socket dialed into a namespace costs
	// a thread switch.
	genConn *netlink.Conn
	// state is what the table holds, read from the kernel on the first
	// Apply (the reconcile on start) and kept up to date by each Apply; nil
	// after an error, so that the next Apply reads it again.
	state *kstate
	// applied is the shape of what the last successful Apply wrote (kept
	// across errors, unlike state), and gen the kernel's ruleset
	// generation right after it (0: unknown): Drifted compares with them.
	applied *kstate
	gen     uint32
	// sums are the ruleSums of the chains the last Apply wanted, by name
	// (see chainSum).
	sums map[string][sha256.Size]byte
	// heldGen is the ruleset generation at which FailClosed last found the
	// table holding a policy (0: none).
	heldGen uint32
	// carried holds the counters of deleted chains whose rules no new chain
	// took over; they live in memory only, shared by the Kernels of the
	// table (see tableCarried).
	carried *carriedCounts
	closed  bool // every call fails: dialling again would open the caller's namespace
}

// carriedCounts are the counts a table carries in memory. An Apply moves
// the counts of the chains it deletes into m in the same step as the
// kernel deletes them; gen and applying let Counters, reading the kernel
// through another Kernel meanwhile, tell that it may have read a count
// both in the kernel and in m (a seqlock).
type carriedCounts struct {
	mu       sync.Mutex
	m        map[RuleKey]Counter
	gen      uint64 // changes when an Apply begins and ends its commit
	applying bool
}

// begin and end bracket an Apply's commit and the move of its counts.
func (c *carriedCounts) begin() {
	c.mu.Lock()
	c.applying = true
	c.gen++
	c.mu.Unlock()
}

func (c *carriedCounts) end() {
	c.mu.Lock()
	c.applying = false
	c.gen++
	c.mu.Unlock()
}

// carriedByTable holds the carried counts of each table (namespace and
// name) this process opened: they belong to the table, not to one Kernel,
// as the agent applies through one Kernel and reads counters through
// another.
var carriedByTable sync.Map

// carriedKey names a table of a namespace. The namespace is its inode, not
// its name: one deleted and made again under the same name (the tests, a
// lab taken down and up) is another, whose table has carried nothing.
type carriedKey struct {
	dev, ino uint64
	table    string
}

func tableCarried(ns *os.File, table string) (*carriedCounts, error) {
	var st unix.Stat_t
	var err error
	if ns != nil {
		err = unix.Fstat(int(ns.Fd()), &st)
	} else {
		err = unix.Stat("/proc/self/ns/net", &st)
	}
	if err != nil {
		return nil, fmt.Errorf("identify the network namespace: %w", err)
	}
	c, _ := carriedByTable.LoadOrStore(carriedKey{uint64(st.Dev), st.Ino, table}, &carriedCounts{m: map[RuleKey]Counter{}})
	return c.(*carriedCounts), nil
}

// Open returns a Kernel for the named network namespace (as `ip netns`
// names it; "" is the namespace of the calling process). Nothing is read or
// written before the first Apply.
func Open(netns string, o Options) (*Kernel, error) {
	k := &Kernel{netns: netns, table: &nftables.Table{Family: nftables.TableFamilyINet, Name: o.table()}}
	if netns != "" {
		f, err := os.Open(filepath.Join(NetnsDir, netns))
		if err != nil {
			return nil, fmt.Errorf("open network namespace %q: %w (create it with `ip netns add %s`)", netns, err, netns)
		}
		k.ns = f
	}
	var err error
	if k.carried, err = tableCarried(k.ns, o.table()); err != nil {
		k.Close()
		return nil, err
	}
	if err := k.dial(); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// dial opens the netlink connection. Socket buffers are enlarged because
// the library asks for an acknowledgement (and rules for an echo) of every
// message of a batch: with thousands of rules the default buffers overflow
// and the batch would be reported as failed after the kernel committed it.
func (k *Kernel) dial() error {
	if k.closed {
		return errClosed
	}
	opts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(bigBuffers)}
	if k.ns != nil {
		opts = append(opts, nftables.WithNetNSFd(int(k.ns.Fd())))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("nftables netlink connection%s: %w (the agent needs CAP_NET_ADMIN)", k.where(), err)
	}
	k.conn = c
	return nil
}

// redial replaces the connection after an error: replies of a failed batch
// may still sit in the socket and would be read as answers to the next
// request.
func (k *Kernel) redial() {
	if k.conn != nil {
		k.conn.CloseLasting()
	}
	k.conn = nil
	k.state = nil
	_ = k.dial()
}

const bufferSize = 256 << 20 // a limit, not an allocation

func bigBuffers(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		for _, opt := range [][2]int{{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}, {unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}} {
			// Without CAP_NET_ADMIN the FORCE variants fail; the plain ones
			// are capped by net.core.[rw]mem_max but better than nothing.
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt[0], bufferSize) != nil {
				if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt[1], bufferSize); e != nil && serr == nil {
					serr = e
				}
			}
		}
	})
	return errors.Join(err, serr)
}

func (k *Kernel) where() string {
	if k.netns == "" {
		return ""
	}
	return " in network namespace " + k.netns
}

// Delete removes the table and everything in it. Deleting a table that is
// not there is not an error.
func (k *Kernel) Delete() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn == nil {
		if err := k.dial(); err != nil {
			return err
		}
	}
	k.state, k.applied = nil, nil
	k.carried.mu.Lock()
	clear(k.carried.m)
	k.carried.mu.Unlock()
	exists, err := k.tableExists()
	if err != nil || !exists {
		return err
	}
	k.conn.DelTable(k.table)
	if err := k.conn.Flush(); err != nil {
		k.redial()
		return fmt.Errorf("delete table inet %s%s: %w", k.table.Name, k.where(), err)
	}
	return nil
}

// Close releases the connection; the table stays in the kernel.
func (k *Kernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	var errs []error
	if k.conn != nil {
		errs = append(errs, k.conn.CloseLasting())
		k.conn = nil
	}
	if k.genConn != nil {
		errs = append(errs, k.genConn.Close())
		k.genConn = nil
	}
	if k.ns != nil {
		errs = append(errs, k.ns.Close())
		k.ns = nil
	}
	return errors.Join(errs...)
}

func (k *Kernel) tableExists() (bool, error) {
	tables, err := k.conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("list tables%s: %w", k.where(), err)
	}
	for _, t := range tables {
		if t.Name == k.table.Name {
			return true, nil
		}
	}
	return false, nil
}
