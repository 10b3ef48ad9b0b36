package api

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// TestPagingOutOfRange: huge or negative paging parameters on every paged
// Describe get a 400 ECS error, never a panic (a 500): (PageNumber-1)*PageSize
// used to overflow into a negative offset.
func TestPagingOutOfRange(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpcAPI("CreateVpc", map[string]string{"CidrBlock": "10.0.0.0/16"}).(*createVpcResponse)
	e.ecs("CreateSecurityGroup", map[string]string{"VpcId": vpc.VpcId})
	actions := []struct{ version, action string }{
		{ECSVersion, "DescribeSecurityGroups"},
		{ECSVersion, "DescribeInstances"},
		{ECSVersion, "DescribeNetworkInterfaces"},
		{ECSVersion, "DescribePrefixLists"},
		{ECSVersion, "DescribePortRangeLists"},
		{VPCVersion, "DescribeVpcs"},
		{VPCVersion, "DescribeVSwitches"},
		{VPCVersion, "DescribeEipAddresses"},
		{VPCVersion, "DescribeRouteTableList"},
	}
	const huge = "9223372036854775807"
	params := []map[string]string{
		{"PageNumber": huge},
		{"PageNumber": huge, "PageSize": "10"},
		{"PageNumber": "4611686018427387904", "PageSize": "2"},
		{"PageNumber": "99999999999999999999"},
		{"PageNumber": "-1"},
		{"PageSize": huge},
		{"PageSize": "-5"},
		{"MaxResults": huge},
		{"MaxResults": "-1"},
		{"NextToken": huge},
		{"NextToken": "-3"},
	}
	for _, a := range actions {
		for _, p := range params {
			t.Run(fmt.Sprint(a.action, p), func(t *testing.T) {
				out, err := func() (out any, err error) {
					defer func() {
						if r := recover(); r != nil {
							err = fmt.Errorf("panic (a 500 InternalError): %v", r)
						}
					}()
					return e.call(a.version, a.action, p)
				}()
				if err == nil {
					return // an empty page or a clamped size is an answer too
				}
				if got := ecserr.As(err); got.Status != http.StatusBadRequest {
					t.Fatalf("got %v (%T), out %v; want a 400 ECS error", err, err, out)
				}
			})
		}
	}
}
