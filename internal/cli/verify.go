package cli

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/verify"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// verifyCmd runs "palisade verify --from A --to B --proto tcp --port N".
func verifyCmd(args []string, stdout, stderr io.Writer) int {
	s, fs := newSource("verify", true, stdout, stderr)
	from := fs.String("from", "", "source: an instance ID or an IP address")
	to := fs.String("to", "", "destination: an instance ID or an IP address")
	proto := fs.String("proto", "tcp", "protocol: tcp, udp, icmp, icmpv6 or gre")
	// Ports are read as the API reads them (decimal: flag.Int took 022
	// as octal, port 18).
	port := fs.String("port", "", "destination `port` (tcp, udp), 1 to 65535")
	sport := fs.String("source-port", "", "source `port` (default: an ephemeral port, 40000)")
	ipv := fs.Int("ip-version", 0, "4 or 6 (default: 6 if an address given is IPv6, else 4)")
	if _, code, done := parseAnalysisFlags(fs, args, stdout, "palisade verify --from A --to B [--proto tcp --port N] [--scenario FILE | --ecs-dir DIR | --ecs-region R | --endpoint HOST:PORT] [--json]\n\nExit status: 0 the flow is accepted, 3 it is dropped, 1 an error, 2 bad usage."); done {
		return code
	}
	num := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	if p := strings.ToLower(*proto); (p == "tcp" || p == "udp") && *port == "" {
		// Without --port the flow would be judged for port 0, a verdict
		// that answers no question anyone asked.
		fmt.Fprintf(stderr, "palisade verify: --port is required for %s (e.g. --port 22)\nRun \"palisade verify --help\" for its flags.\n", p)
		return 2
	}
	// The flags are checked here, offline or not: a bad one is bad usage
	// (2), not an error of the server's (1).
	f, err := verify.ParseFlow(*from, *to, *proto, *port, *sport, num(*ipv))
	if err != nil {
		fmt.Fprintf(stderr, "palisade verify: %v\nRun \"palisade verify --help\" for its flags.\n", err)
		return 2
	}
	var r verify.Report
	if s.offline() {
		c, err := s.cloud()
		if err != nil {
			return s.fail(err)
		}
		// An outside end as the server and the scenario's own flows
		// have it (reach.NotOutside).
		for _, end := range []string{f.From, f.To} {
			if a, err := netip.ParseAddr(end); err == nil {
				if why := reach.NotOutside("", s.vpcs, maps.Values(c.Instances), a); why != "" {
					return s.fail(errors.New(why))
				}
			}
		}
		if r, err = verify.Flow(policy.Compile(c), f); err != nil {
			return s.fail(err)
		}
	} else {
		params := map[string]string{"From": *from, "To": *to, "Protocol": *proto, "Port": *port,
			"SourcePort": *sport, "IpVersion": num(*ipv)}
		if err := s.call("PalisadeVerifyFlow", params, &r); err != nil {
			return s.fail(err)
		}
	}
	if s.asJSON {
		s.printJSON(r)
	} else {
		r.Write(stdout)
	}
	if r.Verdict != string(policy.Accept) {
		return 3 // scripts can tell a dropped flow from an error (1) or bad usage (2)
	}
	return 0
}
