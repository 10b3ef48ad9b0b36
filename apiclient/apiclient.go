// Package apiclient calls Palisade's own API actions (agents, the lab and the
// analysis commands use them) through the official Alibaba Cloud SDK's
// generic request, so they are signed exactly like the ECS actions.
package apiclient

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
)

// Version is the API version Palisade's own actions are served under.
const Version = "2014-05-26"

// Client calls one Palisade server.
type Client struct {
	sdk    *sdk.Client
	scheme string
	host   string
	region string
	keyID  string
	secret string
	// streams is the HTTP client of Stream (the SDK reads every answer
	// whole).
	streams *http.Client
}

// New returns a client for endpoint ("[http[s]://]HOST:PORT").
func New(endpoint, accessKeyID, secret, region string) (*Client, error) {
	scheme, host, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if region == "" {
		region = "cn-hangzhou"
	}
	c, err := sdk.NewClientWithOptions(region, sdk.NewConfig(), &credentials.AccessKeyCredential{AccessKeyId: accessKeyID, AccessKeySecret: secret})
	if err != nil {
		return nil, err
	}
	// The SDK's calls go through a transport of ours, which refuses
	// redirects and bounds the answer (guarded); it no longer adjusts the
	// transport per call, so the dial bound is set here (the read bound,
	// the http.Client's, it still sets).
	c.SetTransport(guarded{base: transport(0), bound: true})
	return &Client{sdk: c, scheme: scheme, host: host, region: region, keyID: accessKeyID, secret: secret,
		streams: &http.Client{Transport: guarded{base: transport(streamHeaderTimeout)}}}, nil
}

// transport is an HTTP transport with the client's dial and handshake
// bounds; headerTimeout bounds the wait for an answer's head (0: none).
func transport(headerTimeout time.Duration) *http.Transport {
	return &http.Transport{Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: headerTimeout,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 15 * time.Second}).DialContext}
}

// MaxAnswerBytes bounds an answer Call reads and a frame of a stream (its
// reader's to check, with ReadFrame): a server that sends more (broken, or
// not Palisade's) fails the call instead of taking the caller's memory. A
// host's whole policy is far smaller. (A variable: tests lower it.)
var MaxAnswerBytes int64 = 256 << 20

// ErrAnswerTooLarge is the error of an answer or a frame over
// MaxAnswerBytes.
var ErrAnswerTooLarge = errors.New("the server's answer is larger than any Palisade server's (apiclient.MaxAnswerBytes, 256 MiB): not read; check the server address")

// guarded is the client's transport: a redirect is an error (Palisade's
// API never redirects; following one would send the signed request, and
// on a 307 its body, to whatever host the answer names, and take that
// host's answer as the server's), and with bound an answer's body fails
// past MaxAnswerBytes.
type guarded struct {
	base  http.RoundTripper
	bound bool
}

func (g guarded) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := g.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		resp.Body.Close()
		return nil, fmt.Errorf("the server at %s answered %s, a redirect to %.200q: Palisade's API never redirects, so it is not followed; check the server address",
			req.URL.Host, resp.Status, resp.Header.Get("Location"))
	}
	if g.bound {
		resp.Body = &boundedBody{ReadCloser: resp.Body, left: MaxAnswerBytes}
	}
	return resp, nil
}

// boundedBody fails a read past its bound.
type boundedBody struct {
	io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells an answer of exactly the bound from a larger one.
		var one [1]byte
		n, err := b.ReadCloser.Read(one[:])
		if n > 0 {
			return 0, ErrAnswerTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// ReadFrame reads one line of a stream, its newline included, failing
// with ErrAnswerTooLarge once it is longer than MaxAnswerBytes (where
// bufio.Reader.ReadBytes would grow without bound).
func ReadFrame(rd *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, err := rd.ReadSlice('\n')
		if int64(len(line)+len(part)) > MaxAnswerBytes {
			return nil, ErrAnswerTooLarge
		}
		line = append(line, part...)
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

// streamHeaderTimeout bounds the wait for a stream's answer: a server at
// its connection limit leaves the connection in its listen backlog, where
// the handshake completes and nobody answers; the caller must fail (and
// try another server) rather than wait forever. It is Call's read bound
// (a variable: tests shorten it).
var streamHeaderTimeout = 30 * time.Second

// ParseEndpoint splits "[http[s]://]HOST[:PORT]" into scheme and host.
func ParseEndpoint(s string) (scheme, host string, err error) {
	scheme, host = "http", strings.TrimSpace(s)
	lower := strings.ToLower(host)
	switch {
	case strings.HasPrefix(lower, "https://"):
		scheme, host = "https", host[len("https://"):]
	case strings.HasPrefix(lower, "http://"):
		host = host[len("http://"):]
	case strings.Contains(lower, "://"):
		return "", "", fmt.Errorf("endpoint %q: only http:// and https:// are supported", s)
	}
	host = strings.TrimSuffix(host, "/")
	if host == "" || strings.ContainsAny(host, "/?# ") {
		return "", "", fmt.Errorf("endpoint %q: want HOST:PORT, e.g. 127.0.0.1:8080", s)
	}
	return scheme, host, nil
}

// Error is an API error answer.
type Error struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s [RequestId %s]", e.Code, e.Status, e.Message, e.RequestID)
}

// Refused reports whether the server refused the request itself (a 4xx
// other than Throttling): sent again unchanged, it is refused again.
func (e *Error) Refused() bool { return e.Status < 500 && !strings.HasPrefix(e.Code, "Throttling") }

// Call runs an action with params and decodes the JSON answer into out (nil:
// discard). wait is how long the server may hold the call (long polls);
// the read timeout allows for it.
func (c *Client) Call(ctx context.Context, action string, params map[string]string, out any, wait time.Duration) error {
	req := requests.NewCommonRequest()
	req.Method = "POST"
	req.Scheme = c.scheme
	req.Domain = c.host
	req.Version = Version
	req.ApiName = action
	req.Product = "Ecs"
	req.SetReadTimeout(wait + 30*time.Second)
	req.SetConnectTimeout(5 * time.Second)
	req.FormParams = map[string]string{}
	for k, v := range params {
		req.FormParams[k] = v
	}
	if _, ok := params["RegionId"]; !ok {
		req.QueryParams["RegionId"] = c.region
	}
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.sdk.ProcessCommonRequest(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{body: resp.GetHttpContentString()}
	}()
	var r result
	select {
	case <-ctx.Done():
		return ctx.Err()
	case r = <-done:
	}
	if r.err != nil {
		var se *sdkerrors.ServerError
		if errors.As(r.err, &se) {
			return &Error{Status: se.HttpStatus(), Code: se.ErrorCode(), Message: se.Message(), RequestID: se.RequestId()}
		}
		return redacted{r.err}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(r.body), out); err != nil {
		return fmt.Errorf("%s: decoding the answer: %w", action, err)
	}
	return nil
}

// signedQuery is a URL's query string in an error text: the SDK's
// transport errors quote the whole signed URL, access key ID, nonce and
// signature, which do not belong in a log (the agent logs every failed
// call while its server is away).
var signedQuery = regexp.MustCompile(`(https?://[^\s?"']+)\?[^\s"']*`)

// redacted is an error whose text has its URLs' queries cut; errors.Is and
// As still see the error it wraps.
type redacted struct{ err error }

func (r redacted) Error() string { return RedactURLs(r.err.Error()) }

// RedactURLs drops URL query strings from an error text (transport errors
// quote the whole signed URL).
func RedactURLs(s string) string { return signedQuery.ReplaceAllString(s, "$1?…") }
func (r redacted) Unwrap() error { return r.err }

// Stream runs an action whose answer is a stream (PalisadeWatchStream) and
// returns the answer's body once the server accepted the request: the
// caller reads it and closes it (or ends ctx) to end the stream. A refusal
// is an *Error, as Call returns it. The request is signed with V1, as the
// SDK signs Call's.
func (c *Client) Stream(ctx context.Context, action string, params map[string]string) (io.ReadCloser, error) {
	v := url.Values{}
	for k, s := range params {
		v.Set(k, s)
	}
	if _, ok := params["RegionId"]; !ok {
		v.Set("RegionId", c.region)
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	v.Set("Action", action)
	v.Set("Version", Version)
	v.Set("Format", "JSON")
	v.Set("AccessKeyId", c.keyID)
	v.Set("SignatureMethod", "HMAC-SHA1")
	v.Set("SignatureVersion", "1.0")
	v.Set("SignatureNonce", hex.EncodeToString(nonce))
	v.Set("Timestamp", time.Now().UTC().Format("2006-01-02T15:04:05Z"))
	v.Set("Signature", signV1(c.secret, "POST", v))
	req, err := http.NewRequestWithContext(ctx, "POST", c.scheme+"://"+c.host+"/", strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.streams.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	var e struct{ RequestId, Code, Message string }
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &e) != nil || e.Code == "" {
		e.Code, e.Message = "InternalError", fmt.Sprintf("an answer that is not the API's: %.200s", b)
	}
	return nil, &Error{Status: resp.StatusCode, Code: e.Code, Message: e.Message, RequestID: e.RequestId}
}

// signV1 is the V1 signature of params (the ECS RPC signature, as the
// SDK makes it): HMAC-SHA1 of the method and the sorted, percent-encoded
// parameters, keyed with the secret and "&".
func signV1(secret, method string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var q strings.Builder
	for _, k := range keys {
		for _, val := range params[k] {
			if q.Len() > 0 {
				q.WriteByte('&')
			}
			q.WriteString(percentEncode(k) + "=" + percentEncode(val))
		}
	}
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(method + "&%2F&" + percentEncode(q.String())))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// percentEncode is RFC 3986 encoding: everything but letters, digits and
// "-_.~" as %XX.
func percentEncode(s string) string {
	e := url.QueryEscape(s)
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(e)
}
