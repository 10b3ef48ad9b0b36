package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

// listParams are the list parameters of the actions served, with whether
// their items are objects (Name.N.Field) or single values (Name.N).
// Lists of objects are never a single value in the ECS and VPC APIs, so a
// bare Name=value (Permissions as one JSON string, as some SDK versions
// send it) is refused too; single-value names are also scalars elsewhere
// (SecurityGroupId, ResourceId), so only their indexes are checked.
var listParams = []struct {
	name    string
	objects bool
}{
	{"Permissions", true}, {"Tag", true}, {"TagFilter", true}, {"Entry", true}, {"AddEntry", true}, {"RemoveEntry", true},
	{"SecurityGroupRuleId", false}, {"SecurityGroupId", false}, {"SecurityGroupIds", false}, {"ResourceId", false},
	{"TagKey", false}, {"PrefixListId", false}, {"Ipv6Address", false},
}

// checkLists refuses a request whose list parameters are in a form the
// handler would not read (rpc.Params.CheckList) with InvalidParameter,
// rather than letting it answer MissingParameter for a list that was sent.
func checkLists(h rpc.Handler) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		for _, l := range listParams {
			if e := req.Params.CheckList(l.name, l.objects, l.objects); e != nil {
				return nil, e
			}
		}
		return h(ctx, req)
	}
}
