package cli

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/palisade-sg/palisade/internal/ingest/scenario"
	"github.com/palisade-sg/palisade/internal/lab/play"
)

// labPlay runs "palisade lab play FILE...": each scenario file is built in a
// fresh lab behind its own server, the agents enforce it, and every flow is
// sent as a real packet. A flow passes when the kernel delivers it exactly
// when the file expects, and the kernel and the engine agree.
func labPlay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("palisade lab play", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hosts := fs.Int("hosts", 2, "hosts to spread the instances over")
	flowLog := fs.Bool("flow-log", true, "turn a flow log on for every instance and check that each played flow's records name the engine's deciding rule on each side")
	verbose := fs.Bool("v", false, "log the agents")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: palisade lab play [--hosts N] [--flow-log=false] FILE...\n\nPlay scenario files with real packets in a network-namespace lab (root only), with a flow log on every instance whose records are held to the engine.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "palisade lab play: give one or more scenario files, e.g. palisade lab play testdata/scenarios/*.yaml")
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "palisade lab play: the lab needs root (network namespaces and nftables)")
		return 2
	}
	var scenarios []*scenario.Scenario
	for _, f := range fs.Args() {
		s, err := scenario.Load(f)
		if err != nil {
			fmt.Fprintln(stderr, "invalid scenario:", err)
			return 2
		}
		scenarios = append(scenarios, s)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	passed, failed, disagree, notPlayed := 0, 0, 0, 0
	var flows play.FlowCheck
	for i, s := range scenarios {
		rows, check, err := play.Play(s, fmt.Sprintf("play%d", i), play.Options{Hosts: *hosts, Log: log, FlowLog: *flowLog})
		if err != nil {
			fmt.Fprintf(stderr, "palisade lab play: %s: %v\n", s.File, err)
			return 1
		}
		p, f, d, n := printPlay(stdout, s, rows)
		passed, failed, disagree, notPlayed = passed+p, failed+f, disagree+d, notPlayed+n
		if check != nil {
			for _, pr := range check.Problems {
				fmt.Fprintf(stdout, "  flow log: %s\n", pr)
			}
			flows.Flows, flows.Recorded, flows.Agree = flows.Flows+check.Flows, flows.Recorded+check.Recorded, flows.Agree+check.Agree
		}
	}
	flowFailed := false
	if *flowLog {
		fmt.Fprintf(stdout, "flow log: %d flows recorded, %d agree", flows.Recorded, flows.Agree)
		if n := flows.Flows - flows.Recorded; n > 0 {
			fmt.Fprintf(stdout, " (%d played flows without a record)", n)
		}
		fmt.Fprintln(stdout)
		flowFailed = flows.Recorded != flows.Flows || flows.Agree != flows.Recorded
	}
	if notPlayed > 0 {
		// Said apart from the closing count, which they are not in: no lab
		// sent them, so they neither passed nor failed.
		fmt.Fprintf(stdout, "%d flows not played (their two ends share a private address; check judges them)\n", notPlayed)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 || disagree > 0 || flowFailed {
		return 1
	}
	return 0
}

// printPlay prints one scenario's rows and counts them. A file played in
// several labs (its VPCs share private addresses) says so first.
func printPlay(stdout io.Writer, s *scenario.Scenario, rows []play.Row) (passed, failed, disagree, notPlayed int) {
	title := s.File
	if s.Name != "" {
		title += ": " + s.Name
	}
	fmt.Fprintln(stdout, title)
	labs := 0
	for _, r := range rows {
		if r.NotPlayed == "" {
			labs = max(labs, r.Lab+1)
		}
	}
	if labs > 1 {
		fmt.Fprintf(stdout, "  played in %d labs one after the other: its VPCs share private addresses, and a lab holds each once\n", labs)
	}
	for _, r := range rows {
		if r.NotPlayed != "" {
			notPlayed++
			fmt.Fprintf(stdout, "  line %-4d %-44s expect %-6s kernel %-6s engine %-6s NOT PLAYED\n", r.Line, r.Flow, r.Expect, "-", r.Engine)
			fmt.Fprintf(stdout, "            %s\n", r.NotPlayed)
			continue
		}
		status := "ok"
		switch {
		case r.Kernel != r.Engine:
			status, disagree = "KERNEL AND ENGINE DISAGREE", disagree+1
		case r.Kernel != r.Expect:
			status = "FAIL"
		}
		if status == "ok" {
			passed++
		} else {
			failed++
		}
		where := ""
		if labs > 1 {
			where = fmt.Sprintf(" (lab %d)", r.Lab+1)
		}
		fmt.Fprintf(stdout, "  line %-4d %-44s expect %-6s kernel %-6s engine %-6s %s%s\n", r.Line, r.Flow, r.Expect, r.Kernel, r.Engine, status, where)
		if status != "ok" {
			fmt.Fprintf(stdout, "            engine: %s; kernel: %s\n", r.Why, r.Detail)
		}
	}
	return passed, failed, disagree, notPlayed
}
