package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/lab/labctl"
)

func labUp(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("palisade lab up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", defaultLabName, "lab `name` (1 to 12 lowercase letters and digits)")
	hosts := fs.Int("hosts", 2, "hosts, each with its own agent")
	instances := fs.Int("instances", 4, "instances (half of them get an EIP)")
	serverAddr := fs.String("server", "", "register in this Palisade server `HOST:PORT` instead of starting one: a tenant's key from\n"+
		"PALISADE_ACCESS_KEY_ID/_SECRET registers the cloud, the operator's from PALISADE_OPERATOR_KEY_ID/_SECRET binds it and runs the agents")
	fs.Usage = labFlagsUsage(fs, "palisade lab up [--name N] [--hosts N] [--instances M] [--server HOST:PORT]",
		"Build hosts (each with its agent), instances, a fabric and an internet in network namespaces,\nand register everything in a server (its own, or --server) (root only); palisade lab down removes it.")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if *hosts < 1 || *instances < 1 || *instances > 100 {
		fmt.Fprintln(stderr, "palisade lab up: --hosts must be at least 1 and --instances between 1 and 100")
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "palisade lab up: the lab needs root (network namespaces and nftables)")
		return 2
	}
	if _, err := os.Stat(labctl.ControlPath(*name)); err == nil {
		fmt.Fprintf(stderr, "palisade lab up: lab %s is already up; take it down first (palisade lab down --name %s)\n", *name, *name)
		return 1
	}
	id, secret, _ := credentials()
	op := labctl.Key{ID: os.Getenv("PALISADE_OPERATOR_KEY_ID"), Secret: os.Getenv("PALISADE_OPERATOR_KEY_SECRET")}
	ctl, err := labctl.Up(*name, *hosts, *instances, *serverAddr, labctl.Key{ID: id, Secret: secret}, op, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "palisade lab up:", err)
		if ctl != nil {
			labctl.Down(*name, ctl)
		}
		return 1
	}
	return 0
}

func labDown(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("palisade lab down", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", defaultLabName, "lab `name`")
	fs.Usage = labFlagsUsage(fs, "palisade lab down [--name N]", "Stop the lab's agents and server and remove every namespace it made (root only).")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if err := lab.CheckName(*name); err != nil {
		fmt.Fprintln(stderr, "palisade lab down:", err)
		return 2
	}
	var ctl labctl.Control
	if b, err := os.ReadFile(labctl.ControlPath(*name)); err == nil {
		json.Unmarshal(b, &ctl)
	}
	if err := labctl.Down(*name, &ctl); err != nil {
		fmt.Fprintln(stderr, "palisade lab down:", err)
		return 1
	}
	fmt.Fprintf(stdout, "lab %q is down\n", *name)
	return 0
}
