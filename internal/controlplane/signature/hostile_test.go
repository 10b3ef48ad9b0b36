package signature

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestMismatchMessageBounded: SignatureDoesNotMatch shows the server's
// string to sign (the classic SDK compares it with its own to tell a wrong
// secret from a signing bug), whole for any ordinary request, but cut for
// a large one: each byte of a form can take five in the string to sign
// ('*' is sent as is, encoded as %2A, and the whole encoded again), so a
// 1 MiB body with a wrong signature, from anyone who knows a key ID, was
// answered with 5 MiB.
func TestMismatchMessageBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pad   string
		whole bool // the message holds the whole string to sign
	}{
		{"an ordinary request", strings.Repeat("*", 100), true},
		{"at the bound", strings.Repeat("a", maxShownStringToSign-600), true},
		{"a large one", strings.Repeat("*", 1<<20), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := v1Params("wrong", func(p url.Values) { p.Set("Pad", tc.pad) })
			_, err := testVerifier().Verify(v1Request(p), p, nil)
			if err == nil || err.Code != "SignatureDoesNotMatch" {
				t.Fatalf("got %v", err)
			}
			sts := StringToSignV1("POST", p)
			_, shown, _ := strings.Cut(err.Message, "server string to sign is:")
			if tc.whole != (shown == sts) {
				t.Errorf("the message shows %d bytes of a string to sign of %d; want it whole: %v", len(shown), len(sts), tc.whole)
			}
			if len(err.Message) > maxShownStringToSign+200 {
				t.Errorf("the message has %d bytes (string to sign %d); want at most %d", len(err.Message), len(sts), maxShownStringToSign+200)
			}
		})
	}
}

// TestFarTimestampRefused: a timestamp centuries ahead is outside the skew
// window as one 16 minutes ahead is. now.Sub of 9999-12-31 saturates at
// the least Duration, whose negation is itself: such a request passed
// the window, its nonce (kept until past int64 nanoseconds) expired at
// once, and the request could be replayed without end.
func TestFarTimestampRefused(t *testing.T) {
	for _, ts := range []string{
		"9999-12-31T23:59:59Z",
		"2400-01-01T00:00:00Z",
		"9999-12-31T23:59:59+14:00",
		"0001-01-01T00:00:00Z",
	} {
		t.Run("V1 "+ts, func(t *testing.T) {
			v := testVerifier()
			p := v1Params("testsecret", func(p url.Values) { p.Set("Timestamp", ts) })
			for i := range 2 { // the replay too
				if _, err := v.Verify(v1Request(p), p, nil); err == nil || err.Code != "InvalidTimeStamp.Expired" {
					t.Fatalf("send %d: got %v, want InvalidTimeStamp.Expired", i+1, err)
				}
			}
		})
		t.Run("V3 "+ts, func(t *testing.T) {
			v := testVerifier()
			r := v3Request("testsecret", nil, "", func(h http.Header) { h.Set("x-acs-date", ts) })
			if _, err := v.Verify(r, nil, nil); err == nil || err.Code != "InvalidTimeStamp.Expired" {
				t.Fatalf("got %v, want InvalidTimeStamp.Expired", err)
			}
		})
	}
}
