package cli

import (
	"flag"
	"slices"
	"strings"
	"testing"
)

// TestCommandHelp: every command answers --help (and -h) with its usage on
// stdout and exit 0, and a bad flag with a short error on stderr, exit 2.
// check, agent and the lab commands used to print their usage on stderr
// and exit 2, as for an error.
func TestCommandHelp(t *testing.T) {
	cmds := [][]string{
		{"serve"}, {"check"}, {"agent"}, {"apply"}, {"verify"}, {"effective"}, {"reach"}, {"plan"}, {"audit"},
		{"events"}, {"flows"}, {"lab", "up"}, {"lab", "exec"}, {"lab", "probe"}, {"lab", "down"}, {"lab", "play"},
	}
	for _, cmd := range cmds {
		name := strings.Join(cmd, " ")
		for _, h := range []string{"--help", "-h"} {
			code, out, errs := palisade(append(cmd, h)...)
			if code != 0 || !strings.Contains(out, "Usage: palisade "+name) || errs != "" {
				t.Errorf("palisade %s %s: exit %d, stdout %q, stderr %q; want exit 0 and the usage on stdout", name, h, code, out, errs)
			}
		}
	}
	// Each analysis command offers the sources it takes: plan previews a
	// change where it can run (a server or a scenario), not on ECS reads.
	for _, tc := range []struct {
		cmd string
		ecs bool
	}{{"verify", true}, {"effective", true}, {"reach", true}, {"audit", true}, {"plan", false}} {
		_, out, _ := palisade(tc.cmd, "--help")
		if got := strings.Contains(out, "-ecs-dir") && strings.Contains(out, "-ecs-region"); got != tc.ecs {
			t.Errorf("palisade %s --help offers --ecs-dir and --ecs-region: %v, want %v\n%s", tc.cmd, got, tc.ecs, out)
		}
	}
	// The agent's help says how to reach a server that serves HTTPS.
	if _, out, _ := palisade("agent", "--help"); !strings.Contains(out, "https://HOST:PORT") {
		t.Errorf("palisade agent --help does not say how to reach an HTTPS server:\n%s", out)
	}
	// A bad flag is named, with a pointer to --help instead of the whole
	// usage.
	for _, cmd := range [][]string{{"serve"}, {"check"}, {"agent"}, {"lab", "up"}, {"lab", "exec"}, {"lab", "probe"}, {"lab", "down"}, {"lab", "play"},
		{"sg", "list"}, {"verify"}, {"audit"}, {"apply"}, {"events"}, {"flows"}, {"db", "backup"}, {"db", "migrate"}} {
		name := strings.Join(cmd, " ")
		code, out, errs := palisade(append(cmd, "--no-such-flag")...)
		if code != 2 || out != "" || !strings.Contains(errs, "flag provided but not defined: -no-such-flag") ||
			!strings.Contains(errs, `Run "palisade `+name+` --help"`) || strings.Count(errs, "\n") > 2 {
			t.Errorf("palisade %s --no-such-flag: exit %d, stdout %q, stderr %q; want exit 2 and a two-line error", name, code, out, errs)
		}
	}
}

// TestCommandMissingArguments: a command run without what it needs says
// what to give, in one line, and exits 2.
func TestCommandMissingArguments(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"check"}, "give one or more scenario files"},
		{[]string{"agent"}, "--host NAME is required"},
		{[]string{"agent", "--host", "h1", "extra"}, `unexpected argument "extra"`},
		{[]string{"agent", "--host", "h1", "--check-every", "10ms"}, "--check-every is at least 100ms"},
		{[]string{"agent", "--host", "h1", "--check-every", "-1s"}, "--check-every is at least 100ms"},
		{[]string{"agent", "--host", "h1", "--flow-window", "1ns"}, "--flow-window is at least 100ms"},
		{[]string{"agent", "--host", "h1", "--flow-window", "-1m"}, "--flow-window is at least 100ms"},
		{[]string{"lab", "play"}, "give one or more scenario files"},
	}
	for _, tt := range tests {
		code, out, errs := palisade(tt.args...)
		if code != 2 || out != "" || !strings.Contains(errs, tt.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("palisade %s: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", strings.Join(tt.args, " "), code, out, errs, tt.want)
		}
	}
}

// TestMainUsageListsSubcommands: "palisade --help" names every subcommand
// of each client command (it lacked sg counters and clone, vpc
// vswitch-delete).
func TestMainUsageListsSubcommands(t *testing.T) {
	code, out, _ := palisade("--help")
	if code != 0 {
		t.Fatalf("palisade --help: exit %d", code)
	}
	for group, cmds := range clientGroups {
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "palisade "+group+" ") {
				line = l
				break
			}
		}
		if line == "" {
			t.Errorf("the usage has no line for palisade %s", group)
			continue
		}
		f := strings.Fields(line)
		names := strings.Split(f[2], "|")
		for _, c := range cmds {
			if !slices.Contains(names, c.name) {
				t.Errorf("the usage's line %q lacks %s %s", strings.TrimSpace(line), group, c.name)
			}
		}
	}
}

func TestHelpAsked(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("name", "", "")
	fs.Bool("v", false, "")
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"-h"}, true},
		{[]string{"--help"}, true},
		{[]string{"--name", "x", "-help"}, true},
		{[]string{"-v", "-h"}, true},
		{[]string{"--name", "-h"}, false}, // -h is --name's value
		{[]string{"i-1", "ls", "-h"}, false},
		{[]string{"--name", "lab", "i-1", "--", "ls", "-h"}, false},
		{[]string{"--", "-h"}, false},
	}
	for _, tt := range tests {
		if got := helpAsked(fs, tt.args); got != tt.want {
			t.Errorf("helpAsked(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}
