package api

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// The resource types each product's tag actions serve, lower case.
var (
	ecsTagTypes = []string{"securitygroup", "instance", "eni", "prefixlist", "keypair"}
	vpcTagTypes = []string{"vpc", "vswitch", "eip"}
)

// vpcTagActions are the VPC product's tag actions, over VPCs, vSwitches and
// EIPs: the alicloud provider tags a VPC it has just created with them (its
// create hands the tags to CreateVpc, then its update sets them again), an
// alicloud_eip_address's tags, and data "alicloud_eip_addresses" lists each
// EIP's.
// The VPC product spells UnTagResources with a capital T, and names the
// types in upper case (VPC, VSWITCH).
func (s *Service) vpcTagActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"TagResources":     tagTypes(vpcTagTypes, s.tagResources),
		"UnTagResources":   tagTypes(vpcTagTypes, s.untagResources),
		"ListTagResources": tagTypes(vpcTagTypes, upperTypes(s.listTagResources)),
	}
}

// tagTypes refuses a ResourceType another product serves, as that product
// would not know it; the service checks the rest.
func tagTypes(types []string, h rpc.Handler) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		if t := req.Params.Get("ResourceType"); t != "" && !slices.Contains(types, strings.ToLower(t)) {
			return nil, ecserr.New(http.StatusNotFound, "InvalidResourceType.NotFound", "ResourceType %q is not supported by this API; use one of %s.", t, strings.Join(types, ", "))
		}
		return h(ctx, req)
	}
}

// upperTypes writes ListTagResources' ResourceType as the VPC product does.
func upperTypes(h rpc.Handler) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		out, err := h(ctx, req)
		if res, ok := out.(*listTagResourcesResponse); ok {
			for i := range res.TagResources.TagResource {
				it := &res.TagResources.TagResource[i]
				it.ResourceType = strings.ToUpper(it.ResourceType)
			}
		}
		return out, err
	}
}
