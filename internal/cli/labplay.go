package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/agent"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
	"github.com/palisade-sg/palisade/internal/lab"
)

// labPlay runs "palisade lab play FILE...": each scenario file is built in a
// fresh lab behind its own server, the agents enforce it, and every flow is
// sent as a real packet. A flow passes when the kernel delivers it exactly
// when the file expects, and the kernel and the engine agree.
func labPlay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("palisade lab play", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hosts := fs.Int("hosts", 2, "hosts to spread the instances over")
	verbose := fs.Bool("v", false, "log the agents")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: palisade lab play [--hosts N] FILE...\n\nPlay scenario files with real packets in a network-namespace lab (root only).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
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
	passed, failed, disagree := 0, 0, 0
	for i, s := range scenarios {
		rows, err := playScenario(s, fmt.Sprintf("play%d", i), *hosts, log)
		if err != nil {
			fmt.Fprintf(stderr, "palisade lab play: %s: %v\n", s.File, err)
			return 1
		}
		p, f, d := printPlay(stdout, s, rows)
		passed, failed, disagree = passed+p, failed+f, disagree+d
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 || disagree > 0 {
		return 1
	}
	return 0
}

// printPlay prints one scenario's rows and counts them.
func printPlay(stdout io.Writer, s *scenario.Scenario, rows []playRow) (passed, failed, disagree int) {
	title := s.File
	if s.Name != "" {
		title += ": " + s.Name
	}
	fmt.Fprintln(stdout, title)
	for _, r := range rows {
		status := "ok"
		switch {
		case r.kernel != r.engine:
			status, disagree = "KERNEL AND ENGINE DISAGREE", disagree+1
		case r.kernel != r.expect:
			status = "FAIL"
		}
		if status == "ok" {
			passed++
		} else {
			failed++
		}
		fmt.Fprintf(stdout, "  line %-4d %-44s expect %-6s kernel %-6s engine %-6s %s\n", r.line, r.flow, r.expect, r.kernel, r.engine, status)
		if status != "ok" {
			fmt.Fprintf(stdout, "            engine: %s; kernel: %s\n", r.why, r.detail)
		}
	}
	return passed, failed, disagree
}

type playRow struct {
	line                   int
	flow                   string
	expect, kernel, engine policy.Verdict
	why, detail            string
}

// playScenario builds one scenario in a lab and plays its flows: a server
// with the scenario's resources, a lab with the scenario's instances and
// outside addresses, the instances bound and enforced by one agent per host,
// then every flow probed and compared with the engine.
func playScenario(s *scenario.Scenario, name string, hosts int, log *slog.Logger) ([]playRow, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "palisade-play-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	const keyID, secret = "LTAIpalisadelabplay00", "lab-play-secret"
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(dir, "palisade.db"),
		AccessKeyID: keyID, AccessKeySecret: secret, Log: log})
	if err != nil {
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() { cancel(); <-served }()

	if _, err := srv.Ops.Import(ctx, defaultRegion, api.Resources{VPCs: s.VPCs, PrefixLists: s.PrefixLists,
		Groups: s.Groups, Instances: s.Instances}); err != nil {
		return nil, err
	}
	l, err := lab.Up(ctx, lab.SpecFromCloud(s.Cloud(), name, hosts, outsideAddrs(s)))
	if err != nil {
		return nil, err
	}
	defer l.Down()
	if err := enforce(ctx, srv, l, keyID, secret, log); err != nil {
		return nil, err
	}
	return probeScenario(ctx, s, l)
}

// outsideAddrs are the addresses of a scenario's flows that are no
// instance's: the lab gives them to the outside.
func outsideAddrs(s *scenario.Scenario) []netip.Addr {
	var outside []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, f := range s.Flows {
		for _, end := range []string{f.From, f.To} {
			if a, err := netip.ParseAddr(end); err == nil && !seen[a] {
				seen[a] = true
				outside = append(outside, a)
			}
		}
	}
	return outside
}

// enforce places the instances through the API, as a hypervisor would, and
// lets one agent per host enforce them, waiting until all have applied the
// server's revision. The agents stop with ctx.
func enforce(ctx context.Context, srv *server.Server, l *lab.Lab, keyID, secret string, log *slog.Logger) error {
	api, err := apiclient.New(srv.Addr, keyID, secret, defaultRegion)
	if err != nil {
		return err
	}
	if err := bindLab(ctx, api, l); err != nil {
		return err
	}
	target, err := srv.Store.Revision(ctx)
	if err != nil {
		return err
	}
	return runAgents(ctx, l, srv.Addr, keyID, secret, target, log)
}

// probeScenario sends every flow as a real packet and returns, for each,
// what the file expects, what the kernel did and what the engine says.
func probeScenario(ctx context.Context, s *scenario.Scenario, l *lab.Lab) ([]playRow, error) {
	flows := make([]policy.Flow, len(s.Flows))
	for i, f := range s.Flows {
		flows[i] = f.Flow
	}
	kernel, err := lab.ProbeFlows(ctx, l, flows, lab.ProbeOptions{})
	if err != nil {
		return nil, err
	}
	d := policy.Compile(s.Cloud())
	results := make([]policy.Result, len(flows))
	expected := make([]bool, len(flows))
	for i, f := range s.Flows {
		if results[i], err = policy.Evaluate(d, f.Flow); err != nil {
			return nil, fmt.Errorf("line %d: %w", f.Line, err)
		}
		expected[i] = results[i].Verdict == policy.Accept || f.Expect == policy.Accept
	}
	if err := lab.Recheck(ctx, l, flows, kernel, expected); err != nil {
		return nil, err
	}
	var rows []playRow
	for i, f := range s.Flows {
		if kernel[i].Err != nil {
			return nil, fmt.Errorf("line %d: probe: %w", f.Line, kernel[i].Err)
		}
		res := results[i]
		k := policy.Drop
		if kernel[i].Delivered {
			k = policy.Accept
		}
		rows = append(rows, playRow{line: f.Line, flow: scenario.FlowText(f.Flow), expect: f.Expect, kernel: k,
			engine: res.Verdict, why: s.Explain(res), detail: kernel[i].Detail})
	}
	return rows, nil
}

// runAgents starts one agent per host (in this process, each programming
// its host's namespace) and waits until all have applied revision target.
// The agents stop with ctx.
func runAgents(ctx context.Context, l *lab.Lab, endpoint, keyID, secret string, target int64, log *slog.Logger) error {
	var mu sync.Mutex
	applied := map[string]int64{}
	ready := make(chan struct{}, len(l.Spec.Hosts))
	failed := make(chan error, len(l.Spec.Hosts))
	for _, h := range l.Spec.Hosts {
		go func() {
			err := agent.Run(ctx, agent.Config{Server: endpoint, AccessKeyID: keyID, Secret: secret, Host: h,
				Netns: l.HostNetns(h), NFT: nft.Options{InterfacePrefix: lab.IfacePrefix, MergeRuns: true}, Log: log,
				OnApplied: func(rev int64, _ nft.Stats) {
					mu.Lock()
					defer mu.Unlock()
					if applied[h] < target && rev >= target {
						ready <- struct{}{}
					}
					applied[h] = max(applied[h], rev)
				}})
			if err != nil {
				failed <- fmt.Errorf("agent of %s: %w", h, err)
			}
		}()
	}
	timeout := time.After(60 * time.Second)
	for range l.Spec.Hosts {
		select {
		case <-ready:
		case err := <-failed:
			return err
		case <-timeout:
			return errors.New("the agents did not apply the policy within 60 s")
		}
	}
	return nil
}

// bindLab places every instance of a lab on its host and interface through
// the API, as a hypervisor would when it plugs the instance in.
func bindLab(ctx context.Context, api *apiclient.Client, l *lab.Lab) error {
	for _, in := range l.Spec.Instances {
		if err := api.Call(ctx, "PalisadeBindInstance", map[string]string{"InstanceId": in.ID,
			"HostName": in.Host, "Interface": l.Interface(in.ID)}, nil, 0); err != nil {
			return fmt.Errorf("binding %s: %w", in.ID, err)
		}
	}
	return nil
}
