package api

import (
	"context"
	"strconv"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// BSSVersion is the BssOpenApi version whose QueryAvailableInstances is
// served. The alicloud Terraform provider asks it at every start, unless
// account_type is set, to tell a domestic account from an international
// one (a success means domestic); Palisade bills nothing, so it lists no
// subscription. Served so that a bssopenapi endpoint pointed here answers
// instead of the provider asking business.aliyuncs.com with a Palisade key.
const BSSVersion = "2017-12-14"

// BSS paging: BssOpenApi documents PageSize up to 300, 20 by default.
const (
	bssDefaultPageSize = 20
	bssMaxPageSize     = 300
)

func (s *Service) bssActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"QueryAvailableInstances": s.queryAvailableInstances,
	}
}

type queryAvailableInstancesResponse struct {
	rpc.Base
	Code    string
	Message string
	Success bool
	Data    struct {
		PageNum, PageSize, TotalCount int
		InstanceList                  []struct{}
	}
}

// queryAvailableInstances answers the caller's (empty) list of
// subscriptions, after checking the paging. The product filters
// (ProductCode, ProductType, SubscriptionType, …) narrow nothing.
func (s *Service) queryAvailableInstances(ctx context.Context, req *rpc.Request) (any, error) {
	if _, err := s.globalCaller(ctx, req); err != nil {
		return nil, err
	}
	page, err := bssInt(req, "PageNum", 1, 1<<30)
	if err != nil {
		return nil, err
	}
	size, err := bssInt(req, "PageSize", bssDefaultPageSize, bssMaxPageSize)
	if err != nil {
		return nil, err
	}
	out := &queryAvailableInstancesResponse{Code: "Success", Message: "Successful!", Success: true}
	out.Data.PageNum, out.Data.PageSize, out.Data.InstanceList = page, size, []struct{}{}
	return out, nil
}

// bssInt reads an optional integer parameter from 1 to max.
func bssInt(req *rpc.Request, name string, def, max int) (int, error) {
	n, e := req.Params.Int(name, def)
	if e != nil || n < 1 || n > max {
		return 0, ecserr.InvalidParameter(name, "it is a whole number from 1 to "+strconv.Itoa(max))
	}
	return n, nil
}
