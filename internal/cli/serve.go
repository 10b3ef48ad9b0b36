package cli

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/flowstore"
	"github.com/palisade-sg/palisade/internal/controlplane/member"
	"github.com/palisade-sg/palisade/internal/controlplane/peers"
	"github.com/palisade-sg/palisade/internal/controlplane/ratelimit"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
	"github.com/palisade-sg/palisade/internal/controlplane/signature"
	"github.com/palisade-sg/palisade/internal/controlplane/tlscert"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
	"github.com/palisade-sg/palisade/internal/controlplane/webhook"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func serve(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveCtx(ctx, args, stdout, stderr)
}

// serveCtx runs "palisade serve" until ctx ends (a signal, or a test).
func serveCtx(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("palisade serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "`HOST:PORT` to serve the API on")
	db := fs.String("db", "./palisade.db", "SQLite `FILE` that holds all state; on etcd (--etcd, --cluster-init, --join) only this server's own files\n"+
		"go beside it: the event trail FILE.events, flow records FILE.flows, its ID FILE.server-id, an embedded\n"+
		"member's data FILE.etcd")
	etcdURLs := fs.String("etcd", "", "keep the state in the etcd cluster at these client `URLS` (comma-separated, e.g. http://10.0.0.1:2379,http://10.0.0.2:2379)\n"+
		"instead of --db: every server given the same cluster serves one installation (accounts, keys, resources,\n"+
		"quotas and replay nonces are shared); each keeps its own event trail")
	advertise := fs.String("advertise", "", "only on etcd (--etcd, --cluster-init or --join): the `HOST:PORT` at which the other servers reach this\n"+
		"one's API (default: --listen, which must then name a host, not 0.0.0.0 or ::, and not loopback when etcd\n"+
		"is off this machine): LookupEvents and flow-record queries ask every live server for the events and\n"+
		"records it keeps; give each server its own")
	peerTimeout := fs.Duration("peer-timeout", peers.DefaultTimeout, "only on etcd (--etcd, --cluster-init or --join): answer a query over every server without the part\n"+
		"of a server that has not given it within `DURATION` (the answer names it in PalisadeMissingServers)")
	peerPlaintext := fs.Bool("peer-allow-plaintext", false, "only on etcd: let such a query ask a server off loopback that serves plain HTTP (the caller's\n"+
		"signed call and the answer cross the network in the clear); without it such a server is left out\n"+
		"(named in PalisadeMissingServers, and the log says why): serve HTTPS instead")
	var mc member.Config
	clusterInit := fs.Bool("cluster-init", false, "start an embedded etcd member in this server and a new cluster with it, and keep the state there\n"+
		"instead of --db (a highly available installation: start two more servers with --join)")
	fs.StringVar(&mc.Join, "join", "", "start an embedded etcd member in this server and join it to the cluster of another server's member\n"+
		"at this client `URL` (that server's --etcd-client-url, e.g. https://10.0.0.1:2379; http only on loopback\n"+
		"or with --etcd-allow-plaintext)")
	etcdDir := fs.String("etcd-dir", "", "with --cluster-init or --join, keep the embedded member's data in `DIR` (default: FILE.etcd beside --db);\n"+
		"a DIR that holds a member restarts it, in the cluster it belongs to")
	fs.StringVar(&mc.ClientURL, "etcd-client-url", member.DefaultClientURL, "with --cluster-init or --join, the embedded member serves etcd clients (this server, joining members) at `URL`")
	fs.StringVar(&mc.PeerURL, "etcd-peer-url", member.DefaultPeerURL, "with --cluster-init or --join, the embedded member talks to the other members at `URL`")
	fs.StringVar(&mc.Name, "etcd-name", "", "with --cluster-init or --join, the member's `NAME` in the cluster (default: from --etcd-peer-url)")
	var etcdTLS member.TLSFiles
	fs.StringVar(&etcdTLS.CA, "etcd-ca", "", "TLS to etcd: the PEM `FILE` of the CA that signs the members' and their clients' certificates. With --etcd,\n"+
		"this server trusts it and presents --etcd-cert; with --cluster-init/--join, the embedded member speaks only\n"+
		"mutual TLS (https URLs, the default ones become https) to its peers and clients")
	fs.StringVar(&etcdTLS.Cert, "etcd-cert", "", "TLS to etcd: this server's PEM certificate `FILE` (signed by --etcd-ca; for an embedded member, for\n"+
		"server and client authentication, naming the addresses of --etcd-client-url and --etcd-peer-url and the one\n"+
		"its connections to the other members come from)")
	fs.StringVar(&etcdTLS.Key, "etcd-key", "", "TLS to etcd: the PEM private key `FILE` of --etcd-cert")
	fs.BoolVar(&mc.AllowPlaintext, "etcd-allow-plaintext", false, "without --etcd-ca/--etcd-cert/--etcd-key, let --etcd-client-url, --etcd-peer-url and --join be other than\n"+
		"loopback: members then talk plain HTTP without authentication, so do it only on a private network you trust")
	fs.StringVar(&mc.LogLevel, "etcd-log-level", "fatal", "with --cluster-init or --join, the least severe `LEVEL` of the embedded member's own log on stderr\n"+
		"(debug, info, warn, error, fatal; etcd logs a normal stop as errors)")
	certFile := fs.String("tls-cert", "", "serve HTTPS with this PEM certificate `FILE` (with --tls-key)")
	keyFile := fs.String("tls-key", "", "the PEM private key `FILE` of --tls-cert")
	selfSigned := fs.String("tls-self-signed", "", "serve HTTPS with a self-signed certificate kept in `DIR` (cert.pem, key.pem): made on the\n"+
		"first start for 127.0.0.1, ::1, localhost and the --listen host, reused afterwards; hand\n"+
		"DIR/cert.pem to clients, e.g. SSL_CERT_FILE=DIR/cert.pem")
	d := server.DefaultLimits
	var lim server.Limits
	fs.DurationVar(&lim.HeaderTimeout, "header-timeout", d.HeaderTimeout, "close a connection whose request headers take longer than `DURATION` (also a new connection that sends nothing)")
	fs.DurationVar(&lim.BodyTimeout, "body-timeout", d.BodyTimeout, "refuse a request, and close its connection, when its body takes longer than `DURATION`")
	fs.DurationVar(&lim.IdleTimeout, "idle-timeout", d.IdleTimeout, "close a keep-alive connection idle for `DURATION`")
	fs.IntVar(&lim.MaxConns, "max-conns", d.MaxConns, "serve at most `N` connections at once (keep it below `ulimit -n`); more wait in the backlog")
	fs.IntVar(&lim.MaxConnsPerAddr, "max-conns-per-addr", 0, "serve at most `N` connections at once from one client address (an IPv6 /64; not loopback);\n"+
		"one more is closed at once (0: a quarter of --max-conns; negative: no cap)")
	fs.IntVar(&lim.MaxHeaderBytes, "max-header-bytes", d.MaxHeaderBytes, "refuse a request whose line and headers exceed `BYTES` (431 Request Header Fields Too Large)")
	fs.Int64Var(&lim.MaxBodyBytes, "max-body-bytes", d.MaxBodyBytes, "refuse request bodies over `BYTES` before reading them (RequestBodyTooLarge)")
	fs.Int64Var(&lim.MaxLargeBodies, "max-large-bodies", d.MaxLargeBodies, "read at most `BYTES` of bodies over 64 KiB at once, all clients together (at least --max-body-bytes);\n"+
		"a client address at most a quarter of that or --max-body-bytes, whichever is more;\n"+
		"one beyond waits unread, at most 2s, then is refused with ServiceUnavailable")
	fs.DurationVar(&lim.ThrottledDelay, "throttled-delay", d.ThrottledDelay, "hold each Throttling answer (rate limits, analysis bounds, nonce caches) for `DURATION`,\n"+
		"so that a client retrying without pause is refused a few times a second per connection (0: answer at once)")
	maxSkew := fs.Duration("max-clock-skew", signature.DefaultMaxSkew, "accept a signed request whose timestamp is within `DURATION` of this server's clock (1s to 24h;\n"+
		"ECS: 15m); its nonce is remembered until the timestamp leaves that window, so a shorter one\n"+
		"remembers fewer (palisade_signature_nonces counts them) and a longer one lowers what one key\n"+
		"may send (524288 requests in the window and a sixteenth); on etcd give every server the same one")
	metricsPublic := fs.Bool("metrics-public", false, "answer /metrics to anyone who reaches the listener (it shows every tenant's activity in aggregate and\n"+
		"names the hosts); by default it answers clients on this machine, and with PALISADE_METRICS_TOKEN set,\n"+
		"scrapers that send \"Authorization: Bearer TOKEN\" (Prometheus: authorization.credentials_file)")
	logFormat := fs.String("log-format", "text", "request and server log format on stderr: `text` or json (one line per request)")
	logLevel := fs.String("log-level", "info", "least severe log `LEVEL`: debug, info, warn or error (requests log at info, the agents' accepted status reports at debug, 5xx at error)")
	var events trail.Options
	fs.DurationVar(&events.MaxAge, "events-max-age", trail.DefaultMaxAge, "delete events of the event trail older than `DURATION`")
	fs.IntVar(&events.MaxEvents, "events-max", trail.DefaultMaxEvents, "keep at most `N` events in the event trail (past it, the accounts holding the most lose their oldest first)")
	var flows flowstore.Options
	fs.StringVar(&flows.Dir, "flow-records-dir", "", "keep the flow records the agents ship in `DIR` (default: FILE.flows beside --db; also with --etcd\n"+
		"and --cluster-init: each server keeps those shipped to it), as segment files of JSON lines that a log\n"+
		"shipper can tail; a restart reloads them")
	fs.DurationVar(&flows.MaxAge, "flow-records-max-age", flowstore.DefaultMaxAge, "drop flow records older than `DURATION` (whole segments at a time)")
	fs.Int64Var(&flows.MaxBytes, "flow-records-max-bytes", flowstore.DefaultMaxBytes, "keep at most `BYTES` of flow-record files (one chain per host), shared out among the hosts: the host\n"+
		"holding the most loses its oldest segments first (one host's flood crowds out only its own), counted\n"+
		"(at least 1 MiB; about 500 bytes a record on disk, as much again in memory)")
	fs.IntVar(&flows.MaxPerAccount, "flow-records-per-account", flowstore.DefaultMaxPerAccount, "hold in memory, and answer, at most `N` flow records per account, shared out among the hosts that\n"+
		"recorded them (those holding the most lose their oldest first: one host's flood crowds out only its own)")
	var hook webhook.Config
	fs.StringVar(&hook.URL, "webhook-url", "", "POST every accepted security-group change (groups, rules, members) as JSON to `URL`;\n"+
		"with PALISADE_WEBHOOK_SECRET set, each body is signed (header "+webhook.SignatureHeader+": sha256=HMAC)")
	fs.DurationVar(&hook.Timeout, "webhook-timeout", webhook.DefaultTimeout, "give up one webhook delivery after `DURATION`")
	fs.IntVar(&hook.Retries, "webhook-retries", webhook.DefaultRetries, "retry a failed webhook delivery `N` times (waiting 1s, 2s, 4s, …)")
	rd := ratelimit.Defaults
	var rl ratelimit.Config
	fs.Float64Var(&rl.PerAction, "rate-action", rd.PerAction, "allow an account `N` requests per second of each action (a negative N: no limit); more get Throttling.User.\n"+
		"A host key's snapshots and watches are bounded by --host-snapshot-rate and --host-max-watches instead,\n"+
		"its reports and binds by these rates per host key; the operator's snapshots, watches and binds are not limited")
	fs.IntVar(&rl.ActionBurst, "rate-action-burst", rd.ActionBurst, "let an account send `N` requests of one action at once above --rate-action")
	fs.Float64Var(&rl.PerAccount, "rate-account", rd.PerAccount, "allow an account `N` requests per second of all its actions together (a negative N: no limit)")
	fs.IntVar(&rl.AccountBurst, "rate-account-burst", rd.AccountBurst, "let an account send `N` requests at once above --rate-account")
	hd := service.DefaultHostLimits
	var hl service.HostLimits
	fs.Float64Var(&hl.SnapshotRate, "host-snapshot-rate", hd.SnapshotRate, "let each host key have `N` snapshots a second computed (a negative N: no limit), after a burst of\n"+
		"--host-snapshot-burst; a long poll or stream from a revision the server did not last answer that host at\n"+
		"counts as one, and so does a report with counters sent after the revision moved past that answer (an agent asks\n"+
		"for one snapshot when it starts, and watches from its last answer); more get Throttling.User")
	fs.IntVar(&hl.SnapshotBurst, "host-snapshot-burst", hd.SnapshotBurst, "let each host key have `N` snapshots at once above --host-snapshot-rate (an agent's restarts and reconnects)")
	fs.IntVar(&hl.MaxWatches, "host-max-watches", hd.MaxWatches, "let each host key hold at most `N` long polls and streams open at once (an agent holds one; a negative N: no bound);\n"+
		"one more gets Throttling.User")
	qd := service.DefaultQuotas
	var quotas service.Quotas
	// The flags are the quotas' names (service.QuotaNames), as `account quota`'s are.
	quotaHelp := map[string]string{
		"vpcs":              "let an account hold at most `N` VPCs in each region (VPC's default); one more gets QuotaExceeded.Vpc",
		"vswitches-per-vpc": "let a VPC hold at most `N` vSwitches (VPC's default); one more gets QuotaExceeded.VSwitch",
		"instances": "let an account hold at most `N` instances in each region; a launch past it gets QuotaExceed.ElasticQuota\n" +
			"and makes none (ECS bounds vCPUs instead)",
		"security-groups":  "let an account hold at most `N` security groups in each region (ECS's default); QuotaExceed.SecurityGroup",
		"enis":             "let an account hold at most `N` secondary network interfaces in each region (ECS's default); MaxEniCountExceeded",
		"prefix-lists":     "let an account hold at most `N` prefix lists in each region (ECS's default); QuotaExceed.PrefixList",
		"port-range-lists": "let an account hold at most `N` port range lists in each region; QuotaExceed.PortRangeList",
		"flow-logs":        "let an account hold at most `N` flow logs in each region; QuotaExceeded.FlowLog",
		"key-pairs":        "let an account hold at most `N` SSH key pairs in each region (ECS's default); QuotaExceed.KeyPair",
		"public-ips": "let an account hold at most `N` public addresses, EIPs and instances' public IPs, in all regions\n" +
			fmt.Sprintf("together (all accounts share one pool of %d); QuotaExceeded.Eip", 1<<(32-service.PublicPool.Bits())),
	}
	for i, n := range service.QuotaNames {
		fs.IntVar(quotas.Field(i), "quota-"+n.Flag, *qd.Field(i), quotaHelp[n.Flag])
	}
	var an analyze.Options
	fs.IntVar(&an.MaxConcurrent, "max-analyses", 0, "run at most `N` analysis requests at once; more wait in their account's queue or get Throttling (0: the number of CPUs)")
	fs.IntVar(&an.MaxPerAccount, "max-analyses-per-account", 1, "let one account run at most `N` of them at once (0: 1; at most --max-analyses)")
	fs.IntVar(&an.Queue, "analysis-queue", analyze.DefaultQueue, "let `N` more analyses of an account wait for a slot (at most 10s each); one more gets Throttling.User (0: none)")
	fs.IntVar(&an.CPU, "analysis-cpus", 0, "let the analyses running keep at most `N` cores busy together; the others wait (0: the number of CPUs less one, at least 1)")
	gcHeadroom := fs.Int64("gc-headroom", server.DefaultGCHeadroom, "let the heap grow by at least `BYTES` between garbage collections, however small the live heap,\n"+
		"so that the analyses' short-lived memory does not make every request pay for frequent collections\n"+
		"(the heap peaks near the live heap plus this; 0: Go's pacing; GOGC set in the environment, to any value, turns it off)")
	analysisNice := fs.Int("analysis-nice", server.DefaultAnalysisNice, "run each analysis request on a thread at nice `N` (1-19, Linux), so that on busy cores the\n"+
		"other requests run first (0: at the server's priority)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: palisade serve [--listen HOST:PORT] [--db FILE] [--etcd URLS | --cluster-init | --join URL] [--advertise HOST:PORT] [--tls-cert FILE --tls-key FILE | --tls-self-signed DIR] [limits] [logs, events, webhook]\n\n"+
			"Serve the ECS, VPC and RAM APIs; STS's GetCallerIdentity, BssOpenApi's QueryAvailableInstances and\n"+
			"Location's DescribeEndpoints (what Terraform's provider asks around its resources); ActionTrail's\n"+
			"LookupEvents, /metrics (Prometheus), /healthz, /readyz and the web console at /console/.\n"+
			"Plain HTTP is the default and is meant for loopback; give a certificate, or let serve make a\n"+
			"self-signed one, to serve HTTPS. Every change, and every refused call, is kept in the event trail\n"+
			"(FILE.events beside --db), and the flow records the agents ship in FILE.flows (--flow-records-*).\n"+
			"With --etcd the state is in an external etcd cluster instead of SQLite: start any number of servers\n"+
			"with the same URLs behind a load balancer; they serve one installation.\n"+
			"With --cluster-init the server runs an etcd member of its own (as k3s does) and starts a cluster;\n"+
			"more servers join it with --join URL (another member's --etcd-client-url), each with its own\n"+
			"--etcd-client-url and --etcd-peer-url; three servers survive the loss of any one. Restart a server\n"+
			"with the same flags: its member's data (--etcd-dir) says which cluster it is in (after a stop of them\n"+
			"all, each waits until a majority of the members runs). On etcd each server keeps its own events and\n"+
			"flow records, and a query on any server merges every live server's.\n\n"+
			"The first start makes the operator's key and a first tenant with its key, and prints both once.\n"+
			"PALISADE_OPERATOR_KEY_ID/_SECRET, when set, give the operator's pair, and\n"+
			"PALISADE_ACCESS_KEY_ID/_SECRET the first tenant's (a restart keeps what the API did to them since).\n"+
			"One server runs on a --db at a time: it holds FILE.lock.\n\n"+
			"The --quota-* flags bound what each account may create (a request past one is refused and changes\n"+
			"nothing); on etcd give every server the same ones. `palisade account quota ACCOUNT_ID` gives one\n"+
			"tenant its own, kept in the store.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "palisade serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if lim.HeaderTimeout <= 0 || lim.BodyTimeout <= 0 || lim.IdleTimeout <= 0 || lim.MaxConns <= 0 || lim.MaxHeaderBytes <= 0 || lim.MaxBodyBytes <= 0 {
		fmt.Fprintln(stderr, "palisade serve: --header-timeout, --body-timeout, --idle-timeout, --max-conns, --max-header-bytes and --max-body-bytes must be positive")
		return 2
	}
	if lim.MaxLargeBodies < lim.MaxBodyBytes || lim.ThrottledDelay < 0 {
		fmt.Fprintln(stderr, "palisade serve: --max-large-bodies must be at least --max-body-bytes (room for one body of the largest size), --throttled-delay not negative")
		return 2
	}
	if lim.ThrottledDelay == 0 {
		lim.ThrottledDelay = -1 // none (a zero Limits field takes the default)
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "palisade serve:", err)
		return 2
	}
	if events.MaxAge <= 0 || events.MaxEvents <= 0 {
		fmt.Fprintln(stderr, "palisade serve: --events-max-age and --events-max must be positive")
		return 2
	}
	if flows.MaxAge <= 0 || flows.MaxBytes < 1<<20 || flows.MaxPerAccount <= 0 {
		fmt.Fprintln(stderr, "palisade serve: --flow-records-max-age and --flow-records-per-account must be positive, --flow-records-max-bytes at least 1048576")
		return 2
	}
	if hook.URL != "" {
		if err := webhook.CheckURL(hook.URL); err != nil {
			fmt.Fprintln(stderr, "palisade serve: --webhook-url:", err)
			return 2
		}
		hook.Secret = os.Getenv("PALISADE_WEBHOOK_SECRET")
	}
	if rl.PerAction == 0 || rl.PerAccount == 0 || rl.ActionBurst <= 0 || rl.AccountBurst <= 0 || an.MaxConcurrent < 0 || an.MaxPerAccount < 0 || an.CPU < 0 || an.Queue < 0 || *analysisNice < 0 || *analysisNice > 19 {
		fmt.Fprintln(stderr, "palisade serve: --rate-action and --rate-account must not be 0 (negative turns them off), the bursts must be positive, --max-analyses*, --analysis-queue and --analysis-cpus must not be negative, --analysis-nice is 0 to 19")
		return 2
	}
	if hl.SnapshotRate == 0 || hl.SnapshotBurst <= 0 || hl.MaxWatches == 0 {
		fmt.Fprintln(stderr, "palisade serve: --host-snapshot-rate and --host-max-watches must not be 0 (negative turns them off), --host-snapshot-burst must be positive")
		return 2
	}
	if err := quotas.Check(true); err != nil {
		fmt.Fprintln(stderr, "palisade serve: every --quota-* must be positive:", err)
		return 2
	}
	if *maxSkew < time.Second || *maxSkew > server.MaxClockSkew {
		fmt.Fprintf(stderr, "palisade serve: --max-clock-skew %v: give a duration from 1s to 24h (ECS: 15m)\n", *maxSkew)
		return 2
	}
	if *gcHeadroom < 0 {
		fmt.Fprintln(stderr, "palisade serve: --gc-headroom must not be negative (0: Go's own pacing)")
		return 2
	}
	if an.Queue == 0 {
		an.Queue = -1 // none (a zero Options field takes the default)
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "palisade serve: --listen %q: want HOST:PORT, e.g. 127.0.0.1:8080\n", *listen)
		return 2
	}
	// Before anything is made (a certificate, an etcd member): the store, or
	// with etcd the event trail, goes beside --db.
	if err := checkDBDir(*db); err != nil {
		fmt.Fprintln(stderr, "palisade serve:", err)
		return 2
	}
	lock, err := lockStore(*db)
	if err != nil {
		fmt.Fprintln(stderr, "palisade serve:", err)
		if errors.Is(err, errStoreInUse) {
			fmt.Fprintln(stderr, "  another server runs on this --db: use it, stop it, or give this one another --db")
		}
		return 1
	}
	started := false
	defer func() { lock.release(!started) }()
	var tlsCfg *tls.Config
	switch {
	case *selfSigned != "" && (*certFile != "" || *keyFile != ""):
		fmt.Fprintln(stderr, "palisade serve: give --tls-cert and --tls-key, or --tls-self-signed, not both")
		return 2
	case *certFile != "" || *keyFile != "":
		if tlsCfg, err = tlscert.Load(*certFile, *keyFile); err != nil {
			fmt.Fprintln(stderr, "palisade serve:", err)
			return 2
		}
	case *selfSigned != "":
		var path string
		var created bool
		if tlsCfg, path, created, err = tlscert.SelfSigned(*selfSigned, host, time.Now()); err != nil {
			fmt.Fprintln(stderr, "palisade serve: self-signed certificate:", err)
			return 1
		}
		verb := "Using the"
		if created {
			verb = "Created a"
		}
		// Clients set the variable in their own shells and directories: a
		// path relative to serve's (--tls-self-signed ./tls) misleads them.
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		// Node.js reads no SSL_CERT_FILE: its clients need their own variable.
		fmt.Fprintf(stdout, "%s self-signed certificate %s; clients trust it with SSL_CERT_FILE=%s (Go: Terraform, the aliyun CLI) or NODE_EXTRA_CA_CERTS=%s (Node.js)\n", verb, path, path, path)
	}
	var etcd, etcdCluster []string
	for _, u := range strings.Split(*etcdURLs, ",") {
		if u = strings.TrimSpace(u); u != "" {
			etcd = append(etcd, u)
		}
	}
	if *etcdURLs != "" && len(etcd) == 0 {
		fmt.Fprintf(stderr, "palisade serve: --etcd %q: give the client URLs of the etcd cluster, e.g. http://127.0.0.1:2379\n", *etcdURLs)
		return 2
	}
	embedded := *clusterInit || mc.Join != ""
	var etcdClientTLS *tls.Config
	if etcdTLS != (member.TLSFiles{}) {
		if etcdClientTLS, err = etcdTLS.ClientConfig(); err != nil {
			fmt.Fprintln(stderr, "palisade serve:", err)
			return 2
		}
		if !embedded && len(etcd) == 0 {
			fmt.Fprintln(stderr, "palisade serve: --etcd-ca, --etcd-cert and --etcd-key are for --etcd, --cluster-init or --join")
			return 2
		}
		mc.TLS = &etcdTLS
		// The default URLs, over TLS.
		for _, u := range []*string{&mc.ClientURL, &mc.PeerURL} {
			if *u == member.DefaultClientURL || *u == member.DefaultPeerURL {
				*u = "https" + strings.TrimPrefix(*u, "http")
			}
		}
	}
	if err := checkEtcdScheme("--etcd", etcd, etcdClientTLS != nil); err != nil {
		fmt.Fprintln(stderr, "palisade serve:", err)
		return 2
	}
	switch {
	case *clusterInit && mc.Join != "":
		fmt.Fprintln(stderr, "palisade serve: give --cluster-init (a new cluster) or --join URL (an existing one), not both")
		return 2
	case embedded && len(etcd) > 0:
		fmt.Fprintln(stderr, "palisade serve: give --etcd URLS (an external etcd) or --cluster-init/--join (an embedded member), not both")
		return 2
	}
	var (
		mem          *member.Member
		memberFailed atomic.Bool
	)
	if embedded {
		mc.Dir = *etcdDir
		if mc.Dir == "" {
			mc.Dir = *db + ".etcd"
		}
		// After a stop of the whole cluster, a restarted member waits for the
		// others: say so, or the server looks hung.
		mc.Waiting = func(msg string) { fmt.Fprintln(stderr, "palisade serve:", msg) }
		if err := mc.Check(); err != nil {
			fmt.Fprintln(stderr, "palisade serve:", err)
			return 2
		}
		if *clusterInit && !member.Holds(mc.Dir) {
			// A wrong dir (or lost data) would start a new, empty
			// installation beside the one the cluster still serves.
			if _, err := os.Stat(server.IDFile(*db)); err == nil {
				fmt.Fprintf(stderr, "palisade serve: this server ran on etcd before (%s holds its ID), but %s holds no etcd member: "+
					"--cluster-init would start a new, empty installation. Give the member's data dir it ran with (--etcd-dir, or its --db); "+
					"if that data is lost and the others run, remove its member (etcdctl member remove) and start it with --join; "+
					"to start a new installation anyway, delete %s\n", server.IDFile(*db), mc.Dir, server.IDFile(*db))
				return 2
			}
		}
		if mem, err = member.Start(ctx, mc); err != nil {
			fmt.Fprintln(stderr, "palisade serve:", err)
			return 1
		}
		// After the server has closed its store (deferred calls run last
		// in, first out, and Serve returns first).
		defer mem.Close()
		how := "started a new cluster"
		switch {
		case mem.Restarted:
			how = "restarted"
		case mem.Joined:
			how = "joined the cluster at " + mc.Join
		}
		fmt.Fprintf(stdout, "Embedded etcd member %x %s: clients at %s, peers at %s, data in %s\n", mem.ID, how, mc.ClientURL, mc.PeerURL, mc.Dir)
		etcd, etcdClientTLS = []string{mem.ClientURL}, mem.ClientTLS
		etcdCluster = []string{mc.Join, mc.PeerURL}
		// A member that fails stops the server: its store would fail every
		// request.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case err := <-mem.Err():
				if err != nil {
					fmt.Fprintln(stderr, "palisade serve: the embedded etcd member failed; stopping:", err)
					memberFailed.Store(true)
					cancel()
				}
			case <-ctx.Done():
			}
		}()
	}
	state := *db
	if len(etcd) > 0 {
		state = "etcd " + strings.Join(etcd, ",") + " (event trail in " + trail.File(*db) + ")"
	}
	srv, err := server.Open(ctx, server.Config{Listen: *listen, DB: *db, Etcd: etcd, EtcdTLS: etcdClientTLS, Log: log, TLS: tlsCfg, Limits: lim, Events: events, Webhook: hook, RateLimit: rl, HostLimits: hl, Quotas: quotas, Analysis: an, AnalysisNice: cmp.Or(*analysisNice, -1), GCHeadroom: gcHeadroomFor(*gcHeadroom, os.LookupEnv), FlowRecords: flows,
		Metrics: server.MetricsAccess{Public: *metricsPublic, Token: os.Getenv("PALISADE_METRICS_TOKEN")}, MaxClockSkew: *maxSkew,
		Advertise: *advertise, PeerTimeout: *peerTimeout, PeerAllowPlaintext: *peerPlaintext, EtcdCluster: etcdCluster,
		AccessKeyID: os.Getenv("PALISADE_ACCESS_KEY_ID"), AccessKeySecret: os.Getenv("PALISADE_ACCESS_KEY_SECRET"),
		OperatorKeyID: os.Getenv("PALISADE_OPERATOR_KEY_ID"), OperatorKeySecret: os.Getenv("PALISADE_OPERATOR_KEY_SECRET")})
	if err != nil {
		fmt.Fprintln(stderr, "palisade serve:", err)
		if hint := listenHint(err, *listen); hint != "" {
			fmt.Fprintln(stderr, "  "+hint)
		}
		if hint := etcdTLSHint(etcd, etcdClientTLS != nil); hint != "" && strings.Contains(err.Error(), "etcd") {
			fmt.Fprintln(stderr, "  "+hint)
		}
		return 1
	}
	started = true
	if fi, err := os.Stat(*db); err == nil && len(etcd) == 0 && fi.Mode().Perm()&0o077 != 0 {
		// A store made before stores were made private.
		fmt.Fprintf(stderr, "palisade serve: warning: %s holds the access keys' secrets and other users may read it (mode %o): chmod go= %s*\n", *db, fi.Mode().Perm(), *db)
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	} else if !tlscert.Loopback(host) {
		fmt.Fprintf(stderr, "palisade serve: warning: serving plain HTTP on %s, which is not a loopback address: requests are signed "+
			"but travel unencrypted, and Terraform and the aliyun CLI speak only HTTPS. Use --tls-cert/--tls-key or --tls-self-signed DIR.\n", *listen)
	}
	// One write, so a reader that sees the first line sees the second.
	fmt.Fprintf(stdout, "Palisade is serving the ECS API (2014-05-26), VPC API (2016-04-28), RAM API (2015-05-01) and STS API (2015-04-01) on %[1]s://%[2]s/ with state in %[3]s\n"+
		"Health checks: %[1]s://%[2]s/healthz (200 while the process runs), %[1]s://%[2]s/readyz (200 once the store is open and reads are current, 503 otherwise)\n"+
		"Web console: %[1]s://%[2]s/console/ (sign in with an access key pair)\n",
		scheme, srv.Addr, state)
	var keys strings.Builder
	if srv.OperatorKeyIsNew {
		fmt.Fprintf(&keys, "Created the operator's access key (accounts and hosts: palisade account, palisade host); it is shown only this once:\n"+
			"  export PALISADE_OPERATOR_KEY_ID=%s\n  export PALISADE_OPERATOR_KEY_SECRET=%s\n"+
			"  (palisade account and palisade host take it from these variables; other tools, as PALISADE_ACCESS_KEY_ID/_SECRET)\n", srv.OperatorKey.ID, srv.OperatorKey.Secret)
	} else {
		fmt.Fprintf(&keys, "Operator's access key ID: %s%s\n", srv.OperatorKey.ID, inactiveNote(srv.OperatorKey))
	}
	if srv.KeyIsNew {
		fmt.Fprintf(&keys, "Created the first tenant (account %s) and its access key; it is shown only this once:\n"+
			"  export PALISADE_ACCESS_KEY_ID=%s\n  export PALISADE_ACCESS_KEY_SECRET=%s\n", srv.Key.Account, srv.Key.ID, srv.Key.Secret)
	} else {
		fmt.Fprintf(&keys, "First tenant's (account %s) access key ID: %s%s\n", srv.Key.Account, srv.Key.ID, inactiveNote(srv.Key))
	}
	if ep := clientEndpoint(scheme, srv.Addr); ep != defaultEndpoint {
		// The client commands and the SDK example default to 127.0.0.1:8080.
		fmt.Fprintf(&keys, "Client commands (palisade sg, vpc, …) reach this server with --endpoint %[1]s, or:\n  export PALISADE_ENDPOINT=%[1]s\n", ep)
	}
	fmt.Fprint(stdout, keys.String())
	fmt.Fprintf(stdout, "Metrics: %s://%s/metrics (Prometheus; %s); events: palisade events, or ActionTrail's LookupEvents (2020-07-06)\n", scheme, srv.Addr, metricsWho(*metricsPublic, os.Getenv("PALISADE_METRICS_TOKEN") != ""))
	if err := srv.Serve(ctx); err != nil {
		fmt.Fprintln(stderr, "palisade serve:", err)
		return 1
	}
	if memberFailed.Load() {
		return 1
	}
	return 0
}

// newLogger makes the server's logger: text or JSON lines on w, from level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// gcHeadroomFor is the server's GCHeadroom for --gc-headroom n: off (-1)
// when n is 0, or when GOGC is set in the environment, to any value: the
// server itself sees only the resulting GC percent, and GOGC=100 would
// look like Go's default.
func gcHeadroomFor(n int64, lookupEnv func(string) (string, bool)) int64 {
	if _, ok := lookupEnv("GOGC"); ok || n == 0 {
		return -1
	}
	return n
}

// checkDBDir refuses a --db whose directory is missing, saying what to do
// (SQLite's own error, "unable to open database file", does not).
func checkDBDir(db string) error {
	dir := filepath.Dir(db)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--db %s: the directory %s does not exist; create it (mkdir -p %s) or give --db a file in an existing directory", db, dir, dir)
	case err != nil:
		return fmt.Errorf("--db %s: %w", db, err)
	case !fi.IsDir():
		return fmt.Errorf("--db %s: %s is not a directory; give --db a file in a directory", db, dir)
	}
	return nil
}

// listenHint says what to do when the listener cannot be opened.
func listenHint(err error, listen string) string {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Sprintf("another process (another palisade serve?) listens on %s: stop it, or give this server another address with --listen HOST:PORT", listen)
	case errors.Is(err, syscall.EACCES):
		return fmt.Sprintf("%s: ports below 1024 need root (or CAP_NET_BIND_SERVICE); give a higher port with --listen HOST:PORT", listen)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Sprintf("no interface of this machine has the address of %s; give one it has with --listen HOST:PORT, e.g. 127.0.0.1:8080", listen)
	}
	return ""
}

// inactiveNote says that a key the start names was made Inactive through
// the API (a restart keeps it so): named bare, it was taken for one to use.
func inactiveNote(k model.AccessKey) string {
	if !k.Inactive {
		return ""
	}
	return fmt.Sprintf(" (Inactive: refused until palisade key enable %s, signed with another key of the account, makes it Active)", k.ID)
}

// clientEndpoint is the --endpoint at which a client on this machine
// reaches a server listening at addr: an unspecified host (all interfaces)
// is reached at loopback.
func clientEndpoint(scheme, addr string) string {
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	if scheme == "https" {
		return "https://" + addr
	}
	return addr
}

// metricsWho says whom /metrics answers, as serve was started.
func metricsWho(public, token bool) string {
	switch {
	case public:
		return "open to every client"
	case token:
		return "clients on this machine, and scrapers with PALISADE_METRICS_TOKEN as a bearer token"
	}
	return "clients on this machine only; PALISADE_METRICS_TOKEN or --metrics-public let others in"
}
