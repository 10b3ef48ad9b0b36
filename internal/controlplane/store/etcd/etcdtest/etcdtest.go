// Package etcdtest starts a one-member etcd inside a test's process, on
// loopback, for the tests of everything that runs on etcd (the store, the
// server, the agents' failover, the test environments).
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
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

// FreePort returns a loopback port free at the time of the call.
func FreePort(t TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
