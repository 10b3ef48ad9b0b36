package apitest

import (
	"strings"
	"testing"

	"github.com/alibabacloud-go/tea/tea"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
)

// TestUnexpectedForms: parameters in a form the action does not take get
// an error naming the form expected, and Version is checked as ECS does.
func TestUnexpectedForms(t *testing.T) {
	e := newEnv(t)
	sg := createGroup(t, e.ecs, "forms", "", "")

	// Permissions as one JSON string (as some SDK versions send it),
	// through the classic SDK's generic request.
	r := requests.NewCommonRequest()
	r.Domain, r.Scheme, r.Version, r.ApiName = e.addr, "HTTP", ecsVersion, "AuthorizeSecurityGroup"
	r.QueryParams["SecurityGroupId"] = sg
	r.QueryParams["Permissions"] = `[{"IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"10.0.0.0/8"}]`
	_, err := e.srv.Common(t).ProcessCommonRequest(r)
	wantErr(t, err, 400, "InvalidParameter")
	if se, _ := err.(*sdkerrors.ServerError); se == nil || !strings.Contains(se.Message(), "Permissions.1.Field") {
		t.Errorf("the message should name the form expected: %v", err)
	}

	// An index that is not a number, through darabonba.
	_, err = call(e.v3, ecsVersion, "AuthorizeSecurityGroup", map[string]any{"SecurityGroupId": sg,
		"Permissions.a.IpProtocol": "TCP", "Permissions.a.PortRange": "22/22", "Permissions.a.SourceCidrIp": "10.0.0.0/8"}, nil)
	wantErr(t, err, 400, "InvalidParameter")

	// No Version: ECS answers MissingParameter with its usual message
	// (a live reply quoted in qjpcpu/aliyun-api#6: 400, `The input
	// parameter "Version" that is mandatory for processing this request is
	// not supplied.`).
	_, err = call(e.v3, "", "DescribeRegions", nil, nil)
	wantErr(t, err, 400, "MissingParameter")
	if te, _ := err.(*tea.SDKError); te == nil || !strings.Contains(tea.StringValue(te.Message), `The input parameter "Version" that is mandatory for processing this request is not supplied.`) {
		t.Errorf("missing Version: %v", err)
	}
	// A Version ECS does not have: InvalidVersion (aliyun-openapi-java-sdk#23).
	_, err = call(e.v3, "2099-01-01", "DescribeRegions", nil, nil)
	wantErr(t, err, 400, "InvalidVersion")
}
