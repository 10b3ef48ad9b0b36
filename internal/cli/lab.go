package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/lab"
)

const labUsage = `palisade lab: security groups enforced on real packets, in network namespaces (root only)

Usage:
  palisade lab up [--name N] [--hosts N] [--instances M] [--server HOST:PORT]
        build hosts (each with its agent), instances, a fabric and an internet,
        and register everything in a server (its own, or --server)
  palisade lab exec [--name N] INSTANCE -- CMD...
        run a command inside an instance
  palisade lab probe [--name N] --from A --to B [--proto tcp] [--port N]
        send one real packet (TCP connect, UDP exchange, ICMP echo, GRE) and
        say whether it was delivered
  palisade lab down [--name N]
        stop the lab's agents and server and remove every namespace
  palisade lab play [--hosts N] [--flow-log=false] FILE...
        build each scenario file in a fresh lab, let the agents enforce it,
        send every flow as a real packet and compare the kernel's verdict
        with the expected one and the policy engine's
`

func labCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, labUsage)
		return 2
	}
	switch args[0] {
	case "play":
		return labPlay(args[1:], stdout, stderr)
	case "up":
		return labUp(args[1:], stdout, stderr)
	case "down":
		return labDown(args[1:], stdout, stderr)
	case "exec":
		return labExec(args[1:], stdout, stderr)
	case "probe":
		return labProbe(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, labUsage)
		return 0
	}
	fmt.Fprintf(stderr, "palisade lab: unknown command %q\n\n%s", args[0], labUsage)
	return 2
}

const defaultLabName = "lab"

// labFlagsUsage is the usage of a lab command: its synopsis, what it does,
// its flags.
func labFlagsUsage(fs *flag.FlagSet, synopsis, what string) func() {
	return func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n\nFlags:\n", synopsis, what)
		fs.PrintDefaults()
	}
}

func loadLab(name string, stderr io.Writer) (*lab.Lab, bool) {
	l, err := lab.Load(lab.DefaultStateDir, name)
	if err != nil {
		fmt.Fprintln(stderr, "palisade lab:", err)
		return nil, false
	}
	return l, true
}

func labExec(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("palisade lab exec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", defaultLabName, "lab `name`")
	fs.Usage = labFlagsUsage(fs, "palisade lab exec [--name N] INSTANCE -- CMD...", "Run a command inside an instance of a lab that is up (root only).")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	rest := fs.Args()
	if len(rest) < 2 {
		fmt.Fprintln(stderr, "usage: palisade lab exec [--name N] INSTANCE -- CMD...")
		return 2
	}
	inst, argv := rest[0], rest[1:]
	if argv[0] == "--" {
		argv = argv[1:]
	}
	l, ok := loadLab(*name, stderr)
	if !ok {
		return 1
	}
	if err := lab.Exec(l, inst, argv); err != nil {
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(stderr, "palisade lab exec:", err)
		return 1
	}
	return 0
}

func labProbe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("palisade lab probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", defaultLabName, "lab `name`")
	from := fs.String("from", "", "source: an instance ID or an outside address")
	to := fs.String("to", "", "destination: an instance ID or an outside address")
	proto := fs.String("proto", "tcp", "tcp, udp, icmp, icmpv6 or gre")
	port := portFlag(fs, "port", "destination `port` (tcp, udp)")
	sport := portFlag(fs, "source-port", "source `port` (default 40000)")
	ipv := fs.Int("ip-version", 0, "4 or 6")
	fs.Usage = labFlagsUsage(fs, "palisade lab probe [--name N] --from A --to B [--proto tcp] [--port N]",
		"Send one real packet (TCP connect, UDP exchange, ICMP echo, GRE) in a lab that is up and say\nwhether it was delivered (exit 0) or not (exit 3; 1 an error) (root only).")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	p, ok := model.ParseProtocol(*proto)
	if !ok || p == model.ALL || *from == "" || *to == "" {
		fmt.Fprintln(stderr, "usage: palisade lab probe --from A --to B [--proto tcp|udp|icmp|icmpv6|gre] [--port N]")
		return 2
	}
	l, found := loadLab(*name, stderr)
	if !found {
		return 1
	}
	r := lab.Probe(context.Background(), l, []lab.ProbeSpec{{From: *from, To: *to, Proto: p, Port: uint16(*port),
		SourcePort: uint16(*sport), IPVersion: *ipv}})[0]
	if r.Err != nil {
		fmt.Fprintln(stderr, "palisade lab probe:", r.Err)
		return 1
	}
	verdict := "not delivered"
	if r.Delivered {
		verdict = "delivered"
	}
	fmt.Fprintf(stdout, "%s -> %s %s %d: %s (%s; %s -> %s)\n", *from, *to, p, *port, verdict, r.Detail, r.Src, r.Dst)
	if !r.Delivered {
		return 3
	}
	return 0
}
