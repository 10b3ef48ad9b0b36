package signature

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// sdkServer verifies every request with a real clock and answers a minimal
// ECS-shaped JSON body (or the error envelope), recording what it saw.
type sdkServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []url.Values
	auth []string // Authorization header of each verified request
}

func newSDKServer(t *testing.T) *sdkServer {
	v := &Verifier{Lookup: testVerifier().Lookup, Nonces: NewNonceCache(0)}
	s := &sdkServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		params := r.URL.Query()
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
			form, err := url.ParseQuery(string(body))
			if err != nil {
				t.Errorf("form: %v", err)
			}
			for k, vs := range form {
				params[k] = vs
			}
		}
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		if _, err := v.Verify(r, params, body); err != nil {
			w.WriteHeader(err.Status)
			json.NewEncoder(w).Encode(map[string]string{"RequestId": "R", "Code": err.Code, "Message": err.Message})
			return
		}
		s.mu.Lock()
		s.seen = append(s.seen, params)
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		io.WriteString(w, `{"RequestId":"R","Regions":{"Region":[{"RegionId":"cn-hangzhou"}]}}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sdkServer) last() (url.Values, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[len(s.seen)-1], s.auth[len(s.auth)-1]
}

func TestClassicSDK(t *testing.T) {
	s := newSDKServer(t)
	host := strings.TrimPrefix(s.URL, "http://")
	client, err := ecs.NewClientWithAccessKey("cn-hangzhou", "testid", "testsecret")
	if err != nil {
		t.Fatal(err)
	}
	client.Domain = host

	req := ecs.CreateDescribeRegionsRequest()
	req.Scheme = "http"
	req.AcceptLanguage = "zh-CN"
	resp, err := client.DescribeRegions(req)
	if err != nil {
		t.Fatalf("DescribeRegions: %v", err)
	}
	if resp.RequestId != "R" || len(resp.Regions.Region) != 1 {
		t.Fatalf("response %+v", resp)
	}
	if got, auth := s.last(); got.Get("AcceptLanguage") != "zh-CN" || got.Get("Signature") == "" || auth != "" {
		t.Errorf("want a V1 request with AcceptLanguage, got %v (Authorization %q)", got, auth)
	}

	// Form-body parameters (as tea-rpc/Terraform send them) are signed too.
	cr := requests.NewCommonRequest()
	cr.Method = "POST"
	cr.Scheme = "http"
	cr.Domain = host
	cr.Version = "2014-05-26"
	cr.ApiName = "DescribeSecurityGroups"
	cr.FormParams["Description"] = "a b*~&="
	cr.QueryParams["RegionId"] = "cn-hangzhou"
	if _, err := client.ProcessCommonRequest(cr); err != nil {
		t.Fatalf("common request: %v", err)
	}
	if got, _ := s.last(); got.Get("Description") != "a b*~&=" {
		t.Errorf("Description = %q", got.Get("Description"))
	}

	// Wrong secret: the SDK surfaces our SignatureDoesNotMatch.
	bad, _ := ecs.NewClientWithAccessKey("cn-hangzhou", "testid", "nope")
	bad.Domain = host
	req = ecs.CreateDescribeRegionsRequest()
	req.Scheme = "http"
	if _, err := bad.DescribeRegions(req); err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestDarabonbaSDK(t *testing.T) {
	s := newSDKServer(t)
	host := strings.TrimPrefix(s.URL, "http://")
	for _, tc := range []struct {
		name, algorithm string
		body            bool
	}{
		{"v3 query", "", false},
		{"v3 form body", "", true},
		{"v1 query", "v2", false},
		{"v1 form body", "v2", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &openapi.Config{
				AccessKeyId: dara.String("testid"), AccessKeySecret: dara.String("testsecret"),
				Endpoint: dara.String(host), Protocol: dara.String("HTTP"), RegionId: dara.String("cn-hangzhou"),
			}
			if tc.algorithm != "" {
				cfg.SignatureAlgorithm = dara.String(tc.algorithm)
			}
			c, err := openapi.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			params := &openapi.Params{
				Action: dara.String("DescribeRegions"), Version: dara.String("2014-05-26"), Protocol: dara.String("HTTP"),
				Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"), Style: dara.String("RPC"),
				ReqBodyType: dara.String("formData"), BodyType: dara.String("json"),
			}
			req := &openapi.OpenApiRequest{Query: map[string]*string{"RegionId": dara.String("cn-hangzhou"), "Tag.1.Key": dara.String("k y*~")}}
			if tc.body {
				req.Body = map[string]any{"Description": "a b*~&=", "Permissions": []any{map[string]any{"IpProtocol": "TCP"}}}
			}
			res, err := c.CallApi(params, req, &dara.RuntimeOptions{})
			if err != nil {
				t.Fatalf("CallApi: %v", err)
			}
			if body, _ := res["body"].(map[string]any); body["RequestId"] != "R" {
				t.Fatalf("response %v", res)
			}
			got, auth := s.last()
			if v3 := strings.HasPrefix(auth, AlgorithmV3); v3 != (tc.algorithm == "") || v3 == (got.Get("Signature") != "") {
				t.Errorf("wrong scheme: Authorization %q, Signature %q", auth, got.Get("Signature"))
			}
			if got.Get("Tag.1.Key") != "k y*~" {
				t.Errorf("Tag.1.Key = %q", got.Get("Tag.1.Key"))
			}
			if tc.body && (got.Get("Description") != "a b*~&=" || got.Get("Permissions.1.IpProtocol") != "TCP") {
				t.Errorf("form body not seen: %v", got)
			}
		})
	}
}
