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
	"github.com/palisade-sg/palisade/internal/core/model"
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
	// Lab is the lab that played the flow, from 0: a file whose VPCs share
	// private addresses is played in several (Play).
	Lab int
	// NotPlayed, when set, says why no lab could play the flow; Kernel is
	// then unset.
	NotPlayed string
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
//
// A file whose VPCs share private addresses is played in several labs, one
// after the other (lab.Spec.Split): each holds every private address once,
// and its own server holds the whole scenario, so the agents enforce the
// same policy in each. Rows say which lab played them; a flow between two
// instances with one private address fits in no lab, and its row says so
// (NotPlayed) instead of a kernel verdict.
func Play(s *scenario.Scenario, name string, o Options) ([]Row, *FlowCheck, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spec := lab.SpecFromCloud(s.Cloud(), name, o.Hosts, outsideAddrs(s))
	spec.AttachENIs(s.ENIs) // each secondary ENI: eth<n> of its instance's namespace
	ends := make([][2]string, len(s.Flows))
	for i, f := range s.Flows {
		ends[i] = [2]string{f.From, f.To}
	}
	parts, unplayable := spec.Split(ends)
	rows, results, err := judge(s)
	if err != nil {
		return nil, nil, err
	}
	for i, why := range unplayable {
		rows[i].NotPlayed = why
	}
	var recs []service.FlowRecord
	for k, p := range parts {
		r, err := playPart(ctx, s, p, o, rows, results)
		if err != nil {
			if len(parts) > 1 {
				err = fmt.Errorf("lab %d of %d: %w", k+1, len(parts), err)
			}
			return nil, nil, err
		}
		for _, i := range p.Flows {
			rows[i].Lab = k
		}
		recs = append(recs, r...)
	}
	if !o.FlowLog {
		return rows, nil, nil
	}
	return rows, checkFlows(s, rows, results, recs), nil
}

// judge is the engine's verdict on every flow, in rows still to be played.
func judge(s *scenario.Scenario) ([]Row, []policy.Result, error) {
	d := policy.Compile(s.Cloud())
	rows := make([]Row, len(s.Flows))
	results := make([]policy.Result, len(s.Flows))
	for i, f := range s.Flows {
		res, err := policy.Evaluate(d, f.Flow)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", f.Line, err)
		}
		results[i] = res
		rows[i] = Row{Line: f.Line, Flow: scenario.FlowText(f.Flow), Expect: f.Expect, Engine: res.Verdict, Why: s.Explain(res)}
	}
	return rows, results, nil
}

// playPart plays the flows of one lab behind a server of its own, filling
// in their rows' kernel verdicts, and returns the flow log's records.
func playPart(ctx context.Context, s *scenario.Scenario, p lab.Part, o Options, rows []Row, results []policy.Result) ([]service.FlowRecord, error) {
	log := o.Log
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dir, err := os.MkdirTemp("", "palisade-play-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// The operator's key binds the instances and runs the agents; the
	// scenario's resources are imported into the first tenant.
	const keyID, secret = "LTAIpalisadelabplay00", "lab-play-secret"
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(dir, "palisade.db"),
		OperatorKeyID: keyID, OperatorKeySecret: secret, Log: log,
		// A flow log per NIC where its VPC is another account's (the
		// file's VPCs are the first tenant's): past ECS's 50 a file of
		// many such NICs stopped.
		Quotas: service.Quotas{FlowLogs: min(max(model.MaxFlowLogs, len(s.NICs())+len(s.VPCs)), service.MaxQuota)}})
	if err != nil {
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() { cancel(); <-served }()

	if _, err := srv.Ops.Import(ctx, Region, resources(s)); err != nil {
		return nil, err
	}
	l, err := lab.Up(ctx, p.Spec)
	if err != nil {
		return nil, err
	}
	defer l.Down()
	var owners []service.Caller
	if o.FlowLog {
		if owners, err = flowLogs(ctx, srv, s); err != nil {
			return nil, err
		}
	}
	stop, err := enforce(ctx, srv, l, keyID, secret, log)
	if err != nil {
		return nil, err
	}
	err = probe(ctx, s, l, p.Flows, rows, results)
	if err != nil || !o.FlowLog {
		stop()
		return nil, err
	}
	// Let the last drops' logs and connection events arrive; stopping the
	// agents ends their windows and ships the records.
	time.Sleep(flowWindow)
	stop()
	var out []service.FlowRecord
	for _, c := range owners {
		recs, err := srv.Ops.DescribeFlowRecords(ctx, service.FlowRecordFilter{Caller: c, Page: service.Page{Tokens: true, Size: math.MaxInt32}})
		if err != nil {
			return nil, err
		}
		out = append(out, recs.Items...)
	}
	return out, nil
}

// resources are copies of the scenario's resources for a server to import:
// Import gives the ownerless its first tenant, whose ID is new in each
// server, and a scenario played in several labs is imported by several.
func resources(s *scenario.Scenario) api.Resources {
	r := api.Resources{VPCs: copies(s.VPCs), PrefixLists: copies(s.PrefixLists), PortRangeLists: copies(s.PortRangeLists),
		Groups: copies(s.Groups), Instances: copies(s.Instances), ENIs: copies(s.ENIs)}
	for _, g := range r.Groups {
		g.Rules = slices.Clone(g.Rules) // Import sets their peers' owner
	}
	return r
}

// copies returns a copy of each of xs (nil for none).
func copies[T any](xs []*T) []*T {
	var out []*T
	for _, x := range xs {
		cp := *x
		out = append(out, &cp)
	}
	return out
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

// probe sends the flows idx as real packets and fills in what the kernel
// did in their rows.
func probe(ctx context.Context, s *scenario.Scenario, l *lab.Lab, idx []int, rows []Row, results []policy.Result) error {
	flows := make([]policy.Flow, len(idx))
	expected := make([]bool, len(idx))
	for j, i := range idx {
		flows[j] = s.Flows[i].Flow
		expected[j] = results[i].Verdict == policy.Accept || s.Flows[i].Expect == policy.Accept
	}
	kernel, err := lab.ProbeFlows(ctx, l, flows, lab.ProbeOptions{})
	if err != nil {
		return err
	}
	if err := lab.Recheck(ctx, l, flows, kernel, expected); err != nil {
		return err
	}
	for j, i := range idx {
		if kernel[j].Err != nil {
			return fmt.Errorf("line %d: probe: %w", s.Flows[i].Line, kernel[j].Err)
		}
		rows[i].Kernel, rows[i].Detail = policy.Drop, kernel[j].Detail
		if kernel[j].Delivered {
			rows[i].Kernel = policy.Accept
		}
	}
	return nil
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
