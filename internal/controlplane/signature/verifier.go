package signature

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// DefaultMaxSkew is the allowed difference between a request's timestamp and
// the server clock, either way.
const DefaultMaxSkew = 15 * time.Minute

// TimestampLayout is the UTC ISO-8601 form every SDK sends.
const TimestampLayout = "2006-01-02T15:04:05Z"

// Verifier authenticates RPC requests signed with V1 or V3.
type Verifier struct {
	// Lookup returns the secret of an AccessKeyId; ok=false if unknown.
	Lookup func(accessKeyID string) (secret string, ok bool)
	// Nonces remembers used nonces (a *NonceCache in one process, or one
	// shared by several servers); nil disables replay protection.
	Nonces NonceStore
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew is the allowed clock difference; 0 means DefaultMaxSkew.
	MaxSkew time.Duration
	// NotBefore refuses requests signed earlier (at second precision). A
	// server that could not keep its nonces across a restart sets it to its
	// start time, so requests captured before the restart cannot be replayed.
	NotBefore time.Time
}

// Verify authenticates r and returns its AccessKeyId. params are the merged
// query and form parameters (used by V1); body is the raw request body (its
// hash is checked by V3). An Authorization header starting with
// ACS3-HMAC-SHA256 or ACS3-HMAC-SM3 selects V3, anything else V1.
//
// V1 needs Action, Version, AccessKeyId, Signature, SignatureMethod
// (HMAC-SHA1), SignatureVersion (1.0), SignatureNonce and Timestamp among
// params. V3 needs x-acs-date, x-acs-signature-nonce and x-acs-content-sha256,
// and host plus every x-acs-* header present (and content-type when there
// is a body) must be signed. An unsupported
// SignatureMethod, SignatureVersion or ACS3 algorithm is 400 InvalidParameter;
// a malformed Authorization header is 400 IncompleteSignature; a body that
// does not match x-acs-content-sha256 is 400 InvalidParameter. For V3 the
// SignatureDoesNotMatch message carries the canonical request (more useful
// than its hash); for V1 the string to sign.
//
// Checks run cheapest and least revealing first: presence and format,
// clock skew, key lookup, signature, and only then the nonce, so a forged
// request cannot burn a genuine client's nonce. A nonce is remembered until
// the request's timestamp leaves the skew window, after which a replay is
// refused as expired anyway.
func (v *Verifier) Verify(r *http.Request, params url.Values, body []byte) (string, *ecserr.Error) {
	auth := r.Header.Get("Authorization")
	if alg, _, _ := strings.Cut(auth, " "); isV3(alg) {
		return v.verifyV3(r, auth, body)
	}
	if strings.HasPrefix(auth, "ACS3-") {
		alg, _, _ := strings.Cut(auth, " ")
		return "", ecserr.InvalidParameter("Authorization",
			"signature algorithm "+alg+" is not supported; sign with ACS3-HMAC-SHA256 (the SDK default), ACS3-HMAC-SM3 or V1 HMAC-SHA1")
	}
	return v.verifyV1(r.Context(), r.Method, params)
}

func (v *Verifier) verifyV1(ctx context.Context, method string, params url.Values) (string, *ecserr.Error) {
	// Action and Version must be signed parameters in V1: an x-acs-action
	// header is outside the signature and could be swapped in transit.
	for _, name := range []string{"Action", "Version", "AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp"} {
		if params.Get(name) == "" {
			return "", ecserr.MissingParameter(name)
		}
	}
	if m := params.Get("SignatureMethod"); m != "HMAC-SHA1" {
		return "", ecserr.InvalidParameter("SignatureMethod", "only HMAC-SHA1 is supported, got "+quote(m))
	}
	if sv := params.Get("SignatureVersion"); sv != "1.0" {
		return "", ecserr.InvalidParameter("SignatureVersion", "only 1.0 is supported, got "+quote(sv))
	}
	now := v.now()
	ts, err := v.checkTime("Timestamp", params.Get("Timestamp"), now)
	if err != nil {
		return "", err
	}
	ak := params.Get("AccessKeyId")
	secret, err := v.secret(ak)
	if err != nil {
		return "", err
	}
	c := v1Checks.Get().(*v1Check)
	c.sts, c.keys = appendStringToSignV1(c.sts[:0], c.keys, method, params)
	// A '+' sent unescaped in the query decodes to ' '; Base64 has no spaces.
	got := strings.ReplaceAll(params.Get("Signature"), " ", "+")
	if !equal(got, string(c.sign(secret, c.sts))) {
		err := mismatch(string(c.sts))
		c.release()
		return "", err
	}
	c.release()
	return ak, v.useNonce(ctx, ak, params.Get("SignatureNonce"), ts, now)
}

func (v *Verifier) verifyV3(r *http.Request, header string, body []byte) (string, *ecserr.Error) {
	a, perr := ParseAuthorization(header)
	if perr != nil {
		return "", ecserr.BadRequest("IncompleteSignature", "The Authorization header is malformed: %v.", perr)
	}
	for _, name := range []string{"x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"} {
		if r.Header.Get(name) == "" {
			return "", ecserr.MissingParameter(name)
		}
	}
	if missing := unsignedHeader(r.Header, a.SignedHeaders, len(body) > 0); missing != "" {
		return "", ecserr.BadRequest("IncompleteSignature",
			"The header %q must be listed in SignedHeaders and signed: host, every x-acs-* header and, with a body, content-type are.", missing)
	}
	payload := hashHex(a.Algorithm, body)
	if !strings.EqualFold(r.Header.Get("x-acs-content-sha256"), payload) {
		what := "SHA-256"
		if a.Algorithm == AlgorithmV3SM3 {
			what = "SM3"
		}
		return "", ecserr.InvalidParameter("x-acs-content-sha256", "it is not the hex "+what+" of the request body; hash exactly the bytes sent")
	}
	now := v.now()
	ts, err := v.checkTime("x-acs-date", r.Header.Get("x-acs-date"), now)
	if err != nil {
		return "", err
	}
	secret, err := v.secret(a.AccessKeyID)
	if err != nil {
		return "", err
	}
	h := r.Header.Clone()
	h.Set("Host", r.Host) // net/http moves Host out of the header map
	cr := CanonicalRequestV3(r.Method, r.URL.EscapedPath(), r.URL.Query(), h, a.SignedHeaders, r.Header.Get("x-acs-content-sha256"))
	if !equal(strings.ToLower(a.Signature), sign(a.Algorithm, secret, cr)) {
		return "", mismatch(cr)
	}
	return a.AccessKeyID, v.useNonce(r.Context(), a.AccessKeyID, r.Header.Get("x-acs-signature-nonce"), ts, now)
}

// unsignedHeader returns the first of host, the x-acs-* headers present in
// h and, when the request has a body, content-type, that is absent from
// signed: an unsigned x-acs-action or nonce could be swapped by anyone
// replaying the request, and so could the content type, which decides
// whether the (hashed) body is read as parameters at all.
func unsignedHeader(h http.Header, signed []string, hasBody bool) string {
	in := make(map[string]bool, len(signed))
	for _, s := range signed {
		in[s] = true
	}
	if !in["host"] {
		return "host"
	}
	if hasBody && !in["content-type"] {
		return "content-type"
	}
	for name := range h {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, "x-acs-") && !in[l] {
			return l
		}
	}
	return ""
}

// checkTime parses a request's timestamp and accepts it if it is within
// the skew window of now (the bounds included).
func (v *Verifier) checkTime(name, value string, now time.Time) (time.Time, *ecserr.Error) {
	ts, err := time.Parse(TimestampLayout, value)
	if err != nil {
		// Accept any RFC 3339 form too (fractions, offsets); some hand-written
		// clients send them.
		if ts, err = time.Parse(time.RFC3339Nano, value); err != nil {
			return ts, ecserr.BadRequest("InvalidTimeStamp.Format",
				"The %s %q is not in UTC ISO-8601 form; use YYYY-MM-DDThh:mm:ssZ, e.g. 2024-01-01T00:00:00Z.", name, value)
		}
	}
	if !v.NotBefore.IsZero() && ts.Before(v.NotBefore.Truncate(time.Second)) {
		return ts, ecserr.BadRequest("InvalidTimeStamp.Expired",
			"The %s %s is earlier than this server's start (%s), which forgot older nonces; sign the request again.",
			name, value, v.NotBefore.UTC().Format(TimestampLayout))
	}
	// Compared as times, not as now.Sub(ts): a timestamp some 300 years
	// ahead (9999-12-31T23:59:59Z) makes that the least Duration, which
	// negated stays negative, so it passed the window; and its nonce,
	// kept until a time past int64 nanoseconds, expired at once, so the
	// request could be replayed without end.
	if ts.Before(now.Add(-v.maxSkew())) || ts.After(now.Add(v.maxSkew())) {
		return ts, ecserr.BadRequest("InvalidTimeStamp.Expired",
			"The %s %s differs from the server time %s by more than %s; sign each request just before sending it and check the client clock.",
			name, value, now.UTC().Format(TimestampLayout), v.maxSkew())
	}
	return ts, nil
}

func (v *Verifier) secret(ak string) (string, *ecserr.Error) {
	if v.Lookup != nil {
		if s, ok := v.Lookup(ak); ok {
			return s, nil
		}
	}
	return "", ecserr.BadRequest("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
}

// useNonce records the nonce of a request checkTime accepted at now. The
// nonce is kept through the last instant checkTime accepts ts (ts+skew
// included, hence the nanosecond), and judged at the same now: a second
// reading of the clock could pass that instant after checkTime's, and find
// the nonce expired while its timestamp was still accepted.
func (v *Verifier) useNonce(ctx context.Context, ak, nonce string, ts, now time.Time) *ecserr.Error {
	if v.Nonces == nil {
		return nil
	}
	// Scoped per key: two users may well pick the same nonce, and a key
	// that floods fills only its own share of the cache.
	err := v.Nonces.UseNonce(ctx, ak, nonce, now, ts.Add(v.maxSkew()+time.Nanosecond))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNonceUsed):
		return ecserr.BadRequest("SignatureNonceUsed", "Specified signature nonce was used already; send a fresh nonce with every request.")
	case errors.Is(err, ErrNonceCacheFull):
		// Throttling.User is the code the SDKs retry after a pause.
		return ecserr.BadRequest("Throttling.User", "Request was denied due to user flow control: %v; retry later.", err)
	default:
		// A shared store that cannot answer: the request is refused (never
		// let through unchecked) as a fault of the service, which SDKs retry.
		e := ecserr.New(http.StatusServiceUnavailable, "ServiceUnavailable",
			"The request could not be checked for replay: the service's shared store did not answer; retry later.")
		e.Cause = err // for the operator: e.g. etcd without a quorum
		return e
	}
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

// maxShownStringToSign bounds the string to sign a SignatureDoesNotMatch
// shows: each byte of a request can take five in it (a '*' sent as is
// becomes %2A, encoded again), so a large request with a wrong signature,
// from anyone who knows a key ID, would be answered five times over. The
// classic SDK compares what is shown with its own string to tell a wrong
// secret from a signing bug: for any ordinary request it is shown whole.
const maxShownStringToSign = 16 << 10

// StringToSignEcho begins the part of a SignatureDoesNotMatch message that
// shows the string the server signed (the event trail leaves it out: it
// repeats every parameter, the secret ones too).
const StringToSignEcho = "server string to sign is:"

func mismatch(serverStringToSign string) *ecserr.Error {
	// V3's canonical request has header values: cut at a whole character.
	shown := model.Cut(serverStringToSign, maxShownStringToSign, "…("+strconv.Itoa(len(serverStringToSign))+" bytes in all)")
	return &ecserr.Error{Status: http.StatusBadRequest, Code: "SignatureDoesNotMatch",
		Message: "Specified signature is not matched with our calculation. " + StringToSignEcho + shown}
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func quote(s string) string { return `"` + s + `"` }
