// Package console is Palisade's web console: server-rendered pages under
// /console/ on the API's listener, signed in with an access key pair. It is
// a transport, beside package api: every page and every change runs as the
// signed-in account through the same typed services (package service, and
// package analyze for the analysis), so tenant isolation, quotas and error
// codes are the API's. Every change is previewed first (the flows it opens
// and closes, the audit findings it adds and removes) and applied only on
// a second, explicit step.
//
// The HTML, CSS, JavaScript and the graph library (cytoscape.js, vendored
// with its licence under assets/vendor) are embedded: nothing is fetched at
// run time.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Prefix is where the console is served.
const Prefix = "/console/"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Console serves the web console.
type Console struct {
	svc      *service.Service
	analysis *analyze.Service
	events   *trail.Trail
	sessions *sessions
	pages    map[string]*template.Template
	cache    *resultCache
	failed   *failures    // sign-in failures by address
	diffs    diffJobs     // the audit diffs of previews, by ID
	previews previewStore // the forms of changes previewed, by ID (previews.go)
	alerting *bool        // Options.ChangeAlerting
	observer func(*rpc.Call)
	budgets  budgets
	log      *slog.Logger
	mux      *http.ServeMux
	patterns []string // the mux's patterns, in the order routes added them
}

// Options tune a console; the zero value is usable.
type Options struct {
	Log *slog.Logger
	// MaxSessions bounds the sessions kept (default 10,000); IdleTimeout
	// ends a session not used for that long (default 1 h) and MaxAge any
	// session (default 12 h).
	MaxSessions         int
	IdleTimeout, MaxAge time.Duration
	Now                 func() time.Time
	// Analysis is the server's analysis service (its live reachability and
	// bounds); nil makes one over svc, for tests.
	Analysis *analyze.Service
	// Events is the server's event trail, for the events page (nil: the
	// page says the trail is not kept here).
	Events *trail.Trail
	// ChangeAlerting is whether the server alerts on security-group
	// changes, for the audit's SGA-032, as the API's audit judges it (nil:
	// not known, and the check says nothing).
	ChangeAlerting *bool
	// Observe is told of every change applied (or refused when applied)
	// as the API call it makes, as the API's server observes its calls
	// (the event trail, the webhook, the log); nil: none is.
	Observe func(*rpc.Call)
}

// New returns the console over a resource service.
func New(svc *service.Service, o Options) (*Console, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	if o.Analysis == nil {
		o.Analysis = analyze.New(svc)
	}
	c := &Console{svc: svc, analysis: o.Analysis, events: o.Events, sessions: newSessions(o), pages: pages,
		cache: newResultCache(64), failed: newFailures(o.Now), log: o.Log, alerting: o.ChangeAlerting, observer: o.Observe,
		budgets: budgets{page: pageBudget, preview: previewBudget}}
	c.routes()
	return c, nil
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// The pages load only their own scripts and styles, and no other site
	// may frame them.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	c.mux.ServeHTTP(w, r)
}

// routes maps the console's addresses. Every page that shows a region's
// resources has the region in its path, so it can be bookmarked.
func (c *Console) routes() {
	mux := http.NewServeMux()
	// m notes each pattern as it is added: ServeMux does not list them,
	// and the tests send every route hostile requests (Patterns).
	m := routeTable{mux, &c.patterns}
	assets, _ := fs.Sub(assetFS, "assets")
	static := http.StripPrefix(Prefix+"assets/", http.FileServerFS(assets))
	noPage := func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "No such page in the console; start at "+Prefix, http.StatusNotFound)
	}
	m.Handle("GET "+Prefix+"assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			// Files only: the file server lists a folder (an HTML page
			// of its files, which the line below let caches keep).
			noPage(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		static.ServeHTTP(w, r)
	}))
	m.HandleFunc("GET "+Prefix+"{$}", c.signedIn(c.home))
	m.HandleFunc("GET "+Prefix+"signin", c.signInPage)
	m.HandleFunc("POST "+Prefix+"signin", c.signIn)
	m.HandleFunc("POST "+Prefix+"signout", c.signedIn(c.signOut))
	m.HandleFunc("GET "+Prefix+"go", c.signedIn(c.goRegion))
	r := Prefix + "r/{region}/"
	m.HandleFunc("GET "+r+"{$}", c.regional(func(p *page) { http.Redirect(p.w, p.r, p.link("groups"), http.StatusSeeOther) }))
	m.HandleFunc("GET "+r+"groups", c.regional(c.groupsPage))
	m.HandleFunc("GET "+r+"groups/new", c.regional(c.newGroupPage))
	m.HandleFunc("GET "+r+"groups/{group}", c.regional(c.groupPage))
	m.HandleFunc("GET "+r+"groups/{group}/rules/new", c.regional(c.newRulesPage))
	m.HandleFunc("GET "+r+"groups/{group}/rules/{rule}/edit", c.regional(c.editRulePage))
	m.HandleFunc("GET "+r+"groups/{group}/export", c.regional(c.exportRules))
	m.HandleFunc("GET "+r+"groups/{group}/import", c.regional(c.importPage))
	m.HandleFunc("GET "+r+"groups/{group}/compare", c.regional(c.comparePage))
	m.HandleFunc("GET "+r+"instances", c.regional(c.instancesPage))
	m.HandleFunc("GET "+r+"instances/{instance}", c.regional(c.instancePage))
	m.HandleFunc("GET "+r+"map", c.regional(c.mapPage))
	m.HandleFunc("GET "+r+"map/edge", c.regional(c.edgePage))
	m.HandleFunc("GET "+r+"audit", c.regional(c.auditPage))
	m.HandleFunc("GET "+r+"flowlogs", c.regional(c.flowLogsPage))
	m.HandleFunc("GET "+r+"events", c.regional(c.eventsPage))
	m.HandleFunc("POST "+r+"change", c.regional(c.change))
	m.HandleFunc("GET "+r+"change/{id}", c.regional(c.previewPage))
	m.HandleFunc("GET "+r+"change/audit/{id}", c.regional(c.auditDiffPage))
	m.HandleFunc(Prefix, noPage)
	c.mux = mux
}

// routeTable is a ServeMux that keeps the patterns it was given.
type routeTable struct {
	mux      *http.ServeMux
	patterns *[]string
}

func (t routeTable) Handle(pattern string, h http.Handler) {
	*t.patterns = append(*t.patterns, pattern)
	t.mux.Handle(pattern, h)
}

func (t routeTable) HandleFunc(pattern string, h http.HandlerFunc) { t.Handle(pattern, h) }

// page is one request of a signed-in user in a region.
type page struct {
	w      http.ResponseWriter
	r      *http.Request
	s      *session
	caller service.Caller
	region string
}

func (p *page) ctx() context.Context { return p.r.Context() }

// link is the address of a page of the current region.
func (p *page) link(rel string, kv ...string) string {
	u := Prefix + "r/" + url.PathEscape(p.region) + "/" + rel
	if len(kv) > 0 {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		if e := q.Encode(); e != "" {
			u += "?" + e
		}
	}
	return u
}

// signedIn runs h only with a live session; others go to the sign-in page.
func (c *Console) signedIn(h func(w http.ResponseWriter, r *http.Request, s *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.sessions.get(r)
		if s != nil {
			// A session lasts only as long as its key: a key made
			// Inactive or deleted, or an account disabled, is refused by
			// the API from the next request on, and so here.
			cl, err := c.svc.KeyCaller(r.Context(), s.keyID)
			if _, refused := errors.AsType[*ecserr.Error](err); refused || err == nil && (cl.Account != s.account || cl.Operator != s.operator) {
				c.sessions.remove(s)
				s = nil
			} else if err != nil {
				e := c.asECS(err)
				c.render(w, e.Status, "error", map[string]any{"Title": "Error", "Err": e})
				return
			}
		}
		if s == nil {
			q := url.Values{}
			if r.Method == http.MethodGet && r.URL.Path != Prefix {
				q.Set("next", r.URL.RequestURI())
			} else if next := formPage(r); next != "" {
				q.Set("next", next)
			}
			if _, err := r.Cookie(cookieName); err == nil {
				q.Set("why", "expired") // it had a session, which ended
			}
			to := Prefix + "signin"
			if len(q) > 0 {
				to += "?" + q.Encode()
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !c.checkPost(w, r, s) {
			return
		}
		h(w, r, s)
	}
}

// checkPost refuses a change that does not carry the session's CSRF token
// or comes from another origin.
func (c *Console) checkPost(w http.ResponseWriter, r *http.Request, s *session) bool {
	if !sameOrigin(r) {
		http.Error(w, "Refused: the form was sent from another site.", http.StatusForbidden)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		// A page, as the console's other refusals: the parser's own words
		// ("http: request body too large") do not say what to do.
		msg, status := "The form could not be read; reload the page and try again. Nothing was changed.", http.StatusBadRequest
		if _, big := errors.AsType[*http.MaxBytesError](err); big {
			msg, status = fmt.Sprintf("The form is larger than the console takes (%d KiB); send fewer rules at once, or use the API. Nothing was changed.", maxForm>>10), http.StatusRequestEntityTooLarge
		}
		c.render(w, status, "error", map[string]any{"Title": "Refused", "Code": "InvalidParameter", "Message": msg})
		return false
	}
	if !s.checkCSRF(r.PostForm.Get("csrf")) {
		c.render(w, http.StatusForbidden, "error", map[string]any{"Title": "Refused", "Code": "InvalidCSRFToken",
			"Message": "The form is missing this session's token or carries another one; reload the page and try again. Nothing was changed."})
		return false
	}
	return true
}

// maxForm bounds a form (an import of rules is the largest).
const maxForm = 1 << 20

// sameOrigin reports whether a POST names this host as its origin (or names
// none, as some clients do; the CSRF token still holds them).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" && r.Header.Get("Sec-Fetch-Site") == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// regional resolves the region of the path for the session's account.
func (c *Console) regional(h func(p *page)) http.HandlerFunc {
	return c.signedIn(func(w http.ResponseWriter, r *http.Request, s *session) {
		region := r.PathValue("region")
		caller, err := service.AccountCaller(s.account, region)
		if err != nil {
			c.render(w, http.StatusNotFound, "error", c.base(&page{w: w, r: r, s: s, region: model.Regions[0].ID}, "Unknown region", map[string]any{"Err": c.asECS(err)}))
			return
		}
		caller.Operator = s.operator
		c.sessions.setRegion(s, region)
		// The session's key, with which the other servers of an
		// installation are asked for their parts (rule hits).
		r = r.WithContext(rpc.WithAccessKeyID(r.Context(), s.keyID))
		h(&page{w: w, r: r, s: s, caller: caller, region: region})
	})
}

// home sends a user to the region that holds the account's resources.
func (c *Console) home(w http.ResponseWriter, r *http.Request, s *session) {
	region := c.sessions.regionOf(s)
	if region == "" {
		region = c.defaultRegion(r.Context(), s.account)
	}
	http.Redirect(w, r, Prefix+"r/"+url.PathEscape(region)+"/groups", http.StatusSeeOther)
}

// defaultRegion is the region with most of the account's groups and
// instances, the first region when it has none.
func (c *Console) defaultRegion(ctx context.Context, account string) string {
	best, most := model.Regions[0].ID, 0
	for _, reg := range model.Regions {
		cl := service.Caller{Account: account, Region: reg.ID}
		n := 0
		if l, err := c.svc.DescribeSecurityGroups(ctx, service.DescribeGroupsInput{Caller: cl, Page: service.Page{Size: 1}}); err == nil {
			n += l.Total
		}
		if l, err := c.svc.DescribeInstances(ctx, service.DescribeInstancesInput{Caller: cl, Page: service.Page{Size: 1}}); err == nil {
			n += l.Total
		}
		if n > most {
			best, most = reg.ID, n
		}
	}
	return best
}

// auditOptions are the audit's options: the API's (PalisadeAudit without
// a Config), so that the console's findings are the API's.
func (c *Console) auditOptions() audit.Options {
	return audit.Options{ChangeAlerting: c.alerting}
}

// asECS is an error as the API would answer it.
func (c *Console) asECS(err error) *ecserr.Error {
	var e *ecserr.Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The browser went away, or the work was superseded: no fault.
		return ecserr.New(http.StatusServiceUnavailable, "ServiceUnavailable", "The request ended before it was answered; try again.")
	}
	// Not the error's own text: a store's may hold SQL or file names.
	c.log.Error("console: an error that is not an ECS error", "err", err)
	return ecserr.New(http.StatusInternalServerError, "InternalError", "The request processing has failed due to some unknown error; the server's log has its cause.")
}

// fail renders an error of a service as the API names it.
func (c *Console) fail(p *page, err error) {
	e := c.asECS(err) // logs an error that is not an ECS error
	c.render(p.w, e.Status, "error", c.base(p, "Error", map[string]any{"Err": e}))
}

// base is the data every page of a region gets.
func (c *Console) base(p *page, title string, data map[string]any) map[string]any {
	if data == nil {
		data = map[string]any{}
	}
	data["Title"] = title
	data["Region"] = p.region
	data["Regions"] = model.Regions
	data["Account"] = p.s.account
	data["CSRF"] = p.s.csrf
	data["Path"] = p.r.URL.Path
	data["Prefix"] = strings.TrimSuffix(Prefix, "/")
	data["R"] = Prefix + "r/" + url.PathEscape(p.region) + "/"
	// A page that answers a form (a refused one drawn again) must not
	// reload itself: the browser would send the form again.
	data["Posted"] = p.r.Method == http.MethodPost
	// Whichever page a change led back to says what it did.
	data["Flash"] = c.sessions.flashOf(p.s, p.r.URL.Query().Get("done"))
	return data
}

// render draws page name with status. Every page is drawn here, whatever
// its status: the headers must be set before WriteHeader, after which Go
// drops changes to them (a page that wrote its status first was sent
// without no-store, for the browser to keep, and without its type).
func (c *Console) render(w http.ResponseWriter, status int, name string, data any) {
	t, ok := c.pages[name]
	if !ok {
		panic("console: no template " + name)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "layout", data); err != nil {
		c.log.Error("console: render", "page", name, "err", err)
		fmt.Fprintf(w, "<p>The page could not be drawn: %s</p>", template.HTMLEscapeString(err.Error()))
	}
}

// goRegion is the region picker: the same page in another region (the
// list of the page's kind when the page names a resource of the old one).
func (c *Console) goRegion(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	region := q.Get("region")
	if !validRegion(region) {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	section := "groups"
	if rest, ok := strings.CutPrefix(q.Get("path"), Prefix+"r/"); ok {
		if _, after, ok := strings.Cut(rest, "/"); ok {
			if k, _, _ := strings.Cut(after, "/"); k == "instances" || k == "map" || k == "audit" || k == "flowlogs" || k == "events" {
				section = k
			}
		}
	}
	http.Redirect(w, r, Prefix+"r/"+url.PathEscape(region)+"/"+section, http.StatusSeeOther)
}

// formPage is the console page a form was sent from (its Referer, sent
// for this origin only), when it is one that can be opened again: a form
// sent after its session ended (an hour idle) leads, once signed in, back
// to where it was sent from, not to the first page. A preview's Apply
// leads back to nowhere: its page was kept for the session that ended.
func formPage(r *http.Request) string {
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || strings.HasSuffix(ref.Path, "/change") || strings.Contains(ref.Path, "/change/") || ref.Path == Prefix {
		return ""
	}
	return safeNext(ref.RequestURI())
}
