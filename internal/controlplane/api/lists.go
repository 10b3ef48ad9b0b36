package api

import (
	"context"
	"strings"

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
	{"TagKey", false}, {"PrefixListId", false}, {"Ipv6Address", false}, {"AttributeName", false},
}

// checkLists refuses a request whose list parameters are in a form the
// handler would not read (rpc.Params.CheckList) with InvalidParameter,
// rather than letting it answer MissingParameter for a list that was sent.
func checkLists(h rpc.Handler) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		// One pass over the parameters finds the lists sent (most requests
		// send none or one); only those are checked, in listParams' order.
		var sent uint64
		for k, v := range req.Params {
			if v == "" {
				continue
			}
			base, _, _ := strings.Cut(k, ".")
			if i, ok := listIndex[base]; ok {
				sent |= 1 << i
			}
		}
		for i, l := range listParams {
			if sent&(1<<i) == 0 {
				continue
			}
			if e := req.Params.CheckList(l.name, l.objects, l.objects); e != nil {
				return nil, e
			}
		}
		return h(ctx, req)
	}
}

// listIndex is each list parameter's place in listParams.
var listIndex = func() map[string]int {
	m := map[string]int{}
	for i, l := range listParams {
		m[l.name] = i
	}
	if len(listParams) > 64 {
		panic("api: checkLists marks at most 64 list parameters")
	}
	return m
}()
