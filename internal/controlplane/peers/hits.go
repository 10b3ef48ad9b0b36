package peers

import (
	"context"
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
	others, missing := f.othersOrAll(ctx, service.FlowHitsAction)
	if missing != nil {
		return nil, missing
	}
	params := rpc.Params{}
	if filter.ENI != "" {
		params["NetworkInterfaceId"] = filter.ENI
	}
	if !filter.Since.IsZero() {
		params["StartTime"] = filter.Since.UTC().Format(time.RFC3339)
	}
	if filter.CountersOf != "" {
		params[service.CountersOfParam] = filter.CountersOf
	}
	answers := f.Ask(ctx, others, hitsVersion, service.FlowHitsAction, rpc.AccessKeyID(ctx), params, func(string) string { return "" })
	parts, missing, _ := collect(f, service.FlowHitsAction, answers, hitsPart)
	return parts, missing
}

func hitsPart(a Answer) (service.HitsPart, error) {
	var r struct {
		service.FlowHitsAnswer
		PalisadeServerId string
	}
	if err := Decode(a, &r, &r.PalisadeServerId); err != nil {
		return service.HitsPart{Server: a.Server}, err
	}
	if len(r.PalisadeMissingServers) > 0 {
		return service.HitsPart{Server: a.Server}, errors.New("it answered for more than its own part")
	}
	return r.Part(a.Server)
}

var _ service.PeerHits = (*Fanin)(nil)
