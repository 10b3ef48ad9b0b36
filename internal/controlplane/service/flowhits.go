package service

import (
	"time"

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
}

// FlowHits counts an account's records per deciding entry (keys as
// HitKey). The account is the caller's to give: it reads nothing else.
func (s *Service) FlowHits(account string, f HitsFilter) map[string]RuleHit {
	out := map[string]RuleHit{}
	since := int64(0)
	if !f.Since.IsZero() {
		since = f.Since.Unix()
	}
	for _, r := range s.flowStore().Of(account, s.Now()) {
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
		h.Packets += r.Packets
		h.Bytes += r.Bytes
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
