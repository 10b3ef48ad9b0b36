package ecsimport

import (
	"context"
	"fmt"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
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
	if err := prefixLists(ctx, b, client, regionID); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		b.warn("DescribePrefixLists", "", "", "prefix lists could not be read, so rules naming them match nothing when evaluated: %v", err)
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
