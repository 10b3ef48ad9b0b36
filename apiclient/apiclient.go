// Package apiclient calls Palisade's own API actions (agents, the lab and the
// analysis commands use them) through the official Alibaba Cloud SDK's
// generic request, so they are signed exactly like the ECS actions.
package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
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
	c, err := sdk.NewClientWithAccessKey(region, accessKeyID, secret)
	if err != nil {
		return nil, err
	}
	return &Client{sdk: c, scheme: scheme, host: host, region: region}, nil
}

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
		return r.err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(r.body), out); err != nil {
		return fmt.Errorf("%s: decoding the answer: %w", action, err)
	}
	return nil
}
