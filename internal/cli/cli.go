// Package cli implements the palisade commands.
package cli

import (
	"fmt"
	"io"
)

const usage = `palisade: cloud security groups on your own hosts

Usage:
  palisade serve [--listen 127.0.0.1:8080] [--db ./palisade.db] [--etcd URLS | --cluster-init | --join URL] [--tls-cert FILE --tls-key FILE | --tls-self-signed DIR]
  palisade check FILE...                 evaluate scenario files with the policy engine
  palisade apply FILE [--yes] [--dry-run] [--prune] [--json]
                                         converge the account (--endpoint) to a scenario file, after showing the plan
  palisade agent --server HOST:PORT --host NAME
                                         enforce the groups of the instances bound to this host (nftables)
  palisade lab up|exec|probe|down|play ...
                                         a lab of network namespaces enforcing real packets (root)
  palisade verify --from A --to B --proto tcp --port N
                                         the verdict of one flow and the rule that decides it
  palisade effective INSTANCE          an instance's pooled, ordered rules, with shadowed and redundant ones
  palisade reach [--to X] [--port N] [--from internet] [--graph|--dot]
                                         what passes between instances, groups and the internet
  palisade plan --action ACTION --param K=V...
                                         the flows a change would open and close, before it is applied
  palisade audit [--fail-on SEVERITY] [--config FILE] [--skip IDS]
                                         best-practice checks SGA-001 … on the effective policies

  The analysis commands (verify, effective, reach, plan, audit) work against a
  server (--endpoint) or offline: --scenario FILE, --ecs-dir DIR (saved ECS
  Describe* responses) or --ecs-region REGION (a real ECS account, read live);
  plan offline takes only --scenario FILE.

  palisade sg list|show|create|authorize|revoke|delete|counters|clone ...
  palisade instance list|show|create|delete|start|stop|set-groups ...
  palisade vpc list|create|delete|vswitch-create|vswitch-list|vswitch-delete ...
  palisade key create|list|disable|enable|delete ...
                                         your account's access keys (RAM API)
  palisade account create|list|disable|quota ...
  palisade host register|deregister|list ...
                                         the operator's: tenants and their quotas, and host keys for agents

  palisade events [--action A] [--resource ID] [--since 24h] [--max N] [--json | --jsonl]
                                         the event trail: every change and refused call, newest first
  palisade flows [--instance ID] [--group ID] [--verdict accept|reject] [--since 1h] [--follow] [--json]
                                         the flow records of your flow logs, each with the rule that decided it

  palisade db backup [--db FILE | --etcd URL] OUT
                                         a consistent copy of the state (SQLite copy, etcd snapshot)
  palisade db migrate [--from FILE] --to-etcd URLS | --cluster-init
                                         move a single-machine installation into etcd, keeping IDs and revisions

  palisade version                       the build's version, VCS revision and Go version (also --version)

Run "palisade COMMAND --help" for a command's flags. The client commands use
the official Alibaba Cloud SDK and take --endpoint, --region and the key from
PALISADE_ACCESS_KEY_ID / PALISADE_ACCESS_KEY_SECRET (or ALIBABA_CLOUD_*).
`

// Main runs a command and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "apply":
		return applyCmd(args[1:], stdout, stderr)
	case "lab":
		return labCmd(args[1:], stdout, stderr)
	case "agent":
		return agentCmd(args[1:], stdout, stderr)
	case "verify":
		return verifyCmd(args[1:], stdout, stderr)
	case "effective":
		return effectiveCmd(args[1:], stdout, stderr)
	case "reach":
		return reachCmd(args[1:], stdout, stderr)
	case "plan":
		return planCmd(args[1:], stdout, stderr)
	case "audit":
		return auditCmd(args[1:], stdout, stderr)
	case "events":
		return eventsCmd(args[1:], stdout, stderr)
	case "db":
		return dbCmd(args[1:], stdout, stderr)
	case "flows":
		return flowsCmd(args[1:], stdout, stderr)
	case "sg", "instance", "vpc", "account", "key", "host":
		return client(args[0], args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return printVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "palisade: unknown command %q\n\n%s", args[0], usage)
	return 2
}
