package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// cookieName is the session cookie. It holds only a random session ID; the
// session itself (account, CSRF token, expiry) stays on the server.
const cookieName = "palisade_console"

type session struct {
	id       string
	account  string
	keyID    string
	operator bool
	csrf     string
	created  time.Time
	// region is the last region shown (the default next time); last is
	// the last use; both change under sessions.mu.
	region string
	last   time.Time
	// flash is what the last change did, shown by the page it led to
	// while that page's address carries flashID (under sessions.mu): a
	// link of someone else's cannot make the console say anything.
	flashID, flash string
}

func (s *session) checkCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}

// sessions are the signed-in sessions, bounded in number, in all and per
// account: when full, the expired ones go first, then the least recently
// used (the account's own, when it is the account that is full).
type sessions struct {
	mu         sync.Mutex
	byID       map[string]*session
	max        int
	perAccount int // an account's sessions at most (its own oldest go first)
	idle, age  time.Duration
	now        func() time.Time
}

// maxAccountSessions bounds one account's sessions: without it, one
// tenant signing in again and again (a success costs it nothing) filled
// the table and pushed every other tenant's sessions out, the least
// recently used first.
const maxAccountSessions = 100

func newSessions(o Options) *sessions {
	s := &sessions{byID: map[string]*session{}, max: o.MaxSessions, perAccount: maxAccountSessions, idle: o.IdleTimeout, age: o.MaxAge, now: o.Now}
	if s.max <= 0 {
		s.max = 10000
	}
	s.perAccount = min(s.perAccount, s.max)
	if s.idle <= 0 {
		s.idle = time.Hour
	}
	if s.age <= 0 {
		s.age = 12 * time.Hour
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) live(x *session, now time.Time) bool {
	return now.Sub(x.last) < s.idle && now.Sub(x.created) < s.age
}

// add starts a session for an account.
func (s *sessions) add(account, keyID string, operator bool) *session {
	now := s.now()
	x := &session{id: randomToken(), account: account, keyID: keyID, operator: operator, csrf: randomToken(), created: now, last: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	var mine []*session // the account's live sessions
	for id, o := range s.byID {
		if !s.live(o, now) {
			delete(s.byID, id)
		} else if o.account == account {
			mine = append(mine, o)
		}
	}
	if len(mine) >= s.perAccount {
		slices.SortFunc(mine, func(a, b *session) int { return a.last.Compare(b.last) })
		for _, o := range mine[:len(mine)-s.perAccount+1] {
			delete(s.byID, o.id)
		}
	}
	if len(s.byID) >= s.max { // all live: the least recently used goes
		var oldest *session
		for _, o := range s.byID {
			if oldest == nil || o.last.Before(oldest.last) {
				oldest = o
			}
		}
		delete(s.byID, oldest.id)
	}
	s.byID[x.id] = x
	return x
}

// get returns the live session of a request, nil if there is none.
func (s *sessions) get(r *http.Request) *session {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.byID[ck.Value]
	if x == nil {
		return nil
	}
	if !s.live(x, now) {
		delete(s.byID, x.id)
		return nil
	}
	x.last = now
	return x
}

// setRegion and regionOf keep a session's last region under the lock: a
// session's pages may be served at once (several tabs).
func (s *sessions) setRegion(x *session, region string) {
	s.mu.Lock()
	x.region = region
	s.mu.Unlock()
}

func (s *sessions) regionOf(x *session) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return x.region
}

// setFlash keeps what a change did; the page at the address with
// done=ID shows it.
func (s *sessions) setFlash(x *session, msg string) (id string) {
	id = randomToken()[:12]
	s.mu.Lock()
	x.flashID, x.flash = id, msg
	s.mu.Unlock()
	return id
}

// flashOf is the message of the change whose ID is id, "" if it is not
// the session's last.
func (s *sessions) flashOf(x *session, id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" || id != x.flashID {
		return ""
	}
	return x.flash
}

func (s *sessions) remove(x *session) {
	s.mu.Lock()
	delete(s.byID, x.id)
	s.mu.Unlock()
}

// count is how many sessions are kept.
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

func setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	// Why the form is shown, when it is not the first visit: fixed texts,
	// so that a link cannot make the page say anything else.
	note := ""
	switch r.URL.Query().Get("why") {
	case "signedout":
		note = "You are signed out."
	case "expired":
		note = "Your session ended (after an hour idle, or 12 hours); sign in again to go on."
	}
	c.render(w, http.StatusOK, "signin", map[string]any{"Title": "Sign in", "Next": safeNext(r.URL.Query().Get("next")), "Note": note})
}

// safeNext keeps a return address only if it is a console page. Its path
// must be clean: http.Redirect cleans it, so "/console/../\x" would go
// out as "/\x", which browsers read as "//x", another site; and browsers
// read a backslash as a slash and %2e%2e as "..", so neither may appear.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || !strings.HasPrefix(u.Path, Prefix) ||
		strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return ""
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") {
		clean += "/"
	}
	if clean != u.Path {
		return ""
	}
	return next
}

// signIn checks an access key pair as the API does (the same secret, the
// same account) and starts a session. A wrong ID and a wrong secret get
// the same answer, so the form tells nobody which key IDs exist.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "Refused: the form was sent from another site.", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<14)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "The form could not be read.", http.StatusBadRequest)
		return
	}
	id := strings.TrimSpace(r.PostForm.Get("AccessKeyId"))
	secret := r.PostForm.Get("AccessKeySecret")
	next := safeNext(r.PostForm.Get("next"))
	bad := func(msg string) {
		c.render(w, http.StatusUnauthorized, "signin", map[string]any{"Title": "Sign in", "Error": msg, "KeyID": id, "Next": next})
	}
	addr := clientAddr(r)
	if c.failed.blocked(addr) {
		w.Header().Set("Retry-After", "60")
		c.render(w, http.StatusTooManyRequests, "signin", map[string]any{"Title": "Sign in", "Error": "Too many failed sign-ins from this address; wait a minute and try again.", "KeyID": id, "Next": next})
		return
	}
	want, ok := c.svc.LookupSecret(id)
	if id == "" || secret == "" || !ok || subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
		c.failed.fail(addr)
		bad("The AccessKeyId or AccessKeySecret is wrong. Use the key pair printed by `palisade serve` or given to your account.")
		return
	}
	caller, err := c.svc.CallerOf(r.Context(), id, "", false)
	if err != nil {
		bad("The key cannot sign in: " + c.asECS(err).Message)
		return
	}
	if caller.Host != "" {
		bad("This is a host key: it may only call the host actions. Sign in with an account's key.")
		return
	}
	if caller.Operator {
		// As the API refuses it every tenant action: the operator owns
		// no resources, and the console's pages and forms are a tenant's.
		bad("This is the operator's key: it administers accounts and hosts and owns no resources. Sign in with a tenant's key (palisade account create makes a tenant with one).")
		return
	}
	s := c.sessions.add(caller.Account, id, caller.Operator)
	setCookie(w, r, s.id, int(c.sessions.age/time.Second))
	// The audit and the map of the region the pages open on are computed
	// from now, so that the first pages find them ready.
	if cl, err := service.AccountCaller(caller.Account, c.defaultRegion(r.Context(), caller.Account)); err == nil {
		cl.Operator = caller.Operator
		// As the session's pages do (console.go): the key asks the other
		// servers for their rule hits.
		c.prefetch(rpc.WithAccessKeyID(r.Context(), id), cl)
	}
	if next == "" {
		next = Prefix
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	c.sessions.remove(s)
	setCookie(w, r, "", -1)
	http.Redirect(w, r, Prefix+"signin?why=signedout", http.StatusSeeOther)
}

// validRegion reports whether a region ID is one the API knows.
func validRegion(id string) bool {
	_, ok := model.LookupRegion(id)
	return ok
}
