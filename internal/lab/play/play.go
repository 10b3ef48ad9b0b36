// Package play plays a scenario file on real packets: its own server holds
// the scenario's resources, a lab holds its instances, one agent per host
// enforces them with nftables, and every flow is sent as a real packet and
// compared with the file's expectation and the engine's verdict. It is what
// "palisade lab play" runs; the CLI only reads flags and prints rows.
package play

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/agent"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
	"github.com/palisade-sg/palisade/internal/lab"
)

// Region is where a played scenario's resources live.
const Region = "cn-hangzhou"

// Row is one flow of a scenario as played: what the file expects, what the
// kernel did with a real packet and what the engine says, with the engine's
// explanation and the probe's detail.
type Row struct {
	Line                   int
	Flow                   string
	Expect, Kernel, Engine policy.Verdict
	Why, Detail            string
}

// Options say how to play a scenario.
type Options struct {
	Hosts int
	Log   *slog.Logger
	// FlowLog turns a flow log on for every NIC (flowlog.go) and holds
	// what it records to the engine.
	FlowLog bool
}

// flowWindow is the agents' capture window when a scenario is played with
// a flow log.
const flowWindow = time.Second

// Play is Scenario with options; with o.FlowLog it also returns the flow
// log's check.
func Play(s *scenario.Scenario, name string, o Options) ([]Row, *FlowCheck, error) {
	hosts, log := o.Hosts, o.Log
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "palisade-play-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	// The operator's key binds the instances and runs the agents; the
	// scenario's resources are imported into the first tenant.
	const keyID, secret = "LTAIpalisadelabplay00", "lab-play-secret"
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(dir, "palisade.db"),
		OperatorKeyID: keyID, OperatorKeySecret: secret, Log: log})
	if err != nil {
		return nil, nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() { cancel(); <-served }()

	if _, err := srv.Ops.Import(ctx, Region, api.Resources{VPCs: s.VPCs, PrefixLists: s.PrefixLists, PortRangeLists: s.PortRangeLists,
		Groups: s.Groups, Instances: s.Instances, ENIs: s.ENIs}); err != nil {
		return nil, nil, err
	}
	spec := lab.SpecFromCloud(s.Cloud(), name, hosts, outsideAddrs(s))
	spec.AttachENIs(s.ENIs) // each secondary ENI: eth<n> of its instance's namespace
	l, err := lab.Up(ctx, spec)
	if err != nil {
		return nil, nil, err
	}
	defer l.Down()
	var owner service.Caller
	if o.FlowLog {
		if owner, err = flowLogs(ctx, srv, s); err != nil {
			return nil, nil, err
		}
	}
	stop, err := enforce(ctx, srv, l, keyID, secret, log)
	if err != nil {
		return nil, nil, err
	}
	rows, results, err := probe(ctx, s, l)
	if err != nil || !o.FlowLog {
		stop()
		return rows, nil, err
	}
	// Let the last drops' logs and connection events arrive; stopping the
	// agents ends their windows and ships the records.
	time.Sleep(flowWindow)
	stop()
	recs, err := srv.Ops.DescribeFlowRecords(ctx, service.FlowRecordFilter{Caller: owner, Page: service.Page{Tokens: true, Size: math.MaxInt32}})
	if err != nil {
		return nil, nil, err
	}
	return rows, checkFlows(s, rows, results, recs.Items), nil
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
// server's revision. The agents stop with ctx, or at stop, which returns
// once they have (and have shipped their flow records).
func enforce(ctx context.Context, srv *server.Server, l *lab.Lab, keyID, secret string, log *slog.Logger) (stop func(), err error) {
	api, err := apiclient.New(srv.Addr, keyID, secret, Region)
	if err != nil {
		return nil, err
	}
	if err := Bind(ctx, api, l); err != nil {
		return nil, err
	}
	target, err := srv.Store.Revision(ctx)
	if err != nil {
		return nil, err
	}
	return runAgents(ctx, l, srv.Addr, keyID, secret, target, log)
}

// probe sends every flow as a real packet and returns, for each,
// what the file expects, what the kernel did and what the engine says.
func probe(ctx context.Context, s *scenario.Scenario, l *lab.Lab) ([]Row, []policy.Result, error) {
	flows := make([]policy.Flow, len(s.Flows))
	for i, f := range s.Flows {
		flows[i] = f.Flow
	}
	kernel, err := lab.ProbeFlows(ctx, l, flows, lab.ProbeOptions{})
	if err != nil {
		return nil, nil, err
	}
	d := policy.Compile(s.Cloud())
	results := make([]policy.Result, len(flows))
	expected := make([]bool, len(flows))
	for i, f := range s.Flows {
		if results[i], err = policy.Evaluate(d, f.Flow); err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", f.Line, err)
		}
		expected[i] = results[i].Verdict == policy.Accept || f.Expect == policy.Accept
	}
	if err := lab.Recheck(ctx, l, flows, kernel, expected); err != nil {
		return nil, nil, err
	}
	var rows []Row
	for i, f := range s.Flows {
		if kernel[i].Err != nil {
			return nil, nil, fmt.Errorf("line %d: probe: %w", f.Line, kernel[i].Err)
		}
		res := results[i]
		k := policy.Drop
		if kernel[i].Delivered {
			k = policy.Accept
		}
		rows = append(rows, Row{Line: f.Line, Flow: scenario.FlowText(f.Flow), Expect: f.Expect, Kernel: k,
			Engine: res.Verdict, Why: s.Explain(res), Detail: kernel[i].Detail})
	}
	return rows, results, nil
}

// runAgents starts one agent per host that holds an instance (in this
// process, each programming its host's namespace) and waits until all
// have applied revision target. A host without one has nothing to filter,
// and its agent would only warn that nothing is bound to it. The agents
// stop with ctx.
func runAgents(ctx context.Context, l *lab.Lab, endpoint, keyID, secret string, target int64, log *slog.Logger) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	var running sync.WaitGroup
	stop = func() { cancel(); running.Wait() }
	var mu sync.Mutex
	applied := map[string]int64{}
	hosts := busyHosts(l.Spec)
	ready := make(chan struct{}, len(hosts))
	failed := make(chan error, len(hosts))
	for _, h := range hosts {
		running.Add(1)
		go func() {
			defer running.Done()
			err := agent.Run(ctx, agent.Config{Server: endpoint, AccessKeyID: keyID, Secret: secret, Host: h,
				Netns: l.HostNetns(h), NFT: nft.Options{InterfacePrefix: lab.IfacePrefix, MergeRuns: true}, Log: log,
				Flow: agent.FlowConfig{Window: flowWindow},
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
	for range hosts {
		select {
		case <-ready:
		case err := <-failed:
			stop()
			return nil, err
		case <-timeout:
			stop()
			return nil, errors.New("the agents did not apply the policy within 60 s")
		}
	}
	return stop, nil
}

// Bind places every instance of a lab on its host and interface through
// the API, as a hypervisor would when it plugs the instance in.
func Bind(ctx context.Context, api *apiclient.Client, l *lab.Lab) error {
	for _, in := range l.Spec.Instances {
		params := map[string]string{"InstanceId": in.ID, "HostName": in.Host, "Interface": l.Interface(in.ID)}
		if in.NICOf != "" { // a secondary ENI: bound on its own interface
			delete(params, "InstanceId")
			params["NetworkInterfaceId"] = in.ID
		}
		if err := api.Call(ctx, "PalisadeBindInstance", params, nil, 0); err != nil {
			return fmt.Errorf("binding %s: %w", in.ID, err)
		}
	}
	return nil
}

// busyHosts are the hosts of a lab that hold an instance or ENI, in the
// spec's order.
func busyHosts(s lab.Spec) []string {
	return slices.DeleteFunc(slices.Clone(s.Hosts), func(h string) bool {
		return !slices.ContainsFunc(s.Instances, func(in lab.Instance) bool { return in.Host == h })
	})
}
