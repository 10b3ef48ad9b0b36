package signature

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"
)

// The oracle is the SDKs' own recipe: QueryEscape plus three fix-ups.
func FuzzPercentEncode(f *testing.F) {
	for _, s := range []string{"", "a b", "*~+", "%7E", "中文", "\xff\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(url.QueryEscape(s))
		if got := PercentEncode(s); got != want {
			t.Fatalf("PercentEncode(%q) = %q, want %q", s, got, want)
		}
	})
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host;x-acs-date,Signature=abc")
	f.Add("ACS3-HMAC-SHA256 Credential=ak,,Signature=abc")
	f.Add("ACS3-HMAC-SHA256 =,=,=")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			return
		}
		if a.AccessKeyID == "" || a.Signature == "" || len(a.SignedHeaders) == 0 {
			t.Fatalf("accepted %q with an empty field: %+v", h, a)
		}
		for _, s := range a.SignedHeaders {
			if s == "" || s != strings.ToLower(s) {
				t.Fatalf("signed header %q not lower-case and non-empty", s)
			}
		}
		// What parsed must parse again the same once re-rendered.
		again := AlgorithmV3 + " Credential=" + a.AccessKeyID + ",SignedHeaders=" + strings.Join(a.SignedHeaders, ";") + ",Signature=" + a.Signature
		b, err := ParseAuthorization(again)
		if err != nil || b.AccessKeyID != a.AccessKeyID || b.Signature != a.Signature ||
			strings.Join(b.SignedHeaders, ";") != strings.Join(a.SignedHeaders, ";") {
			t.Fatalf("re-parse of %q: %+v, %v; first parse %+v", again, b, err, a)
		}
	})
}

// FuzzSignVerify signs arbitrary parameters with darabonba's own signing
// functions (V1 and V3), sends them over the wire as darabonba does
// (url.Values.Encode into the query) and checks the Verifier accepts them.
func FuzzSignVerify(f *testing.F) {
	f.Add("RegionId", "cn-hangzhou", "Permissions.1.Description", "hello world*~")
	f.Add("", "", "a+b", "%7E")
	f.Add("k=&", "v&=", "中", "\xff")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		reserved := func(k string) bool {
			return strings.HasPrefix(k, "Signature") || k == "AccessKeyId" || k == "Timestamp" || k == "Action" || k == "Version" || k == "Format"
		}
		if reserved(k1) || reserved(k2) || k1 == k2 {
			t.Skip()
		}
		// V1, signed by darabonba's GetRPCSignature.
		q := map[string]*string{
			k1: dara.String(v1), k2: dara.String(v2),
			"Action": dara.String("DescribeRegions"), "Version": dara.String("2014-05-26"), "Format": dara.String("json"),
			"AccessKeyId": dara.String("testid"), "SignatureMethod": dara.String("HMAC-SHA1"), "SignatureVersion": dara.String("1.0"),
			"SignatureNonce": dara.String("n-1"), "Timestamp": dara.String(testNow.Format(TimestampLayout)),
		}
		q["Signature"] = openapiutil.GetRPCSignature(q, dara.String("POST"), dara.String("testsecret"))
		r := httptest.NewRequest("POST", "/?"+encode(q), nil)
		if _, err := testVerifier().Verify(r, r.URL.Query(), nil); err != nil {
			t.Fatalf("V1: %v", err)
		}

		// V3, signed by darabonba's GetAuthorization.
		dq := map[string]*string{k1: dara.String(v1), k2: dara.String(v2)}
		dr := &dara.Request{Method: dara.String("POST"), Pathname: dara.String("/"), Query: dq, Headers: map[string]*string{
			"host":                  dara.String("127.0.0.1:8080"),
			"x-acs-action":          dara.String("DescribeRegions"),
			"x-acs-version":         dara.String("2014-05-26"),
			"x-acs-date":            dara.String(testNow.Format(TimestampLayout)),
			"x-acs-signature-nonce": dara.String("n-1"),
			"x-acs-content-sha256":  dara.String(emptySHA256),
			"accept":                dara.String("application/json"),
		}}
		auth := openapiutil.GetAuthorization(dr, dara.String(AlgorithmV3), dara.String(emptySHA256), dara.String("testid"), dara.String("testsecret"))
		r = httptest.NewRequest("POST", "/?"+encode(dq), nil)
		r.Host = "127.0.0.1:8080"
		for k, v := range dr.Headers {
			if k != "host" {
				r.Header[k] = []string{*v} // as dara sets them: not canonicalised
			}
		}
		r.Header = cloneCanonical(r.Header) // as the server would receive them
		r.Header.Set("Authorization", *auth)
		if _, err := testVerifier().Verify(r, nil, nil); err != nil {
			t.Fatalf("V3: %v", err)
		}
	})
}

func encode(m map[string]*string) string {
	v := url.Values{}
	for k, s := range m {
		v.Add(k, *s)
	}
	return v.Encode()
}

func cloneCanonical(h http.Header) http.Header {
	out := http.Header{}
	for k, vs := range h {
		for _, v := range vs {
			out.Add(k, v)
		}
	}
	return out
}

// FuzzStringToSignV1: the one-pass string to sign is the recipe's: the
// parameters (Signature left out) sorted, each key and value encoded,
// joined with = and &, and the whole encoded again.
func FuzzStringToSignV1(f *testing.F) {
	f.Add("RegionId", "cn-hangzhou", "Permissions.1.Description", "hello world*~")
	f.Add("", "", "a+b", "%7E")
	f.Add("k=&", "v&=", "中", "\xff")
	f.Add("Signature", "x", "K", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		params := url.Values{}
		params.Add(k1, v1)
		params.Add(k2, v2)
		params.Add(k2, v1) // a key sent twice keeps its values' order
		var keys []string
		for k := range params {
			if k != "Signature" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var pairs []string
		for _, k := range keys {
			for _, v := range params[k] {
				pairs = append(pairs, PercentEncode(k)+"="+PercentEncode(v))
			}
		}
		want := "POST&%2F&" + PercentEncode(strings.Join(pairs, "&"))
		if got := StringToSignV1("POST", params); got != want {
			t.Fatalf("StringToSignV1(%q)\n got %s\nwant %s", params, got, want)
		}
	})
}
