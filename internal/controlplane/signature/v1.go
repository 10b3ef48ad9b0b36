package signature

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"hash"
	"io"
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
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// v1Check is the scratch of one V1 signature check, pooled: every request
// is verified, and the sorted keys, the string to sign and the hash
// states would otherwise be made anew for each. Nothing of it outlives the
// check.
type v1Check struct {
	keys         []string
	sts          []byte
	inner, outer hash.Hash // SHA-1
	pad          [sha1.BlockSize]byte
	sum          [sha1.Size]byte
	b64          [28]byte // base64 of a SHA-1 sum
}

var v1Checks = sync.Pool{New: func() any { return &v1Check{inner: sha1.New(), outer: sha1.New()} }}

// maxPooledStringToSign bounds the string to sign a pooled check keeps.
const maxPooledStringToSign = 16 << 10

func (c *v1Check) release() {
	if cap(c.sts) > maxPooledStringToSign || cap(c.keys) > 256 {
		return
	}
	clear(c.keys[:cap(c.keys)]) // the keys are the request's strings
	clear(c.pad[:])             // the secret, XORed
	c.keys = c.keys[:0]
	v1Checks.Put(c)
}

// sign returns SignV1(secret, string(msg)), in c.b64. It is HMAC (RFC 2104)
// as crypto/hmac computes it, on c's hash states: an hmac.Hash cannot be
// given another key, and each request may have a different one.
func (c *v1Check) sign(secret string, msg []byte) []byte {
	c.pad = [sha1.BlockSize]byte{}
	if len(secret)+1 > sha1.BlockSize {
		// A key longer than a block is hashed first.
		c.inner.Reset()
		io.WriteString(c.inner, secret)
		io.WriteString(c.inner, "&")
		c.inner.Sum(c.pad[:0])
	} else {
		copy(c.pad[:], secret)
		c.pad[len(secret)] = '&'
	}
	for i := range c.pad {
		c.pad[i] ^= 0x36 // ipad
	}
	c.inner.Reset()
	c.inner.Write(c.pad[:])
	c.inner.Write(msg)
	c.inner.Sum(c.sum[:0])
	for i := range c.pad {
		c.pad[i] ^= 0x36 ^ 0x5c // ipad off, opad on
	}
	c.outer.Reset()
	c.outer.Write(c.pad[:])
	c.outer.Write(c.sum[:])
	c.outer.Sum(c.sum[:0])
	base64.StdEncoding.Encode(c.b64[:], c.sum[:])
	return c.b64[:]
}
