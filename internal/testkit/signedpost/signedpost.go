// Package signedpost sends one ECS RPC request, signed with V1, the way the
// bench programs load a server: by hand, with their own HTTP client, so
// that what they measure is the server and not an SDK's retries.
package signedpost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/signature"
)

// Post signs params (ECS version 2014-05-26, region cn-hangzhou unless
// params name others) with the key and posts them to addr (HOST:PORT) as a
// form; an answer other than 200 is an error holding its start.
func Post(ctx context.Context, hc *http.Client, addr, keyID, secret string, params map[string]string) ([]byte, error) {
	req, err := Request(ctx, addr, keyID, secret, params)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, body)
	}
	return body, nil
}

// Request is the request Post sends, for a caller that reads the answer
// itself (a stream).
func Request(ctx context.Context, addr, keyID, secret string, params map[string]string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/", strings.NewReader(Body(keyID, secret, params)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// Body is the signed form Post sends: params with the common parameters, a
// fresh nonce and timestamp, and their V1 signature. The form is the
// canonical query string itself (sorted, RFC 3986-encoded) with the
// signature added, so it is encoded once for both.
func Body(keyID, secret string, params map[string]string) string {
	var nonce [16]byte
	rand.Read(nonce[:])
	common := [...][2]string{
		{"AccessKeyId", keyID},
		{"Format", "JSON"},
		{"SignatureMethod", "HMAC-SHA1"},
		{"SignatureNonce", hex.EncodeToString(nonce[:])},
		{"SignatureVersion", "1.0"},
		{"Timestamp", time.Now().UTC().Format(signature.TimestampLayout)},
	}
	pairs := make([][2]string, 0, len(params)+len(common)+2)
	for _, d := range [...][2]string{{"RegionId", "cn-hangzhou"}, {"Version", "2014-05-26"}} {
		if _, ok := params[d[0]]; !ok {
			pairs = append(pairs, d) // a default params may override
		}
	}
	for k, v := range params {
		if k != "Signature" && !slices.ContainsFunc(common[:], func(c [2]string) bool { return c[0] == k }) {
			pairs = append(pairs, [2]string{k, v})
		}
	}
	pairs = append(pairs, common[:]...)
	slices.SortFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	var cqs strings.Builder
	for i, p := range pairs {
		if i > 0 {
			cqs.WriteByte('&')
		}
		cqs.WriteString(signature.PercentEncode(p[0]))
		cqs.WriteByte('=')
		cqs.WriteString(signature.PercentEncode(p[1]))
	}
	sig := signature.SignV1(secret, "POST&%2F&"+signature.PercentEncode(cqs.String()))
	return cqs.String() + "&Signature=" + signature.PercentEncode(sig)
}
