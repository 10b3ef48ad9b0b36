package model

import (
	"crypto/md5"
	"crypto/rsa"
	"encoding/hex"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// KeyPair is an SSH key pair of an account in a region: its name is its
// identity there (ECS names a key pair by KeyPairName in every action), and
// only the public half is kept. CreateKeyPair hands the private half to
// the caller once and forgets it.
type KeyPair struct {
	ID          string    `json:"id"` // skp-…, CreateKeyPair's KeyPairId
	Region      string    `json:"region"`
	Owner       string    `json:"owner"`
	Name        string    `json:"name"`
	PublicKey   string    `json:"publicKey"`   // authorized_keys form: type, base64 blob (no comment)
	Fingerprint string    `json:"fingerprint"` // see KeyFingerprint
	Tags        []Tag     `json:"tags,omitempty"`
	Created     time.Time `json:"created"`
}

// Key pair limits: ECS allows 500 key pairs a region; a public key body
// past MaxPublicKeyBody is no SSH key anyone uses (an RSA key of 16,384
// bits is some 2,800 characters in authorized_keys form).
const (
	MaxKeyPairsRegion = 500
	MaxPublicKeyBody  = 8 << 10
	// MaxKeyPairNames is how many names one DeleteKeyPairs takes.
	MaxKeyPairNames = 100
	// MaxKeyPairInstances is how many instances one AttachKeyPair or
	// DetachKeyPair takes.
	MaxKeyPairInstances = 50
)

// Key pair error codes, as the ECS reference gives them.
const (
	CodeKeyPairNotFound  = "InvalidKeyPairName.NotFound"
	CodeKeyPairExists    = "KeyPair.AlreadyExist"
	CodeKeyPairMalformed = "InvalidKeyPairName.Malformed"
	CodePublicKeyBad     = "InvalidPublicKeyBody.Malformed"
	CodeKeyPairInUse     = "InvalidParameter.KeypairAlreadyAttachedInstance"
	CodeKeyPairWindows   = "DependencyViolation.WindowsInstance"
	CodeInstanceIDsBad   = "InvalidInstanceIds.ValueNotSupported"
	CodeKeyPairInstances = "InstanceKeyPairLimitExceeded"
)

// ValidateKeyPairName checks a key pair name: 2 to 128 characters, a
// letter first, then letters, digits, ':', '_' or '-' (no '.', unlike
// other names), and no URL prefix.
func ValidateKeyPairName(s string) *ecserr.Error {
	if s == "" {
		return ecserr.MissingParameter("KeyPairName").At("KeyPairName")
	}
	if !ValidName(s) || strings.Contains(s, ".") {
		return ecserr.BadRequest(CodeKeyPairMalformed, "The key pair name %q is not valid: it must be 2 to 128 characters, start with a letter, contain only letters, digits, ':', '_' or '-', and not start with http:// or https://.", Clip(s)).At("KeyPairName")
	}
	return nil
}

// keyTypes are the public key types ImportKeyPair takes: RSA, ECDSA and
// Ed25519 keys (no certificates, no DSA, which OpenSSH no longer takes,
// no security-key types).
var keyTypes = map[string]bool{
	ssh.KeyAlgoRSA: true, ssh.KeyAlgoED25519: true,
	ssh.KeyAlgoECDSA256: true, ssh.KeyAlgoECDSA384: true, ssh.KeyAlgoECDSA521: true,
}

// ParsePublicKey reads an ImportKeyPair PublicKeyBody, one key in
// authorized_keys form ("ssh-rsa AAAA… comment"), and answers it without
// its comment or options, and its fingerprint.
func ParsePublicKey(body string) (publicKey, fingerprint string, e *ecserr.Error) {
	bad := func(why string) *ecserr.Error {
		return ecserr.BadRequest(CodePublicKeyBad, "The PublicKeyBody format is not supported: %s; give one public key as a line of ~/.ssh/id_*.pub (ssh-rsa, ssh-ed25519 or ecdsa-sha2-nistp*).", why).At("PublicKeyBody")
	}
	body = strings.TrimSpace(body)
	switch {
	case body == "":
		return "", "", ecserr.MissingParameter("PublicKeyBody").At("PublicKeyBody")
	case len(body) > MaxPublicKeyBody:
		return "", "", bad("it is longer than 8 KiB")
	case strings.ContainsAny(body, "\r\n"):
		return "", "", bad("it holds more than one line")
	}
	k, _, opts, rest, err := ssh.ParseAuthorizedKey([]byte(body))
	switch {
	case err != nil:
		return "", "", bad("it is not an SSH public key")
	case len(opts) > 0 || len(rest) > 0:
		return "", "", bad("it has options before the key")
	case !keyTypes[k.Type()]:
		return "", "", bad("keys of type " + Clip(k.Type()) + " are not taken")
	}
	if ck, ok := k.(ssh.CryptoPublicKey); ok {
		if rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok && rk.N.BitLen() < 1024 {
			return "", "", bad("an RSA key needs at least 1024 bits")
		}
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))), KeyFingerprint(k), nil
}

// KeyFingerprint is a key's fingerprint as ECS writes it: the MD5 digest
// of the key's wire form (RFC 4716, section 4), in lower-case hex bytes
// joined by ':'.
func KeyFingerprint(k ssh.PublicKey) string {
	sum := md5.Sum(k.Marshal())
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(hex.EncodeToString([]byte{c}))
	}
	return b.String()
}

// ValidateCreditSpecification checks a burstable instance's performance
// mode, Standard or Unlimited.
func ValidateCreditSpecification(s string) *ecserr.Error {
	if s != "Standard" && s != "Unlimited" {
		return ecserr.BadRequest("InvalidCreditSpecification.ValueNotSupported", "CreditSpecification %q is not valid; use Standard or Unlimited.", Clip(s)).At("CreditSpecification")
	}
	return nil
}

// AutoReleaseTimeFormat is how ECS answers an instance's AutoReleaseTime:
// to the minute, in UTC.
const AutoReleaseTimeFormat = "2006-01-02T15:04Z"

// ParseAutoReleaseTime reads RunInstances' AutoReleaseTime, ISO 8601 in
// UTC (yyyy-MM-ddTHH:mm:ssZ, or to the minute as ECS answers it), cut to
// the minute, and checks it is 30 minutes to 3 years after now, as ECS
// requires.
func ParseAutoReleaseTime(s string, now time.Time) (time.Time, *ecserr.Error) {
	bad := func(why string) *ecserr.Error {
		return ecserr.BadRequest("InvalidAutoReleaseTime.Malformed", "The specified parameter AutoReleaseTime %q is not valid: %s.", Clip(s), why).At("AutoReleaseTime")
	}
	t, err := time.Parse("2006-01-02T15:04:05Z", s)
	if err != nil {
		if t, err = time.Parse(AutoReleaseTimeFormat, s); err != nil {
			return time.Time{}, bad("give a UTC time in ISO 8601 as yyyy-MM-ddTHH:mm:ssZ, e.g. 2026-01-01T12:05:00Z")
		}
	}
	t = t.Truncate(time.Minute)
	if t.Before(now.Add(30*time.Minute)) || t.After(now.AddDate(3, 0, 0)) {
		return time.Time{}, bad("it must be at least 30 minutes and at most 3 years from now")
	}
	return t, nil
}
