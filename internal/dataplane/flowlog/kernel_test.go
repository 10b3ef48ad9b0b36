package flowlog

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// TestCollectorOutlivesLostEvents: conntrack events overflow the
// collector's socket (a burst of connections while it is busy); the kernel
// drops events and says so once. The collector counts the loss and goes on
// following connections made afterwards. (ti-mo/conntrack's listener, used
// before, ended its only worker on that error: every later connection of
// the host went unrecorded.)
func TestCollectorOutlivesLostEvents(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft")
	}
	ns := fmt.Sprintf("fllost%d", os.Getpid()%100000)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
	// Conntrack follows every packet; those to port 9999 are labelled, as
	// an accepting entry labels a connection.
	run("ip", "netns", "exec", ns, "nft", "add table inet t; add chain inet t o { type filter hook output priority 0; }; add rule inet t o udp dport 9999 ct label set 1")

	col, err := Start(Config{Netns: ns, Window: time.Hour,
		Resolver: Resolver{Entries: &Entries{}, Interface: func(netip.Addr, nft.Entry) (Interface, bool) { return Interface{}, false }}})
	if err != nil {
		t.Fatal(err)
	}
	// Far more new connections than the socket holds, before the collector
	// reads any.
	sendUDP(t, ns, 1024, 65000)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); col.Run(ctx) }()
	defer func() { cancel(); <-done; col.Close() }()

	deadline := time.Now().Add(10 * time.Second)
	for col.Stats().Connections == 0 && time.Now().Before(deadline) {
		sendUDP(t, ns, 9999, 9999) // a labelled connection (a new source port each time)
		time.Sleep(100 * time.Millisecond)
	}
	st := col.Stats()
	if st.Lost == 0 {
		t.Fatalf("the burst lost no events (%+v): the test did not overflow the socket", st)
	}
	if st.Connections == 0 {
		t.Fatalf("after events were lost, a labelled connection made later was not followed: %+v", st)
	}
}

// sendUDP sends one datagram from a new socket (a new connection) to each
// port of [from, to] on the namespace's loopback.
func sendUDP(t *testing.T, ns string, from, to int) {
	t.Helper()
	f, err := os.Open(filepath.Join(nft.NetnsDir, ns))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends in the other namespace
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		for port := from; port <= to; port++ {
			// Errors (ICMP port unreachable reported back) do not matter.
			unix.Sendto(fd, []byte("x"), unix.MSG_DONTWAIT, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
