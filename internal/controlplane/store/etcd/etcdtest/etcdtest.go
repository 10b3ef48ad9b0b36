// Package etcdtest starts a one-member etcd inside a test's process, on
// loopback, for the tests of everything that runs on etcd (the store, the
// server, the agents' failover, the test environments).
package etcdtest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// TB is what Embedded needs of a test (testing.TB has it; so do the test
// environments' programs).
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	TempDir() string
}

// Embedded starts a one-member etcd on free loopback ports, with its data
// in t.TempDir, until the test ends, and returns its client URL. Each of
// set, if any, changes the member's configuration (a limit raised).
func Embedded(t TB, set ...func(*embed.Config)) string {
	t.Helper()
	cfg := embed.NewConfig()
	for _, f := range set {
		f(cfg)
	}
	cfg.Logger, cfg.LogLevel = "zap", "fatal" // Close logs "server closed" as errors
	var cu url.URL
	var e *embed.Etcd
	for attempt := 1; ; attempt++ {
		cfg.Dir = filepath.Join(t.TempDir(), "etcd")
		cu = url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", FreePort(t))}
		pu := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", FreePort(t))}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
		cfg.InitialCluster = cfg.Name + "=" + pu.String()
		var err error
		if e, err = embed.StartEtcd(cfg); err == nil {
			break
		}
		if !PortTaken(err.Error()) || attempt == 3 {
			t.Fatalf("start embedded etcd: %v", err)
		}
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatalf("embedded etcd not ready after 30s")
	}
	return cu.String()
}

// PortTaken reports whether an etcd's error (or log) says a port FreePort
// gave was taken meanwhile, by another process's test: start it again on
// other ports.
func PortTaken(msg string) bool { return strings.Contains(msg, "address already in use") }

// FreePort returns a loopback port free at the time of the call, for an
// etcd or a server started after it. It is drawn below the kernel's
// ephemeral ports (net.ipv4.ip_local_port_range, 32768 and up by
// default), not asked of the kernel with port 0: a port the kernel gave
// and took back is the one it gives next to any connection or listener of
// any process, which then takes it before the etcd binds it.
func FreePort(t TB) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 2048 {
				low = n
			}
		}
	}
	from := max(1024, low-12000)
	for range 100 {
		port := from + rand.IntN(low-from)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatalf("no free loopback port in %d-%d after 100 tries", from, low-1)
	return 0
}
