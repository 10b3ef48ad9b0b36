package peers

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/signature"
	"github.com/palisade-sg/palisade/internal/controlplane/tlscert"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// LocalParam, set to "true", asks a server for its own part of a merged
// query only. Anyone may send it: it narrows what the caller sees, never
// widens it.
const LocalParam = "PalisadeLocalOnly"

// Local reports whether a request asks for the server's own part only.
func Local(p rpc.Params) bool { return strings.EqualFold(p.Get(LocalParam), "true") }

// ServerParam names the server a part is asked of, and its answer names
// the server that gave it (field PalisadeServerId): several servers
// registered at one address (each advertising 127.0.0.1 behind a proxy,
// a copied or lost ID file, a shared certificate) would otherwise each
// answer for all of them, listing some parts many times and others never.
const ServerParam = "PalisadeServerId"

// Asked is CheckAsked for the server f serves (a nil f: a server with no
// peers), and returns that server's ID, which its own part names.
func (f *Fanin) Asked(p rpc.Params) (self string, err error) {
	if f != nil {
		self = f.Self
	}
	return self, CheckAsked(p, self)
}

// CheckAsked refuses a request for another server's part: self is this
// server's ID ("" where it has none).
func CheckAsked(p rpc.Params, self string) error {
	if id, ok := p[ServerParam]; ok && Local(p) && id != self {
		return ecserr.New(http.StatusMisdirectedRequest, "InvalidParameter.PalisadeServerId",
			"This server is not server %.64q; its address is registered by another server too (give each server its own --advertise).", id)
	}
	return nil
}

// ErrPlaintext is why a plain-HTTP peer off this machine is not asked.
var ErrPlaintext = errors.New("refused to send a caller's signed call to a peer over plain HTTP off loopback; " +
	"serve HTTPS (--tls-cert/--tls-self-signed) or pass --peer-allow-plaintext")

// Refusal is a peer's error answer.
type Refusal struct {
	Status        int
	Code, Message string
}

func (r *Refusal) Error() string { return fmt.Sprintf("HTTP %d %s: %s", r.Status, r.Code, r.Message) }

// ErrWrongServer: the address a server registered answered as another
// server, or as none (a server too old to say which it is).
var ErrWrongServer = errors.New("several servers registered one address, or the server there is too old to name itself (give each its own --advertise)")

// Permanent reports whether a peer's failure to give its part will not
// pass by asking again: it refused plain HTTP, answered as another server
// (or a misdirected request, 421), or refused the call with a client
// error other than throttling. A merged listing is not held open for it.
func Permanent(err error) bool {
	if errors.Is(err, ErrPlaintext) || errors.Is(err, ErrWrongServer) {
		return true
	}
	var r *Refusal
	return errors.As(err, &r) && r.Status >= 400 && r.Status < 500 && !strings.HasPrefix(r.Code, "Throttling")
}

// Throttled returns, if a peer refused its part with a Throttling code,
// that refusal as the caller's error (SDKs retry it), else nil: a page
// without a throttled peer's part would be partial for a reason that
// passes in a moment.
func Throttled(answers []Answer) error {
	for _, a := range answers {
		var r *Refusal
		if errors.As(a.Err, &r) && strings.HasPrefix(r.Code, "Throttling") {
			return ecserr.New(cmp.Or(r.Status, http.StatusBadRequest), r.Code,
				"Another server of the installation throttled its part of this query: %s", r.Message)
		}
	}
	return nil
}

// Peer is another server of the installation.
type Peer struct {
	ID   string
	URL  string // http(s)://HOST:PORT
	Cert []byte // with https: the one certificate (DER) accepted from it
}

// DefaultTimeout bounds one peer's answer.
const DefaultTimeout = 3 * time.Second

// maxAnswer bounds a peer's answer read (a page of at most 500 flow
// records or 50 events, with room).
const maxAnswer = 16 << 20

// Fanin asks the other live servers for their parts of a query.
type Fanin struct {
	Self string                                // this server's ID
	List func(context.Context) ([]Peer, error) // the live servers, this one included
	// Secret returns an access key's secret: a part is asked for signed
	// with the caller's own key, so the peer checks that key as it would
	// the caller's call (a key disabled since is refused there too) and
	// filters by its account.
	Secret  func(keyID string) (string, bool)
	Timeout time.Duration // per peer; 0 takes DefaultTimeout
	Log     *slog.Logger
	// Missed, if set, counts a peer that did not answer (metrics).
	Missed func(action string)
	// AllowPlaintext lets a part be asked over plain HTTP of a peer off
	// loopback (the caller's signed call, and its answer, cross the
	// network in the clear): by default such a peer is not asked and
	// counts as missing (ErrPlaintext).
	AllowPlaintext bool

	mu      sync.Mutex
	clients map[string]*http.Client // by URL and certificate
}

// Answer is one peer's reply: its JSON body or why there is none. Decode
// reads the body.
type Answer struct {
	Server string
	URL    string // the address the server registered
	Body   []byte
	Err    error
}

// Decode reads a peer's answer a into v (a pointer to the action's
// response), parsing it once, and checks that the answer names the server
// asked: id points at v's PalisadeServerId (see ServerParam). An answer
// that names another server, or none (also one that is no JSON object),
// is ErrWrongServer.
func Decode(a Answer, v any, id *string) error {
	if a.Err != nil {
		return a.Err
	}
	err := json.Unmarshal(a.Body, v)
	if *id != a.Server {
		return fmt.Errorf("the server at %s answered as server %.64q, not %s: %w", a.URL, *id, a.Server, ErrWrongServer)
	}
	return err
}

// Others lists the live servers other than this one.
func (f *Fanin) Others(ctx context.Context) ([]Peer, error) {
	ps, err := f.List(ctx)
	if err != nil {
		return nil, err
	}
	out := ps[:0:0]
	for _, p := range ps {
		if p.ID != f.Self && ValidID(p.ID) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Ask sends version/action to each peer at once, signed with keyID, with
// the request's parameters (less those of its own signature and
// NextToken), LocalParam, and the NextToken that after gives for the peer
// ("" for none). Each peer has f.Timeout to answer; one that does not, or
// refuses, has an Answer with Err, and the others are still used. Without
// a key (keyID "", or one gone since) none is asked.
func (f *Fanin) Ask(ctx context.Context, peers []Peer, version, action, keyID string, params rpc.Params, after func(server string) string) []Answer {
	out := make([]Answer, len(peers))
	secret, ok := f.Secret(keyID)
	var wg sync.WaitGroup
	for i, p := range peers {
		out[i].Server, out[i].URL = p.ID, p.URL
		switch {
		case keyID == "":
			out[i].Err = errors.New("no caller's key to ask it with")
			continue
		case !ok:
			out[i].Err = errors.New("the caller's key is gone")
			continue
		}
		v := url.Values{}
		for k, s := range params {
			if !dropParam[k] && !strings.HasPrefix(k, "Signature") {
				v.Set(k, s)
			}
		}
		if a := after(p.ID); a != "" {
			v.Set("NextToken", a)
		}
		v.Set(ServerParam, p.ID)
		wg.Go(func() { out[i].Body, out[i].Err = f.ask(ctx, p, version, action, keyID, secret, v) })
	}
	wg.Wait()
	return out
}

// collect reads each answer with parse: the parts that came, and the
// servers that gave none (named), of which held are those not refused for
// good (Permanent). Each failure is logged and counted (Missed) once.
func collect[P any](f *Fanin, action string, answers []Answer, parse func(Answer) (P, error)) (parts []P, named, held []string) {
	for _, a := range answers {
		p, err := parse(a)
		if err != nil {
			f.log().Warn("a server did not give its part of a query; the answer is partial", "action", action, "server", a.Server, "err", err)
			if f.Missed != nil {
				f.Missed(action)
			}
			named = append(named, a.Server)
			if !Permanent(err) {
				held = append(held, a.Server)
			}
			continue
		}
		parts = append(parts, p)
	}
	return parts, named, held
}

// dropParam are parameters not forwarded: the caller's signature and
// transport, and the token (each peer gets its own).
var dropParam = map[string]bool{"Action": true, "Version": true, "AccessKeyId": true, "Timestamp": true, "Format": true,
	"SecurityToken": true, "NextToken": true, LocalParam: true, ServerParam: true}

func (f *Fanin) log() *slog.Logger {
	if f.Log == nil {
		return slog.Default()
	}
	return f.Log
}

func (f *Fanin) ask(ctx context.Context, p Peer, version, action, keyID, secret string, v url.Values) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, cmpDur(f.Timeout, DefaultTimeout))
	defer cancel()
	nonce := make([]byte, 16)
	rand.Read(nonce)
	v.Set("Action", action)
	v.Set("Version", version)
	v.Set("Format", "JSON")
	v.Set("AccessKeyId", keyID)
	v.Set("SignatureMethod", "HMAC-SHA1")
	v.Set("SignatureVersion", "1.0")
	v.Set("SignatureNonce", hex.EncodeToString(nonce))
	v.Set("Timestamp", time.Now().UTC().Format("2006-01-02T15:04:05Z"))
	v.Set(LocalParam, "true")
	v.Set("Signature", signature.SignV1(secret, signature.StringToSignV1("POST", v)))
	c, err := f.client(p)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(p.URL, "/")+"/", strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxAnswer {
		return nil, fmt.Errorf("its answer is over %d bytes", maxAnswer)
	}
	if resp.StatusCode != http.StatusOK {
		e := &Refusal{Status: resp.StatusCode}
		json.Unmarshal(b, e)
		e.Status = resp.StatusCode
		return nil, e
	}
	return b, nil
}

func cmpDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// client returns the HTTP client for a peer: over https, one that accepts
// the peer's registered certificate and no other.
func (f *Fanin) client(p Peer) (*http.Client, error) {
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %s registered a bad URL %q", p.ID, p.URL)
	}
	if u.Scheme == "https" && len(p.Cert) == 0 {
		return nil, fmt.Errorf("server %s registered no certificate for %s", p.ID, p.URL)
	}
	if u.Scheme == "http" && !f.AllowPlaintext && !tlscert.Loopback(u.Hostname()) {
		return nil, fmt.Errorf("server %s at %s: %w", p.ID, p.URL, ErrPlaintext)
	}
	h := sha256.Sum256(p.Cert)
	key := p.URL + " " + hex.EncodeToString(h[:])
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[key]; ok {
		return c, nil
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		TLSHandshakeTimeout: 2 * time.Second,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     time.Minute,
	}
	if u.Scheme == "https" {
		want := p.Cert
		tr.TLSClientConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			// The name is not checked: the certificate is, byte for byte,
			// against the one the server registered in the store.
			InsecureSkipVerify: true,
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 || !bytes.Equal(raw[0], want) {
					return fmt.Errorf("server %s presented a certificate other than the one it registered", p.ID)
				}
				return nil
			},
		}
	}
	if f.clients == nil {
		f.clients = map[string]*http.Client{}
	}
	if len(f.clients) > 4*maxServers { // servers came and went: start afresh
		for _, c := range f.clients {
			c.CloseIdleConnections()
		}
		clear(f.clients)
	}
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	f.clients[key] = c
	return c, nil
}

// othersOrAll is the other live servers; when the store does not say who
// else serves, none, and "*" as the missing servers (every one): the
// answer is this server's part only.
func (f *Fanin) othersOrAll(ctx context.Context, action string) ([]Peer, []string) {
	others, err := f.Others(ctx)
	if err != nil {
		f.log().Warn("the list of servers could not be read; the answer is this server's part only", "action", action, "err", err)
		return nil, []string{"*"}
	}
	return others, nil
}

// Gather asks the other live servers, as the caller, for their parts of
// the merged listing req asks this one for, each from its position in tok,
// and reads each answer with parse (which Decodes it). A server done in
// tok is asked again only if all (a listing that counts every server's
// matches). A peer that throttled makes err its Throttling refusal (the
// caller answers with it: SDKs retry). Otherwise parts are the parts that
// came, named the servers that gave none (the answer's
// PalisadeMissingServers; "*": the list of servers could not be read),
// and held those of them not refused for good (Permanent), which Merge
// keeps the listing open for.
func Gather[T any](ctx context.Context, f *Fanin, req *rpc.Request, tok Token, all bool, parse func(Answer) (Part[T], error)) (parts []Part[T], named, held []string, err error) {
	others, named := f.othersOrAll(ctx, req.Action)
	if !all {
		others = slices.DeleteFunc(others, func(p Peer) bool { return tok[p.ID].Done })
	}
	answers := f.Ask(ctx, others, req.Version, req.Action, req.AccessKeyID, req.Params, func(id string) string { return tok[id].After })
	parts, theirs, held := collect(f, req.Action, answers, parse)
	if err := Throttled(answers); err != nil {
		return nil, nil, nil, err
	}
	return parts, append(named, theirs...), held, nil
}
