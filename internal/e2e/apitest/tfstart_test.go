package apitest

import (
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/location"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestTerraformAccountType replays the call the alicloud provider makes at
// every start when account_type is not set (its getAccountType, 1.242 on):
// BssOpenApi's QueryAvailableInstances (2017-12-14) through RpcPost, sent to
// the bssopenapi endpoint. A success leaves the account Domestic; Palisade
// bills nothing, so the list is empty. Without it the provider would ask
// business.aliyuncs.com, on the internet, with the Palisade key.
func TestTerraformAccountType(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	tf := tfClient{testenv.V3Client(t, srv.Addr, srv.KeyID, srv.Secret, "v2")}
	const bss = "2017-12-14"
	probe := map[string]any{"PageSize": "50", "PageNum": 1, "ProductCode": "vipcloudfw", "ProductType": "vipcloudfw", "SubscriptionType": "Subscription"}
	runTF(t, tf, []tfStep{
		{name: "account type probe", version: bss, action: "QueryAvailableInstances", body: probe,
			want:  map[string]string{"Code": "Success", "Success": "true", "Data.PageNum": "1", "Data.PageSize": "50", "Data.TotalCount": "0"},
			kinds: map[string]string{"Data.InstanceList": "list", "Success": "bool", "Message": "string"}},
		{name: "no paging", version: bss, action: "QueryAvailableInstances", body: map[string]any{},
			want: map[string]string{"Code": "Success", "Data.PageNum": "1", "Data.PageSize": "20", "Data.TotalCount": "0"}},
		{name: "a bad page", version: bss, action: "QueryAvailableInstances", body: map[string]any{"PageNum": "first"},
			err: "InvalidParameter", status: 400},
		{name: "a page too large", version: bss, action: "QueryAvailableInstances", body: map[string]any{"PageSize": "301"},
			err: "InvalidParameter", status: 400},
	})
}

// TestTerraformEndpointLookup asks Location's DescribeEndpoints (2015-06-12)
// through the official SDK over HTTPS, as the provider does at its location
// endpoint for a product whose endpoint it was not given: Palisade's
// products are this server, others have no endpoint here (the provider then
// takes their public one).
func TestTerraformEndpointLookup(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet(), TLS: true})
	sdk := srv.Common(t)
	for _, tt := range []struct {
		name, code, id, kind string
		want                 string // the endpoint; "" : none
		err                  string
	}{
		{"ecs", "ecs", "cn-hangzhou", "", srv.Addr, ""},
		{"vpc", "vpc", "eu-west-1", "openAPI", srv.Addr, ""},
		{"sts", "sts", "cn-hangzhou", "", srv.Addr, ""},
		{"a product not served", "rds", "cn-hangzhou", "", "", ""},
		{"a region not served", "ecs", "mars-1", "", "", ""},
		{"an inner endpoint", "ecs", "cn-hangzhou", "innerAPI", "", ""},
		{"no region", "ecs", "", "", "", "MissingParameter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := location.CreateDescribeEndpointsRequest()
			req.Domain, req.Scheme = srv.Addr, "HTTPS"
			req.ServiceCode, req.Id, req.Type = tt.code, tt.id, tt.kind
			resp := location.CreateDescribeEndpointsResponse()
			err := sdk.DoAction(req, resp)
			if code := sdkCode(t, err); code != tt.err {
				t.Fatalf("code %q, want %q", code, tt.err)
			}
			if tt.err != "" {
				return
			}
			got := resp.Endpoints.Endpoint
			if tt.want == "" {
				if len(got) != 0 || !resp.Success {
					t.Fatalf("endpoints %+v", resp)
				}
				return
			}
			if len(got) != 1 || got[0].Endpoint != tt.want || got[0].Type != "openAPI" || got[0].Id != tt.id || got[0].SerivceCode != tt.code {
				t.Fatalf("endpoints %+v", got)
			}
		})
	}
}
