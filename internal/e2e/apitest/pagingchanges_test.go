package apitest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// TestTokenPagingWhileChanging pages with NextToken/MaxResults while the
// listing changes between pages, as a clean-up loop does (read a page,
// delete what it listed, ask for the next), or while others create: every
// item that stayed throughout is listed exactly once. An offset token
// skipped a page's worth after each deletion.
func TestTokenPagingWhileChanging(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	n := newNetwork(t, e, "10.0.0.0/16")

	type listing struct {
		name   string
		create func(t *testing.T, i int) string                    // one more item
		page   func(t *testing.T, token string) ([]string, string) // one page of 3 and the next token
		remove func(t *testing.T, id string)
		fixed  []string // items of the listing the case neither creates nor removes
	}
	groupsPage := func(filter func(r *ecs.DescribeSecurityGroupsRequest)) func(*testing.T, string) ([]string, string) {
		return func(t *testing.T, token string) ([]string, string) {
			r := ecs.CreateDescribeSecurityGroupsRequest()
			r.MaxResults, r.NextToken = "3", token
			if filter != nil {
				filter(r)
			}
			resp := must(c.DescribeSecurityGroups(r))(t)
			var ids []string
			for _, g := range resp.SecurityGroups.SecurityGroup {
				ids = append(ids, g.SecurityGroupId)
			}
			return ids, resp.NextToken
		}
	}
	vpcGroup := func(t *testing.T, i int) string { return createGroup(t, c, fmt.Sprintf("page-%d", i), n.vpc, "") }
	deleteGroup := func(t *testing.T, id string) {
		r := ecs.CreateDeleteSecurityGroupRequest()
		r.SecurityGroupId = id
		must(c.DeleteSecurityGroup(r))(t)
	}
	listings := []listing{
		// No filter: the page is cut from the region's index.
		{name: "groups", create: vpcGroup, page: groupsPage(nil), remove: deleteGroup, fixed: []string{n.sgA, n.sgB}},
		// One filter: cut from that filter's index.
		{name: "groups by VpcId", create: vpcGroup, page: groupsPage(func(r *ecs.DescribeSecurityGroupsRequest) { r.VpcId = n.vpc }),
			remove: deleteGroup, fixed: []string{n.sgA, n.sgB}},
		// Two filters: matched one by one.
		{name: "groups by VpcId and type", create: vpcGroup,
			page: groupsPage(func(r *ecs.DescribeSecurityGroupsRequest) {
				r.VpcId, r.SecurityGroupType = n.vpc, "normal"
			}),
			remove: deleteGroup, fixed: []string{n.sgA, n.sgB}},
		{name: "instances",
			create: func(t *testing.T, i int) string { return runInstance(t, c, n.vsw, n.sgA) },
			page: func(t *testing.T, token string) ([]string, string) {
				r := ecs.CreateDescribeInstancesRequest()
				r.MaxResults, r.NextToken = "3", token
				resp := must(c.DescribeInstances(r))(t)
				var ids []string
				for _, in := range resp.Instances.Instance {
					ids = append(ids, in.InstanceId)
				}
				return ids, resp.NextToken
			},
			remove: func(t *testing.T, id string) {
				r := ecs.CreateDeleteInstanceRequest()
				r.InstanceId, r.Force = id, requests.NewBoolean(true)
				must(c.DeleteInstance(r))(t)
			}},
	}
	for _, l := range listings {
		for _, change := range []string{"delete each page", "create after each page"} {
			t.Run(l.name+"/"+change, func(t *testing.T) {
				var made []string
				for i := range 10 {
					made = append(made, l.create(t, i))
				}
				stayed := append(slices.Clone(l.fixed), made...)
				seen := map[string]int{}
				var added []string
				token := ""
				for calls := 0; ; calls++ {
					if calls > 20 {
						t.Fatalf("still paging after %d calls; seen %v", calls, seen)
					}
					ids, next := l.page(t, token)
					for _, id := range ids {
						seen[id]++
					}
					switch change {
					case "delete each page":
						for _, id := range ids {
							if !slices.Contains(l.fixed, id) {
								l.remove(t, id)
							}
						}
					default:
						added = append(added, l.create(t, 100+calls))
					}
					if token = next; token == "" {
						break
					}
				}
				for _, id := range stayed {
					if seen[id] != 1 {
						t.Errorf("%s listed %d times, want once (seen %v)", id, seen[id], seen)
					}
				}
				for id, k := range seen {
					if k > 1 {
						t.Errorf("%s listed %d times", id, k)
					}
				}
				// Clean up for the next case: what is left of this one.
				for _, id := range append(made, added...) {
					if change == "delete each page" && seen[id] > 0 {
						continue
					}
					l.remove(t, id)
				}
			})
		}
	}
}
