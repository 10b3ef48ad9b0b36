package apitest

import (
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestSTSCallerIdentity asks STS's GetCallerIdentity (2015-04-01) through
// the official SDK over HTTPS, as the alicloud Terraform provider does
// when it needs the account ID (client.AccountId: data "alicloud_account",
// data "alicloud_caller_identity", ARNs): every key answers for its own
// account, as the account itself (Palisade has no RAM users); a host key
// is refused.
func TestSTSCallerIdentity(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet(), TLS: true})
	created, err := srv.RAMAs(t, srv.KeyID, srv.Secret).CreateAccessKey(ram.CreateCreateAccessKeyRequest())
	if err != nil {
		t.Fatal(err)
	}
	other := srv.NewAccount(t, "other")
	hostID, hostSecret := srv.RegisterHost(t, "h1")

	for _, tt := range []struct {
		name, keyID, secret string
		account             string // "" : any account but the tenants'
		code                string
	}{
		{"the first tenant", srv.KeyID, srv.Secret, srv.UID, ""},
		{"its second key", created.AccessKey.AccessKeyId, created.AccessKey.AccessKeySecret, srv.UID, ""},
		{"another tenant", other.KeyID, other.Secret, other.UID, ""},
		{"the operator", srv.OperatorKeyID, srv.OperatorSecret, "", ""},
		{"a host key", hostID, hostSecret, "", "Forbidden.HostKey"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := srv.STSAs(t, tt.keyID, tt.secret).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
			if code := sdkCode(t, err); code != tt.code {
				t.Fatalf("code %q, want %q", code, tt.code)
			}
			if tt.code != "" {
				return
			}
			want := tt.account
			if want == "" {
				want = got.AccountId
				if want == "" || want == srv.UID || want == other.UID {
					t.Fatalf("AccountId %q", want)
				}
			}
			if got.AccountId != want || got.IdentityType != "Account" || got.UserId != want || got.PrincipalId != want ||
				got.Arn != "acs:ram::"+want+":root" || got.RoleId != "" || got.RequestId == "" {
				t.Fatalf("GetCallerIdentity: %+v", got)
			}
		})
	}

	// The Tea SDK (V3 signature), as the provider's newer STS calls are made.
	res, err := srv.V3(t).CallApi(&openapi.Params{Action: dara.String("GetCallerIdentity"), Version: dara.String("2015-04-01"),
		Protocol: dara.String("HTTPS"), Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"),
		Style: dara.String("RPC"), ReqBodyType: dara.String("json"), BodyType: dara.String("json")},
		&openapi.OpenApiRequest{}, &dara.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := res["body"].(map[string]any); body["AccountId"] != srv.UID || body["Arn"] != "acs:ram::"+srv.UID+":root" {
		t.Fatalf("GetCallerIdentity over V3: %v", res["body"])
	}
}
