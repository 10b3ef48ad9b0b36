package ecsimport

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Page sizes: the largest each call takes. Variables so that tests can
// make accounts of a few resources span several pages.
var (
	groupsPageSize    = 100
	rulesPageSize     = 1000
	instancesPageSize = 100
	listsPageSize     = 100
)

// FromECS imports one region of the account the client signs for, paging
// through everything: the groups, each group's rules (a classic group's
// internet and intranet rules take a call each), the instances, and the
// prefix lists with their entries. The response bodies go through the same
// decoding as FromDir's files. Prefix lists are best effort (an account
// may not be allowed to read them): a failure there is a warning. The SDK
// takes no context, so ctx is checked between calls.
func FromECS(ctx context.Context, client *ecs.Client, regionID string) (*Account, error) {
	b := newBuilder(regionID)
	var groups []ecs.SecurityGroup
	err := pages(ctx, func(n int, token string) (string, error) {
		r := ecs.CreateDescribeSecurityGroupsRequest()
		r.RegionId, r.MaxResults, r.NextToken = regionID, requests.NewInteger(groupsPageSize), token
		resp, err := client.DescribeSecurityGroups(r)
		if err != nil {
			return "", callError("DescribeSecurityGroups", regionID, err)
		}
		groups = append(groups, resp.SecurityGroups.SecurityGroup...)
		return resp.NextToken, b.add(fmt.Sprintf("DescribeSecurityGroups page %d", n), resp.GetHttpContentBytes())
	})
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		nics := []string{""} // a VPC group's rules are all intranet
		if g.VpcId == "" {
			nics = []string{"internet", "intranet"}
		}
		for _, nic := range nics {
			if err := groupRules(ctx, b, client, regionID, g.SecurityGroupId, nic); err != nil {
				return nil, err
			}
		}
	}
	err = pages(ctx, func(n int, token string) (string, error) {
		r := ecs.CreateDescribeInstancesRequest()
		r.RegionId, r.MaxResults, r.NextToken = regionID, requests.NewInteger(instancesPageSize), token
		resp, err := client.DescribeInstances(r)
		if err != nil {
			return "", callError("DescribeInstances", regionID, err)
		}
		return resp.NextToken, b.add(fmt.Sprintf("DescribeInstances page %d", n), resp.GetHttpContentBytes())
	})
	if err != nil {
		return nil, err
	}
	if err := enis(ctx, b, client, regionID); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		b.warn("DescribeNetworkInterfaces", "", "", "network interfaces could not be read, so secondary ENIs are not judged: %v", err)
	}
	if err := vpcs(ctx, b, client, regionID); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		b.warn("DescribeVpcs", "", "", "VPCs could not be read, so the analysis takes the addresses in them for the internet: %v", err)
	}
	if err := prefixLists(ctx, b, client, regionID); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		b.warn("DescribePrefixLists", "", "", "prefix lists could not be read, so rules naming them match nothing when evaluated: %v", err)
	}
	if err := portRangeLists(ctx, b, client, regionID); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		b.warn("DescribePortRangeLists", "", "", "port range lists could not be read, so rules naming them match no port when evaluated: %v", err)
	}
	return b.finish(), nil
}

func groupRules(ctx context.Context, b *builder, client *ecs.Client, regionID, id, nic string) error {
	return pages(ctx, func(n int, token string) (string, error) {
		r := ecs.CreateDescribeSecurityGroupAttributeRequest()
		r.RegionId, r.SecurityGroupId, r.Direction, r.NicType = regionID, id, "all", nic
		r.MaxResults, r.NextToken = requests.NewInteger(rulesPageSize), token
		resp, err := client.DescribeSecurityGroupAttribute(r)
		if err != nil {
			return "", callError("DescribeSecurityGroupAttribute "+id, regionID, err)
		}
		src := "DescribeSecurityGroupAttribute " + id
		if nic != "" {
			src += " " + nic
		}
		return resp.NextToken, b.add(fmt.Sprintf("%s page %d", src, n), resp.GetHttpContentBytes())
	})
}

func prefixLists(ctx context.Context, b *builder, client *ecs.Client, regionID string) error {
	var ids []string
	err := pages(ctx, func(n int, token string) (string, error) {
		r := ecs.CreateDescribePrefixListsRequest()
		r.RegionId, r.MaxResults, r.NextToken = regionID, requests.NewInteger(listsPageSize), token
		resp, err := client.DescribePrefixLists(r)
		if err != nil {
			return "", callError("DescribePrefixLists", regionID, err)
		}
		for _, pl := range resp.PrefixLists.PrefixList {
			ids = append(ids, pl.PrefixListId)
		}
		return resp.NextToken, b.add(fmt.Sprintf("DescribePrefixLists page %d", n), resp.GetHttpContentBytes())
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := ecs.CreateDescribePrefixListAttributesRequest()
		r.RegionId, r.PrefixListId = regionID, id
		resp, err := client.DescribePrefixListAttributes(r)
		if err != nil {
			return callError("DescribePrefixListAttributes "+id, regionID, err)
		}
		if err := b.add("DescribePrefixListAttributes "+id, resp.GetHttpContentBytes()); err != nil {
			return err
		}
	}
	return nil
}

// vpcsPageSize is the largest page DescribeVpcs gives.
var vpcsPageSize = 50

// vpcs reads the region's VPCs, and only when an imported resource is in
// one (a classic account makes no call). DescribeVpcs is the VPC API's
// (2016-04-28), sent at the ECS client's endpoint when one was set (as
// Palisade serves both), else at the region's VPC endpoint.
func vpcs(ctx context.Context, b *builder, client *ecs.Client, regionID string) error {
	inVPC := false
	for _, g := range b.groups {
		inVPC = inVPC || g.item != nil && g.item.VpcId != "" || g.attr != nil && g.attr.VpcId != ""
	}
	for _, in := range b.insts {
		inVPC = inVPC || in.v.VpcAttributes.VpcId != ""
	}
	for _, n := range b.enis {
		inVPC = inVPC || n.v.VpcId != ""
	}
	if !inVPC {
		return nil
	}
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := requests.NewCommonRequest()
		r.Product, r.Version, r.ApiName, r.Domain, r.Scheme = "Vpc", "2016-04-28", "DescribeVpcs", vpcDomain(client, regionID), client.GetConfig().Scheme
		r.QueryParams["RegionId"] = regionID
		r.QueryParams["PageNumber"], r.QueryParams["PageSize"] = strconv.Itoa(n), strconv.Itoa(vpcsPageSize)
		resp, err := client.ProcessCommonRequest(r)
		if err != nil {
			return fmt.Errorf("DescribeVpcs in %s at %s: %w; check the endpoint and that the access key may call vpc:DescribeVpcs", regionID, r.Domain, err)
		}
		held := len(b.vpcs)
		if err := b.add(fmt.Sprintf("DescribeVpcs page %d", n), resp.GetHttpContentBytes()); err != nil {
			return err
		}
		// The last page: one that brought no VPC, or the count reached.
		if p := b.paging[string(kindVPCs)]; len(b.vpcs) == held || p == nil || len(b.vpcs) >= p.total {
			return nil
		}
	}
}

// vpcDomain is where DescribeVpcs goes: the client's endpoint when one was
// set (Palisade serves both APIs there), else the region's VPC endpoint.
// Not the SDK's choice: with no Domain it looks the product up in the ECS
// client's own endpoint map first, which sends some regions' VPC calls to
// ECS (cn-hangzhou among them).
func vpcDomain(client *ecs.Client, regionID string) string {
	if client.Domain != "" {
		return client.Domain
	}
	if d := vpc.GetEndpointMap()[regionID]; d != "" {
		return d
	}
	return "vpc." + regionID + ".aliyuncs.com"
}

// pages calls page n = 1, 2, … with the token the previous page returned
// until one returns none. A token that comes back twice would loop forever.
func pages(ctx context.Context, call func(n int, token string) (next string, err error)) error {
	seen := map[string]bool{}
	token := ""
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := call(n, token)
		if err != nil || next == "" {
			return err
		}
		if seen[next] {
			return fmt.Errorf("the API returned NextToken %q twice; stopping instead of paging forever", next)
		}
		seen[next], token = true, next
	}
}

func callError(call, region string, err error) error {
	return fmt.Errorf("%s in %s: %w; check the region, the endpoint and that the access key may call ecs:Describe*", call, region, err)
}

// portRangeLists reads the port range lists the imported rules name, and
// only when some do (an account without them makes no call). The classic
// SDK has no typed requests for them, so they go as CommonRequest.
func portRangeLists(ctx context.Context, b *builder, client *ecs.Client, regionID string) error {
	var ids []string
	for _, g := range b.groups {
		for _, p := range g.perms {
			if id := p.v.PortRangeListId; id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	return readPortLists(ctx, b, client, regionID, ids)
}

// readPortLists reads the lists ids, or every list of the region when ids
// is nil, with their entries.
func readPortLists(ctx context.Context, b *builder, client *ecs.Client, regionID string, ids []string) error {
	call := func(action string, params map[string]string) ([]byte, error) {
		r := requests.NewCommonRequest()
		r.Product, r.Version, r.ApiName, r.Domain, r.Scheme = "Ecs", "2014-05-26", action, client.Domain, client.GetConfig().Scheme
		r.QueryParams["RegionId"] = regionID
		maps.Copy(r.QueryParams, params)
		resp, err := client.ProcessCommonRequest(r)
		if err != nil {
			return nil, err
		}
		return resp.GetHttpContentBytes(), nil
	}
	all := ids == nil
	chunks := [][]string{nil}
	if !all { // DescribePortRangeLists takes at most 100 IDs per call
		chunks = nil
		for start := 0; start < len(ids); start += 100 {
			chunks = append(chunks, ids[start:min(start+100, len(ids))])
		}
	}
	for _, chunk := range chunks {
		err := pages(ctx, func(n int, token string) (string, error) {
			params := map[string]string{"MaxResults": "100"}
			if token != "" {
				params["NextToken"] = token
			}
			for i, id := range chunk {
				params[fmt.Sprintf("PortRangeListId.%d", i+1)] = id
			}
			body, err := call("DescribePortRangeLists", params)
			if err != nil {
				return "", callError("DescribePortRangeLists", regionID, err)
			}
			var p struct {
				NextToken      string
				PortRangeLists []struct{ PortRangeListId string }
			}
			_ = json.Unmarshal(body, &p)
			if all {
				for _, l := range p.PortRangeLists {
					ids = append(ids, l.PortRangeListId)
				}
			}
			return p.NextToken, b.add(fmt.Sprintf("DescribePortRangeLists page %d", n), body)
		})
		if err != nil {
			return err
		}
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		body, err := call("DescribePortRangeListEntries", map[string]string{"PortRangeListId": id})
		if err != nil {
			return callError("DescribePortRangeListEntries "+id, regionID, err)
		}
		if err := b.add("DescribePortRangeListEntries "+id, body); err != nil {
			return err
		}
	}
	return nil
}

// ReadPortRangeLists reads every port range list of the region, with its
// entries, into a (in place of those FromECS read, which are only the
// lists its rules name): for tools that manage lists no rule uses yet.
func ReadPortRangeLists(ctx context.Context, client *ecs.Client, regionID string, a *Account) error {
	b := newBuilder(regionID)
	if err := readPortLists(ctx, b, client, regionID, nil); err != nil {
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(b.prls)) {
		l := b.convertPortList(id, b.prls[id])
		l.Owner = a.Owner
		a.PortRangeLists = slices.DeleteFunc(a.PortRangeLists, func(x *model.PortRangeList) bool { return x.ID == id })
		a.PortRangeLists = append(a.PortRangeLists, l)
	}
	slices.SortFunc(a.PortRangeLists, func(x, y *model.PortRangeList) int { return strings.Compare(x.ID, y.ID) })
	a.Warnings = append(a.Warnings, b.warnings...)
	return nil
}
