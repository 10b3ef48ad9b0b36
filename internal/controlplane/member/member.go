// Package member runs an embedded etcd member (go.etcd.io/etcd/server/v3/embed)
// inside a Palisade server, as k3s does: the first server starts a new
// cluster with its member, the next ones join it, and each server's store
// (package store/etcd) talks to its own member. Three servers so make a
// highly available installation with no other software.
//
// A member joins as a learner (it does not count towards the quorum while
// it copies the data) and promotes itself once it has caught up, so a
// member that fails to start never leaves a cluster short of its quorum;
// a failed join removes the member it added.
//
// With Config.TLS the member speaks HTTPS to its peers and its clients
// and asks each for a certificate of the cluster's CA (mutual TLS).
// Without it the traffic is plain HTTP: Start then refuses URLs that are
// not loopback unless Config.AllowPlaintext says the network is trusted.
package member

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Defaults of the member's URLs: etcd's own ports, on loopback.
const (
	DefaultClientURL = "http://127.0.0.1:2379"
	DefaultPeerURL   = "http://127.0.0.1:2380"
)

// Config says where the member keeps its data, where it listens, and
// which cluster it is part of.
type Config struct {
	// Dir holds the member's data (etcd's data dir). A Dir that already
	// holds a member restarts it, whatever Join says.
	Dir string
	// Name names the member in the cluster; "" = derived from PeerURL.
	Name string
	// ClientURL is where the member serves etcd clients (the servers'
	// stores, and members that join); PeerURL where it talks to the
	// other members. Each is listened on and advertised as given.
	ClientURL, PeerURL string
	// Join, if set, is the client URL of a member of an existing cluster
	// to join; "" starts a new cluster of one member.
	Join string
	// TLS, if set, secures peer and client traffic (the URLs are then
	// https).
	TLS *TLSFiles
	// AllowPlaintext allows http ClientURL and PeerURL that are not
	// loopback.
	AllowPlaintext bool
	// ReadyTimeout bounds the start of a new cluster or a join (0: 60 s):
	// catching up with a cluster's data, a new member's first election. A
	// restarted member waits for its quorum until ctx ends instead: after
	// a stop of the whole cluster, the other members may start later.
	ReadyTimeout time.Duration
	// Waiting, if set, is called once when a restarted member has waited
	// QuorumNotice for its quorum, with a message saying what to do.
	Waiting func(msg string)
	// LogLevel is the level of etcd's own log on stderr ("": fatal; etcd
	// logs a normal stop as errors, and Err reports a failure).
	LogLevel string
}

// TLSFiles are PEM files: the CA that signs every member's certificate
// (and every client's), and this member's certificate (for server and
// client authentication, naming every address the member is reached at)
// with its key. Members and the servers' stores present it to each other.
type TLSFiles struct{ CA, Cert, Key string }

func (f *TLSFiles) info() transport.TLSInfo {
	return transport.TLSInfo{CertFile: f.Cert, KeyFile: f.Key, TrustedCAFile: f.CA, ClientCertAuth: true}
}

// ClientConfig is the TLS configuration of an etcd client presenting the
// certificate and trusting the CA.
func (f *TLSFiles) ClientConfig() (*tls.Config, error) {
	if f.CA == "" || f.Cert == "" || f.Key == "" {
		return nil, errors.New("member: TLS needs the CA, a certificate and its key (--etcd-ca, --etcd-cert, --etcd-key)")
	}
	c, err := f.info().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("member: TLS: %w", err)
	}
	return c, nil
}

// Member is a running embedded etcd member.
type Member struct {
	e         *embed.Etcd
	closeOnce sync.Once
	// ClientURL is the member's client URL, for store/etcd, and
	// ClientTLS the TLS its clients need (nil: plain HTTP).
	ClientURL string
	ClientTLS *tls.Config
	// ID is the member's ID in the cluster; Joined says it joined an
	// existing cluster at this start, Restarted that Dir already held it.
	ID        uint64
	Joined    bool
	Restarted bool
}

// Start starts the member and returns once it serves clients: for a new
// cluster, once it leads it; for a join, once it is a voting member.
func Start(ctx context.Context, cfg Config) (*Member, error) {
	cu, pu, err := cfg.urls()
	if err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "palisade-" + strings.NewReplacer(":", "-", "[", "", "]", "").Replace(pu.Host)
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 60 * time.Second
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "fatal"
	}
	readyCtx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	if !hasMember(cfg.Dir) {
		ctx = readyCtx
	}

	ec := embed.NewConfig()
	ec.Name, ec.Dir = cfg.Name, cfg.Dir
	ec.Logger, ec.LogLevel = "zap", cfg.LogLevel
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	var clientTLS *tls.Config
	if cfg.TLS != nil {
		if clientTLS, err = cfg.TLS.ClientConfig(); err != nil {
			return nil, err
		}
		ec.ClientTLSInfo, ec.PeerTLSInfo = cfg.TLS.info(), cfg.TLS.info()
	}
	// store/etcd reads at one etcd revision: keep an hour of history.
	ec.AutoCompactionMode, ec.AutoCompactionRetention = embed.CompactorModePeriodic, "1h"
	// No metrics listener, no v2 gateway: only what the servers use.
	ec.ListenMetricsUrls = nil

	m := &Member{ClientURL: cu.String(), ClientTLS: clientTLS}
	var join *clientv3.Client
	switch {
	case hasMember(cfg.Dir):
		// The data dir knows the cluster; the initial-cluster settings are
		// ignored, but must name this member.
		m.Restarted = true
		ec.InitialCluster = cfg.Name + "=" + pu.String()
	case cfg.Join == "":
		ec.InitialCluster = cfg.Name + "=" + pu.String()
		ec.ClusterState = embed.ClusterStateFlagNew
		ec.InitialClusterToken = "palisade-" + randomHex(8)
	default:
		join, err = clientv3.New(clientv3.Config{Endpoints: []string{cfg.Join}, TLS: clientTLS, DialTimeout: 5 * time.Second, Logger: zap.NewNop(), Context: ctx})
		if err != nil {
			return nil, fmt.Errorf("member: connect to %s to join: %w", cfg.Join, err)
		}
		defer join.Close()
		if m.ID, ec.InitialCluster, err = addLearner(ctx, join, cfg.Name, pu.String()); err != nil {
			return nil, err
		}
		ec.ClusterState = embed.ClusterStateFlagExisting
		m.Joined = true
	}
	// undo removes the member this start added, so that a failed join
	// leaves the cluster as it was.
	undo := func() {
		if m.Joined {
			rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
			join.MemberRemove(rctx, m.ID)
			rcancel()
			os.RemoveAll(cfg.Dir) // a half-made member must not be restarted
		}
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Dir), 0o700); err != nil {
		undo()
		return nil, fmt.Errorf("member: %w", err)
	}
	e, err := embed.StartEtcd(ec)
	if err != nil {
		undo()
		hint := ""
		if m.Joined && cfg.TLS != nil {
			// etcd's reason is in its own log, which is off by default:
			// the usual one over TLS is a certificate that does not name
			// the address a member's connections come from.
			hint = "; the members refused each other's peer connections? Each member's certificate must name, besides the addresses of its URLs, " +
				"the address its connections to the others come from (etcd checks a peer's certificate against it; on one machine, 127.0.0.1); " +
				"--etcd-log-level warn shows etcd's reason"
		}
		return nil, fmt.Errorf("member: start etcd (data in %s): %w%s", cfg.Dir, err, hint)
	}
	m.e = e
	if m.Restarted {
		// Before it waits for a quorum: a wrong dir's member waits for
		// one of another cluster, or serves that cluster's state.
		if err := checkRestarted(ctx, e, cfg, pu, clientTLS); err != nil {
			abort(e)
			return nil, err
		}
	}
	notice := time.NewTimer(QuorumNotice)
	defer notice.Stop()
wait:
	for {
		select {
		case <-e.Server.ReadyNotify():
			break wait
		case err := <-e.Err():
			abort(e)
			undo()
			hint := ""
			if m.Restarted {
				// etcd stops a member its peers call removed, saying why
				// only in its own log (off by default).
				hint = fmt.Sprintf("; if this member (%x) was removed from its cluster (etcdctl member remove), its data is of no more use: "+
					"delete %s and start this server with --join a running member's client URL, to join anew", uint64(e.Server.MemberID()), cfg.Dir)
			}
			return nil, fmt.Errorf("member: etcd failed while starting: %w%s", err, hint)
		case <-notice.C:
			if m.Restarted && cfg.Waiting != nil {
				cfg.Waiting(fmt.Sprintf("the embedded etcd member (data in %s) waits for a quorum of its cluster's members (a majority of them, itself included): "+
					"start the other servers, each with its own flags as before; it keeps waiting until they run or it is stopped", cfg.Dir))
			}
		case <-ctx.Done():
			abort(e)
			undo()
			if m.Restarted {
				return nil, fmt.Errorf("member: stopped while waiting for a quorum of the cluster's members: %w", context.Cause(ctx))
			}
			return nil, fmt.Errorf("member: etcd not ready after %s (is a quorum of the cluster's members running?)", cfg.ReadyTimeout)
		}
	}
	if m.ID == 0 {
		m.ID = uint64(e.Server.MemberID())
	}
	if m.Joined {
		if err := promote(ctx, join, m.ID); err != nil {
			abort(e)
			undo()
			return nil, err
		}
	}
	// The promotion is committed on the leader first: until this member
	// applies it, it refuses its clients as a learner.
	lctx, lcancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer lcancel()
	for e.Server.IsLearner() {
		select {
		case <-lctx.Done():
			abort(e)
			return nil, fmt.Errorf("member: still a learner (not a voting member) after %s: a join that stopped before its promotion; "+
				"remove the member (etcdctl member remove %x), delete %s and join again", cfg.ReadyTimeout, m.ID, cfg.Dir)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return m, nil
}

// joinCheckTimeout bounds asking the member --join names for its cluster
// at a restart: after a stop of the whole cluster it may not run yet.
const joinCheckTimeout = 2 * time.Second

// checkRestarted refuses a data dir that holds another member than the
// flags describe: one its cluster reaches at another peer URL (another
// server's dir, or the flags changed), or one of another cluster than
// the member Join names (when that member answers).
func checkRestarted(ctx context.Context, e *embed.Etcd, cfg Config, pu *url.URL, clientTLS *tls.Config) error {
	id, cl := e.Server.MemberID(), e.Server.Cluster()
	if me := cl.Member(id); me != nil && !slices.Contains(me.PeerURLs, pu.String()) {
		return fmt.Errorf("member: the data in %s is member %s (%x), which its cluster reaches at %s, not at --etcd-peer-url %s: "+
			"give this server its own data dir (--etcd-dir, or its --db), or the peer URL it was started with "+
			"(to move a member to a new address, start it with the old URL and change it with `etcdctl member update ID NEWURL` first)",
			cfg.Dir, me.Name, uint64(id), strings.Join(me.PeerURLs, ","), pu)
	}
	if cfg.Join == "" {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, joinCheckTimeout)
	defer cancel()
	join, err := clientv3.New(clientv3.Config{Endpoints: []string{cfg.Join}, TLS: clientTLS, DialTimeout: joinCheckTimeout, Logger: zap.NewNop(), Context: cctx})
	if err != nil {
		return nil // cannot tell: the dir's cluster decides, as documented
	}
	defer join.Close()
	st, err := join.Status(cctx, cfg.Join)
	if err != nil || st.Header == nil {
		return nil
	}
	if st.Header.ClusterId != uint64(cl.ID()) {
		return fmt.Errorf("member: the data in %s is a member of another cluster (%x) than the one --join %s names (%x): "+
			"give this server its own data dir (--etcd-dir, or its --db); to join anew, move the dir away",
			cfg.Dir, uint64(cl.ID()), cfg.Join, st.Header.ClusterId)
	}
	return nil
}

// QuorumNotice is how long a restarted member waits for its quorum before
// Config.Waiting is told.
const QuorumNotice = 5 * time.Second

// abort stops a member that may never have become ready. etcd's Close
// alone waits for the client servers, which start only once the member
// is ready: without a quorum it would wait for good (and the server
// would ignore SIGTERM). Stopping the member first ends that wait.
func abort(e *embed.Etcd) {
	e.Server.HardStop()
	e.Close()
}

// Check says what is wrong with the configuration, before Start.
func (cfg Config) Check() error {
	_, _, err := cfg.urls()
	return err
}

func (cfg Config) urls() (client, peer *url.URL, err error) {
	secure := cfg.TLS != nil
	if client, err = parseURL("client", cfg.ClientURL, secure, cfg.AllowPlaintext); err != nil {
		return nil, nil, err
	}
	if peer, err = parseURL("peer", cfg.PeerURL, secure, cfg.AllowPlaintext); err != nil {
		return nil, nil, err
	}
	if cfg.Join != "" {
		if _, err := parseURL("join", cfg.Join, secure, cfg.AllowPlaintext); err != nil {
			return nil, nil, err
		}
	}
	if secure {
		if _, err := cfg.TLS.ClientConfig(); err != nil {
			return nil, nil, err
		}
	}
	if cfg.Dir == "" {
		return nil, nil, errors.New("member: no data directory")
	}
	return client, peer, nil
}

// addLearner adds the member as a learner through a member of the cluster
// (again after a join that added it and then failed to start) and returns
// its ID and the initial-cluster setting for its start.
func addLearner(ctx context.Context, cli *clientv3.Client, name, peer string) (uint64, string, error) {
	var (
		id      uint64
		members []*memberInfo
	)
	for {
		list, err := cli.MemberList(ctx)
		if err != nil {
			if ctx.Err() != nil {
				// An endpoint that never answers gives only the deadline.
				return 0, "", fmt.Errorf("member: the member at %s (--join) did not answer: is its server running, and is that its --etcd-client-url "+
					"(and are a majority of its cluster's members running)? (%w)", cli.Endpoints()[0], err)
			}
			return 0, "", fmt.Errorf("member: list the members of the cluster to join at %s: %w", cli.Endpoints()[0], err)
		}
		members = members[:0]
		id = 0
		for _, mm := range list.Members {
			members = append(members, &memberInfo{mm.ID, mm.Name, mm.PeerURLs})
			if slices.Contains(mm.PeerURLs, peer) {
				if mm.Name != "" {
					// Its data dir lost, a server is joined again: say how
					// (a running member forgets the member by its ID).
					return 0, "", fmt.Errorf("member: %s is already the peer URL of member %s (ID %x) of that cluster: give this member's data dir (--etcd-dir, or the --db it ran with); "+
						"if that data is lost, remove the member first (etcdctl --endpoints %s member remove %x) and start this server again with --join",
						peer, mm.Name, mm.ID, cli.Endpoints()[0], mm.ID)
				}
				id = mm.ID
			}
		}
		if id != 0 {
			break
		}
		resp, err := cli.MemberAddAsLearner(ctx, []string{peer})
		if err == nil {
			id = resp.Member.ID
			members = members[:0]
			for _, mm := range resp.Members {
				members = append(members, &memberInfo{mm.ID, mm.Name, mm.PeerURLs})
			}
			break
		}
		// One learner at a time: another server is joining; wait for it. A
		// member promoted moments ago makes the cluster "unhealthy" for
		// adding members for a few seconds: wait too.
		if !retryable(err) {
			return 0, "", fmt.Errorf("member: add this member to the cluster: %w", err)
		}
		select {
		case <-ctx.Done():
			return 0, "", fmt.Errorf("member: another member is still joining: %w", ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
	var initial []string
	for _, mm := range members {
		n := mm.name
		if mm.id == id {
			n = name
		}
		if n == "" {
			continue // another member that has not started yet
		}
		for _, u := range mm.peers {
			initial = append(initial, n+"="+u)
		}
	}
	return id, strings.Join(initial, ","), nil
}

// retryable says whether a membership change may succeed later: the
// learner has not caught up, another learner is joining, the cluster was
// reconfigured moments ago, or has no leader for now.
func retryable(err error) bool {
	for _, e := range []error{rpctypes.ErrMemberLearnerNotReady, rpctypes.ErrTooManyLearners, rpctypes.ErrUnhealthy, rpctypes.ErrNoLeader, rpctypes.ErrTimeout} {
		if errors.Is(err, e) || strings.Contains(err.Error(), e.Error()) {
			return true
		}
	}
	return false
}

type memberInfo struct {
	id    uint64
	name  string
	peers []string
}

// promote makes the learner a voting member once it has caught up.
func promote(ctx context.Context, cli *clientv3.Client, id uint64) error {
	for {
		_, err := cli.MemberPromote(ctx, id)
		if err == nil || errors.Is(err, rpctypes.ErrMemberNotLearner) || strings.Contains(err.Error(), "not a learner") {
			return nil
		}
		if !retryable(err) {
			return fmt.Errorf("member: promote this member to a voting member: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("member: not caught up with the leader in time: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops the member: a leader hands its leadership to another member
// first.
// Close may be called more than once.
func (m *Member) Close() { m.closeOnce.Do(m.e.Close) }

// Err reports a failure of the running member.
func (m *Member) Err() <-chan error { return m.e.Err() }

// IsLeader says whether the member leads the cluster now.
func (m *Member) IsLeader() bool { return m.e.Server.Leader() == m.e.Server.MemberID() }

// Leads asks the member serving clientURL (plain http) whether it leads
// its cluster, as an operator or a test that is not that member does.
func Leads(ctx context.Context, clientURL string) (bool, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{clientURL}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return false, err
	}
	defer cli.Close()
	st, err := cli.Status(ctx, clientURL)
	if err != nil {
		return false, err
	}
	return st.Leader != 0 && st.Leader == st.Header.MemberId, nil
}

// Holds says whether dir holds an etcd member already (Start restarts it).
func Holds(dir string) bool { return hasMember(dir) }

// hasMember says whether dir holds an etcd member already.
func hasMember(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "member", "wal"))
	return err == nil
}

// parseURL checks one of the member's URLs: https with TLS; without,
// http on loopback, unless plaintext on the network is allowed.
func parseURL(what, s string, secure, allowPlaintext bool) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("member: %s URL %q: want http(s)://HOST:PORT", what, s)
	}
	host, _, err := net.SplitHostPort(u.Host)
	if err != nil {
		return nil, fmt.Errorf("member: %s URL %q: want http(s)://HOST:PORT", what, s)
	}
	switch {
	case secure && u.Scheme != "https":
		return nil, fmt.Errorf("member: %s URL %q: with TLS (--etcd-ca, --etcd-cert, --etcd-key) give https URLs", what, s)
	case !secure && u.Scheme == "https":
		return nil, fmt.Errorf("member: %s URL %q: https needs the member's certificate: give --etcd-ca, --etcd-cert and --etcd-key", what, s)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("member: %s URL %q: want http(s)://HOST:PORT", what, s)
	case !secure && !allowPlaintext && !loopback(host):
		return nil, fmt.Errorf("member: %s URL %q is not on loopback: without TLS members talk plain HTTP without authentication, and any client of the member reads all state (secrets included); "+
			"give the members certificates (--etcd-ca, --etcd-cert, --etcd-key), or, only on a private network you trust, --etcd-allow-plaintext", what, s)
	}
	u.Path = ""
	return u, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
