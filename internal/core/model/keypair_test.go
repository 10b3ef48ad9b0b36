package model

import (
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

func TestValidateKeyPairName(t *testing.T) {
	for _, tc := range []struct {
		name, code string
	}{
		{"web-key", ""},
		{"a:b_c-1", ""},
		{"密钥a", ""},
		{"", "MissingParameter"},
		{"k", CodeKeyPairMalformed},
		{"k" + strings.Repeat("x", 127), ""},
		{"k" + strings.Repeat("x", 128), CodeKeyPairMalformed},
		{"1key", CodeKeyPairMalformed},
		{"my.key", CodeKeyPairMalformed},
		{"my/key", CodeKeyPairMalformed},
		{"my key", CodeKeyPairMalformed},
	} {
		e := ValidateKeyPairName(tc.name)
		if got := code(e); got != tc.code {
			t.Errorf("ValidateKeyPairName(%q) = %q; want %q", tc.name, got, tc.code)
		}
	}
}

// A key and its fingerprint as `ssh-keygen -l -E md5` prints it.
const (
	edKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILPipCWY5i8ddMbIApBFJaimr8PkmAPQ8jyDN2XUXGm8"
	edFP  = "95:20:ac:c6:5d:a6:7b:e5:cb:0a:a1:4a:64:82:c2:b0"
)

func TestParsePublicKey(t *testing.T) {
	for _, tc := range []struct {
		name, body, key, code string
	}{
		{"bare", edKey, edKey, ""},
		{"comment and newline dropped", edKey + " me@host\n", edKey, ""},
		{"surrounding space", "  " + edKey + "  ", edKey, ""},
		{"empty", "", "", "MissingParameter"},
		{"blank", " \n", "", "MissingParameter"},
		{"two lines", edKey + "\n" + edKey, "", CodePublicKeyBad},
		{"options", `from="10.0.0.1" ` + edKey, "", CodePublicKeyBad},
		{"not base64", "ssh-ed25519 !!!", "", CodePublicKeyBad},
		{"type and blob disagree", "ssh-rsa " + strings.Fields(edKey)[1], "", CodePublicKeyBad},
		{"PEM", "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----", "", CodePublicKeyBad},
		{"too long", edKey + " " + strings.Repeat("c", MaxPublicKeyBody), "", CodePublicKeyBad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, fp, e := ParsePublicKey(tc.body)
			if got := code(e); got != tc.code {
				t.Fatalf("code %q; want %q (%v)", got, tc.code, e)
			}
			if tc.code == "" && (key != tc.key || fp != edFP) {
				t.Errorf("got %q %q; want %q %q", key, fp, tc.key, edFP)
			}
		})
	}
}

func TestParseAutoReleaseTime(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in, want string // want "" : refused
	}{
		{"2026-12-08T12:05:00Z", "2026-12-08T12:05Z"},
		{"2026-12-08T12:05:59Z", "2026-12-08T12:05Z"},
		{"2026-12-08T12:05Z", "2026-12-08T12:05Z"},
		{"2026-12-07T10:30:00Z", "2026-12-07T10:30Z"},
		{"2026-12-07T10:29:00Z", ""},
		{"2029-12-07T10:00:00Z", "2029-12-07T10:00Z"},
		{"2029-12-07T10:01:00Z", ""},
		{"2026-12-08T12:05:00+08:00", ""},
		{"2026-12-08 12:05:00", ""},
		{"tomorrow", ""},
	} {
		got, e := ParseAutoReleaseTime(tc.in, now)
		switch {
		case tc.want == "" && code(e) != "InvalidAutoReleaseTime.Malformed":
			t.Errorf("ParseAutoReleaseTime(%q) = %v, %v; want InvalidAutoReleaseTime.Malformed", tc.in, got, e)
		case tc.want != "" && (e != nil || got.Format(AutoReleaseTimeFormat) != tc.want):
			t.Errorf("ParseAutoReleaseTime(%q) = %v, %v; want %s", tc.in, got, e, tc.want)
		}
	}
}

// code is an error's ECS code, "" for none.
func code(e *ecserr.Error) string {
	if e == nil {
		return ""
	}
	return e.Code
}
