package apitest

import (
	"testing"

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
