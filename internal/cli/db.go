package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/member"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
)

const dbUsage = `Usage:
  palisade db backup [--db FILE | --etcd URL [--etcd-ca FILE --etcd-cert FILE --etcd-key FILE]] OUT
      write a consistent copy of the state to the new file OUT, while servers run:
      SQLite (--db, default ./palisade.db): a compacted copy of the store
      (VACUUM INTO), itself a store to serve with --db OUT; etcd (--etcd, one
      member's client URL, e.g. an embedded member's --etcd-client-url): a
      snapshot of that member, which "etcdutl snapshot restore OUT" turns into
      a member's data directory.
  palisade db migrate [--from FILE] --to-etcd URLS [TLS]
  palisade db migrate [--from FILE] --cluster-init [--etcd-dir DIR] [--etcd-client-url URL] [--etcd-peer-url URL] [--etcd-name NAME] [TLS]
      copy a single-machine installation (the SQLite store FILE, default
      ./palisade.db; stop its server first) into etcd, keeping every
      resource's ID and revision, the change log (agents resume where they
      were) and the ClientTokens: into an external etcd cluster (--to-etcd,
      then "palisade serve --etcd URLS"), or into the data of a new embedded
      member (--cluster-init, then "palisade serve --cluster-init" with the
      same --db, --etcd-* flags; more servers --join it). The target must
      be empty: no server has started on it. TLS is --etcd-ca, --etcd-cert
      and --etcd-key, as palisade serve takes them.
`

func dbCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, dbUsage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "backup":
		return dbBackup(ctx, args[1:], stdout, stderr)
	case "migrate":
		return dbMigrate(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, dbUsage)
		return 0
	}
	fmt.Fprintf(stderr, "palisade db: unknown command %q\n\n%s", args[0], dbUsage)
	return 2
}

// dbFlags parses args with fs; -h prints dbUsage and the flags.
func dbFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (int, bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), dbUsage+"\nFlags of "+fs.Name()+":\n")
		fs.PrintDefaults()
	}
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0, false
		}
	}
	if err := parseQuiet(fs, args); err != nil {
		return 2, false
	}
	return 0, true
}

// etcdTLSFlags are --etcd-ca, --etcd-cert and --etcd-key, as serve has them.
func etcdTLSFlags(fs *flag.FlagSet) *member.TLSFiles {
	var f member.TLSFiles
	fs.StringVar(&f.CA, "etcd-ca", "", "TLS to etcd: the PEM `FILE` of the cluster's CA (see palisade serve --help)")
	fs.StringVar(&f.Cert, "etcd-cert", "", "TLS to etcd: the client's PEM certificate `FILE`, signed by --etcd-ca")
	fs.StringVar(&f.Key, "etcd-key", "", "TLS to etcd: the PEM private key `FILE` of --etcd-cert")
	return &f
}

// checkEtcdScheme refuses etcd client URLs given with the TLS flags but
// not https: the client then answered only "context deadline exceeded",
// after the whole dial timeout. https without the flags is taken: a
// member with a server certificate alone is reached with the system's
// roots (SSL_CERT_FILE); etcdTLSHint explains a failure.
func checkEtcdScheme(flag string, urls []string, tls bool) error {
	for _, u := range urls {
		if strings.HasPrefix(u, "http://") && tls {
			return fmt.Errorf("%s %s: with --etcd-ca, --etcd-cert and --etcd-key give the members' https URLs", flag, u)
		}
	}
	return nil
}

// etcdTLSHint is what to print after etcd at urls could not be reached
// without client TLS, when one is https: "" otherwise.
func etcdTLSHint(urls []string, tls bool) string {
	if tls || !slices.ContainsFunc(urls, func(u string) bool { return strings.HasPrefix(u, "https://") }) {
		return ""
	}
	return "an https member that asks its clients for a certificate (etcd --client-cert-auth) needs --etcd-ca, --etcd-cert and --etcd-key; one with a server certificate alone needs its CA trusted (SSL_CERT_FILE)"
}

// tlsOf is the client TLS of the flags, nil without them.
func tlsOf(f *member.TLSFiles) (*tls.Config, error) {
	if *f == (member.TLSFiles{}) {
		return nil, nil
	}
	return f.ClientConfig()
}

func dbBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("palisade db backup", flag.ContinueOnError)
	db := fs.String("db", "./palisade.db", "back up the SQLite store `FILE`")
	etcdURL := fs.String("etcd", "", "back up the etcd member at this client `URL` instead (a snapshot)")
	tf := etcdTLSFlags(fs)
	if code, ok := dbFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	tlsCfg, err := tlsOf(tf)
	if err != nil {
		fmt.Fprintln(stderr, "palisade db backup:", err)
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "palisade db backup: give the file to write, e.g. palisade db backup --db ./palisade.db ./backup.db")
		return 2
	}
	out := fs.Arg(0)
	start := time.Now()
	if *etcdURL != "" {
		if strings.Contains(*etcdURL, ",") {
			fmt.Fprintln(stderr, "palisade db backup: --etcd takes one member's URL: a snapshot is of one member")
			return 2
		}
		if err := checkEtcdScheme("--etcd", []string{*etcdURL}, tlsCfg != nil); err != nil {
			fmt.Fprintln(stderr, "palisade db backup:", err)
			return 2
		}
		n, err := etcd.Snapshot(ctx, *etcdURL, out, tlsCfg)
		if err != nil {
			fmt.Fprintln(stderr, "palisade db backup:", err)
			if hint := etcdTLSHint([]string{*etcdURL}, tlsCfg != nil); hint != "" {
				fmt.Fprintln(stderr, "  "+hint)
			}
			return 1
		}
		fmt.Fprintf(stdout, "Wrote a snapshot of the etcd member at %s to %s (%d bytes, %v); restore with: etcdutl snapshot restore %s --data-dir DIR\n",
			*etcdURL, out, n, time.Since(start).Round(time.Millisecond), out)
		return 0
	}
	if msg := missingStore("--db", *db); msg != "" {
		fmt.Fprintln(stderr, "palisade db backup:", msg)
		return 2
	}
	rev, err := sqlite.Backup(ctx, *db, out)
	if err != nil {
		fmt.Fprintln(stderr, "palisade db backup:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Wrote a copy of %s at revision %d to %s (%v); serve it with: palisade serve --db %s\n",
		*db, rev, out, time.Since(start).Round(time.Millisecond), out)
	return 0
}

func dbMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("palisade db migrate", flag.ContinueOnError)
	from := fs.String("from", "./palisade.db", "the SQLite store `FILE` to copy (its server stopped)")
	db := fs.String("db", "", "with --cluster-init, the --db `FILE` the server will be started with (default: --from)")
	toEtcd := fs.String("to-etcd", "", "copy into the etcd cluster at these client `URLS` (comma-separated)")
	clusterInit := fs.Bool("cluster-init", false, "copy into a new embedded member's data instead, for palisade serve --cluster-init")
	var mc member.Config
	etcdDir := fs.String("etcd-dir", "", "with --cluster-init, the member's data `DIR` (default: FILE.etcd beside --db)")
	fs.StringVar(&mc.ClientURL, "etcd-client-url", member.DefaultClientURL, "with --cluster-init, the member's client `URL` (as the server will give it)")
	fs.StringVar(&mc.PeerURL, "etcd-peer-url", member.DefaultPeerURL, "with --cluster-init, the member's peer `URL` (as the server will give it)")
	fs.StringVar(&mc.Name, "etcd-name", "", "with --cluster-init, the member's `NAME` (default: from --etcd-peer-url)")
	fs.BoolVar(&mc.AllowPlaintext, "etcd-allow-plaintext", false, "with --cluster-init, let the member's URLs be other than loopback (see palisade serve --help)")
	tf := etcdTLSFlags(fs)
	if code, ok := dbFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	tlsCfg, err := tlsOf(tf)
	if err != nil {
		fmt.Fprintln(stderr, "palisade db migrate:", err)
		return 2
	}
	if tlsCfg != nil {
		mc.TLS = tf
		for _, u := range []*string{&mc.ClientURL, &mc.PeerURL} {
			if *u == member.DefaultClientURL || *u == member.DefaultPeerURL {
				*u = "https" + strings.TrimPrefix(*u, "http")
			}
		}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "palisade db migrate: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var urls []string
	for _, u := range strings.Split(*toEtcd, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	if (len(urls) > 0) == *clusterInit {
		fmt.Fprintln(stderr, "palisade db migrate: give --to-etcd URLS (an external etcd) or --cluster-init (a new embedded member), one of them")
		return 2
	}
	if err := checkEtcdScheme("--to-etcd", urls, *tf != (member.TLSFiles{})); err != nil {
		fmt.Fprintln(stderr, "palisade db migrate:", err)
		return 2
	}
	if msg := missingStore("--from", *from); msg != "" {
		fmt.Fprintln(stderr, "palisade db migrate:", msg)
		return 2
	}
	// Its server stopped, and none starting meanwhile: a write after the
	// copy would be lost. (A lock file made here goes with the lock.)
	lock, err := lockStore(*from)
	if err != nil {
		fmt.Fprintln(stderr, "palisade db migrate:", err, "(stop it first: a write after the copy would be lost)")
		return 1
	}
	defer lock.release(true)
	if *clusterInit {
		if *db == "" {
			*db = *from
		}
		mc.Dir = *etcdDir
		if mc.Dir == "" {
			mc.Dir = *db + ".etcd"
		}
		if err := mc.Check(); err != nil {
			fmt.Fprintln(stderr, "palisade db migrate:", err)
			return 2
		}
		if _, err := os.Stat(mc.Dir); err == nil {
			fmt.Fprintf(stderr, "palisade db migrate: %s exists: migrate into a new member's data only\n", mc.Dir)
			return 2
		}
	}
	src, err := sqlite.Open(*from)
	if err != nil {
		fmt.Fprintln(stderr, "palisade db migrate:", err)
		return 1
	}
	defer src.Close()
	start := time.Now()
	d, err := src.Dump(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "palisade db migrate:", err)
		return 1
	}
	target := "etcd " + strings.Join(urls, ",")
	if *clusterInit {
		m, err := member.Start(ctx, mc)
		if err != nil {
			fmt.Fprintln(stderr, "palisade db migrate:", err)
			return 1
		}
		defer m.Close()
		urls = []string{m.ClientURL}
		target = "a new embedded member (data in " + mc.Dir + ")"
	}
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	dst, err := etcd.DialTLS(dctx, urls, "", tlsCfg)
	cancel()
	if err != nil {
		fmt.Fprintln(stderr, "palisade db migrate:", err)
		if hint := etcdTLSHint(urls, tlsCfg != nil); hint != "" {
			fmt.Fprintln(stderr, "  "+hint)
		}
		return 1
	}
	defer dst.Close()
	if err := dst.Import(ctx, d); err != nil {
		fmt.Fprintln(stderr, "palisade db migrate:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Copied %s (revision %d: %d resources, %d change-log entries, %d client tokens) into %s in %v.\n",
		*from, d.Revision, len(d.Records), len(d.Changes), len(d.Tokens), target, time.Since(start).Round(time.Millisecond))
	if *clusterInit {
		fmt.Fprintf(stdout, "Start the server with: palisade serve --cluster-init --db %s --etcd-dir %s --etcd-client-url %s --etcd-peer-url %s\n",
			*db, mc.Dir, mc.ClientURL, mc.PeerURL)
	} else {
		fmt.Fprintf(stdout, "Start the servers with: palisade serve --etcd %s\n", strings.Join(urls, ","))
	}
	return 0
}

// missingStore says what to do when the store a flag names cannot be read
// ("" when it can): the default, ./palisade.db, is only where serve keeps
// its state when started in this directory without --db.
func missingStore(flagName, path string) string {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, os.ErrNotExist):
		return fmt.Sprintf("%s: no store at %s: give %s FILE, the --db palisade serve uses", flagName, path, flagName)
	default:
		return fmt.Sprintf("%s: %v", flagName, err)
	}
}
