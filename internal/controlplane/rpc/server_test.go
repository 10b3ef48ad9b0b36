package rpc

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/signature"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

const version = "2014-05-26"

type regionsResponse struct {
	Base
	Regions struct{ Region []region }
}

type region struct{ RegionId, LocalName string }

// seen records what the last handler call got.
type seen struct {
	req *Request
	ak  string
}

func testServer(t *testing.T, last *seen) *Server {
	t.Helper()
	record := func(h Handler) Handler {
		return func(ctx context.Context, req *Request) (any, error) {
			if last != nil {
				*last = seen{req, AccessKeyID(ctx)}
			}
			return h(ctx, req)
		}
	}
	return &Server{
		Verifier: &signature.Verifier{
			Lookup: func(ak string) (string, bool) { return "testsecret", ak == "testid" },
			Nonces: signature.NewNonceCache(0),
		},
		HostID: "ecs.test",
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Routes: map[RouteKey]Handler{
			{version, "DescribeRegions"}: record(func(ctx context.Context, req *Request) (any, error) {
				resp := &regionsResponse{}
				if r := req.Params.Get("RegionId"); r != "" {
					resp.Regions.Region = append(resp.Regions.Region, region{r, "local"})
				}
				return resp, nil
			}),
			{version, "DescribeSecurityGroupAttribute"}: record(func(ctx context.Context, req *Request) (any, error) {
				return nil, ecserr.NotFound("InvalidSecurityGroupId.NotFound", "SecurityGroupId")
			}),
			{version, "Plain"}: record(func(ctx context.Context, req *Request) (any, error) { return nil, errors.New("disk on fire") }),
			{version, "Panic"}: record(func(ctx context.Context, req *Request) (any, error) { panic("boom") }),
			{version, "TypedNil"}: record(func(ctx context.Context, req *Request) (any, error) {
				var e *ecserr.Error
				return nil, e
			}),
			{version, "Map"}: record(func(ctx context.Context, req *Request) (any, error) { return map[string]int{"A": 1}, nil }),
			{version, "BadStatus"}: record(func(ctx context.Context, req *Request) (any, error) {
				return nil, &ecserr.Error{Code: "Weird", Message: "no status"}
			}),
		},
	}
}

// signedV1 returns a V1-signed query for action plus extra parameters.
func signedV1(method, action, secret string, extra url.Values) url.Values {
	p := url.Values{
		"Action": {action}, "Version": {version}, "AccessKeyId": {"testid"},
		"SignatureMethod": {"HMAC-SHA1"}, "SignatureVersion": {"1.0"}, "SignatureType": {""},
		"SignatureNonce": {NewRequestID()}, "Timestamp": {time.Now().UTC().Format(signature.TimestampLayout)},
	}
	for k, v := range extra {
		p[k] = v
	}
	p.Set("Signature", signature.SignV1(secret, signature.StringToSignV1(method, p)))
	return p
}

var guid = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`)

func TestServerErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		req        func() *http.Request
		wantStatus int
		wantCode   string
		wantMsg    string
		xml        bool
	}{
		{name: "PUT", req: func() *http.Request { return httptest.NewRequest("PUT", "/", nil) },
			wantStatus: 403, wantCode: "UnsupportedHTTPMethod"},
		{name: "other path", req: func() *http.Request { return httptest.NewRequest("GET", "/x", nil) },
			wantStatus: 404, wantCode: "InvalidAction.NotFound"},
		{name: "missing Action", req: func() *http.Request { return httptest.NewRequest("GET", "/?Version="+version, nil) },
			wantStatus: 400, wantCode: "MissingParameter", wantMsg: `"Action"`},
		{name: "missing Version", req: func() *http.Request { return httptest.NewRequest("GET", "/?Action=DescribeRegions", nil) },
			wantStatus: 400, wantCode: "MissingParameter", wantMsg: `"Version"`},
		{name: "unknown action", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?Action=Nope&Version="+version, nil)
		}, wantStatus: 404, wantCode: "InvalidAction.NotFound", wantMsg: `"Nope"`},
		{name: "unknown version", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?Action=DescribeRegions&Version=2099-01-01", nil)
		}, wantStatus: 400, wantCode: "InvalidVersion", wantMsg: version}, // as ECS; the message lists the versions served
		{name: "known version, action of another", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?Action=CreateVpc&Version="+version, nil)
		}, wantStatus: 404, wantCode: "InvalidAction.NotFound", wantMsg: `"CreateVpc"`},
		{name: "unsigned", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?Action=DescribeRegions&Version="+version, nil)
		}, wantStatus: 400, wantCode: "MissingParameter", wantMsg: `"AccessKeyId"`},
		{name: "unsigned xml", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?Format=xml&Action=DescribeRegions&Version="+version, nil)
		}, wantStatus: 400, wantCode: "MissingParameter", xml: true},
		{name: "bad query", req: func() *http.Request { return httptest.NewRequest("GET", "/?a=%zz", nil) },
			wantStatus: 400, wantCode: "InvalidParameter"},
		{name: "conflicting duplicate", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?Action=DescribeRegions&Action=DeleteSecurityGroup&Version="+version, nil)
		}, wantStatus: 400, wantCode: "InvalidParameter", wantMsg: `"Action"`},
		{name: "body too large", req: func() *http.Request {
			r := httptest.NewRequest("POST", "/?Action=DescribeRegions&Version="+version, strings.NewReader("A="+strings.Repeat("x", DefaultMaxBodyBytes)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, wantStatus: 400, wantCode: "RequestBodyTooLarge"},
		{name: "wrong secret", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?"+signedV1("GET", "DescribeRegions", "nope", nil).Encode(), nil)
		}, wantStatus: 400, wantCode: "SignatureDoesNotMatch", wantMsg: "server string to sign is:GET&%2F&AccessKeyId%3Dtestid"},
		{name: "handler ecserr", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?"+signedV1("GET", "DescribeSecurityGroupAttribute", "testsecret", nil).Encode(), nil)
		}, wantStatus: 404, wantCode: "InvalidSecurityGroupId.NotFound"},
		{name: "handler ecserr xml", req: func() *http.Request {
			q := signedV1("GET", "DescribeSecurityGroupAttribute", "testsecret", url.Values{"Format": {"XML"}})
			return httptest.NewRequest("GET", "/?"+q.Encode(), nil)
		}, wantStatus: 404, wantCode: "InvalidSecurityGroupId.NotFound", xml: true},
		{name: "plain error", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?"+signedV1("GET", "Plain", "testsecret", nil).Encode(), nil)
		}, wantStatus: 500, wantCode: "InternalError", wantMsg: "server's log has its cause"}, // never the error's own text
		{name: "panic", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?"+signedV1("GET", "Panic", "testsecret", nil).Encode(), nil)
		}, wantStatus: 500, wantCode: "InternalError"},
		{name: "unencodable result", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?"+signedV1("GET", "Map", "testsecret", url.Values{"Format": {"XML"}}).Encode(), nil)
		}, wantStatus: 500, wantCode: "InternalError", xml: true},
		{name: "error without status", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?"+signedV1("GET", "BadStatus", "testsecret", nil).Encode(), nil)
		}, wantStatus: 500, wantCode: "Weird"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			testServer(t, nil).ServeHTTP(w, tc.req())
			if w.Code != tc.wantStatus {
				t.Errorf("status %d, want %d; body %s", w.Code, tc.wantStatus, w.Body)
			}
			var e errorBody
			var err error
			if tc.xml {
				if ct := w.Header().Get("Content-Type"); ct != "text/xml;charset=utf-8" {
					t.Errorf("content type %q", ct)
				}
				err = xml.Unmarshal(w.Body.Bytes(), &e)
				if !strings.Contains(w.Body.String(), "<Error><RequestId>") {
					t.Errorf("xml body %s", w.Body)
				}
			} else {
				if ct := w.Header().Get("Content-Type"); ct != "application/json;charset=utf-8" {
					t.Errorf("content type %q", ct)
				}
				err = json.Unmarshal(w.Body.Bytes(), &e)
			}
			if err != nil {
				t.Fatalf("decode %s: %v", w.Body, err)
			}
			if e.Code != tc.wantCode || !strings.Contains(e.Message, tc.wantMsg) || e.Message == "" {
				t.Errorf("code %q message %q; want %q containing %q", e.Code, e.Message, tc.wantCode, tc.wantMsg)
			}
			if !guid.MatchString(e.RequestId) || w.Header().Get("x-acs-request-id") != e.RequestId {
				t.Errorf("RequestId %q", e.RequestId)
			}
			if e.HostId != "ecs.test" {
				t.Errorf("HostId %q", e.HostId)
			}
			if want := "https://api.aliyun.com/troubleshoot?q=" + tc.wantCode + "&product=Ecs&requestId=" + e.RequestId; e.Recommend != want {
				t.Errorf("Recommend %q, want %q", e.Recommend, want)
			}
		})
	}
}

func TestServerSuccess(t *testing.T) {
	var last seen
	s := testServer(t, &last)
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		want   string // body regexp
		xml    bool
		params map[string]string
	}{
		{name: "GET json", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?"+signedV1("GET", "DescribeRegions", "testsecret", url.Values{"RegionId": {"cn-hangzhou"}}).Encode(), nil)
		}, want: `^\{"RequestId":"[0-9A-F-]{36}","Regions":\{"Region":\[\{"RegionId":"cn-hangzhou","LocalName":"local"\}\]\}\}\n$`,
			params: map[string]string{"RegionId": "cn-hangzhou"}},
		{name: "empty list", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?"+signedV1("GET", "DescribeRegions", "testsecret", nil).Encode(), nil)
		}, want: `"Regions":\{"Region":\[\]\}`},
		{name: "POST form body, Format=xml", req: func() *http.Request {
			q := signedV1("POST", "DescribeRegions", "testsecret", url.Values{"RegionId": {"cn-beijing"}, "Tag.1.Key": {"a b"}, "Format": {"xml"}})
			body := url.Values{"RegionId": q["RegionId"], "Tag.1.Key": q["Tag.1.Key"]}
			q.Del("RegionId")
			q.Del("Tag.1.Key")
			r := httptest.NewRequest("POST", "/?"+q.Encode(), strings.NewReader(body.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, xml: true, want: `^<\?xml version="1.0" encoding="UTF-8"\?>\n<DescribeRegionsResponse><RequestId>[0-9A-F-]{36}</RequestId><Regions><Region><RegionId>cn-beijing</RegionId><LocalName>local</LocalName></Region></Regions></DescribeRegionsResponse>$`,
			params: map[string]string{"RegionId": "cn-beijing", "Tag.1.Key": "a b"}},
		{name: "typed nil error is success", req: func() *http.Request {
			return httptest.NewRequest("GET", "/?"+signedV1("GET", "TypedNil", "testsecret", nil).Encode(), nil)
		}, want: `^\{"RequestId":"[0-9A-F-]{36}"\}\n$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, tc.req())
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if !regexp.MustCompile(tc.want).MatchString(w.Body.String()) {
				t.Errorf("body %s does not match %s", w.Body, tc.want)
			}
			wantType := "application/json;charset=utf-8"
			if tc.xml {
				wantType = "text/xml;charset=utf-8"
			}
			if ct := w.Header().Get("Content-Type"); ct != wantType {
				t.Errorf("content type %q", ct)
			}
			if last.ak != "testid" || last.req.AccessKeyID != "testid" || last.req.Version != version || !guid.MatchString(last.req.RequestID) ||
				last.req.Product != "Ecs" || last.req.Format != map[bool]string{true: "XML", false: "JSON"}[tc.xml] {
				t.Errorf("handler saw %+v (ctx ak %q)", last.req, last.ak)
			}
			if !strings.Contains(w.Body.String(), last.req.RequestID) {
				t.Errorf("response RequestId differs from the handler's %s", last.req.RequestID)
			}
			for k, v := range tc.params {
				if last.req.Params.Get(k) != v {
					t.Errorf("param %s = %q, want %q", k, last.req.Params.Get(k), v)
				}
			}
		})
	}
}

func TestServerWithoutVerifier(t *testing.T) {
	s := testServer(t, nil)
	s.Verifier = nil
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/?"+signedV1("GET", "DescribeRegions", "testsecret", nil).Encode(), nil))
	if w.Code != 500 || !strings.Contains(w.Body.String(), "no signature verifier") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func TestNewRequestID(t *testing.T) {
	a, b := NewRequestID(), NewRequestID()
	if !guid.MatchString(a) || a == b {
		t.Fatalf("%s %s", a, b)
	}
	// A version 4 UUID: the version digit and the variant bits.
	for range 100 {
		if id := NewRequestID(); !guid.MatchString(id) || id[14] != '4' || !strings.ContainsRune("89AB", rune(id[19])) {
			t.Fatalf("%s is not a version 4 UUID", id)
		}
	}
}

// A request refused before its parameters are read (method, path, body)
// is still answered in the Format its query asks for, with the request ID
// header and the body's length; one whose parameters were read but name
// one twice with two values, in the Format they ask for, the form's too.
func TestServerEarlyRefusalFormat(t *testing.T) {
	srv := testServer(t, &seen{})
	srv.MaxBodyBytes = 20
	for _, tc := range []struct {
		name, method, target, body string
		wantStatus                 int
		wantXML                    bool
	}{
		{"method XML", "PUT", "/?Format=XML", "", 403, true},
		{"method xml lower case", "PUT", "/?Format=xml", "", 403, true},
		{"method JSON", "PUT", "/?Format=JSON", "", 403, false},
		{"path XML", "GET", "/x?Format=XML", "", 404, true},
		{"body too large XML", "POST", "/?Format=XML", strings.Repeat("a=1&", 10), 400, true},
		{"body too large", "POST", "/", strings.Repeat("a=1&", 10), 400, false},
		{"a name twice, Format=XML in the form", "POST", "/?a=1", "Format=XML&a=2", 400, true},
		{"a name twice, Format=XML in the query", "POST", "/?a=1&Format=XML", "a=2", 400, true},
		{"a name twice, Format=XML after it", "POST", "/?a=1", "a=2&Format=XML", 400, true},
		{"a name twice", "POST", "/?a=1", "a=2", 400, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.method == "POST" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			ct := w.Header().Get("Content-Type")
			if w.Code != tc.wantStatus || (ct == contentTypeXML) != tc.wantXML || strings.HasPrefix(w.Body.String(), "<?xml") != tc.wantXML {
				t.Fatalf("%d %s %s, want %d, XML %v", w.Code, ct, w.Body, tc.wantStatus, tc.wantXML)
			}
			if !guid.MatchString(w.Header().Get("x-acs-request-id")) || w.Header().Get("Content-Length") != itoa(w.Body.Len()) {
				t.Fatalf("headers %v for a body of %d bytes", w.Header(), w.Body.Len())
			}
		})
	}
}
