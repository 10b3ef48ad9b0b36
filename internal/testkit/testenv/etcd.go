package testenv

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"go.etcd.io/etcd/server/v3/embed"
)

// EmbeddedEtcd starts a one-member etcd in this process, on loopback ports,
// with its data in TB.TempDir, until the test ends; it returns its client
// URL.
func EmbeddedEtcd(t TB) string {
	t.Helper()
	port := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("a free port: %v", err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(t.TempDir(), "etcd")
	cfg.Logger, cfg.LogLevel = "zap", "fatal"
	cu := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port())}
	pu := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port())}
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

// StartCluster starts n servers of one installation on an embedded etcd
// (cfg is each server's; its DB only keeps the server's event trail). They
// stop when the test ends, before the etcd.
func StartCluster(t TB, n int, cfg Config) []*Server {
	t.Helper()
	url := EmbeddedEtcd(t)
	adjust := cfg.Adjust
	cfg.Adjust = func(c *server.Config) {
		c.Etcd = []string{url}
		if adjust != nil {
			adjust(c)
		}
	}
	out := make([]*Server, n)
	for i := range out {
		out[i] = Start(t, cfg)
	}
	return out
}
