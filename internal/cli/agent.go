package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/palisade-sg/palisade/internal/dataplane/agent"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// agentCmd runs "palisade agent --server URL --host NAME".
func agentCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("palisade agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "", "Palisade API endpoint `HOST:PORT` (plain HTTP; https://HOST:PORT for a server with a certificate), or several\n"+
		"servers of one installation (HOST:PORT,HOST:PORT,…): the agent moves to the next when its server fails, resuming where it was\n"+
		"(default $PALISADE_ENDPOINT, or 127.0.0.1:8080)")
	host := fs.String("host", "", "this host's `name`: the agent enforces the instances bound to it (required)")
	netns := fs.String("netns", "", "program the nftables of this network `namespace` instead of the agent's own")
	table := fs.String("table", "palisade", "nftables `table` (family inet) the agent owns")
	prefix := fs.String("interface-prefix", "pi-", "fail closed: drop traffic of interfaces with this `prefix` that no bound instance owns (all of them while\n"+
		"the agent, started without an answer from its server, finds no policy in the kernel)")
	merge := fs.Bool("merge-runs", true, "look runs of consecutive TCP/UDP CIDR rules of one verdict up in one set (fewer rules for new connections to walk)")
	flowWindow := fs.Duration("flow-window", 0, "flow logs' capture `window`, at least 100ms (0: the shortest AggregationInterval of the flow logs covering this host)")
	flowState := fs.String("flow-state", "", "`file` marking a flow-log window open, so that a restart after a crash reports the records lost (default: /var/lib/palisade/flowlog-HOST.state, in a directory only root may write: a file in /tmp could be a planted symlink; - for none)")
	checkEvery := fs.Duration("check-every", 2*time.Second, "the agent applies its table again as soon as the kernel notifies that another program changed it\n"+
		"(a flush of the ruleset, as restarting the nftables service does, a rule replaced, an element added or deleted);\n"+
		"it also checks this often, should a notice be lost; at least 100ms, 0: neither")
	verbose := fs.Bool("v", false, "log every apply")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: palisade agent --server HOST:PORT[,HOST:PORT…] --host NAME [flags]\n\n"+
			"Enforce the security groups of the instances bound to this host with nftables.\n"+
			"The key, from PALISADE_ACCESS_KEY_ID and PALISADE_ACCESS_KEY_SECRET, is this host's (palisade host\n"+
			"register NAME; --host must then be NAME, and the agent receives only what this host enforces)\n"+
			"or the operator's (the whole cloud).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if *server == "" {
		*server = envOr("PALISADE_ENDPOINT", defaultEndpoint)
	}
	if *host == "" {
		fmt.Fprintln(stderr, "palisade agent: --host NAME is required: the host's name, as registered with palisade host register NAME (run \"palisade agent --help\")")
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "palisade agent: unexpected argument %q (run \"palisade agent --help\")\n", fs.Arg(0))
		return 2
	}
	if *checkEvery < 0 || *checkEvery > 0 && *checkEvery < 100*time.Millisecond {
		fmt.Fprintln(stderr, "palisade agent: --check-every is at least 100ms, or 0 for no checks (nor repairs)")
		return 2
	}
	if *flowWindow < 0 || *flowWindow > 0 && *flowWindow < 100*time.Millisecond {
		// Each window's end dumps the connection table: a tiny one would
		// keep a core busy.
		fmt.Fprintln(stderr, "palisade agent: --flow-window is at least 100ms, or 0 for the flow logs' AggregationInterval")
		return 2
	}
	if *checkEvery == 0 {
		*checkEvery = -1 // agent.Config: negative is never
	}
	id, secret, ok := credentials()
	if !ok {
		fmt.Fprintln(stderr, "palisade agent: no access key: set PALISADE_ACCESS_KEY_ID and PALISADE_ACCESS_KEY_SECRET to this host's key (or the operator's)")
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch *flowState {
	case "":
		// Not the temporary directory: another user could plant a symlink
		// there for the root agent to write through.
		dir := "/var/lib/palisade"
		if err := os.MkdirAll(dir, 0o700); err != nil {
			log.Warn("agent: no flow-log state directory; a crash will go unreported", "dir", dir, "err", err)
		}
		*flowState = filepath.Join(dir, "flowlog-"+url.PathEscape(*host)+".state")
	case "-":
		*flowState = ""
	}
	log.Info("agent: starting", "host", *host, "server", *server, "netns", *netns)
	err := agent.Run(ctx, agent.Config{Server: *server, AccessKeyID: id, Secret: secret, Host: *host, Netns: *netns,
		NFT: nft.Options{Table: *table, InterfacePrefix: *prefix, MergeRuns: *merge}, Log: log, CheckEvery: *checkEvery,
		Flow: agent.FlowConfig{Window: *flowWindow, StateFile: *flowState}})
	if err != nil {
		fmt.Fprintln(stderr, "palisade agent:", err)
		return 1
	}
	// Stopping leaves the policy in the kernel: an agent restart or upgrade
	// never opens anything.
	log.Info("agent: stopped; the kernel keeps enforcing the last policy")
	return 0
}
