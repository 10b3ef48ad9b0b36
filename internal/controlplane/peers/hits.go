package peers

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// hitsVersion is the API version of service.FlowHitsAction: the ECS one
// (api.ECSVersion; package api imports this one).
const hitsVersion = "2014-05-26"

// FlowHitParts asks every other live server for its own rule hits
// (service.FlowHitsAction with LocalParam) as the caller whose access key
// ctx carries, with f's filter: it makes Fanin a service.PeerHits.
// Without a key in ctx (a call the RPC server did not authenticate) no
// server can be asked, and all are missing.
func (f *Fanin) FlowHitParts(ctx context.Context, filter service.HitsFilter) ([]service.HitsPart, []string) {
	others, err := f.Others(ctx)
	if err != nil {
		f.log().Warn("the list of servers could not be read; rule hits are this server's only", "err", err)
		return nil, []string{"*"}
	}
	params := rpc.Params{}
	if filter.ENI != "" {
		params["NetworkInterfaceId"] = filter.ENI
	}
	if !filter.Since.IsZero() {
		params["StartTime"] = filter.Since.UTC().Format(time.RFC3339)
	}
	keyID := rpc.AccessKeyID(ctx)
	var answers []Answer
	if keyID == "" {
		for _, p := range others {
			answers = append(answers, Answer{Server: p.ID, Err: errors.New("no caller's key to ask it with")})
		}
		if len(others) > 0 {
			f.log().Warn("a call without an access key asks no other server for rule hits; the answer is partial", "servers", len(others))
		}
		for range others {
			if f.Missed != nil {
				f.Missed(service.FlowHitsAction)
			}
		}
	} else {
		answers = f.Ask(ctx, others, hitsVersion, service.FlowHitsAction, keyID, params, func(string) string { return "" })
	}
	var parts []service.HitsPart
	var missing []string
	for _, a := range answers {
		p, err := hitsPart(a)
		if err != nil {
			if a.Err == nil { // Ask logged the others
				f.log().Warn("a server gave a bad answer of its rule hits; the answer is partial", "server", a.Server, "err", err)
				if f.Missed != nil {
					f.Missed(service.FlowHitsAction)
				}
			}
			missing = append(missing, a.Server)
			continue
		}
		parts = append(parts, p)
	}
	return parts, missing
}

func hitsPart(a Answer) (service.HitsPart, error) {
	if a.Err != nil {
		return service.HitsPart{Server: a.Server}, a.Err
	}
	var r service.FlowHitsAnswer
	if err := json.Unmarshal(a.Body, &r); err != nil {
		return service.HitsPart{Server: a.Server}, err
	}
	if len(r.PalisadeMissingServers) > 0 {
		return service.HitsPart{Server: a.Server}, errors.New("it answered for more than its own part")
	}
	return r.Part(a.Server)
}

var _ service.PeerHits = (*Fanin)(nil)
