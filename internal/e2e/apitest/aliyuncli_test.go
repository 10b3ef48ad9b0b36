package apitest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// The aliyun CLI (openapi.RpcInvoker) sends each call as the classic SDK's
// CommonRequest: Domain from --endpoint, the API's method (POST for ECS
// and VPC, --method GET to change it), the parameters in the query, a V1
// signature; it prints the JSON answer, or the SDK's ServerError (code,
// message, RequestId). Its --pager merges pages in one of two ways: by
// NextToken (the default: it stops at the first empty NextToken), or,
// with --pager NextToken= (the workaround of aliyun-cli#512), by
// TotalCount/PageNumber/PageSize, which it reads as numbers or strings.

// cliCall sends one action as the CLI does.
func cliCall(c *sdk.Client, endpoint, method, version, action string, q map[string]string) (map[string]any, error) {
	r := requests.NewCommonRequest()
	r.Domain, r.Scheme, r.Method, r.Version, r.ApiName, r.Product = endpoint, "http", method, version, action, "Ecs"
	r.RegionId = region
	for k, v := range q {
		r.QueryParams[k] = v
	}
	res, err := c.ProcessCommonRequest(r)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(res.GetHttpContentBytes(), &out)
}

// number reads a pager field the way the CLI does: a number or a string
// of one.
func number(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case string:
		n, _ := strconv.Atoi(x)
		return n
	}
	return -1
}

// cliPager merges the pages of DescribeSecurityGroups as the CLI's Pager
// does; tokens selects the NextToken mode.
func cliPager(c *sdk.Client, endpoint, method string, q map[string]string, tokens bool) ([]string, error) {
	var ids []string
	for calls := 0; calls < 20; calls++ {
		out, err := cliCall(c, endpoint, method, ecsVersion, "DescribeSecurityGroups", q)
		if err != nil {
			return nil, err
		}
		list, _ := at(out, "SecurityGroups.SecurityGroup")
		items, ok := list.([]any)
		if !ok {
			return nil, fmt.Errorf("jmespath result empty: SecurityGroups.SecurityGroup[] in %v", out)
		}
		for _, it := range items {
			ids = append(ids, text(it.(map[string]any)["SecurityGroupId"]))
		}
		if tokens {
			next, _ := out["NextToken"].(string)
			if next == "" {
				return ids, nil
			}
			q["NextToken"] = next
			continue
		}
		total, page, size := number(out["TotalCount"]), number(out["PageNumber"]), number(out["PageSize"])
		if total < 0 || page < 0 || size <= 0 {
			return nil, fmt.Errorf("TotalCount %v, PageNumber %v, PageSize %v are not numbers", out["TotalCount"], out["PageNumber"], out["PageSize"])
		}
		if page >= (total+size-1)/size {
			return ids, nil
		}
		q["PageNumber"] = strconv.Itoa(page + 1)
	}
	return nil, fmt.Errorf("more than 20 pages")
}

func TestAliyunCLI(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{})
	c := testenv.CommonClient(t, srv.Addr, srv.KeyID, srv.Secret)
	const groups = 13
	for i := range groups {
		if _, err := cliCall(c, srv.Addr, "POST", ecsVersion, "CreateSecurityGroup", map[string]string{"SecurityGroupName": fmt.Sprintf("cli-%02d", i)}); err != nil {
			t.Fatalf("CreateSecurityGroup: %v", err)
		}
	}
	for _, tc := range []struct {
		name   string
		method string
		q      map[string]string
		tokens bool
	}{
		{"--pager NextToken= (page numbers), POST", "POST", map[string]string{}, false},
		{"--pager NextToken= (page numbers), --method GET", "GET", map[string]string{"PageSize": "5"}, false},
		{"--pager with --MaxResults (tokens)", "POST", map[string]string{"MaxResults": "4"}, true},
		{"--pager with --MaxResults (tokens), --method GET", "GET", map[string]string{"MaxResults": "10"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := cliPager(c, srv.Addr, tc.method, tc.q, tc.tokens)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, id := range ids {
				seen[id] = true
			}
			if len(ids) != groups || len(seen) != groups {
				t.Errorf("the pager merged %d groups (%d distinct), want %d", len(ids), len(seen), groups)
			}
		})
	}
	// The CLI prints an error as the SDK's ServerError: code, message and
	// RequestId from the JSON envelope, with the HTTP status.
	for _, method := range []string{"POST", "GET"} {
		_, err := cliCall(c, srv.Addr, method, ecsVersion, "DescribeSecurityGroupAttribute", map[string]string{"SecurityGroupId": "sg-nothere"})
		se, ok := err.(*errors.ServerError)
		if !ok {
			t.Fatalf("%s: error %T %v, want *errors.ServerError", method, err, err)
		}
		if se.ErrorCode() != "InvalidSecurityGroupId.NotFound" || se.HttpStatus() != 404 || se.RequestId() == "" || se.Message() == "" {
			t.Errorf("%s: %d %s %q RequestId %q", method, se.HttpStatus(), se.ErrorCode(), se.Message(), se.RequestId())
		}
	}
}
