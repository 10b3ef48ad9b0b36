package analyze

import (
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// flowFacts are the caller's flow-log facts for the audit (SGA-033,
// SGA-034): which of its NICs its active flow logs cover and since when,
// each rule's last hit among the records of every server (hits, from
// service.FlowHitsAll, taken before the read: it may ask other servers),
// and how far back those are complete. Other accounts' NICs are left
// out: their findings are not the caller's to see.
//
// A server that did not give its hits makes the facts Partial: SGA-034
// then says that a rule without a recent hit is no evidence of an unused
// one (it may have hits there), never that it is a candidate for
// removal, and the audit's answer names the server
// (PalisadeMissingServers).
func (a *Service) flowFacts(tx store.ReadTx, c service.Caller, own ownedCloud, hits service.Hits) (*audit.FlowLogs, error) {
	logs, err := service.ListOwn[model.FlowLog](tx, service.KindFlowLog, c)
	if err != nil {
		return nil, err
	}
	f := &audit.FlowLogs{Now: a.svc.Now(), Accepts: map[string]time.Time{}, Drops: map[string]time.Time{}, LastHit: map[string]time.Time{},
		RecordsSince: hits.CompleteSince, Partial: hits.Partial}
	earliest := func(m map[string]time.Time, id string, t time.Time) {
		if old, ok := m[id]; !ok || t.Before(old) {
			m[id] = t
		}
	}
	for _, id := range own.ids {
		nic := own.Instances[id]
		eni := model.NICENI(nic)
		for _, fl := range logs {
			if fl.Status != model.FlowLogActive || fl.Region != nic.Region || !fl.Names(eni, nic.VSwitchID, nic.VpcID) {
				continue
			}
			if fl.Covers(eni, nic.VSwitchID, nic.VpcID, "ACCEPT") {
				earliest(f.Accepts, id, fl.CoveredSince())
			}
			if fl.Covers(eni, nic.VSwitchID, nic.VpcID, "REJECT") {
				earliest(f.Drops, id, fl.CoveredSince())
			}
		}
	}
	for k, h := range hits.ByEntry {
		if strings.HasPrefix(k, "sg-") && h.LastHit > 0 { // a rule's key (service.HitKey)
			f.LastHit[k] = time.Unix(h.LastHit, 0)
		}
	}
	return f, nil
}
