package testenv

import (
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
)

// EmbeddedEtcd starts a one-member etcd in this process, on loopback ports,
// with its data in TB.TempDir, until the test ends; it returns its client
// URL.
func EmbeddedEtcd(t TB) string {
	t.Helper()
	return etcdtest.Embedded(t)
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
