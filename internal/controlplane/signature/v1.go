package signature

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"slices"
	"sync"
)

// StringToSignV1 builds the V1 string to sign: method&%2F&encode(CQS), where
// CQS is every parameter except Signature (empty values included, since the
// classic SDK signs SignatureType=), sorted by key in byte order, each key and
// value percent-encoded. Several values of one key are kept in their order,
// as url.Values.Encode (used by the SDKs) does.
func StringToSignV1(method string, params url.Values) string {
	b, _ := appendStringToSignV1(nil, nil, method, params)
	return string(b)
}

// appendStringToSignV1 appends the string to sign to b, sorting the keys
// in keys (scratch); it returns both for reuse.
func appendStringToSignV1(b []byte, keys []string, method string, params url.Values) ([]byte, []string) {
	keys = keys[:0]
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
	b = slices.Grow(b, n+n/4)
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
	return b, keys
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
	return string(signV1(secret, []byte(stringToSign)))
}

func signV1(secret string, msg []byte) []byte {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write(msg)
	return base64.StdEncoding.AppendEncode(nil, m.Sum(nil))
}

// v1Check is the scratch of one V1 signature check, pooled: every request
// is verified, and the sorted keys and the string to sign would otherwise
// be made anew for each. Nothing of it outlives the check.
type v1Check struct {
	keys []string
	sts  []byte
}

var v1Checks = sync.Pool{New: func() any { return new(v1Check) }}

// maxPooledStringToSign bounds the string to sign a pooled check keeps.
const maxPooledStringToSign = 16 << 10

func (c *v1Check) release() {
	if cap(c.sts) > maxPooledStringToSign || cap(c.keys) > 256 {
		return
	}
	clear(c.keys[:cap(c.keys)]) // the keys are the request's strings
	c.keys = c.keys[:0]
	v1Checks.Put(c)
}

// sign returns SignV1(secret, string(msg)).
func (c *v1Check) sign(secret string, msg []byte) []byte { return signV1(secret, msg) }
