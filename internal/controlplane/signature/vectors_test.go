package signature

import (
	"crypto/hmac"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestPercentEncode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"AZaz09-_.~", "AZaz09-_.~"},
		{"a b", "a%20b"},
		{"a+b", "a%2Bb"},
		{"*", "%2A"},
		{"/:=&", "%2F%3A%3D%26"},
		{"%7E", "%257E"},
		{"中", "%E4%B8%AD"},
		{"\x00\xff", "%00%FF"},
	} {
		if got := PercentEncode(tc.in); got != tc.want {
			t.Errorf("PercentEncode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// The vector of reference §1.4 (Alibaba's Signature.md, recomputed).
func TestV1Vector(t *testing.T) {
	params := url.Values{
		"AccessKeyId":      {"testid"},
		"Action":           {"DescribeRegions"},
		"Format":           {"XML"},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureNonce":   {"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
		"SignatureVersion": {"1.0"},
		"Timestamp":        {"2016-02-23T12:46:24Z"},
		"Version":          {"2014-05-26"},
		"Signature":        {"ignored"},
	}
	const wantSTS = "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
	sts := StringToSignV1("GET", params)
	if sts != wantSTS {
		t.Fatalf("string to sign\n got %s\nwant %s", sts, wantSTS)
	}
	if got := SignV1("testsecret", sts); got != "OLeaidS1JvxuMvnyHOwuJ+uX5qY=" {
		t.Fatalf("signature = %s", got)
	}
}

func TestStringToSignV1(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params url.Values
		want   string
	}{
		{"empty", url.Values{}, "POST&%2F&"},
		{"empty value kept", url.Values{"SignatureType": {""}, "A": {"1"}}, "POST&%2F&A%3D1%26SignatureType%3D"},
		{"byte order sort", url.Values{"b": {"1"}, "B": {"2"}, "a.10": {"x"}, "a.9": {"y"}}, "POST&%2F&B%3D2%26a.10%3Dx%26a.9%3Dy%26b%3D1"},
		{"space and star", url.Values{"D": {"hello world*~"}}, "POST&%2F&D%3Dhello%2520world%252A~"},
		{"repeated key in order", url.Values{"K": {"2", "1"}}, "POST&%2F&K%3D2%26K%3D1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := StringToSignV1("POST", tc.params); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// vectorV3 is the request of reference §1.5.
func vectorV3() (url.Values, http.Header) {
	q := url.Values{
		"RegionId":                   {"cn-hangzhou"},
		"SecurityGroupId":            {"sg-test0001"},
		"Permissions.1.IpProtocol":   {"TCP"},
		"Permissions.1.PortRange":    {"22/22"},
		"Permissions.1.SourceCidrIp": {"10.0.0.0/8"},
		"Permissions.1.Description":  {"hello world*~"},
	}
	h := http.Header{}
	h.Set("host", "127.0.0.1:8080")
	h.Set("x-acs-action", "AuthorizeSecurityGroup")
	h.Set("x-acs-version", "2014-05-26")
	h.Set("x-acs-date", "2024-01-01T00:00:00Z")
	h.Set("x-acs-signature-nonce", "nonce-123")
	h.Set("x-acs-content-sha256", emptySHA256)
	return q, h
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func TestV3Vector(t *testing.T) {
	q, h := vectorV3()
	signed := strings.Split("host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version", ";")
	cr := CanonicalRequestV3("POST", "/", q, h, signed, HashPayload(nil))
	wantCQS := "Permissions.1.Description=hello%20world%2A~&Permissions.1.IpProtocol=TCP&Permissions.1.PortRange=22%2F22&Permissions.1.SourceCidrIp=10.0.0.0%2F8&RegionId=cn-hangzhou&SecurityGroupId=sg-test0001"
	if lines := strings.Split(cr, "\n"); lines[2] != wantCQS {
		t.Fatalf("canonical query\n got %s\nwant %s", lines[2], wantCQS)
	}
	if got := StringToSignV3(cr); got != "ACS3-HMAC-SHA256\n07547b256c04fea00110bcd9b1b9ca752f63bb84cb9f6983c74ee9f31359433f" {
		t.Fatalf("string to sign = %q\ncanonical request:\n%s", got, cr)
	}
	if got := SignV3("testsecret", cr); got != "270b11153f73b54eef87a4d74493873946e7940aefe9fdf2f53a72176c5ae399" {
		t.Fatalf("signature = %s", got)
	}
}

func TestCanonicalRequestV3(t *testing.T) {
	h := http.Header{}
	h.Add("X-Acs-Multi", " b ")
	h.Add("X-Acs-Multi", "a")
	h.Set("Host", "h")
	for _, tc := range []struct {
		name   string
		path   string
		query  url.Values
		signed []string
		want   string
	}{
		{"empty path is /", "", nil, []string{"host"}, "GET\n/\n\nhost:h\n\nhost\nP"},
		{"multi-valued header sorted, trimmed", "/", nil, []string{"x-acs-multi"}, "GET\n/\n\nx-acs-multi:a,b\n\nx-acs-multi\nP"},
		{"absent header signs empty", "/", nil, []string{"x-acs-none"}, "GET\n/\n\nx-acs-none:\n\nx-acs-none\nP"},
		{"empty value", "/", url.Values{"A": {""}, "B": {"x y"}}, []string{"host"}, "GET\n/\nA=&B=x%20y\nhost:h\n\nhost\nP"},
		{"keys not escaped but fixed up", "/", url.Values{"a b*": {"1"}}, []string{"host"}, "GET\n/\na b%2A=1\nhost:h\n\nhost\nP"},
		{"key with plus", "/", url.Values{"a+b": {"1"}}, []string{"host"}, "GET\n/\na%20b=1\nhost:h\n\nhost\nP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CanonicalRequestV3("GET", tc.path, tc.query, h, tc.signed, "P"); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestParseAuthorization(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    V3Auth
		wantErr bool
	}{
		{in: "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host;x-acs-date,Signature=abc",
			want: V3Auth{"ak", []string{"host", "x-acs-date"}, "abc", AlgorithmV3}},
		{in: "ACS3-HMAC-SHA256  Credential=ak , SignedHeaders=Host , Signature=abc, Extra=1",
			want: V3Auth{"ak", []string{"host"}, "abc", AlgorithmV3}},
		{in: "ACS3-HMAC-SM3 Credential=ak,SignedHeaders=host,Signature=abc",
			want: V3Auth{"ak", []string{"host"}, "abc", AlgorithmV3SM3}},
		{in: "", wantErr: true},
		{in: "ACS3-HMAC-SHA256", wantErr: true},
		{in: "ACS3-HMAC-SHA256Credential=ak,SignedHeaders=host,Signature=abc", wantErr: true},
		{in: "ACS3-RSA-SHA256 Credential=ak,SignedHeaders=host,Signature=abc", wantErr: true},
		{in: "ACS3-HMAC-SM3Credential=ak,SignedHeaders=host,Signature=abc", wantErr: true},
		{in: "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host", wantErr: true},
		{in: "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=abc", wantErr: true},
		{in: "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=,Signature=abc", wantErr: true},
		{in: "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host;;date,Signature=abc", wantErr: true},
		{in: "ACS3-HMAC-SHA256 Credential=ak,Credential=bk,SignedHeaders=host,Signature=abc", wantErr: true},
		{in: "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host,Signature", wantErr: true},
	} {
		got, err := ParseAuthorization(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseAuthorization(%q) = %+v, want error", tc.in, got)
			}
			continue
		}
		if err != nil || got.AccessKeyID != tc.want.AccessKeyID || got.Signature != tc.want.Signature || got.Algorithm != tc.want.Algorithm ||
			strings.Join(got.SignedHeaders, ";") != strings.Join(tc.want.SignedHeaders, ";") {
			t.Errorf("ParseAuthorization(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestV3Hashes: the payload hash and HMAC of each ACS3 algorithm, against
// vectors from OpenSSL (Node.js's crypto): GB/T 32905's two examples for
// SM3, and an HMAC.
func TestV3Hashes(t *testing.T) {
	for _, tc := range []struct{ alg, in, want string }{
		{AlgorithmV3, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{AlgorithmV3SM3, "abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
		{AlgorithmV3SM3, strings.Repeat("abcd", 16), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"},
	} {
		if got := hashHex(tc.alg, []byte(tc.in)); got != tc.want {
			t.Errorf("%s(%q) = %s, want %s", tc.alg, tc.in, got, tc.want)
		}
	}
	m := hmac.New(v3Hash(AlgorithmV3SM3), []byte("key"))
	m.Write([]byte("msg"))
	if got, want := hex.EncodeToString(m.Sum(nil)), "aaef27f7826f0b502a7e3d787a7ac6ee15a4ce44e2631200df14c54bc4f57fa7"; got != want {
		t.Errorf("HMAC-SM3 = %s, want %s", got, want)
	}
}
