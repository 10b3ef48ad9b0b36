package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/signature"
)

// TestNoncesAcrossRestarts: a graceful restart keeps the replay cache; a
// restart without it (a crash) refuses everything signed before the start.
func TestNoncesAcrossRestarts(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	if _, nb := loadNonces(db, true, 0, 0); !nb.IsZero() {
		t.Fatal("a fresh store needs no start-time cut-off")
	}
	before := time.Now()
	if _, nb := loadNonces(db, false, 0, 0); nb.Before(before) {
		t.Fatalf("after a crash the cut-off must be the start time, got %v", nb)
	}

	s := &Server{db: db, nonces: signature.NewNonceCache(0)}
	now := time.Now()
	if err := s.nonces.Use("key\x00nonce-1", now, now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.saveNonces(); err != nil {
		t.Fatal(err)
	}
	c, nb := loadNonces(db, false, 0, 0)
	if !nb.IsZero() {
		t.Fatal("with saved nonces no cut-off is needed")
	}
	if err := c.Use("key\x00nonce-1", now, now.Add(10*time.Minute)); err != signature.ErrNonceUsed {
		t.Fatalf("a nonce used before the restart was accepted again: %v", err)
	}
	if _, err := os.Stat(noncesFile(db)); !os.IsNotExist(err) {
		t.Fatal("the saved nonces must be removed once loaded, so a later crash does not trust them")
	}
}

// TestMaxClockSkew: --max-clock-skew narrows the timestamps accepted (a
// request signed five minutes ago passes the default 15 minutes, not two),
// a nonce is remembered while its timestamp is in the window (the
// palisade_signature_nonces metric counts it), and a window out of range
// refuses the start.
func TestMaxClockSkew(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, bad := range []time.Duration{-time.Second, 500 * time.Millisecond, MaxClockSkew + time.Second} {
		if _, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"), Log: quiet, MaxClockSkew: bad}); err == nil || !strings.Contains(err.Error(), "max clock skew") {
			t.Errorf("MaxClockSkew %s: Open said %v, want the range", bad, err)
		}
	}
	const id, secret = "LTAIskewskewskew1234", "skewsecretskewsecret1234"
	for _, tc := range []struct {
		name   string
		skew   time.Duration
		signed time.Duration // the timestamp, from now
		want   string        // "" for accepted, else the error code
	}{
		{"default window, 5m old", 0, -5 * time.Minute, ""},
		{"default window, 16m old", 0, -16 * time.Minute, "InvalidTimeStamp.Expired"},
		{"2m window, 5m old", 2 * time.Minute, -5 * time.Minute, "InvalidTimeStamp.Expired"},
		{"2m window, 5m ahead", 2 * time.Minute, 5 * time.Minute, "InvalidTimeStamp.Expired"},
		{"2m window, 1m old", 2 * time.Minute, -time.Minute, ""},
		{"2m window, 1m ahead", 2 * time.Minute, time.Minute, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			s, err := Open(ctx, Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"), Log: quiet,
				AccessKeyID: id, AccessKeySecret: secret, MaxClockSkew: tc.skew})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- s.Serve(ctx) }()
			defer func() { cancel(); <-done }()

			before := metricValue(t, s.Addr, "palisade_signature_nonces")
			p := url.Values{"Action": {"DescribeRegions"}, "Version": {"2014-05-26"}, "Format": {"JSON"}, "AccessKeyId": {id},
				"SignatureMethod": {"HMAC-SHA1"}, "SignatureVersion": {"1.0"}, "SignatureNonce": {"nonce-" + tc.name},
				"Timestamp": {time.Now().Add(tc.signed).UTC().Format(signature.TimestampLayout)}}
			p.Set("Signature", signature.SignV1(secret, signature.StringToSignV1("POST", p)))
			resp, err := http.PostForm("http://"+s.Addr+"/", p)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.want == "" && resp.StatusCode != 200 || tc.want != "" && !strings.Contains(string(body), `"Code":"`+tc.want+`"`) {
				t.Fatalf("status %d, answer %s; want %q", resp.StatusCode, body, tc.want)
			}
			added := metricValue(t, s.Addr, "palisade_signature_nonces") - before
			if want := map[bool]float64{true: 1, false: 0}[tc.want == ""]; added != want {
				t.Errorf("palisade_signature_nonces rose by %v, want %v (a nonce is remembered only for an accepted request)", added, want)
			}
		})
	}
}

func TestNonceGrain(t *testing.T) {
	for _, tc := range []struct{ skew, want time.Duration }{
		{0, 56250 * time.Millisecond}, // 15m: 30m / 32
		{15 * time.Minute, 56250 * time.Millisecond},
		{2 * time.Minute, 7500 * time.Millisecond},
		{16 * time.Second, time.Second},
		{time.Second, time.Second}, // never under a second
		{MaxClockSkew, 90 * time.Minute},
	} {
		if got := nonceGrain(tc.skew); got != tc.want {
			t.Errorf("nonceGrain(%s) = %s, want %s", tc.skew, got, tc.want)
		}
	}
}

// metricValue reads one unlabelled metric of the server's /metrics.
func metricValue(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}
