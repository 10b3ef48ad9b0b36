// Package etcdtest starts a one-member etcd inside a test's process, on
// loopback, for the tests of everything that runs on etcd (the store, the
// server, the agents' failover, the test environments).
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
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
	cfg.Dir = filepath.Join(t.TempDir(), "etcd")
	cfg.Logger, cfg.LogLevel = "zap", "fatal" // Close logs "server closed" as errors
	cu := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", FreePort(t))}
	pu := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", FreePort(t))}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	cfg.InitialCluster = cfg.Name + "=" + pu.String()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("start embedded etcd: %v", err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatalf("embedded etcd not ready after 30s")
	}
	return cu.String()
}

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
