package rpc

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/signature"
)

// discardWriter is a ResponseWriter that keeps nothing, reused.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkServeSignedWrite serves a V1-signed rule write as the classic
// SDK posts it, to a handler that answers at once: what the server spends
// on a write besides the action (parsing, the signature check, the
// answer), with a gate as the server has. No nonce store, so the same
// request serves again.
func BenchmarkServeSignedWrite(b *testing.B) {
	s := &Server{
		Verifier: &signature.Verifier{Lookup: func(ak string) (string, bool) { return "testsecret", ak == "testid" }},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Gate:     func(ctx context.Context, req *Request) (context.Context, func(), error) { return ctx, func() {}, nil },
		Routes: map[RouteKey]Handler{
			{version, "AuthorizeSecurityGroup"}: func(ctx context.Context, req *Request) (any, error) { return &Base{}, nil },
		},
	}
	p := signedV1("POST", "AuthorizeSecurityGroup", "testsecret", url.Values{"RegionId": {"cn-hangzhou"},
		"SecurityGroupId": {"sg-bp1abcdefghijklmnopq"}, "Permissions.1.IpProtocol": {"TCP"}, "Permissions.1.PortRange": {"22/22"},
		"Permissions.1.SourceCidrIp": {"10.0.0.0/8"}, "Permissions.1.Policy": {"accept"}, "Permissions.1.Priority": {"1"}, "Format": {"JSON"}})
	form := []byte(p.Encode())
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := &discardWriter{h: http.Header{}}
	var body bytes.Reader
	b.ReportAllocs()
	for b.Loop() {
		body.Reset(form)
		r.Body, r.ContentLength = io.NopCloser(&body), int64(len(form))
		clear(w.h)
		s.ServeHTTP(w, r)
		if !strings.HasPrefix(w.h.Get("Content-Type"), "application/json") {
			b.Fatalf("answered %v", w.h)
		}
	}
}

// BenchmarkServeHTTPWrite is BenchmarkServeSignedWrite over a loopback
// connection, kept alive (the client's allocations are counted too).
func BenchmarkServeHTTPWrite(b *testing.B) {
	s := &Server{
		Verifier: &signature.Verifier{Lookup: func(ak string) (string, bool) { return "testsecret", ak == "testid" }},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Routes: map[RouteKey]Handler{
			{version, "AuthorizeSecurityGroup"}: func(ctx context.Context, req *Request) (any, error) { return &Base{}, nil },
		},
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	form := []byte(signedV1("POST", "AuthorizeSecurityGroup", "testsecret", url.Values{"RegionId": {"cn-hangzhou"}}).Encode())
	c := ts.Client()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Post(ts.URL, "application/x-www-form-urlencoded", bytes.NewReader(form))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// TestKeepAliveAfterBody: the server closes a body it read to its end,
// and the connection still serves the next request, whatever way the body
// came (with a length, chunked, after 100-continue).
func TestKeepAliveAfterBody(t *testing.T) {
	s := &Server{
		Verifier: &signature.Verifier{Lookup: func(ak string) (string, bool) { return "testsecret", ak == "testid" }},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Routes: map[RouteKey]Handler{
			{version, "DescribeRegions"}: func(ctx context.Context, req *Request) (any, error) { return &Base{}, nil },
		},
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, tc := range []struct {
		name string
		edit func(r *http.Request, form []byte)
	}{
		{"sized", func(r *http.Request, form []byte) {}},
		{"chunked", func(r *http.Request, form []byte) {
			r.Body, r.ContentLength = io.NopCloser(io.MultiReader(bytes.NewReader(form))), -1
		}},
		{"100-continue", func(r *http.Request, form []byte) { r.Header.Set("Expect", "100-continue") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &http.Client{Transport: &http.Transport{}}
			defer c.CloseIdleConnections()
			for i := range 3 {
				form := []byte(signedV1("POST", "DescribeRegions", "testsecret", nil).Encode())
				r, _ := http.NewRequest("POST", ts.URL, bytes.NewReader(form))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				tc.edit(r, form)
				reused := false
				r = r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
					GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
				}))
				resp, err := c.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
				}
				if i > 0 && !reused {
					t.Errorf("request %d had a new connection", i)
				}
			}
		})
	}
}
