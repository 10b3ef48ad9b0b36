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
	"net/url"
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
// fresh nonce and timestamp, and their V1 signature.
func Body(keyID, secret string, params map[string]string) string {
	v := url.Values{"Version": {"2014-05-26"}, "RegionId": {"cn-hangzhou"}}
	for k, s := range params {
		v.Set(k, s)
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	v.Set("Format", "JSON")
	v.Set("AccessKeyId", keyID)
	v.Set("SignatureMethod", "HMAC-SHA1")
	v.Set("SignatureVersion", "1.0")
	v.Set("SignatureNonce", hex.EncodeToString(nonce))
	v.Set("Timestamp", time.Now().UTC().Format(signature.TimestampLayout))
	v.Set("Signature", signature.SignV1(secret, signature.StringToSignV1("POST", v)))
	return v.Encode()
}
