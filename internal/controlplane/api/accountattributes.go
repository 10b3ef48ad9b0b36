package api

import (
	"context"
	"slices"
	"strconv"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

func (s *Service) accountAttributeActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{"DescribeAccountAttributes": s.describeAccountAttributes}
}

// maxAttributeNames is how many AttributeName.N ECS takes (N 1 to 8).
const maxAttributeNames = 8

// accountAttributes are the attributes DescribeAccountAttributes answers,
// in its order, each with its values from the caller's quotas in force.
// The classic network is always open in Palisade (no flag closes it), so
// both network types are offered; there is no real-name check to pass.
var accountAttributes = []struct {
	name   string
	values func(q service.Quotas) []string
}{
	{"max-security-groups", func(q service.Quotas) []string { return []string{strconv.Itoa(q.SecurityGroups)} }},
	{"max-elastic-network-interfaces", func(q service.Quotas) []string { return []string{strconv.Itoa(q.ENIs)} }},
	{"instance-network-type", func(service.Quotas) []string { return []string{"vpc", "classic"} }},
	{"real-name-authentication", func(service.Quotas) []string { return []string{"yes"} }},
}

type valueItem struct{ Value string }

type accountAttributeItem struct {
	AttributeName   string
	AttributeValues struct{ ValueItem []valueItem }
}

type describeAccountAttributesResponse struct {
	rpc.Base
	AccountAttributeItems struct{ AccountAttributeItem []accountAttributeItem }
}

// describeAccountAttributes answers ECS's DescribeAccountAttributes: the
// caller's quotas in force (its own, set by the operator, else the
// server's) and the network types, filtered by AttributeName.N. A name
// Palisade does not answer (ECS's vCPU and disk quotas, dedicated hosts)
// is left out of the answer, not refused; ZoneId narrows nothing, the
// quotas being per region.
func (s *Service) describeAccountAttributes(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	names := req.Params.List("AttributeName")
	if len(names) > maxAttributeNames {
		return nil, ecserr.InvalidParameter("AttributeName", "give at most "+strconv.Itoa(maxAttributeNames)+" names (AttributeName.1 to AttributeName.8), or none for all")
	}
	q, err := s.CallerQuotas(ctx, c)
	if err != nil {
		return nil, err
	}
	out := &describeAccountAttributesResponse{}
	out.AccountAttributeItems.AccountAttributeItem = []accountAttributeItem{}
	for _, a := range accountAttributes {
		if len(names) > 0 && !slices.Contains(names, a.name) {
			continue
		}
		item := accountAttributeItem{AttributeName: a.name}
		for _, v := range a.values(q) {
			item.AttributeValues.ValueItem = append(item.AttributeValues.ValueItem, valueItem{Value: v})
		}
		out.AccountAttributeItems.AccountAttributeItem = append(out.AccountAttributeItems.AccountAttributeItem, item)
	}
	return out, nil
}
