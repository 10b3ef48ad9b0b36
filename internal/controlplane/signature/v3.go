package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/tjfoc/gmsm/sm3"
)

// AlgorithmV3 is the V3 algorithm darabonba uses unless a client picks
// another.
const AlgorithmV3 = "ACS3-HMAC-SHA256"

// AlgorithmV3SM3 is V3 with SM3 (GB/T 32905) in place of SHA-256 for both
// the payload hash and the HMAC, which the Tea SDKs send when configured
// with signatureAlgorithm "ACS3-HMAC-SM3" and ECS accepts. (ACS3-RSA-SHA256
// signs with an RSA key, which Palisade's access keys are not.)
const AlgorithmV3SM3 = "ACS3-HMAC-SM3"

// isV3 reports whether alg is an ACS3 algorithm verified here.
func isV3(alg string) bool { return alg == AlgorithmV3 || alg == AlgorithmV3SM3 }

// v3Hash is the hash an ACS3 algorithm names.
func v3Hash(algorithm string) func() hash.Hash {
	if algorithm == AlgorithmV3SM3 {
		return sm3.New
	}
	return sha256.New
}

// V3Auth is the content of an ACS3 Authorization header.
type V3Auth struct {
	AccessKeyID   string
	SignedHeaders []string // lower-case, in the order the client listed them
	Signature     string   // lower-case hex as sent
	Algorithm     string   // AlgorithmV3 or AlgorithmV3SM3
}

// ParseAuthorization parses
// "ACS3-HMAC-SHA256 Credential=<ak>,SignedHeaders=<h1;h2>,Signature=<hex>"
// (or the same after ACS3-HMAC-SM3).
// Unknown fields are ignored so that a newer client still parses.
func ParseAuthorization(h string) (V3Auth, error) {
	var a V3Auth
	a.Algorithm, _, _ = strings.Cut(h, " ")
	rest := h[len(a.Algorithm):] // from the space
	if !isV3(a.Algorithm) || rest == "" {
		return a, fmt.Errorf("authorization header must start with %q or %q followed by a space", AlgorithmV3, AlgorithmV3SM3)
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("authorization field %q is not key=value", strings.TrimSpace(part))
		}
		if seen[k] {
			return a, fmt.Errorf("authorization field %s appears twice", k)
		}
		seen[k] = true
		switch k {
		case "Credential":
			a.AccessKeyID = v
		case "SignedHeaders":
			for _, name := range strings.Split(v, ";") {
				if name == "" {
					return a, errors.New("authorization SignedHeaders has an empty header name")
				}
				a.SignedHeaders = append(a.SignedHeaders, strings.ToLower(name))
			}
		case "Signature":
			a.Signature = v
		}
	}
	switch {
	case a.AccessKeyID == "":
		return a, errors.New("authorization header lacks Credential=<AccessKeyId>")
	case len(a.SignedHeaders) == 0:
		return a, errors.New("authorization header lacks SignedHeaders=<h1;h2;...>")
	case a.Signature == "":
		return a, errors.New("authorization header lacks Signature=<hex>")
	}
	return a, nil
}

// CanonicalRequestV3 builds the canonical request exactly as darabonba's
// GetAuthorization does:
//
//	METHOD \n path \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n HashedPayload
//
// Query keys are sorted in byte order and not escaped, values are
// QueryEscaped, and the "+"→"%20", "*"→"%2A", "%7E"→"~" fix-ups run over the
// whole string (keys included), which is what the SDK does. Each signed
// header contributes "name:v1,v2\n" with trimmed values sorted; the caller
// must put the request's Host into headers, since net/http keeps it apart.
func CanonicalRequestV3(method, path string, query url.Values, headers http.Header, signedHeaders []string, hashedPayload string) string {
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(fixups(path))
	b.WriteByte('\n')
	b.WriteString(canonicalQueryV3(query))
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		vals := headers.Values(name)
		trimmed := make([]string, len(vals))
		for i, v := range vals {
			trimmed[i] = strings.TrimSpace(v)
		}
		sort.Strings(trimmed)
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.Join(trimmed, ","))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(hashedPayload)
	return b.String()
}

func canonicalQueryV3(query url.Values) string {
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range query[k] {
			b.WriteByte('&')
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return strings.TrimLeft(fixups(b.String()), "&")
}

var fixupReplacer = strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~")

// fixups applies the SDK's post-escaping replacements. Running them as three
// sequential passes (as the SDK does) and as one Replacer pass give the same
// result, because no replacement creates text another one matches.
func fixups(s string) string { return fixupReplacer.Replace(s) }

// StringToSignV3 is "ACS3-HMAC-SHA256\n" + hex(SHA256(canonicalRequest)).
func StringToSignV3(canonicalRequest string) string {
	return stringToSign(AlgorithmV3, canonicalRequest)
}

// stringToSign is algorithm + "\n" + hex(hash(canonicalRequest)).
func stringToSign(algorithm, canonicalRequest string) string {
	return algorithm + "\n" + hashHex(algorithm, []byte(canonicalRequest))
}

// SignV3 returns hex(HMAC-SHA256(secret, StringToSignV3(canonicalRequest))).
// Unlike V1, no "&" is appended to the secret.
func SignV3(secret, canonicalRequest string) string {
	return sign(AlgorithmV3, secret, canonicalRequest)
}

// sign is SignV3 with the algorithm's hash.
func sign(algorithm, secret, canonicalRequest string) string {
	m := hmac.New(v3Hash(algorithm), []byte(secret))
	m.Write([]byte(stringToSign(algorithm, canonicalRequest)))
	return hex.EncodeToString(m.Sum(nil))
}

// HashPayload returns the lower-case hex SHA-256 of body, the value the
// x-acs-content-sha256 header must carry.
func HashPayload(body []byte) string { return hashHex(AlgorithmV3, body) }

// hashHex is the lower-case hex hash of b with the algorithm's hash (the
// SM3 one of a body signed with ACS3-HMAC-SM3, in the same header).
func hashHex(algorithm string, b []byte) string {
	h := v3Hash(algorithm)()
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}
