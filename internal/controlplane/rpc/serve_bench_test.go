package rpc

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
