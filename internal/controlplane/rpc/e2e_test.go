package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// captured is one HTTP request as it arrived, for replaying it verbatim.
type captured struct {
	method, uri, host string
	header            http.Header
	body              []byte
}

// e2e runs the rpc.Server behind httptest, recording every raw request.
type e2e struct {
	*httptest.Server
	last *seen
	mu   sync.Mutex
	reqs []captured
}

func newE2E(t *testing.T) *e2e {
	e := &e2e{last: &seen{}}
	s := testServer(t, e.last)
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		e.mu.Lock()
		e.reqs = append(e.reqs, captured{r.Method, r.RequestURI, r.Host, r.Header.Clone(), body})
		e.mu.Unlock()
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *e2e) host() string { return strings.TrimPrefix(e.URL, "http://") }

func (e *e2e) lastCaptured() captured {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reqs[len(e.reqs)-1]
}

// replay re-sends the last captured request byte for byte.
func (e *e2e) replay(t *testing.T) (int, errorBody) {
	t.Helper()
	c := e.lastCaptured()
	r, err := http.NewRequest(c.method, e.URL+c.uri, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header = c.header.Clone()
	r.Host = c.host
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb errorBody
	if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, eb
}

func classicClient(t *testing.T, host, secret string) *ecs.Client {
	c, err := ecs.NewClientWithAccessKey("cn-hangzhou", "testid", secret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = host
	return c
}

func TestClassicSDKEndToEnd(t *testing.T) {
	e := newE2E(t)
	c := classicClient(t, e.host(), "testsecret")

	req := ecs.CreateDescribeRegionsRequest()
	req.Scheme = "http"
	req.RegionId = "cn-shanghai"
	resp, err := c.DescribeRegions(req)
	if err != nil {
		t.Fatalf("DescribeRegions: %v", err)
	}
	if !guid.MatchString(resp.RequestId) || len(resp.Regions.Region) != 1 || resp.Regions.Region[0].RegionId != "cn-shanghai" {
		t.Fatalf("decoded %+v", resp)
	}
	if got := e.last.req; got.Action != "DescribeRegions" || got.Params.Get("RegionId") != "cn-shanghai" || got.AccessKeyID != "testid" || got.Format != "JSON" {
		t.Fatalf("handler saw %+v", got)
	}

	t.Run("replay", func(t *testing.T) {
		status, eb := e.replay(t)
		if status != 400 || eb.Code != "SignatureNonceUsed" {
			t.Fatalf("replay: %d %+v", status, eb)
		}
	})

	t.Run("handler error", func(t *testing.T) {
		req := ecs.CreateDescribeSecurityGroupAttributeRequest()
		req.Scheme = "http"
		req.SecurityGroupId = "sg-nope"
		_, err := c.DescribeSecurityGroupAttribute(req)
		var se *sdkerrors.ServerError
		if !errors.As(err, &se) || se.HttpStatus() != 404 || se.ErrorCode() != "InvalidSecurityGroupId.NotFound" || !guid.MatchString(se.RequestId()) {
			t.Fatalf("error %v", err)
		}
		if e.last.req.Params.Get("SecurityGroupId") != "sg-nope" {
			t.Errorf("handler saw %v", e.last.req.Params)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		req := ecs.CreateDescribeRegionsRequest()
		req.Scheme = "http"
		_, err := classicClient(t, e.host(), "nope").DescribeRegions(req)
		var se *sdkerrors.ServerError
		if !errors.As(err, &se) || se.HttpStatus() != 400 || se.ErrorCode() != "SignatureDoesNotMatch" {
			t.Fatalf("error %v", err)
		}
		// The SDK compares our string to sign with its own: equal means it
		// blames the secret, not a signing bug.
		if !strings.Contains(se.Recommend(), "InvalidAccessKeySecret") {
			t.Errorf("server string to sign differs from the SDK's: %s", se.Recommend())
		}
	})
}

func darabonbaClient(t *testing.T, host, secret, algorithm string) *openapi.Client {
	cfg := &openapi.Config{
		AccessKeyId: dara.String("testid"), AccessKeySecret: dara.String(secret),
		Endpoint: dara.String(host), Protocol: dara.String("HTTP"), RegionId: dara.String("cn-hangzhou"),
	}
	if algorithm != "" {
		cfg.SignatureAlgorithm = dara.String(algorithm)
	}
	c, err := openapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func callAPI(c *openapi.Client, action string, query map[string]*string, body any) (map[string]any, error) {
	params := &openapi.Params{
		Action: dara.String(action), Version: dara.String(version), Protocol: dara.String("HTTP"),
		Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"), Style: dara.String("RPC"),
		ReqBodyType: dara.String("formData"), BodyType: dara.String("json"),
	}
	return c.CallApi(params, &openapi.OpenApiRequest{Query: query, Body: body}, &dara.RuntimeOptions{})
}

func TestDarabonbaEndToEnd(t *testing.T) {
	for _, tc := range []struct{ name, algorithm string }{{"V3", ""}, {"V1 (SignatureAlgorithm v2)", "v2"}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t)
			c := darabonbaClient(t, e.host(), "testsecret", tc.algorithm)
			res, err := callAPI(c, "DescribeRegions", map[string]*string{"RegionId": dara.String("cn-beijing")}, map[string]any{"Tag": []any{map[string]any{"Key": "k 1*"}}})
			if err != nil {
				t.Fatalf("CallApi: %v", err)
			}
			body, _ := res["body"].(map[string]any)
			regions, _ := body["Regions"].(map[string]any)
			list, _ := regions["Region"].([]any)
			if len(list) != 1 || !guid.MatchString(body["RequestId"].(string)) {
				t.Fatalf("decoded %v", res)
			}
			got := e.last.req
			if got.Action != "DescribeRegions" || got.Version != version || got.Params.Get("RegionId") != "cn-beijing" ||
				got.Params.Structs("Tag")[0].Get("Key") != "k 1*" || got.Format != "JSON" || e.last.ak != "testid" {
				t.Fatalf("handler saw %+v", got)
			}
			if v3 := strings.HasPrefix(e.lastCaptured().header.Get("Authorization"), "ACS3-HMAC-SHA256"); v3 != (tc.algorithm == "") {
				t.Fatalf("expected V3=%v", tc.algorithm == "")
			}

			t.Run("replay", func(t *testing.T) {
				status, eb := e.replay(t)
				if status != 400 || eb.Code != "SignatureNonceUsed" {
					t.Fatalf("replay: %d %+v", status, eb)
				}
			})

			t.Run("handler error", func(t *testing.T) {
				_, err := callAPI(c, "DescribeSecurityGroupAttribute", map[string]*string{"SecurityGroupId": dara.String("sg-nope")}, nil)
				var se *tea.SDKError
				if !errors.As(err, &se) || tea.IntValue(se.StatusCode) != 404 || tea.StringValue(se.Code) != "InvalidSecurityGroupId.NotFound" {
					t.Fatalf("error %v", err)
				}
			})

			t.Run("wrong secret", func(t *testing.T) {
				_, err := callAPI(darabonbaClient(t, e.host(), "nope", tc.algorithm), "DescribeRegions", nil, nil)
				var se *tea.SDKError
				if !errors.As(err, &se) || tea.IntValue(se.StatusCode) != 400 || tea.StringValue(se.Code) != "SignatureDoesNotMatch" {
					t.Fatalf("error %v", err)
				}
			})

			t.Run("unknown action", func(t *testing.T) {
				_, err := callAPI(c, "NoSuchAction", nil, nil)
				var se *tea.SDKError
				if !errors.As(err, &se) || tea.IntValue(se.StatusCode) != 404 || tea.StringValue(se.Code) != "InvalidAction.NotFound" {
					t.Fatalf("error %v", err)
				}
			})
		})
	}
}
