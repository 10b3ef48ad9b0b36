package signature

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

var testNow = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func testVerifier() *Verifier {
	return &Verifier{
		Lookup: func(ak string) (string, bool) {
			if ak == "testid" {
				return "testsecret", true
			}
			return "", false
		},
		Nonces: NewNonceCache(0),
		Now:    func() time.Time { return testNow },
	}
}

// v1Params returns a complete V1 request signed with secret; edit may change
// parameters before signing.
func v1Params(secret string, edit func(url.Values)) url.Values {
	p := url.Values{
		"AccessKeyId":      {"testid"},
		"Action":           {"DescribeRegions"},
		"Version":          {"2014-05-26"},
		"Format":           {"JSON"},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureVersion": {"1.0"},
		"SignatureNonce":   {"n-1"},
		"SignatureType":    {""},
		"Timestamp":        {testNow.Format(TimestampLayout)},
	}
	if edit != nil {
		edit(p)
	}
	p.Set("Signature", SignV1(secret, StringToSignV1("POST", p)))
	return p
}

func v1Request(p url.Values) *http.Request {
	return httptest.NewRequest("POST", "/?"+p.Encode(), nil)
}

// v3Request builds a V3-signed POST with query q and body; edit may change
// headers before signing.
func v3Request(secret string, q url.Values, body string, edit func(http.Header)) *http.Request {
	r := httptest.NewRequest("POST", "/?"+q.Encode(), strings.NewReader(body))
	r.Host = "127.0.0.1:8080"
	r.Header.Set("x-acs-action", "DescribeRegions")
	r.Header.Set("x-acs-version", "2014-05-26")
	r.Header.Set("x-acs-date", testNow.Format(TimestampLayout))
	r.Header.Set("x-acs-signature-nonce", "n-1")
	r.Header.Set("x-acs-content-sha256", HashPayload([]byte(body)))
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if edit != nil {
		edit(r.Header)
	}
	signed := []string{"host"}
	for k := range r.Header {
		if l := strings.ToLower(k); strings.HasPrefix(l, "x-acs-") || l == "content-type" {
			signed = append(signed, l)
		}
	}
	sortStrings(signed)
	h := r.Header.Clone()
	h.Set("Host", r.Host)
	cr := CanonicalRequestV3("POST", "/", q, h, signed, r.Header.Get("x-acs-content-sha256"))
	r.Header.Set("Authorization", AlgorithmV3+" Credential=testid,SignedHeaders="+strings.Join(signed, ";")+",Signature="+SignV3(secret, cr))
	return r
}

// sm3Request is a V3 request signed with ACS3-HMAC-SM3 by darabonba's own
// GetAuthorization, the headers as v3Request sets them.
func sm3Request(secret string, q url.Values, body string) *http.Request {
	alg := AlgorithmV3SM3
	r := httptest.NewRequest("POST", "/?"+q.Encode(), strings.NewReader(body))
	payload := hex.EncodeToString(openapiutil.Hash([]byte(body), &alg))
	h := map[string]*string{"host": dara.String("127.0.0.1:8080"), "x-acs-action": dara.String("DescribeRegions"),
		"x-acs-version": dara.String("2014-05-26"), "x-acs-date": dara.String(testNow.Format(TimestampLayout)),
		"x-acs-signature-nonce": dara.String("n-1"), "x-acs-content-sha256": dara.String(payload)}
	if body != "" {
		h["content-type"] = dara.String("application/x-www-form-urlencoded")
	}
	dq := map[string]*string{}
	for k := range q {
		dq[k] = dara.String(q.Get(k))
	}
	auth := openapiutil.GetAuthorization(&dara.Request{Method: dara.String("POST"), Pathname: dara.String("/"), Query: dq, Headers: h},
		&alg, &payload, dara.String("testid"), dara.String(secret))
	r.Host = "127.0.0.1:8080"
	for k, v := range h {
		if k != "host" {
			r.Header.Set(k, *v)
		}
	}
	r.Header.Set("Authorization", *auth)
	return r
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestVerifyV1(t *testing.T) {
	del := func(name string) func(url.Values) { return func(p url.Values) { p.Del(name) } }
	set := func(name, v string) func(url.Values) { return func(p url.Values) { p.Set(name, v) } }
	for _, tc := range []struct {
		name     string
		params   url.Values
		wantCode string
		wantMsg  string // substring
	}{
		{name: "ok", params: v1Params("testsecret", nil)},
		{name: "missing AccessKeyId", params: v1Params("testsecret", del("AccessKeyId")), wantCode: "MissingParameter", wantMsg: `"AccessKeyId"`},
		{name: "missing SignatureNonce", params: v1Params("testsecret", del("SignatureNonce")), wantCode: "MissingParameter", wantMsg: `"SignatureNonce"`},
		{name: "missing Timestamp", params: v1Params("testsecret", del("Timestamp")), wantCode: "MissingParameter", wantMsg: `"Timestamp"`},
		{name: "missing SignatureMethod", params: v1Params("testsecret", del("SignatureMethod")), wantCode: "MissingParameter"},
		{name: "missing SignatureVersion", params: v1Params("testsecret", del("SignatureVersion")), wantCode: "MissingParameter"},
		{name: "missing Action", params: v1Params("testsecret", del("Action")), wantCode: "MissingParameter", wantMsg: `"Action"`},
		{name: "missing Signature", params: func() url.Values { p := v1Params("testsecret", nil); p.Del("Signature"); return p }(), wantCode: "MissingParameter", wantMsg: `"Signature"`},
		{name: "unsupported method", params: v1Params("testsecret", set("SignatureMethod", "HMAC-SHA256")), wantCode: "InvalidParameter", wantMsg: "HMAC-SHA1"},
		{name: "unsupported version", params: v1Params("testsecret", set("SignatureVersion", "2.0")), wantCode: "InvalidParameter"},
		{name: "bad timestamp", params: v1Params("testsecret", set("Timestamp", "yesterday")), wantCode: "InvalidTimeStamp.Format"},
		{name: "rfc3339 offset ok", params: v1Params("testsecret", set("Timestamp", "2024-01-01T08:00:00+08:00"))},
		{name: "16 min old", params: v1Params("testsecret", set("Timestamp", testNow.Add(-16*time.Minute).Format(TimestampLayout))), wantCode: "InvalidTimeStamp.Expired"},
		{name: "16 min ahead", params: v1Params("testsecret", set("Timestamp", testNow.Add(16*time.Minute).Format(TimestampLayout))), wantCode: "InvalidTimeStamp.Expired"},
		{name: "14 min ahead ok", params: v1Params("testsecret", set("Timestamp", testNow.Add(14*time.Minute).Format(TimestampLayout)))},
		{name: "unknown key", params: v1Params("testsecret", set("AccessKeyId", "nobody")), wantCode: "InvalidAccessKeyId.NotFound", wantMsg: "Specified access key is not found."},
		{name: "wrong secret", params: v1Params("other", nil), wantCode: "SignatureDoesNotMatch",
			wantMsg: "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3Dtestid%26Action"},
		{name: "tampered param", params: func() url.Values { p := v1Params("testsecret", nil); p.Set("Action", "DeleteSecurityGroup"); return p }(), wantCode: "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := testVerifier()
			ak, err := v.Verify(v1Request(tc.params), tc.params, nil)
			checkErr(t, err, tc.wantCode, tc.wantMsg)
			if err == nil && ak != "testid" {
				t.Errorf("ak = %q", ak)
			}
		})
	}
}

func TestVerifyV1SignatureSpaceForPlus(t *testing.T) {
	// Find a nonce whose signature contains '+', then send it unescaped.
	for i := 0; ; i++ {
		p := v1Params("testsecret", func(p url.Values) { p.Set("SignatureNonce", "n"+string(rune('a'+i%26))+strings.Repeat("x", i/26)) })
		sig := p.Get("Signature")
		if !strings.Contains(sig, "+") {
			continue
		}
		p.Set("Signature", strings.ReplaceAll(sig, "+", " "))
		if _, err := testVerifier().Verify(v1Request(p), p, nil); err != nil {
			t.Fatal(err)
		}
		return
	}
}

func TestVerifyV3(t *testing.T) {
	q := url.Values{"RegionId": {"cn-hangzhou"}, "Tag.1.Key": {"a b*~"}}
	setH := func(name, v string) func(http.Header) { return func(h http.Header) { h.Set(name, v) } }
	delH := func(name string) func(http.Header) { return func(h http.Header) { h.Del(name) } }
	for _, tc := range []struct {
		name     string
		req      *http.Request
		body     string
		wantCode string
		wantMsg  string
	}{
		{name: "ok", req: v3Request("testsecret", q, "", nil)},
		{name: "ok with form body", req: v3Request("testsecret", q, "A=1&B=2", nil), body: "A=1&B=2"},
		{name: "body swapped", req: v3Request("testsecret", q, "A=1&B=2", nil), body: "A=1&B=3", wantCode: "InvalidParameter", wantMsg: "x-acs-content-sha256"},
		{name: "malformed authorization", req: func() *http.Request {
			r := v3Request("testsecret", q, "", nil)
			r.Header.Set("Authorization", "ACS3-HMAC-SHA256 Credential=testid")
			return r
		}(), wantCode: "IncompleteSignature"},
		{name: "rsa", req: func() *http.Request {
			r := v3Request("testsecret", q, "", nil)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "HMAC-SHA256", "RSA-SHA256", 1))
			return r
		}(), wantCode: "InvalidParameter", wantMsg: "ACS3-RSA-SHA256"},
		// ACS3-HMAC-SM3, as the Tea SDKs sign it given that algorithm.
		{name: "sm3", req: sm3Request("testsecret", q, "")},
		{name: "sm3 with form body", req: sm3Request("testsecret", q, "A=1&B=2"), body: "A=1&B=2"},
		{name: "sm3 body hashed with SHA-256", req: func() *http.Request {
			r := v3Request("testsecret", q, "", nil)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SHA256", "SM3", 1))
			return r
		}(), wantCode: "InvalidParameter", wantMsg: "SM3"},
		{name: "sm3 wrong secret", req: sm3Request("other", q, ""), wantCode: "SignatureDoesNotMatch"},
		{name: "missing date", req: v3Request("testsecret", q, "", delH("x-acs-date")), wantCode: "MissingParameter", wantMsg: "x-acs-date"},
		{name: "missing nonce", req: v3Request("testsecret", q, "", delH("x-acs-signature-nonce")), wantCode: "MissingParameter", wantMsg: "x-acs-signature-nonce"},
		{name: "missing content hash", req: v3Request("testsecret", q, "", delH("x-acs-content-sha256")), wantCode: "MissingParameter", wantMsg: "x-acs-content-sha256"},
		{name: "unsigned x-acs header", req: func() *http.Request {
			r := v3Request("testsecret", q, "", nil)
			r.Header.Set("x-acs-action", "DeleteSecurityGroup")
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "x-acs-action;", "", 1))
			return r
		}(), wantCode: "IncompleteSignature", wantMsg: "x-acs-action"},
		// The content type decides whether the body is read as parameters:
		// a replayed request with it unsigned could have it swapped.
		{name: "body with unsigned content type", req: func() *http.Request {
			r := v3Request("testsecret", q, "", func(h http.Header) { h.Set("x-acs-content-sha256", HashPayload([]byte("A=1"))) })
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}(), body: "A=1", wantCode: "IncompleteSignature", wantMsg: "content-type"},
		{name: "body with content type signed", req: v3Request("testsecret", q, "A=1", nil), body: "A=1"},
		{name: "content type swapped after signing", req: func() *http.Request {
			r := v3Request("testsecret", q, "A=1", nil)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}(), body: "A=1", wantCode: "SignatureDoesNotMatch"},
		{name: "bad date", req: v3Request("testsecret", q, "", setH("x-acs-date", "2024-01-01 00:00:00")), wantCode: "InvalidTimeStamp.Format"},
		{name: "expired", req: v3Request("testsecret", q, "", setH("x-acs-date", "2023-12-31T23:44:59Z")), wantCode: "InvalidTimeStamp.Expired"},
		{name: "unknown key", req: func() *http.Request {
			r := v3Request("testsecret", q, "", nil)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "testid", "nobody", 1))
			return r
		}(), wantCode: "InvalidAccessKeyId.NotFound", wantMsg: "Specified access key is not found."},
		{name: "wrong secret", req: v3Request("other", q, "", nil), wantCode: "SignatureDoesNotMatch",
			wantMsg: "Specified signature is not matched with our calculation. server string to sign is:POST\n/\nRegionId=cn-hangzhou&Tag.1.Key=a%20b%2A~\nhost:127.0.0.1:8080\n"},
		{name: "tampered query", req: func() *http.Request {
			r := v3Request("testsecret", q, "", nil)
			r.URL.RawQuery += "&Extra=1"
			return r
		}(), wantCode: "SignatureDoesNotMatch"},
		{name: "tampered host", req: func() *http.Request {
			r := v3Request("testsecret", q, "", nil)
			r.Host = "evil"
			return r
		}(), wantCode: "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ak, err := testVerifier().Verify(tc.req, nil, []byte(tc.body))
			checkErr(t, err, tc.wantCode, tc.wantMsg)
			if err == nil && ak != "testid" {
				t.Errorf("ak = %q", ak)
			}
		})
	}
}

// A nonce is burnt only by a request whose signature verified; a reused one
// is refused; another key may use the same nonce.
func TestVerifyNonce(t *testing.T) {
	v := testVerifier()
	v.Lookup = func(ak string) (string, bool) { return "testsecret", ak == "testid" || ak == "other" }
	forged := v1Params("wrong", nil)
	if _, err := v.Verify(v1Request(forged), forged, nil); err == nil || err.Code != "SignatureDoesNotMatch" {
		t.Fatalf("forged: %v", err)
	}
	good := v1Params("testsecret", nil)
	if _, err := v.Verify(v1Request(good), good, nil); err != nil {
		t.Fatalf("first use: %v", err)
	}
	_, err := v.Verify(v1Request(good), good, nil)
	checkErr(t, err, "SignatureNonceUsed", "nonce")
	// Same nonce through V3 with the same key is a replay too.
	_, err = v.Verify(v3Request("testsecret", nil, "", nil), nil, nil)
	checkErr(t, err, "SignatureNonceUsed", "")
	other := v1Params("testsecret", func(p url.Values) { p.Set("AccessKeyId", "other") })
	if _, err := v.Verify(v1Request(other), other, nil); err != nil {
		t.Fatalf("other key, same nonce: %v", err)
	}
	// Once the timestamp itself has expired the nonce may be forgotten.
	testNowSaved := testNow
	v.Now = func() time.Time { return testNowSaved.Add(16 * time.Minute) }
	_, err = v.Verify(v1Request(good), good, nil)
	checkErr(t, err, "InvalidTimeStamp.Expired", "")
}

// TestVerifyReplayAtTheWindowsEdge: a replay is refused for as long as its
// timestamp is accepted, to the window's last instant, whatever the
// window and the cache's grain (here they align: the nonce's bucket could
// end exactly there); after it, the timestamp itself is refused.
func TestVerifyReplayAtTheWindowsEdge(t *testing.T) {
	for _, tc := range []struct {
		skew, grain time.Duration
	}{{2 * time.Minute, time.Second}, {2 * time.Minute, 7500 * time.Millisecond}, {0, 0}, {16 * time.Second, time.Second}} {
		skew := tc.skew
		if skew == 0 {
			skew = DefaultMaxSkew
		}
		for _, ahead := range []bool{false, true} {
			v := testVerifier()
			v.MaxSkew = tc.skew
			v.Nonces = &NonceCache{Grain: tc.grain}
			ts := testNow
			if ahead { // signed by a clock ahead of the server's
				ts = testNow.Add(skew)
			}
			p := v1Params("testsecret", func(p url.Values) { p.Set("Timestamp", ts.Format(TimestampLayout)) })
			at := func(d time.Duration) *ecserr.Error {
				v.Now = func() time.Time { return ts.Add(d) }
				_, err := v.Verify(v1Request(p), p, nil)
				return err
			}
			name := fmt.Sprintf("skew %s grain %s ahead %v", tc.skew, tc.grain, ahead)
			if ahead {
				if err := at(-skew); err != nil {
					t.Fatalf("%s: first use: %v", name, err)
				}
			} else if err := at(0); err != nil {
				t.Fatalf("%s: first use: %v", name, err)
			}
			for _, d := range []time.Duration{time.Second, skew - time.Nanosecond, skew} {
				if err := at(d); err == nil || err.Code != "SignatureNonceUsed" {
					t.Errorf("%s: replay at ts+%s: %v, want SignatureNonceUsed", name, d, err)
				}
			}
			if err := at(skew + time.Nanosecond); err == nil || err.Code != "InvalidTimeStamp.Expired" {
				t.Errorf("%s: replay past the window: %v, want InvalidTimeStamp.Expired", name, err)
			}
		}
	}
}

func TestVerifyNilNoncesAndLookup(t *testing.T) {
	v := &Verifier{Now: func() time.Time { return testNow }}
	p := v1Params("testsecret", nil)
	_, err := v.Verify(v1Request(p), p, nil)
	checkErr(t, err, "InvalidAccessKeyId.NotFound", "")
	v.Lookup = testVerifier().Lookup
	for i := 0; i < 2; i++ { // no nonce cache: replays pass
		if _, err := v.Verify(v1Request(p), p, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func checkErr(t *testing.T, err *ecserr.Error, code, msg string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if err.Code != code || err.Status != http.StatusBadRequest || !strings.Contains(err.Message, msg) {
		t.Fatalf("got %d %s %q; want 400 %s containing %q", err.Status, err.Code, err.Message, code, msg)
	}
}

// TestVerifyNonceFloodIsPerKey: a key that fills its nonce cache is refused
// with Throttling.User; another key still gets through.
func TestVerifyNonceFloodIsPerKey(t *testing.T) {
	v := testVerifier()
	v.Nonces = NewNonceCache(3)
	v.Lookup = func(ak string) (string, bool) { return "testsecret", ak == "testid" || ak == "other" }
	req := func(ak string, i int) *ecserr.Error {
		p := v1Params("testsecret", func(p url.Values) { p.Set("AccessKeyId", ak); p.Set("SignatureNonce", fmt.Sprint("n-", i)) })
		_, err := v.Verify(v1Request(p), p, nil)
		return err
	}
	for i := range 3 {
		checkErr(t, req("testid", i), "", "")
	}
	checkErr(t, req("testid", 3), "Throttling.User", "retry later")
	for i := range 3 {
		checkErr(t, req("other", i), "", "")
	}
}

// failingNonces is a NonceStore that answers every nonce with err.
type failingNonces struct{ err error }

func (f failingNonces) UseNonce(context.Context, string, string, time.Time, time.Time) error {
	return f.err
}

// TestVerifyNonceStoreErrors: what a shared NonceStore answers becomes the
// ECS error for it; a store that cannot answer refuses the request (503),
// never lets it through unchecked.
func TestVerifyNonceStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{nil, 0, ""},
		{fmt.Errorf("etcd: %w", ErrNonceUsed), http.StatusBadRequest, "SignatureNonceUsed"},
		{ErrNonceCacheFull, http.StatusBadRequest, "Throttling.User"},
		{errors.New("etcd: context deadline exceeded"), http.StatusServiceUnavailable, "ServiceUnavailable"},
	} {
		v := testVerifier()
		v.Nonces = failingNonces{tc.err}
		p := v1Params("testsecret", nil)
		_, err := v.Verify(v1Request(p), p, nil)
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("store answers %v: got %v, want success", tc.err, err)
		case tc.code != "" && (err == nil || err.Code != tc.code || err.Status != tc.status):
			t.Errorf("store answers %v: got %v, want %d %s", tc.err, err, tc.status, tc.code)
		}
	}
}
