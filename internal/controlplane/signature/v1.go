package signature

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
)

// StringToSignV1 builds the V1 string to sign: method&%2F&encode(CQS), where
// CQS is every parameter except Signature (empty values included, since the
// classic SDK signs SignatureType=), sorted by key in byte order, each key and
// value percent-encoded. Several values of one key are kept in their order,
// as url.Values.Encode (used by the SDKs) does.
func StringToSignV1(method string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var cqs strings.Builder
	for _, k := range keys {
		ek := PercentEncode(k)
		for _, v := range params[k] {
			if cqs.Len() > 0 {
				cqs.WriteByte('&')
			}
			cqs.WriteString(ek)
			cqs.WriteByte('=')
			cqs.WriteString(PercentEncode(v))
		}
	}
	return method + "&%2F&" + PercentEncode(cqs.String())
}

// SignV1 returns Base64(HMAC-SHA1(secret+"&", stringToSign)). The "&" is the
// empty token secret of the original OAuth-like scheme.
func SignV1(secret, stringToSign string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
