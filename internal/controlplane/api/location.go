package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// LocationVersion is the Location API version whose DescribeEndpoints is
// served: the alicloud Terraform provider asks it, at its location
// endpoint, for a product whose endpoint it was not given. For the products
// Palisade serves the endpoint is this server as the client addressed it;
// other products have none here, and the provider falls back to their
// public endpoints.
const LocationVersion = "2015-06-12"

// locationServed are the location service codes of the products served on
// this listener.
var locationServed = map[string]bool{"ecs": true, "vpc": true, "ram": true, "sts": true, "actiontrail": true, "bssopenapi": true}

func (s *Service) locationActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"DescribeEndpoints": s.describeEndpoints,
	}
}

type locationEndpoint struct {
	Endpoint    string
	Id          string
	Namespace   string
	SerivceCode string // sic: Location's field name
	Type        string
	Protocols   struct{ Protocols []string }
}

type describeEndpointsResponse struct {
	rpc.Base
	Success   bool
	Endpoints struct{ Endpoint []locationEndpoint }
}

// describeEndpoints answers ServiceCode's endpoint in region Id: this
// server for a served product in a served region, none otherwise. Type,
// when given, is openAPI (the only kind served).
func (s *Service) describeEndpoints(ctx context.Context, req *rpc.Request) (any, error) {
	if _, err := s.globalCaller(ctx, req); err != nil {
		return nil, err
	}
	p := req.Params
	code, region, kind := p.Get("ServiceCode"), p.Get("Id"), p.Get("Type")
	switch {
	case code == "":
		return nil, ecserr.MissingParameter("ServiceCode")
	case region == "":
		return nil, ecserr.MissingParameter("Id")
	}
	out := &describeEndpointsResponse{Success: true}
	out.Endpoints.Endpoint = []locationEndpoint{}
	if _, ok := model.LookupRegion(region); !ok || !locationServed[code] || req.Host == "" || (kind != "" && kind != "openAPI") {
		return out, nil
	}
	// Protocols stays empty: the listener speaks the scheme the client
	// reached it with, which is all the caller can use.
	e := locationEndpoint{Endpoint: req.Host, Id: region, SerivceCode: code, Type: "openAPI"}
	e.Protocols.Protocols = []string{}
	out.Endpoints.Endpoint = append(out.Endpoints.Endpoint, e)
	return out, nil
}
