package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/atomicfile"
	"github.com/palisade-sg/palisade/internal/controlplane/metrics"
	"github.com/palisade-sg/palisade/internal/controlplane/peers"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd"
	"github.com/palisade-sg/palisade/internal/controlplane/tlscert"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
)

// On etcd each server keeps its own event trail and flow records (they are
// history, not state: see docs/architecture.md). Each registers itself in
// etcd under a lease while it runs, and LookupEvents,
// PalisadeDescribeFlowRecords and the rule hits from flow records ask
// every registered server for its part.

// registrationTTL is how long a server that died stays listed: queries
// in that time wait PeerTimeout for it and answer without its part.
const registrationTTL = 10 * time.Second

// serverIDFile keeps a server's ID beside its store: a NextToken names
// servers by ID, so a restarted server continues the listings it was part
// of.
func serverIDFile(db string) string { return db + ".server-id" }

// IDFile is the file that keeps the ID of the server whose --db is db: it
// exists once the server has run on etcd.
func IDFile(db string) string { return serverIDFile(db) }

// serverID reads this server's ID, or makes and keeps one.
func serverID(db string) (string, error) {
	if b, err := os.ReadFile(serverIDFile(db)); err == nil {
		if id := strings.TrimSpace(string(b)); peers.ValidID(id) {
			return id, nil
		}
		return "", fmt.Errorf("%s does not hold a server ID; delete it to make another", serverIDFile(db))
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	r := make([]byte, 8)
	rand.Read(r)
	id := hex.EncodeToString(r)
	err := atomicfile.Write(serverIDFile(db), 0o600, func(w io.Writer) error {
		_, err := io.WriteString(w, id+"\n")
		return err
	})
	return id, err
}

// advertiseURL is the URL the other servers reach this one's API at.
func advertiseURL(advertise, listened string, tls bool) (string, error) {
	hostPort := advertise
	if hostPort == "" {
		host, _, err := net.SplitHostPort(listened)
		if err != nil {
			return "", err
		}
		if a, err := netip.ParseAddr(host); host == "" || err == nil && a.IsUnspecified() {
			return "", fmt.Errorf("the API listens on %s, which does not say how the other servers of the etcd installation "+
				"reach this one: give --advertise HOST:PORT (an address of this machine they can reach)", listened)
		}
		hostPort = listened
	}
	if host, port, err := net.SplitHostPort(hostPort); err != nil || host == "" || port == "" || strings.ContainsAny(hostPort, "/?#@ ") {
		return "", fmt.Errorf("advertise address %q: want HOST:PORT, e.g. 10.0.0.1:8080", advertise)
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + hostPort, nil
}

// checkLoopbackAdvertise refuses a loopback advertise URL when the etcd
// cluster reaches off this machine: the other servers would ask
// themselves at it (every server behind a proxy advertising 127.0.0.1
// registers one address).
func checkLoopbackAdvertise(self string, etcdURLs []string) error {
	u, err := url.Parse(self)
	if err != nil || !tlscert.Loopback(u.Hostname()) {
		return nil
	}
	for _, e := range etcdURLs {
		if e == "" {
			continue
		}
		host := e
		if strings.Contains(e, "://") {
			eu, err := url.Parse(e)
			if err == nil && (eu.Scheme == "unix" || eu.Scheme == "unixs") {
				continue
			}
			if err == nil {
				host = eu.Hostname()
			}
		} else if h, _, err := net.SplitHostPort(e); err == nil {
			host = h
		}
		if !tlscert.Loopback(host) {
			return fmt.Errorf("this server would register %s, a loopback address, in an etcd cluster reached at %s, off this machine: "+
				"the other servers could not reach it there (they would ask themselves); pass --advertise HOST:PORT, "+
				"an address of this machine the other servers reach", self, e)
		}
	}
	return nil
}

// joinPeers registers this server among the live ones and makes the
// queries of what each keeps ask them all.
func (s *Server) joinPeers(ctx context.Context, cfg Config, st *etcd.Store, url string, tr *trail.Trail, met *metrics.Metrics) error {
	id, err := serverID(cfg.DB)
	if err != nil {
		return fmt.Errorf("this server's ID: %w", err)
	}
	info := etcd.ServerInfo{ID: id, URL: url}
	if cfg.TLS != nil {
		if len(cfg.TLS.Certificates) == 0 || len(cfg.TLS.Certificates[0].Certificate) == 0 {
			return errors.New("on etcd, a TLS configuration needs its certificate (the other servers pin it)")
		}
		info.Cert = cfg.TLS.Certificates[0].Certificate[0]
	}
	f := &peers.Fanin{Self: id, Secret: s.Ops.LookupSecret, Timeout: cfg.PeerTimeout, Log: cfg.Log, Missed: met.PeerMissed, AllowPlaintext: cfg.PeerAllowPlaintext,
		List: func(ctx context.Context) ([]peers.Peer, error) {
			ss, err := st.Servers(ctx)
			out := make([]peers.Peer, 0, len(ss))
			for _, si := range ss {
				out = append(out, peers.Peer{ID: si.ID, URL: si.URL, Cert: si.Cert})
			}
			return out, err
		}}
	var takenBy string // called from one goroutine: logged once per change
	st.OnIDTaken = func(by string) {
		if by != "" {
			met.IDTaken()
		}
		if by == takenBy {
			return
		}
		if takenBy = by; by != "" {
			cfg.Log.Error("this server's lease was lost and another server, at "+by+", now holds its ID (a copied ID file?): "+
				"this server is not listed, and the others do not ask it for its part; retrying every second", "id", id)
		} else {
			cfg.Log.Info("listed again among the installation's servers", "id", id)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, etcdDialTimeout)
	defer cancel()
	if s.unregister, err = st.RegisterServer(rctx, info, registrationTTL); err != nil {
		return err
	}
	s.ID = id
	cfg.Log.Info("listed among the installation's servers: queries of events and flow records merge every server's", "id", id, "url", url)
	tr.SetPeers(f)
	s.Ops.Peers = f
	s.Ops.Service.PeerHits = f // rule hits (effective, counters, audit) count every server's records
	// A batch of flow records is kept once by the installation.
	s.Ops.Service.FlowBatches, s.Ops.Service.FlowServer = st, id
	// Every server answers for every host's applied revision (an
	// instance's PalisadePolicyInForce), whichever server its agent
	// reports to (written in batches: Open runs RunSharedHosts).
	s.Ops.Service.SharedHosts = st
	st.WatchHostApplied(s.Ops.Service.NoteSharedApplied)
	// A heartbeat waits for etcd to answer (a member cut off from the
	// quorum ends its streams).
	s.Ops.Service.ProbeStore()
	return nil
}
