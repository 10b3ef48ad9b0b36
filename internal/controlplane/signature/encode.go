// Package signature verifies the two signature schemes ECS RPC clients use:
// V1 (HMAC-SHA1 over the sorted parameters, classic SDK, aliyun CLI,
// Terraform) and V3 (ACS3-HMAC-SHA256 in the Authorization header, the
// darabonba/Tea SDKs' default). The canonical forms are built exactly as the
// official SDKs build them, so a request signed by any of them verifies.
package signature

// PercentEncode encodes s with RFC 3986 rules as Alibaba Cloud signs it:
// A-Z a-z 0-9 - _ . ~ stay, every other byte becomes %XY (upper-case hex),
// so a space is %20 and never '+'. This equals url.QueryEscape followed by the
// SDKs' "+"→"%20", "*"→"%2A", "%7E"→"~" fix-ups.
func PercentEncode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}
