// Package service holds Palisade's actions as plain Go methods: typed inputs
// in, typed results or an *ecserr.Error out, no transport. Each action runs
// in one store transaction and enforces the invariants and quotas of its
// resources; field syntax and group rules come from package model, so the
// API, the scenario loader and the analyzers refuse the same inputs with
// the same codes.
//
// Callers: the RPC adapter (package api) reads ECS request parameters into
// these inputs and renders the results as ECS responses; a console calls
// the methods directly, with a Caller it authenticated itself
// (AccountCaller). A mutating input embeds Idempotency: a retry with its
// ClientToken returns the first result.
//
// Reads are served from an in-memory view of the store (package view),
// which New starts: typed, indexed, at a known revision, and never behind
// a write already answered (read-your-writes, linearizable with the
// sqlite store). Writes run in the store's transaction (group-committed by
// the sqlite backend) and check invariants against the view's indexes plus
// what changed since its revision (indexed.go), then answer once the view
// holds them.
//
// One file per resource: groups.go, rules.go, membership.go, instances.go,
// vpcs.go, vswitches.go, eips.go (network.go: the address pools they share),
// prefixlists.go, tags.go, regions.go, accounts.go, flowlogs.go and
// flowrecords.go (flow logs, and what the agents record for them), hosts.go
// (the agents' side) and import.go; quotas.go, how many of each an account
// may hold, counted from the view's indexes. The shared base (callers here, transactions,
// loaders and paging in tx.go) is all they have in common. The analysis
// questions are package analyze, so that this package does not depend on
// the analysis tier.
package service

import (
	"context"
	"net/http"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/flowstore"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Store kinds.
const (
	KindAccount    store.Kind = "account"
	KindAccessKey  store.Kind = "accesskey"
	KindVPC        store.Kind = "vpc"
	KindVSwitch    store.Kind = "vswitch"
	KindInstance   store.Kind = "instance"
	KindGroup      store.Kind = "securitygroup"
	KindPrefixList store.Kind = "prefixlist"
	// KindPortRangeList holds port range lists (prl-…).
	KindPortRangeList store.Kind = "portrangelist"
	KindEIP           store.Kind = "eip"
)

// Service implements the actions over a store.
type Service struct {
	Store store.Store
	Now   func() time.Time
	// LenientRevoke restores the pre-2024 ECS behaviour: revoking a rule that
	// does not exist, or leaving a group the instance is not in, succeeds.
	LenientRevoke bool
	// Quotas bound what each account may create (zero fields take
	// DefaultQuotas').
	Quotas Quotas
	// Stopping, when set, ends long polls early: the server cancels it before
	// a graceful shutdown so that waiting watchers get their answer at once.
	Stopping context.Context

	hosts *hostTable // what the agents report; see hosts.go
	// keyUses is when each key last signed an accepted request, to the
	// minute, in memory (keyuse.go); nil: not kept.
	keyUses *keyUseTable
	// hostLimits bound each host key's snapshots and watches
	// (hostlimits.go); nil: none.
	hostLimits *hostLimiter
	flows      *flowstore.Store // the agents' flow records; see flowrecords.go
	// FlowRecordsElsewhere says other servers keep flow records too (an
	// installation on etcd, where each server keeps what its agents
	// ship): this server's are not all of them. The server sets it.
	FlowRecordsElsewhere bool
	// PeerHits, on such an installation, asks the other servers for their
	// rule hits (FlowHitsAll); the server sets it.
	PeerHits PeerHits
	// FlowBatches, on such an installation, shares the tokens of the flow
	// batches between the servers (flowbatches.go), FlowServer naming
	// this server there; the server sets them.
	FlowBatches FlowBatches
	FlowServer  string
	// SharedHosts, on such an installation, tells every server the
	// revision each host's agent applied (hostshare.go); the server sets
	// it, runs RunSharedHosts, and calls NoteSharedApplied with what the
	// others recorded.
	SharedHosts SharedHosts
	sharing     *hostSharing // the revisions not yet written to SharedHosts
	// view is the store in memory that reads are served from (nil: reads
	// go to the store); see read.
	view *view.View
	// inStoreWrites runs every write in the store's transaction, as
	// before writes ran against the view outside it (updateOptimistic):
	// benchmarks compare the two.
	inStoreWrites bool
	// live is the last probe of the store before a heartbeat (liveness.go);
	// nil: not probed (a store on this machine: ProbeStore).
	live *liveness
	// Previewing marks the copy a plan runs a change on, whose writes are
	// rolled back: like a DryRun, it launches nothing, so it must not tell
	// what a DryRun would not (another account's classic addresses).
	Previewing bool
}

// New returns a service over a store, with a clock of whole seconds (the
// precision ECS shows times in).
func New(st store.Store) *Service {
	return &Service{Store: st, hosts: newHostTable(), sharing: &hostSharing{pending: map[string]pendingRev{}}, keyUses: &keyUseTable{}, flows: flowstore.Memory(), view: view.New(st, Kinds, Indexes...),
		Now: func() time.Time { return time.Now().UTC().Truncate(time.Second) }}
}

// Kinds are the kinds the service stores, with their model types: what the
// in-memory view keeps.
var Kinds = map[store.Kind]view.Decoder{
	KindAccount:    view.Decode[model.Account],
	KindAccessKey:  view.Decode[model.AccessKey],
	KindVPC:        view.Decode[model.VPC],
	KindVSwitch:    view.Decode[model.VSwitch],
	KindInstance:   view.Decode[model.Instance],
	KindGroup:      view.Decode[model.SecurityGroup],
	KindPrefixList: view.Decode[model.PrefixList],
	KindEIP:        view.Decode[model.EIP],

	KindPortRangeList: view.Decode[model.PortRangeList],
	KindENI:           view.Decode[model.NetworkInterface],
	KindFlowLog:       view.Decode[model.FlowLog],
	KindKeyPair:       view.Decode[model.KeyPair],
}

// InMemory is the view reads are served from (nil if the service reads the
// store), for the analysis and the agents' streams.
func (s *Service) InMemory() *view.View { return s.view }

// read runs fn on the state as of every write answered so far: a snapshot
// of the in-memory view, or a store transaction without one.
func (s *Service) read(ctx context.Context, fn func(tx store.ReadTx) error) error {
	if s.view == nil {
		return s.Store.View(ctx, fn)
	}
	snap, err := s.view.Snapshot(ctx)
	if err != nil {
		return err
	}
	return fn(snap)
}

// written waits until reads see a write the store committed at rev, so
// that a write answers only once the view holds it (read-your-writes).
// When reads themselves wait for every committed write (Linearizable),
// the write answers at once: the read that follows waits instead, if the
// view has not caught up by then, and the writer's next batch is not held
// up by the view.
func (s *Service) written(ctx context.Context, rev int64) error {
	if s.view == nil || rev == 0 || s.view.Linearizable() {
		return nil
	}
	_, err := s.view.Wait(ctx, rev)
	return err
}

// Caller is who acts and in which region. Region may be empty for the few
// actions that take none (they act in the region of the resource named).
type Caller struct {
	Account string
	Region  string
	// Operator is set for a key of the operator, who administers accounts
	// and hosts and is not a tenant.
	Operator bool
	// Host, when set, scopes the caller to one host: a host key may call
	// only the host actions, and only for that host.
	Host string
}

// CallerOf resolves an access key to its account and checks the region.
// needRegion is false for the few actions that take no RegionId.
func (s *Service) CallerOf(ctx context.Context, accessKeyID, region string, needRegion bool) (Caller, error) {
	var c Caller
	err := s.read(ctx, func(tx store.ReadTx) error {
		var err error
		c, err = keyCaller(tx, accessKeyID) // keys.go: refuses Inactive keys and disabled accounts
		return err
	})
	if err != nil {
		return c, err
	}
	return c.InRegion(region, needRegion)
}

// InRegion is the caller acting in region, after checking it; needRegion
// is false for the few actions that take no RegionId.
func (c Caller) InRegion(region string, needRegion bool) (Caller, error) {
	c.Region = region
	if c.Region == "" {
		if needRegion {
			return c, ecserr.MissingParameter("RegionId")
		}
		return c, nil
	}
	if _, ok := model.LookupRegion(c.Region); !ok {
		return c, ecserr.New(http.StatusNotFound, "InvalidRegionId.NotFound", "The specified RegionId %q does not exist; DescribeRegions lists the regions.", c.Region)
	}
	return c, nil
}

// AccountCaller is the Caller of an account already authenticated by other
// means (a console session), after checking the region as CallerOf does.
func AccountCaller(account, region string) (Caller, error) {
	if region == "" {
		return Caller{}, ecserr.MissingParameter("RegionId")
	}
	if _, ok := model.LookupRegion(region); !ok {
		return Caller{}, ecserr.New(http.StatusNotFound, "InvalidRegionId.NotFound", "The specified RegionId %q does not exist; DescribeRegions lists the regions.", region)
	}
	return Caller{Account: account, Region: region}, nil
}
