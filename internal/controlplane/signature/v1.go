package signature

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"slices"
)

// StringToSignV1 builds the V1 string to sign: method&%2F&encode(CQS), where
// CQS is every parameter except Signature (empty values included, since the
// classic SDK signs SignatureType=), sorted by key in byte order, each key and
// value percent-encoded. Several values of one key are kept in their order,
// as url.Values.Encode (used by the SDKs) does.
func StringToSignV1(method string, params url.Values) string {
	keys := make([]string, 0, len(params))
	n := len(method) + 5
	for k, vs := range params {
		if k != "Signature" {
			keys = append(keys, k)
			for _, v := range vs {
				n += len(k) + len(v) + 6
			}
		}
	}
	slices.Sort(keys)
	// The CQS is encoded twice (its keys and values, then the whole): in
	// one pass, each byte of a key or value is written as the second
	// encoding makes of its first (an escape's '%' becomes "%25"), and
	// the separators as the second encoding makes of them. Every request
	// is verified, so this saves the copies of the first encoding.
	b := make([]byte, 0, n+n/4)
	b = append(append(b, method...), "&%2F&"...)
	first := true
	for _, k := range keys {
		for _, v := range params[k] {
			if !first {
				b = append(b, "%26"...) // '&'
			}
			first = false
			b = appendEncodedTwice(b, k)
			b = append(b, "%3D"...) // '='
			b = appendEncodedTwice(b, v)
		}
	}
	return string(b)
}

// appendEncodedTwice appends PercentEncode(PercentEncode(s)).
func appendEncodedTwice(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		if c := s[i]; unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', '2', '5', hex[c>>4], hex[c&15])
		}
	}
	return b
}

// SignV1 returns Base64(HMAC-SHA1(secret+"&", stringToSign)). The "&" is the
// empty token secret of the original OAuth-like scheme.
func SignV1(secret, stringToSign string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
