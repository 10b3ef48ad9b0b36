package service

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Hits per deciding entry, from the flow records the server keeps
// (flowrecords.go): how many records named a rule (or an implicit entry),
// their packets and bytes, and when the last of them ended. They complement
// the agents' counters (hosts.go), which count every packet since a rule
// was installed but say nothing of when: a last hit says whether a rule
// was needed lately, as far as flow logs covered its instances.

// RuleHit is what the records kept say of one deciding entry.
type RuleHit struct {
	Flows   int // records naming it
	Packets uint64
	Bytes   uint64
	LastHit int64 // the newest End among them, Unix seconds; 0: none
}

// HitKey names a deciding entry as FlowHits keys it: a rule by its group
// and ID ("sg-…/sgr-…"), an implicit entry by its direction (model's
// ingress or egress), reason and group (intra-group access; "" for a
// default).
func HitKey(dir model.Direction, reason, group, rule string) string {
	if rule != "" {
		return group + "/" + rule
	}
	if reason != string(policy.IntraGroup) {
		group = "" // a default belongs to no group
	}
	return string(dir) + "|" + reason + "|" + group
}

// HitsFilter selects the records FlowHits counts.
type HitsFilter struct {
	// ENI, if set, counts only the records of this network interface.
	ENI string
	// Since, if set, counts only records that ended at or after it.
	Since time.Time
	// CountersOf, a group of the account, asks each server for its
	// agents' rule counters of that group besides (HitsPart.Counters):
	// an agent reports them to one server (RuleCounters).
	CountersOf string
}

// FlowHits counts an account's records per deciding entry (keys as
// HitKey). The account is the caller's to give: it reads nothing else.
func (s *Service) FlowHits(account string, f HitsFilter) map[string]RuleHit {
	out := map[string]RuleHit{}
	since := int64(0)
	if !f.Since.IsZero() {
		since = f.Since.Unix()
	}
	for _, r := range s.flowStore().Newest(account, s.Now()) {
		if f.ENI != "" && r.EniId != f.ENI || r.End < since {
			continue
		}
		dir := model.Ingress
		if r.Direction == "out" {
			dir = model.Egress
		}
		k := HitKey(dir, r.Reason, r.SecurityGroupId, r.SecurityGroupRuleId)
		h := out[k]
		h.Flows++
		h.Packets = addSat(h.Packets, r.Packets, math.MaxUint64) // a host's counts are its own to give
		h.Bytes = addSat(h.Bytes, r.Bytes, math.MaxUint64)
		h.LastHit = max(h.LastHit, r.End)
		out[k] = h
	}
	return out
}

// ListOwn lists the records of one kind in the caller's account and region
// (every region when the caller names none).
func ListOwn[T any](tx store.ReadTx, kind store.Kind, c Caller) ([]*T, error) {
	return listWhere[T](tx, kind, store.Query{Account: c.Account, Region: c.Region})
}

// FlowRecordsSince is the time since when this server holds every flow
// record of account shipped to it: before it, retention by age, size or
// the account's count cap dropped some, or the store did not exist yet.
func (s *Service) FlowRecordsSince(account string) time.Time {
	return s.flowStore().CompleteSince(account, s.Now())
}

// On an installation of several servers (etcd) each keeps the records its
// agents shipped to it, so a rule hit only through another server looks
// unused here. FlowHitsAll counts every live server's: this one's, and the
// others' asked for through PeerHits.

// PeerHits asks the other live servers of the installation for their own
// hits (FlowHits and FlowRecordsSince) of the account whose access key ctx
// carries (the key of the call being answered: each peer checks it and
// counts that key's account only). The server sets it on etcd; package
// peers satisfies it. missing names the servers that did not answer ("*":
// the list of servers could not be read); parts lacks their records.
type PeerHits interface {
	FlowHitParts(ctx context.Context, f HitsFilter) (parts []HitsPart, missing []string)
}

// HitsPart is one server's hits of an account.
type HitsPart struct {
	Server string
	Hits   map[string]RuleHit
	// Counters are the rule counters of HitsFilter.CountersOf that the
	// agents reporting to the server gave, per host.
	Counters []HostCounters
	// CompleteSince is the server's FlowRecordsSince.
	CompleteSince time.Time
}

// Hits is FlowHits over every server of an installation.
type Hits struct {
	ByEntry map[string]RuleHit // keys as HitKey
	// CompleteSince is the time since when ByEntry counts every record of
	// the account, on every server: the latest of the servers' own (a
	// claim over the whole holds only where every part holds it). It says
	// nothing when Partial.
	CompleteSince time.Time
	// Partial: a server's records are not counted (Missing names those
	// that did not answer; or this server could not ask the others), so
	// an entry without a hit may have some there.
	Partial bool
	Missing []string
	// Counters are every part's (HitsPart.Counters), a host once per
	// server that heard it.
	Counters []HostCounters
}

// FlowHitsAll counts c's records per deciding entry on every live server
// of the installation. Without PeerHits it is FlowHits, and it is partial
// if other servers keep records too (FlowRecordsElsewhere).
func (s *Service) FlowHitsAll(ctx context.Context, c Caller, f HitsFilter) Hits {
	mine := s.LocalHits(c.Account, f)
	if s.PeerHits == nil {
		out := MergeHits([]HitsPart{mine})
		out.Partial = s.FlowRecordsElsewhere
		return out
	}
	var parts []HitsPart
	var missing []string
	if pre, ok := ctx.Value(peerHitsKey{}).(*peerHits); ok && pre.account == c.Account && pre.f.ENI == f.ENI && pre.f.Since.Equal(f.Since) && pre.f.CountersOf == f.CountersOf {
		parts, missing = pre.parts, pre.missing
	} else {
		parts, missing = s.peerParts(ctx, c.Account, s.keyAccount(ctx), f)
	}
	out := MergeHits(append([]HitsPart{mine}, parts...))
	out.Missing = missing
	out.Partial = len(missing) > 0
	return out
}

// LocalHits is this server's part of FlowHitsAll: account's hits under f
// in the records it keeps, and since when it keeps them all.
func (s *Service) LocalHits(account string, f HitsFilter) HitsPart {
	return HitsPart{Hits: s.FlowHits(account, f), CompleteSince: s.FlowRecordsSince(account)}
}

type peerHitsKey struct{}

type peerHits struct {
	account string
	f       HitsFilter
	parts   []HitsPart
	missing []string
}

// keyAccount is the account of the access key ctx carries (rpc.AccessKeyID;
// "" for none, or a key unknown).
func (s *Service) keyAccount(ctx context.Context) string {
	if id := rpc.AccessKeyID(ctx); id != "" {
		acct, _ := s.AccountOfKey(ctx, id)
		return acct
	}
	return ""
}

// peerParts asks the other servers for account's hits under f, with the
// key ctx carries, whose account is keyAccount: each peer counts the
// records of the key's account, so with a key of another account (or none)
// no server is asked and all are missing.
func (s *Service) peerParts(ctx context.Context, account, keyAccount string, f HitsFilter) ([]HitsPart, []string) {
	if keyAccount == "" || keyAccount != account {
		ctx = rpc.WithAccessKeyID(ctx, "")
	}
	return s.PeerHits.FlowHitParts(ctx, f)
}

// WithPeerHits asks the other servers for account's hits under f now and
// returns ctx carrying their answers, which FlowHitsAll for account with
// the same filter uses instead of asking again. An analysis asks before it is
// admitted: waiting up to the peers' timeout while holding its place and
// its share of the CPU would make one hung peer delay every analysis.
// Without PeerHits it is ctx.
func (s *Service) WithPeerHits(ctx context.Context, account string, f HitsFilter) context.Context {
	if s.PeerHits == nil {
		return ctx
	}
	return s.WithKeyPeerHits(ctx, account, s.keyAccount(ctx), f)
}

// WithKeyPeerHits is WithPeerHits for a caller that has just looked up
// keyAccount, the account of the key ctx carries (AccountOfKey), as the
// server's analysis gate does to admit the analysis: the key is not looked
// up again.
func (s *Service) WithKeyPeerHits(ctx context.Context, account, keyAccount string, f HitsFilter) context.Context {
	if s.PeerHits == nil {
		return ctx
	}
	parts, missing := s.peerParts(ctx, account, keyAccount, f)
	return context.WithValue(ctx, peerHitsKey{}, &peerHits{account: account, f: f, parts: parts, missing: missing})
}

// MergeHits adds up the servers' parts: the sums of Flows, Packets and
// Bytes, the latest LastHit, and the latest CompleteSince (each server
// holds records the others do not, so the whole is complete only since
// every part is).
func MergeHits(parts []HitsPart) Hits {
	out := Hits{ByEntry: map[string]RuleHit{}}
	for _, p := range parts {
		out.Counters = append(out.Counters, p.Counters...)
		for k, h := range p.Hits {
			m := out.ByEntry[k]
			m.Flows = addSat(m.Flows, h.Flows, math.MaxInt)
			m.Packets = addSat(m.Packets, h.Packets, math.MaxUint64)
			m.Bytes = addSat(m.Bytes, h.Bytes, math.MaxUint64)
			m.LastHit = max(m.LastHit, h.LastHit)
			out.ByEntry[k] = m
		}
		if p.CompleteSince.After(out.CompleteSince) {
			out.CompleteSince = p.CompleteSince
		}
	}
	return out
}

// addSat is a+b, or most if it would be more: a server's part is another
// server's word, and a sum that wrapped would say a hot rule is unused.
func addSat[T int | uint64](a, b, most T) T {
	if b > most-a { // a, b >= 0
		return most
	}
	return a + b
}

// FlowHitsAction is the action that answers a server's hits
// (PalisadeDescribeFlowHits, in the ECS API version); its answer, less
// the RequestId, is FlowHitsAnswer.
const FlowHitsAction = "PalisadeDescribeFlowHits"

// CountersOfParam, in a server's own part of FlowHitsAction, names a group
// whose rule counters the part carries (HitsFilter.CountersOf).
const CountersOfParam = "PalisadeCountersOf"

// FlowHitsAnswer is the answer of FlowHitsAction.
type FlowHitsAnswer struct {
	Hits []FlowHit
	// CompleteSinceTime (ECS time, UTC) is Hits.CompleteSince; with
	// servers missing there is none (the answer claims no completeness).
	CompleteSinceTime string
	// PalisadeMissingServers, on an installation of several servers, are
	// those that did not give their hits in time: the answer lacks theirs.
	PalisadeMissingServers []string `json:",omitempty"`
	// PalisadeHostCounters, in a server's own part asked with
	// PalisadeCountersOf, are its agents' counters of that group.
	PalisadeHostCounters []HostCountersItem `json:",omitempty"`
}

// HostCountersItem is one host's counters in FlowHitsAnswer.
type HostCountersItem struct {
	Host     string
	SeenTime string                 // when the server last heard the host (RFC 3339, nanoseconds)
	Counters map[string]RuleCounter // "groupID/ruleID"
}

// FlowHit is one entry's hits in FlowHitsAnswer.
type FlowHit struct {
	Entry          string // its HitKey
	Flows          int
	Packets, Bytes uint64
	LastHitTime    string // ECS time, UTC
}

// ecsTime is the ECS form of a time, "" for none.
func ecsTime(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// Answer renders h as FlowHitsAction answers it, entries in key order.
func (h Hits) Answer() FlowHitsAnswer {
	out := FlowHitsAnswer{Hits: make([]FlowHit, 0, len(h.ByEntry)), PalisadeMissingServers: h.Missing}
	if len(h.Missing) == 0 {
		out.CompleteSinceTime = ecsTime(h.CompleteSince)
	}
	for _, k := range slices.Sorted(maps.Keys(h.ByEntry)) {
		r := h.ByEntry[k]
		out.Hits = append(out.Hits, FlowHit{Entry: k, Flows: r.Flows, Packets: r.Packets, Bytes: r.Bytes, LastHitTime: ecsTime(time.Unix(r.LastHit, 0))})
	}
	for _, hc := range h.Counters {
		out.PalisadeHostCounters = append(out.PalisadeHostCounters, HostCountersItem{Host: hc.Host, SeenTime: hc.Seen.UTC().Format(time.RFC3339Nano), Counters: hc.Counters})
	}
	return out
}

// Maximums of a FlowHitsAnswer read from another server.
const (
	maxHitEntries  = 1 << 20
	maxHitEntryLen = 512
	// maxHitSkew is how far in the future a time in a part may be: a
	// server's clock may be a little ahead, but a last hit far ahead would
	// make a rule look used for ever, a completeness far ahead would
	// claim none.
	maxHitSkew = 5 * time.Minute
)

// Part reads a FlowHitsAnswer another server gave as its own part; it
// refuses one that is not well formed.
func (a FlowHitsAnswer) Part(server string) (HitsPart, error) {
	p := HitsPart{Server: server, Hits: make(map[string]RuleHit, len(a.Hits))}
	if len(a.Hits) > maxHitEntries {
		return p, fmt.Errorf("an answer of %d entries", len(a.Hits))
	}
	latest := time.Now().Add(maxHitSkew)
	parse := func(s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err == nil && t.After(latest) {
			err = fmt.Errorf("%s is in the future", s)
		}
		return t, err
	}
	var err error
	if p.CompleteSince, err = parse(a.CompleteSinceTime); err != nil {
		return p, fmt.Errorf("CompleteSinceTime: %w", err)
	}
	for _, h := range a.Hits {
		if h.Entry == "" || len(h.Entry) > maxHitEntryLen || h.Flows < 0 {
			return p, fmt.Errorf("a bad entry %.40q", h.Entry)
		}
		if _, dup := p.Hits[h.Entry]; dup {
			return p, fmt.Errorf("entry %.40q twice", h.Entry)
		}
		last, err := parse(h.LastHitTime)
		if err != nil {
			return p, fmt.Errorf("LastHitTime of %.40q: %w", h.Entry, err)
		}
		r := RuleHit{Flows: h.Flows, Packets: h.Packets, Bytes: h.Bytes}
		if !last.IsZero() {
			r.LastHit = last.Unix()
		}
		p.Hits[h.Entry] = r
	}
	if len(a.PalisadeHostCounters) > maxHitEntries {
		return p, fmt.Errorf("counters of %d hosts", len(a.PalisadeHostCounters))
	}
	for _, hc := range a.PalisadeHostCounters {
		seen, err := time.Parse(time.RFC3339Nano, hc.SeenTime)
		if err == nil && seen.After(latest) {
			err = fmt.Errorf("%s is in the future", hc.SeenTime)
		}
		if err != nil || checkHost(hc.Host, true) != nil || len(hc.Counters) > maxHitEntries {
			return p, fmt.Errorf("bad counters of host %.40q (%v)", hc.Host, err)
		}
		p.Counters = append(p.Counters, HostCounters{Host: hc.Host, Seen: seen, Counters: hc.Counters})
	}
	return p, nil
}
