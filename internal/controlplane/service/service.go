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
// One file per resource: groups.go, rules.go, membership.go, instances.go,
// vpcs.go, vswitches.go, eips.go (network.go: the address pools they share),
// prefixlists.go, tags.go, regions.go, accounts.go, hosts.go (the agents'
// side) and import.go. The shared base (callers here, transactions,
// loaders and paging in tx.go) is all they have in common. The analysis
// questions are package analyze, so that this package does not depend on
// the analysis tier.
package service

import (
	"context"
	"net/http"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
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
	// Stopping, when set, ends long polls early: the server cancels it before
	// a graceful shutdown so that waiting watchers get their answer at once.
	Stopping context.Context

	hosts *hostTable // what the agents report; see hosts.go
}

// New returns a service over a store, with a clock of whole seconds (the
// precision ECS shows times in).
func New(st store.Store) *Service {
	return &Service{Store: st, hosts: newHostTable(), Now: func() time.Time { return time.Now().UTC().Truncate(time.Second) }}
}

// Caller is who acts and in which region. Region may be empty for the few
// actions that take none (they act in the region of the resource named).
type Caller struct {
	Account string
	Region  string
}

// CallerOf resolves an access key to its account and checks the region.
// needRegion is false for the few actions that take no RegionId.
func (s *Service) CallerOf(ctx context.Context, accessKeyID, region string, needRegion bool) (Caller, error) {
	var c Caller
	err := s.Store.View(ctx, func(tx store.ReadTx) error {
		k, ok, err := store.GetAs[model.AccessKey](tx, KindAccessKey, accessKeyID)
		if err != nil {
			return err
		}
		if !ok {
			return ecserr.BadRequest("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
		}
		c.Account = k.Account
		return nil
	})
	if err != nil {
		return c, err
	}
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
