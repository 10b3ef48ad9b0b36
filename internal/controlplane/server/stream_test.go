package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/signature"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

const (
	streamTenant, streamTenantSecret = "LTAIstreamtenant0001", "stream-tenant-secret"
	streamOp, streamOpSecret         = "LTAIstreamoperator01", "stream-operator-secret"
)

// signedBody is a V1-signed form of params.
func signedBody(key, secret string, params map[string]string) string {
	v := url.Values{"Version": {"2014-05-26"}, "RegionId": {"cn-hangzhou"}, "Format": {"JSON"}, "AccessKeyId": {key},
		"SignatureMethod": {"HMAC-SHA1"}, "SignatureVersion": {"1.0"}, "Timestamp": {time.Now().UTC().Format(signature.TimestampLayout)}}
	for k, s := range params {
		v.Set(k, s)
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	v.Set("SignatureNonce", hex.EncodeToString(nonce))
	v.Set("Signature", signature.SignV1(secret, signature.StringToSignV1("POST", v)))
	return v.Encode()
}

// streamServer serves a cloud of two hosts, h1 (i-1 in sg-1) and h2 (i-2
// in sg-2), and returns the server and the hosts' keys.
func streamServer(t *testing.T, lim Limits) (*Server, map[string]model.AccessKey) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Open(ctx, Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"), Limits: lim,
		AccessKeyID: streamTenant, AccessKeySecret: streamTenantSecret, OperatorKeyID: streamOp, OperatorKeySecret: streamOpSecret,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	vpc := &model.VPC{ID: "vpc-s", CIDR: netip.MustParsePrefix("10.0.0.0/16")}
	res := api.Resources{VPCs: []*model.VPC{vpc}}
	for i := 1; i <= 2; i++ {
		g := modeltest.Group(fmt.Sprintf("sg-%d", i), vpc.ID, "normal")
		in := modeltest.Instance(fmt.Sprintf("i-%d", i), vpc.ID, fmt.Sprintf("10.0.0.%d", i), g.ID)
		in.Host, in.Interface = fmt.Sprintf("h%d", i), "pi0"
		res.Groups, res.Instances = append(res.Groups, g), append(res.Instances, in)
	}
	if _, err := s.Ops.Import(ctx, "cn-hangzhou", res); err != nil {
		t.Fatal(err)
	}
	op, err := s.Ops.KeyCaller(ctx, streamOp)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]model.AccessKey{}
	for _, h := range []string{"h1", "h2"} {
		if keys[h], err = s.Ops.RegisterHost(ctx, op, h); err != nil {
			t.Fatal(err)
		}
	}
	return s, keys
}

// frame is a stream's frame as read.
type frame struct {
	Revision int64
	Resync   bool
	Groups   []struct{ ID string }
	raw      string
}

// stream is an open PalisadeWatchStream.
type stream struct {
	resp   *http.Response
	rd     *bufio.Reader
	frames chan frame
	err    chan error
}

func openStream(t *testing.T, hc *http.Client, addr, key, secret string, params map[string]string) *stream {
	t.Helper()
	params["Action"] = "PalisadeWatchStream"
	resp, err := hc.Post("http://"+addr+"/", "application/x-www-form-urlencoded", strings.NewReader(signedBody(key, secret, params)))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PalisadeWatchStream: HTTP %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != api.StreamContentType {
		t.Errorf("Content-Type %q, want %q", ct, api.StreamContentType)
	}
	s := &stream{resp: resp, rd: bufio.NewReader(resp.Body), frames: make(chan frame, 100), err: make(chan error, 1)}
	go func() {
		for {
			line, err := s.rd.ReadBytes('\n')
			if err != nil {
				s.err <- err
				return
			}
			var f frame
			if err := json.Unmarshal(line, &f); err != nil {
				s.err <- fmt.Errorf("a frame that is not JSON: %v: %q", err, line)
				return
			}
			f.raw = string(line)
			s.frames <- f
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return s
}

// until reads frames until one at revision rev or later, and returns them.
func (s *stream) until(t *testing.T, name string, rev int64) []frame {
	t.Helper()
	var out []frame
	for {
		select {
		case f := <-s.frames:
			out = append(out, f)
			if f.Revision >= rev {
				return out
			}
		case err := <-s.err:
			t.Fatalf("%s: the stream ended before revision %d: %v", name, rev, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no frame at revision %d in 10 s (got %d frames)", name, rev, len(out))
		}
	}
}

// TestWatchStreamOverHTTP: host keys' streams over the real server. The
// change to h1's group reaches h1's stream, and h2's carries only
// heartbeats past it (a host gets only what it enforces); the streams
// outlive the header, body and idle timeouts, since they send heartbeats;
// each holds a connection under the cap, so a request beyond it waits
// until a stream closes.
func TestWatchStreamOverHTTP(t *testing.T) {
	const short = 300 * time.Millisecond
	s, keys := streamServer(t, Limits{HeaderTimeout: short, BodyTimeout: short, IdleTimeout: short, MaxConns: 3})
	hc := &http.Client{Transport: &http.Transport{}}
	open := func(host string) *stream {
		k := keys[host]
		return openStream(t, hc, s.Addr, k.ID, k.Secret, map[string]string{"HostName": host, "AfterRevision": "0", "HeartbeatSeconds": "1"})
	}
	// From revision 0: each host gets its scope, and only its own.
	rev, err := s.Store.Revision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h1, h2 := open("h1"), open("h2")
	for _, tc := range []struct {
		name      string
		s         *stream
		own, not  string
		ownRecord bool
	}{{"h1", h1, "sg-1", "sg-2", true}, {"h2", h2, "sg-2", "sg-1", true}} {
		got := tc.s.until(t, tc.name, rev)
		all := ""
		for _, f := range got {
			all += f.raw
		}
		if !strings.Contains(all, `"`+tc.own+`"`) || strings.Contains(all, `"`+tc.not+`"`) {
			t.Errorf("%s's stream from revision 0: want %s and not %s, got %s", tc.name, tc.own, tc.not, all)
		}
	}

	time.Sleep(3 * short) // past every timeout but the heartbeat's
	tenant := &http.Client{Transport: &http.Transport{}}
	resp, err := tenant.Post("http://"+s.Addr+"/", "application/x-www-form-urlencoded", strings.NewReader(signedBody(streamTenant, streamTenantSecret, map[string]string{
		"Action": "AuthorizeSecurityGroup", "SecurityGroupId": "sg-1", "IpProtocol": "tcp", "PortRange": "8443/8443", "SourceCidrIp": "192.0.2.0/24"})))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tenant.CloseIdleConnections()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("AuthorizeSecurityGroup: HTTP %d: %s", resp.StatusCode, b)
	}
	if rev, err = s.Store.Revision(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := h1.until(t, "h1", rev)
	if last := got[len(got)-1]; len(last.Groups) != 1 || last.Groups[0].ID != "sg-1" || !strings.Contains(last.raw, "8443") {
		t.Errorf("h1's frame of the change: %s", last.raw)
	}
	for _, f := range h2.until(t, "h2", rev) {
		if f.raw != fmt.Sprintf(`{"Revision":%d}`+"\n", f.Revision) {
			t.Errorf("h2 got a frame that is not a heartbeat for a change to h1's group: %s", f.raw)
		}
	}

	// The cap: two streams and a third hold every connection.
	h1b := open("h1")
	h1b.until(t, "h1 again", rev)
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 3 * short}
	if resp, err := probe.Get("http://" + s.Addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a request was served past the cap of 3 connections, held by 3 streams")
	}
	h1b.resp.Body.Close()
	probe.Timeout = 10 * time.Second
	resp, err = probe.Get("http://" + s.Addr + "/healthz")
	if err != nil {
		t.Fatalf("a stream closed, and still no request is served: %v", err)
	}
	resp.Body.Close()
}

// TestSlowStreamIsCutOff: an agent that stops reading its stream is cut
// off once a frame cannot be written within StreamWriteTimeout, instead of
// holding the server's memory; it resumes from the last revision it read
// and gets every change since.
func TestSlowStreamIsCutOff(t *testing.T) {
	s, _ := streamServer(t, Limits{StreamWriteTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	conn, err := d.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rev0, err := s.Store.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body := signedBody(streamOp, streamOpSecret, map[string]string{"Action": "PalisadeWatchStream", "AfterRevision": strconv.FormatInt(rev0, 10)})
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	rd := bufio.NewReader(conn)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the stream did not start: %v %v", resp, err)
	}

	// Large frames while the agent reads nothing: 20 groups of 50 rules
	// with long descriptions, written again and again.
	vpc := &model.VPC{ID: "vpc-s", CIDR: netip.MustParsePrefix("10.0.0.0/16")}
	var ids []string
	for round := range 8 {
		res := api.Resources{VPCs: []*model.VPC{vpc}}
		for g := range 20 {
			var rules []model.Rule
			for r := range 50 {
				rule := modeltest.Rule(fmt.Sprintf("sgr-%d-%d", g, r), fmt.Sprintf("in accept 1 TCP %d/%d 192.0.2.0/24", 1000+r, 1000+r))
				rule.Description = strings.Repeat("x", 500)
				rules = append(rules, rule)
			}
			grp := modeltest.Group(fmt.Sprintf("sg-big%02d", g), vpc.ID, "normal", rules...)
			grp.Description = fmt.Sprintf("round %d", round)
			res.Groups = append(res.Groups, grp)
			if round == 0 {
				ids = append(ids, grp.ID)
			}
		}
		if _, err := s.Ops.Import(ctx, "cn-hangzhou", res); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // past the write timeout

	// What the server wrote before the cut arrives, then the end.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	lines := bufio.NewReader(resp.Body)
	last := rev0
	for {
		line, err := lines.ReadBytes('\n')
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept writing to an agent that reads nothing: not cut off")
			}
			t.Fatalf("reading the stream: %v", err)
		}
		var f frame
		if err := json.Unmarshal(line, &f); err != nil {
			t.Fatalf("a frame that is not JSON: %v", err)
		}
		last = f.Revision
	}
	rev, err := s.Store.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last >= rev {
		t.Fatalf("the agent read every change (revision %d) before the cut: the frames were too small to fill the connection", rev)
	}

	// It resumes from the last revision it read.
	again := openStream(t, &http.Client{}, s.Addr, streamOp, streamOpSecret, map[string]string{"AfterRevision": strconv.FormatInt(last, 10)})
	got := map[string]bool{}
	for _, f := range again.until(t, "resumed", rev) {
		if f.Resync {
			t.Fatalf("the resumed stream asked for a resync at %d", last)
		}
		for _, g := range f.Groups {
			if bytes.Contains([]byte(f.raw), []byte("round 7")) {
				got[g.ID] = true
			}
		}
	}
	for _, id := range ids {
		if !got[id] {
			t.Errorf("the resumed stream lacks the last version of %s", id)
		}
	}
}
