package console

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/testkit/logbuf"
	xhtml "golang.org/x/net/html"
)

// sweepHostile are the values the console's sweep puts in fields, query
// parameters and path segments: too long, not UTF-8, NUL and control
// bytes, unicode, numbers of every wrong kind, look-alikes of what the
// handlers parse, and HTML and script payloads (each marked with
// palisadeXSS, which sweepUnescaped looks for).
var sweepHostile = []string{
	strings.Repeat("A", 64<<10), strings.Repeat("é", 33<<10),
	"\xff\xfe\xfd", "sg-\xc3\x28", "a\x00b", "\x00", "\x01\x02\x1b[31m\r\n\t\x7f", "\u202e\ufeff\u200b", "安全组🔥",
	"", " ", "-1", "0", "-0", "1.5", "NaN", "abc", "0x10", "+5", "1e3",
	"9223372036854775807", "9223372036854775808", "-9223372036854775809", "99999999999999999999999999", "2147483648", "65536",
	"0.0.0.0/33", "::/129", "1/65536", "-1/-1", "22/22/22", "10.0.0.0/8/8",
	"../../etc/passwd", "%00", "%zz", "' OR 1=1 --", "{{.CSRF}}", "sg-", "i-", "sg-" + strings.Repeat("z", 300),
	"<script>palisadeXSS(1)</script>",
	`"><img src=x onerror=palisadeXSS(2)>`,
	`'><svg onload=palisadeXSS(3)>`,
	"javascript:palisadeXSS(4)",
	"</textarea></title><script>palisadeXSS(5)</script>",
	`" autofocus onfocus="palisadeXSS(6)`,
	` JaVaScRiPt:palisadeXSS(7)`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000), `{"Ingress":[` + strings.Repeat(`{},`, 5000) + `{}]}`,
	`{"Ingress":[{"IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"0.0.0.0/0","Policy":"accept","Priority":"1"}],"Unknown":1}`,
	`{"SecurityGroupId":"x","Ingress":[{"Description":"<script>palisadeXSS(8)</script>","IpProtocol":"TCP","PortRange":"1/1","SourceCidrIp":"10.0.0.0/8","Policy":"accept","Priority":"1"}]}`,
}

// sweepUnescaped finds a payload of sweepHostile drawn into HTML as
// markup: a script or an element of its own, an attribute it broke out
// into, or a javascript: address in a link, a form or a source.
var sweepUnescaped = regexp.MustCompile(`(?i)<script>palisadeXSS|<img src=x onerror|<svg onload|" autofocus onfocus="|(href|src|action|formaction)\s*=\s*["']?\s*javascript:`)

// sweepParams are the names the console's handlers read (a form's field,
// a query's parameter), found in its source so that a new one is swept:
// .Get("name"), PathValue("name"), and a rule row's k("name"), sent as
// r1.name and r6.name (one row past the form's).
func sweepParams(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	get := regexp.MustCompile(`\b(Get|PathValue|k)\("([A-Za-z0-9_.-]+)"\)`)
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range get.FindAllStringSubmatch(string(src), -1) {
			switch {
			case m[1] == "k":
				seen["r1."+m[2]], seen["r"+strconv.Itoa(rowCount+1)+"."+m[2]] = true, true
			case m[2] == "Origin" || m[2] == "Sec-Fetch-Site" || m[2] == "Content-Type":
				// headers, not fields
			default:
				seen[m[2]] = true
			}
		}
	}
	if len(seen) < 20 {
		t.Fatalf("only %d parameter names found in the console's source: %v", len(seen), seen)
	}
	return slices.Sorted(func(yield func(string) bool) {
		for k := range seen {
			if !yield(k) {
				return
			}
		}
	})
}

// sweepReq is one request of the sweep.
type sweepReq struct {
	method, path, rawQuery, body, contentType string
	what                                      string
	// badToken: the form lacks A's token where the console reads it (or
	// comes from another site), and must be refused; otherwise A's token
	// is added to a form that has none.
	badToken bool
	apply    bool     // the form asks to apply
	header   []string // more headers, name and value
}

// TestConsoleHostileSweep sends every route of the console's mux (its own
// table, so a new route is swept) deterministic, seeded hostile requests
// as tenant A, signed in: tenant B's IDs in every ID-like path segment,
// query parameter and field, over-long values, bytes that are not UTF-8,
// NUL and control characters, HTML and script payloads, numbers of every
// wrong kind, repeated and unknown fields, forms without a CSRF token or
// with B's, the wrong method, an oversized body. Each answer must be
// below 500; hold nothing of B's (IDs, names, addresses, account, key)
// that A did not send, and no secret; draw no payload as markup; send an
// HTML page as text/html with no-store; a redirect stays on the server.
// A GET, a preview and a refused form change nothing (the store's
// revision); a form without A's token is refused. Each request has 20 s;
// the slowest are logged, not failed.
func TestConsoleHostileSweep(t *testing.T) {
	svc, keyA, clA := tenantService(t)
	ctx := context.Background()
	_, keyB, err := svc.NewTenant(ctx, "t2mark-account")
	if err != nil {
		t.Fatal(err)
	}
	clB := clA
	clB.Account = keyB.Account

	// A: a VPC, two groups (db's rules name app), an instance in both.
	vpcA := &model.VPC{ID: "vpc-sweepa00000000001", Name: "prod", CIDR: netip.MustParsePrefix("10.0.0.0/16"), Owner: clA.Account}
	appA := modeltest.Group("sg-sweepa0000000app01", vpcA.ID, "basic")
	dbA := modeltest.Group("sg-sweepa00000000db01", vpcA.ID, "basic",
		modeltest.Rule("sgr-sweepa0000000001", "in accept 1 TCP 3306/3306 10.0.1.0/24 desc=app_tier"),
		modeltest.Rule("sgr-sweepa0000000002", "in accept 1 TCP 5432/5432 "+appA.ID))
	appA.Name, dbA.Name, appA.Owner, dbA.Owner = "app-prod", "db-prod", clA.Account, clA.Account
	instA := modeltest.Public(modeltest.Instance("i-sweepa0000000000db1", vpcA.ID, "10.0.2.10", dbA.ID, appA.ID), "47.100.1.20")
	instA.Status, instA.Name, instA.Owner = model.StatusRunning, "db-prod-1", clA.Account
	// B: the same kinds, marked t2mark, in 10.88.0.0/16 (a group in
	// 10.89.0.0/16 that no request names), with a prefix list.
	vpcB := &model.VPC{ID: "vpc-sweepb00000000001", Name: "t2mark-vpc", CIDR: netip.MustParsePrefix("10.88.0.0/16"), Owner: clB.Account}
	plB := modeltest.PrefixList("pl-sweepb00000000001", 5, "10.88.50.0/24")
	plB.Name, plB.Owner, plB.Region = "t2mark-pl", clB.Account, clB.Region
	webB := modeltest.Group("sg-sweepb0000000web01", vpcB.ID, "basic",
		modeltest.Rule("sgr-sweepb0000000001", "in accept 1 TCP 22/22 10.88.9.0/24 desc=t2mark_rule"),
		modeltest.Rule("sgr-sweepb0000000002", "in accept 2 TCP 443/443 "+plB.ID))
	hiddenB := modeltest.Group("sg-sweepb000000hidden", vpcB.ID, "basic",
		modeltest.Rule("sgr-sweepb0000000003", "in accept 1 TCP 80/80 10.89.7.0/24 desc=t2mark_hidden"),
		modeltest.Rule("sgr-sweepb0000000004", "in accept 1 TCP 8080/8080 "+webB.ID)) // what a deletion of webB names
	webB.Name, webB.Description, hiddenB.Name = "t2mark-web", "t2mark-desc", "t2mark-hidden"
	webB.Tags = []model.Tag{{Key: "t2mark-tag", Value: "t2mark-value"}}
	webB.Owner, hiddenB.Owner = clB.Account, clB.Account
	instB := modeltest.Public(modeltest.Instance("i-sweepb0000000000web", vpcB.ID, "10.88.1.10", webB.ID), "47.88.1.20")
	instB.Status, instB.Name, instB.Owner = model.StatusRunning, "t2mark-inst", clB.Account
	for _, r := range []service.Resources{
		{VPCs: []*model.VPC{vpcA}, Groups: []*model.SecurityGroup{appA, dbA}, Instances: []*model.Instance{instA}},
		{VPCs: []*model.VPC{vpcB}, PrefixLists: []*model.PrefixList{plB}, Groups: []*model.SecurityGroup{webB, hiddenB}, Instances: []*model.Instance{instB}},
	} {
		if _, err := svc.Import(ctx, clA.Region, r); err != nil {
			t.Fatal(err)
		}
	}
	// The console's log: a page that could not be drawn, or an error
	// that is not an ECS error, is logged there (and answered 200 or 500).
	var logged logbuf.Buffer
	// An event trail, which the console's changes go to as the server
	// sends them: the events page draws what A sent, and B's are B's.
	tr, err := trail.Open(trail.File(filepath.Join(t.TempDir(), "sweep.db")), trail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	accountOf := map[string]string{keyA.ID: clA.Account, keyB.ID: clB.Account}
	observe := func(call *rpc.Call) {
		if trail.Wanted(call) {
			tr.Record(trail.EventOf(call, accountOf[call.Request.AccessKeyID]))
		}
	}
	c, err := New(svc, Options{Log: slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn})), Events: tr, Observe: observe})
	if err != nil {
		t.Fatal(err)
	}
	sA := c.sessions.add(clA.Account, keyA.ID, false)
	sB := c.sessions.add(clB.Account, keyB.ID, false)
	// B's last change, whose message (naming the group A never names)
	// B's session keeps for the page the change leads to.
	flashB := func() string {
		f := url.Values{"csrf": {sB.csrf}, "op": {"set-policy"}, "step": {"apply"}, "group": {hiddenB.ID}, "policy": {"Drop"}}
		req := httptest.NewRequest("POST", Prefix+"r/"+clB.Region+"/change", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: cookieName, Value: sB.id})
		w := httptest.NewRecorder()
		serveFollowing(c, w, req)
		loc, _ := url.Parse(w.Header().Get("Location"))
		if w.Code != http.StatusSeeOther || loc == nil || loc.Query().Get("done") == "" {
			t.Fatalf("B's change: %d %q", w.Code, w.Header().Get("Location"))
		}
		return loc.Query().Get("done")
	}()
	theirsBefore := accountRecords(t, svc.Store, clB.Account)
	// A real server: the headers checked are those sent.
	srv := httptest.NewServer(c)
	defer srv.Close()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// B's IDs by the kind of name that takes them.
	theirs := map[string][]string{
		"group": {webB.ID}, "instance": {instB.ID, "10.88.1.10", "47.88.1.20"}, "rule": {"sgr-sweepb0000000001"}, "vpc": {vpcB.ID},
		"account": {clB.Account}, "key": {keyB.ID}, "prefixlist": {plB.ID}, "flash": {flashB},
		"end": {instB.ID, "10.88.1.10", "47.88.1.20", webB.ID},
	}
	kindOf := func(name string) string {
		switch n := strings.ToLower(name); {
		case n == "group" || n == "with" || strings.HasSuffix(n, ".peer") || n == "focus":
			return "group"
		case n == "instance":
			return "instance"
		case n == "from" || n == "to": // an instance, an address, a group (the import's source, an edge's end)
			return "end"
		case n == "rule":
			return "rule"
		case n == "vpc":
			return "vpc"
		case strings.HasSuffix(n, ".owner"):
			return "account"
		case n == "accesskeyid":
			return "key"
		case n == "done":
			return "flash"
		case strings.HasSuffix(n, ".ports"):
			return "prefixlist"
		case n == "id" || n == "path" || n == "next" || n == "region":
			return "any"
		}
		return ""
	}
	anyOfTheirs := []string{webB.ID, instB.ID, vpcB.ID, plB.ID, "sgr-sweepb0000000001", clB.Account}
	idsOf := func(name string) []string {
		if k := kindOf(name); k == "any" {
			return anyOfTheirs
		} else if k != "" {
			// Each as it is and as look-alikes a lookup that folds case
			// or trims would take for it.
			var out []string
			for _, id := range theirs[k] {
				out = append(out, id, strings.ToUpper(id), " "+id+"\t", id+"\x00", id+"/..")
			}
			return out
		}
		return nil
	}
	// What A's answers may not hold unless A sent it (then escaped), and
	// what no answer may hold.
	foreign := []string{clB.Account, keyB.ID, "t2mark", "10.88.", "10.89.", "47.88.1.20", webB.ID, hiddenB.ID, instB.ID, vpcB.ID, plB.ID,
		"sgr-sweepb0000000001", "sgr-sweepb0000000002", "sgr-sweepb0000000003", "sgr-sweepb0000000004"}
	secrets := []string{keyA.Secret, keyB.Secret}
	// A's own, for the path segments and the base forms.
	mine := map[string]string{"region": clA.Region, "group": dbA.ID, "instance": instA.ID, "rule": "sgr-sweepa0000000001", "id": "0123"}
	names := sweepParams(t)
	values := slices.Clone(sweepHostile)
	for _, ids := range theirs {
		values = append(values, ids...)
	}
	slices.Sort(values) // a stable order for the seeded choices
	xss := slices.DeleteFunc(slices.Clone(sweepHostile), func(v string) bool { return !strings.Contains(v, "palisadeXSS") })

	importJSON, _ := json.Marshal(exported{SecurityGroupId: dbA.ID, Ingress: []model.RuleInput{{IpProtocol: "TCP", PortRange: "8080/8080", SourceCidrIp: "10.0.3.0/24", Policy: "accept", Priority: "1"}}})
	// The changes the change form takes, each valid as A's (so a hostile
	// field reaches the checks past the first); the destructive ones are
	// only previewed, so the fillers' resources last.
	changeBases := []struct {
		form        url.Values
		destructive bool
	}{
		{url.Values{"op": {"create-group"}, "name": {"sweep-new"}, "description": {"d"}, "type": {"normal"}, "vpc": {vpcA.ID}, "tags": {"k=v"}, "policy": {"Accept"}}, false},
		{url.Values{"op": {"clone-group"}, "group": {dbA.ID}, "name": {"sweep-clone"}}, false},
		{url.Values{"op": {"modify-group"}, "group": {dbA.ID}, "name": {"db-prod"}, "description": {"x"}}, false},
		{url.Values{"op": {"set-policy"}, "group": {dbA.ID}, "policy": {"Accept"}}, false},
		{url.Values{"op": {"delete-group"}, "group": {appA.ID}}, true},
		{url.Values{"op": {"add-rules"}, "group": {dbA.ID}, "dir": {"ingress"}, "r1.policy": {"accept"}, "r1.priority": {"1"}, "r1.protocol": {"TCP"}, "r1.ports": {"22"}, "r1.peer": {"10.0.0.0/8"}}, false},
		{url.Values{"op": {"edit-rule"}, "group": {dbA.ID}, "dir": {"ingress"}, "rule": {"sgr-sweepa0000000001"}, "r1.policy": {"accept"}, "r1.priority": {"1"}, "r1.protocol": {"TCP"}, "r1.ports": {"3306"}, "r1.peer": {"10.0.1.0/24"}}, false},
		{url.Values{"op": {"import-rules"}, "group": {dbA.ID}, "dir": {"ingress"}, "rules": {string(importJSON)}}, false},
		{url.Values{"op": {"delete-rules"}, "group": {dbA.ID}, "dir": {"ingress"}, "rule": {"sgr-sweepa0000000001"}}, true},
		{url.Values{"op": {"join"}, "group": {appA.ID}, "instance": {instA.ID}}, false},
		{url.Values{"op": {"leave"}, "group": {appA.ID}, "instance": {instA.ID}}, true},
	}

	patterns := slices.Clone(c.patterns) // sorted below
	if len(patterns) < 20 {
		t.Fatalf("the console's mux has only %d routes: %v", len(patterns), patterns)
	}
	// The forms first: what they store (a payload in a name, a rule that
	// names B's group) is then drawn by every page.
	slices.SortStableFunc(patterns, func(a, b string) int {
		return boolInt(!strings.HasPrefix(a, "POST ")) - boolInt(!strings.HasPrefix(b, "POST "))
	})
	wildcard := regexp.MustCompile(`\{([a-z]+)\}`)
	// fill is the pattern's path with A's values in its wildcards, and v
	// (escaped) in the wildcard named at.
	fill := func(pattern, at, v string) string {
		return wildcard.ReplaceAllStringFunc(strings.TrimSuffix(pattern, "{$}"), func(w string) string {
			n := w[1 : len(w)-1]
			if n == at {
				return url.PathEscape(v)
			}
			return url.PathEscape(mine[n])
		})
	}
	enc := func(kv ...string) string {
		var b strings.Builder
		for i := 0; i+1 < len(kv); i += 2 {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(kv[i]) + "=" + url.QueryEscape(kv[i+1]))
		}
		return b.String()
	}

	type slow struct {
		what string
		dur  time.Duration
	}
	var (
		slowest     []slow
		sent        int
		byStatus    = map[int]int{}
		routeStatus = map[string][]int{}
		failures    int
		notUTF8     []string
		stored      = map[string]bool{} // what of B's A stored or applied: A's pages may show it
	)
	rev := func() int64 {
		r, err := svc.Store.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, pattern := range patterns {
		if err := tr.Flush(ctx); err != nil { // the events of the forms, for the pages
			t.Fatal(err)
		}
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			method, path = "", pattern // the catch-all: any method
		}
		switch {
		case strings.HasSuffix(path, "assets/"):
			path += "app.css"
		case method == "": // the catch-all: a page the console does not have
			path += "no-such-page"
		}
		// A query that makes the page's base valid: an edge the map shows.
		baseQ := ""
		if strings.HasSuffix(path, "/map/edge") {
			baseQ = edgeQuery(t, c, sA, clA.Region)
		}
		if strings.Contains(path, "{id}") {
			// A's audit diff, and B's: B's is another session's.
			mine["id"] = pendingDiff(t, c, sA, clA.Region, dbA.ID)
			// B's diff is of the group A never names: its page names it.
			theirs["diff"] = []string{pendingDiff(t, c, sB, clB.Region, hiddenB.ID)}
			anyOfTheirs = append(anyOfTheirs, theirs["diff"][0])
			foreign = append(foreign, theirs["diff"][0])
		}
		h := fnv.New64a()
		h.Write([]byte(pattern))
		rng := rand.New(rand.NewPCG(20261206, h.Sum64()))
		pick := func() string { return values[rng.IntN(len(values))] }
		name := func() string { return names[rng.IntN(len(names))] }
		wilds := wildcard.FindAllStringSubmatch(path, -1)
		base := fill(path, "", "")
		var reqs []sweepReq
		get := func(what, p, q string) {
			if baseQ != "" { // after the hostile ones: Get reads the first
				q = strings.TrimPrefix(q+"&"+baseQ, "&")
			}
			reqs = append(reqs, sweepReq{method: "GET", path: p, rawQuery: q, what: what})
		}
		post := func(what string, f url.Values, apply bool) {
			reqs = append(reqs, sweepReq{method: "POST", path: base, body: f.Encode(), contentType: "application/x-www-form-urlencoded", what: what, apply: apply})
		}
		switch method {
		case "GET", "":
			get("the valid base", base, "")
			// Each wildcard: B's IDs, then hostile values.
			for _, w := range wilds {
				for _, v := range append(slices.Clone(idsOf(w[1])), theirs["group"][0], theirs["instance"][0]) {
					get(w[1]+"=their "+v, fill(path, w[1], v), "")
				}
				for range 8 {
					v := pick()
					get(w[1]+"="+short(v), fill(path, w[1], v), "")
				}
			}
			// Each ID-like name with B's IDs; page numbers of every kind.
			for _, n := range names {
				for _, v := range idsOf(n) {
					get(n+"=their "+v, base, enc(n, v))
				}
			}
			for _, v := range []string{"-1", "0", "2", "99999999999999999999", "9223372036854775807", "-9223372036854775808", "abc", "1e9", "2147483648"} {
				get("page="+v, base, enc("page", v))
			}
			for range 30 {
				n, v := name(), pick()
				get(n+"="+short(v), base, enc(n, v))
			}
			for range 6 { // a name twice: A's and B's, several hostile at once, an unknown one
				n := name()
				get(n+" twice", base, enc(n, mine["group"], n, theirs["group"][0]))
				a, b := name(), name()
				va, vb := pick(), pick()
				get(fmt.Sprintf("%s=%s, %s=%s", a, short(va), b, short(vb)), base, enc(a, va, b, vb, "zz-unknown", pick()))
			}
			// Each payload in every name at once, and each name with one.
			for i, v := range xss {
				var kv []string
				for _, n := range names {
					kv = append(kv, n, v)
				}
				get("every name="+short(v), base, enc(kv...))
				for j, n := range names {
					if j%len(xss) == i {
						get(n+"="+short(v), base, enc(n, v))
					}
				}
			}
			if strings.HasSuffix(path, "/assets/app.css") {
				// Other files, folders and what is beside the assets.
				for _, f := range []string{"", "vendor/", "vendor/cytoscape/", "%2e%2e/templates/layout.html", "..%2fconsole.go",
					"app.css%00", "app.css/", "app.js%2f", "%2fetc%2fpasswd", "vendor%2f"} {
					get("assets/"+f, Prefix+"assets/"+f, "")
				}
			}
			get("a raw query that is not escaped", base, "q=%zz&page=%00&vpc=\xff&group=<script>palisadeXSS(9)</script>")
			if method == "GET" {
				for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
					reqs = append(reqs, sweepReq{method: m, path: base, body: enc("csrf", sA.csrf), contentType: "application/x-www-form-urlencoded", what: "wrong method " + m})
				}
			}
		case "POST":
			bases := []struct {
				form        url.Values
				destructive bool
			}{{url.Values{}, false}}
			switch {
			case strings.HasSuffix(path, "/change"):
				bases = changeBases
			case strings.HasSuffix(path, "/signin"):
				bases[0].form = url.Values{"AccessKeyId": {keyA.ID}, "AccessKeySecret": {"wrong-secret"}, "next": {Prefix}}
			}
			for i, b := range bases {
				f := cloneValues(b.form)
				f.Set("step", "preview")
				post(fmt.Sprintf("base %d previewed", i), f, false)
				// Each field of the form with B's IDs.
				for _, n := range slices.Sorted(maps.Keys(b.form)) {
					for _, v := range idsOf(n) {
						f := cloneValues(b.form)
						f.Set(n, v)
						f.Set("step", "preview")
						post(fmt.Sprintf("base %d previewed with %s=their %s", i, n, v), f, false)
						f.Set("step", "apply")
						post(fmt.Sprintf("base %d applied with %s=their %s", i, n, v), f, !b.destructive)
					}
				}
				// A rule's peer as B's group with B's account (as ECS
				// names another account's group), B's prefix list, ports
				// as B's port range list.
				if b.form.Get("r1.peer") != "" {
					for _, ps := range [][]string{{"r1.peer", webB.ID, "r1.owner", clB.Account}, {"r1.peer", plB.ID}, {"r1.ports", "prl-sweepb00000000001"}} {
						f := cloneValues(b.form)
						for j := 0; j+1 < len(ps); j += 2 {
							f.Set(ps[j], ps[j+1])
						}
						f.Set("step", "preview")
						post(fmt.Sprintf("base %d previewed with %v", i, ps), f, false)
						f.Set("step", "apply")
						post(fmt.Sprintf("base %d applied with %v", i, ps), f, true)
					}
				}
				// Each field of the form with each payload, applied every
				// other time (a payload stored is drawn on later pages).
				for k, n := range slices.Sorted(maps.Keys(b.form)) {
					for x, v := range xss {
						f := cloneValues(b.form)
						f.Set(n, v)
						apply := !b.destructive && (k+x)%2 == 0
						f.Set("step", map[bool]string{true: "apply", false: "preview"}[apply])
						post(fmt.Sprintf("base %d %s with %s=%s", i, f.Get("step"), n, short(v)), f, apply)
					}
				}
				for j := range 30 {
					f := cloneValues(b.form)
					n, v := name(), pick()
					switch j % 4 {
					case 0:
						f.Set(n, v)
					case 1: // the name twice
						f.Add(n, v)
						f.Add(n, pick())
					case 2: // one of the form's own
						ks := slices.Sorted(func(yield func(string) bool) {
							for k := range b.form {
								if !yield(k) {
									return
								}
							}
						})
						if len(ks) > 0 {
							n = ks[rng.IntN(len(ks))]
						}
						f.Set(n, v)
					case 3: // an unknown field as well
						f.Set(n, v)
						f.Set("zz-unknown."+strconv.Itoa(j), pick())
					}
					apply := !b.destructive && rng.IntN(3) == 0
					f.Set("step", map[bool]string{true: "apply", false: "preview"}[apply])
					post(fmt.Sprintf("base %d %s with %s=%s", i, f.Get("step"), n, short(v)), f, apply)
				}
				// The token: missing, empty, B's, A's twice with B's, one
				// too long; each asks to apply, even a destructive change.
				f = cloneValues(b.form)
				f.Set("step", "apply")
				for _, tc := range []struct {
					what string
					tok  []string
				}{{"no token", nil}, {"an empty token", []string{""}}, {"B's token", []string{sB.csrf}},
					{"B's token, then A's", []string{sB.csrf, sA.csrf}}, {"a token too long", []string{strings.Repeat(sA.csrf, 3000)}},
					{"A's token with a NUL", []string{sA.csrf + "\x00"}}} {
					g := cloneValues(f)
					if tc.tok != nil {
						g["csrf"] = tc.tok
					}
					reqs = append(reqs, sweepReq{method: "POST", path: base, body: g.Encode(), contentType: "application/x-www-form-urlencoded", what: fmt.Sprintf("base %d with %s", i, tc.what), badToken: true, apply: true})
				}
				// A's token, from another site.
				for _, hdr := range [][]string{{"Origin", "https://evil.example"}, {"Origin", "null", "Sec-Fetch-Site", "cross-site"},
					{"Origin", "http://console.example.evil.example"}, {"Origin", "http://evil.example/http://console.example"}} {
					g := cloneValues(f)
					g.Set("csrf", sA.csrf)
					reqs = append(reqs, sweepReq{method: "POST", path: base, body: g.Encode(), contentType: "application/x-www-form-urlencoded",
						what: fmt.Sprintf("base %d from %q", i, hdr), badToken: true, apply: true, header: hdr})
				}
				// A's token in the query, not the form.
				reqs = append(reqs, sweepReq{method: "POST", path: base, rawQuery: enc("csrf", sA.csrf), body: f.Encode(), contentType: "application/x-www-form-urlencoded", what: fmt.Sprintf("base %d with A's token in the query", i), badToken: true, apply: true})
				// A form not sent as a form.
				g := cloneValues(f)
				g.Set("csrf", sA.csrf)
				reqs = append(reqs, sweepReq{method: "POST", path: base, body: g.Encode(), contentType: "text/plain", what: fmt.Sprintf("base %d as text/plain", i), badToken: true, apply: true})
			}
			// Many fields, the form within its bound.
			reqs = append(reqs, sweepReq{method: "POST", path: base, body: enc("csrf", sA.csrf, "op", "create-group", "name", "many") + strings.Repeat("&zz=1", 150000),
				contentType: "application/x-www-form-urlencoded", what: "150,000 fields"})
			// An oversized body, with A's token first.
			reqs = append(reqs, sweepReq{method: "POST", path: base, body: enc("csrf", sA.csrf, "step", "apply", "op", "create-group", "name", "big", "description", strings.Repeat("x", 2<<20)),
				contentType: "application/x-www-form-urlencoded", what: "a 2 MiB body", apply: true})
			for _, m := range []string{"GET", "PUT", "DELETE"} {
				reqs = append(reqs, sweepReq{method: m, path: base, body: enc("csrf", sA.csrf), contentType: "application/x-www-form-urlencoded", what: "wrong method " + m})
			}
		default:
			t.Fatalf("route %q: a method the sweep does not know", pattern)
		}

		for _, r := range reqs {
			if live := httptest.NewRequest("GET", Prefix, nil); true {
				live.AddCookie(&http.Cookie{Name: cookieName, Value: sA.id})
				if c.sessions.get(live) == nil { // a sign-out ended it
					sA = c.sessions.add(clA.Account, keyA.ID, false)
				}
			}
			body := r.body
			if !r.badToken && r.method == "POST" {
				f, err := url.ParseQuery(body)
				if err == nil && f.Get("csrf") == "" && !strings.Contains(body, "csrf=") {
					body = enc("csrf", sA.csrf) + "&" + body
				}
			}
			target := srv.URL + r.path
			if r.rawQuery != "" {
				target += "?" + r.rawQuery
			}
			before := rev()
			rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			req, err := http.NewRequestWithContext(rctx, r.method, target, strings.NewReader(body))
			if err != nil {
				cancel()
				t.Fatalf("%s %s: %v", pattern, r.what, err)
			}
			if r.contentType != "" {
				req.Header.Set("Content-Type", r.contentType)
			}
			for j := 0; j+1 < len(r.header); j += 2 {
				req.Header.Set(r.header[j], r.header[j+1])
			}
			req.AddCookie(&http.Cookie{Name: cookieName, Value: sA.id})
			start := time.Now()
			res, err := hc.Do(req)
			var pageBytes []byte
			if err == nil {
				pageBytes, err = io.ReadAll(res.Body)
				res.Body.Close()
			}
			dur := time.Since(start)
			timedOut := rctx.Err() != nil
			cancel()
			if err != nil {
				t.Errorf("%s %s: no answer after %v: %v", pattern, r.what, dur, err)
				failures++
				continue
			}
			after := rev()
			sent++
			byStatus[res.StatusCode]++
			routeStatus[pattern] = append(routeStatus[pattern], res.StatusCode)
			slowest = append(slowest, slow{pattern + " " + r.what, dur})
			sentText := r.path + "?" + r.rawQuery + "\n" + body
			if u, err := url.PathUnescape(sentText); err == nil {
				sentText += "\n" + u
			}
			if f, err := url.ParseQuery(r.rawQuery + "&" + body); err == nil {
				for k, vs := range f {
					sentText += "\n" + k + "=" + strings.Join(vs, "\n")
				}
			}
			// What a change stored, and what an apply, done or refused,
			// put in A's event trail, A's pages may show.
			if after != before || r.method == "POST" && strings.Contains(body, "step=apply") {
				for _, f := range foreign {
					if strings.Contains(sentText, f) {
						stored[f] = true
					}
				}
			}
			page := string(pageBytes)
			ct := res.Header.Get("Content-Type")
			fail := func(format string, args ...any) {
				failures++
				if failures <= 60 {
					t.Errorf("%s %s: "+format+"\n  answer %d %s %.600q", append([]any{pattern, r.what}, append(args, res.StatusCode, ct, page)...)...)
				}
			}
			if l := logged.Take(); l != "" {
				fail("the console logged %.600s", l)
			}
			if timedOut {
				fail("not answered within 20 s (%v)", dur)
			}
			if res.StatusCode >= 500 {
				fail("status %d", res.StatusCode)
			}
			if res.StatusCode >= 300 && res.StatusCode < 400 {
				loc := res.Header.Get("Location")
				to, err := browserResolve(req.URL, loc)
				if err != nil || to.Host != req.URL.Host || !strings.HasPrefix(to.Path, Prefix) && to.Path != strings.TrimSuffix(Prefix, "/") {
					fail("redirected off the console: Location %q", loc)
				}
			}
			isAsset := strings.Contains(path, "/assets/")
			looksHTML := strings.HasPrefix(strings.TrimSpace(strings.ToLower(page)), "<!doctype") || strings.Contains(page, "<html")
			// A redirect is not a page: http.Redirect's one-line body is
			// for clients that do not follow it.
			if !isAsset && (res.StatusCode < 300 || res.StatusCode >= 400) && (looksHTML || strings.HasPrefix(ct, "text/html")) {
				if !strings.HasPrefix(ct, "text/html") || res.Header.Get("Cache-Control") != "no-store" {
					fail("an HTML page sent as Content-Type %q, Cache-Control %q", ct, res.Header.Get("Cache-Control"))
				}
			}
			// Nor may the browser keep anything else the account is sent
			// (an export of its rules).
			if !isAsset && res.StatusCode < 300 && res.Header.Get("Cache-Control") != "no-store" {
				fail("an answer of the account's data sent as Content-Type %q, Cache-Control %q", ct, res.Header.Get("Cache-Control"))
			}
			if isAsset && res.StatusCode < 300 && strings.HasPrefix(ct, "text/html") {
				fail("the assets answer a page (a folder's listing?)")
			}
			if !isAsset && strings.HasPrefix(ct, "text/html") || ct == "" {
				if m := sweepUnescaped.FindStringIndex(page); m != nil {
					fail("a payload is drawn as markup: …%s…", page[max(0, m[0]-120):min(len(page), m[1]+120)])
				}
				if bad := foreignMarkup(page); bad != "" {
					fail("markup the templates do not have: %s", bad)
				}
				if !utf8.ValidString(page) && len(notUTF8) < 5 {
					notUTF8 = append(notUTF8, pattern+" "+r.what)
				}
			}
			for _, s := range secrets {
				if strings.Contains(page, s) || strings.Contains(res.Header.Get("Location"), s) {
					fail("the answer holds a secret")
				}
			}
			for _, f := range foreign {
				if (strings.Contains(page, f) || strings.Contains(res.Header.Get("Location"), f)) && !stored[f] && !strings.Contains(sentText, f) {
					fail("the answer holds B's %q, which A never sent", f)
				}
			}
			switch {
			case r.method == "GET" && after != before:
				fail("a GET moved the store's revision from %d to %d", before, after)
			case r.method == "POST" && r.badToken && res.StatusCode < 400:
				fail("a form without A's token was not refused")
			case r.method == "POST" && (res.StatusCode >= 400 || !r.apply) && after != before:
				fail("a refused form or a preview moved the store's revision from %d to %d", before, after)
			case r.method != "GET" && r.method != "POST" && after != before:
				fail("%s moved the store's revision", r.method)
			}
		}
	}
	if after := accountRecords(t, svc.Store, clB.Account); !maps.Equal(theirsBefore, after) {
		t.Errorf("B's records changed during A's sweep")
	}
	slices.SortFunc(slowest, func(a, b slow) int { return int(b.dur - a.dur) })
	for _, s := range slowest[:min(6, len(slowest))] {
		t.Logf("slow: %v %.160q", s.dur.Round(time.Millisecond), s.what)
	}
	if len(notUTF8) > 0 {
		t.Logf("pages that are not valid UTF-8 (the browser shows U+FFFD): %q", notUTF8)
	}
	for _, p := range patterns {
		n := map[int]int{}
		for _, s := range routeStatus[p] {
			n[s]++
		}
		t.Logf("%s: %v", p, n)
	}
	t.Logf("sweep: %d routes, %d requests, statuses %v", len(patterns), sent, byStatus)
	if failures > 60 {
		t.Errorf("… %d failures in all", failures)
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// short is v for a message: the first bytes, quoted.
func short(v string) string {
	if len(v) > 40 {
		return strconv.Quote(v[:40]) + fmt.Sprintf("…(%d bytes)", len(v))
	}
	return strconv.Quote(v)
}

// edgeQuery is the query of the first edge the map of s's account
// shows; the map is asked again while it is being computed.
func edgeQuery(t *testing.T, c *Console, s *session, region string) string {
	t.Helper()
	var body string
	for range 100 {
		req := httptest.NewRequest("GET", Prefix+"r/"+region+"/map", nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
		w := httptest.NewRecorder()
		serveFollowing(c, w, req)
		body = w.Body.String()
		if m := regexp.MustCompile(`map/edge\?([^"]+)"`).FindStringSubmatch(body); m != nil {
			return strings.ReplaceAll(html.UnescapeString(m[1]), `\u0026`, "&") // in an attribute, or in the graph's JSON
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the map links no edge: %.500s", body)
	return ""
}

// pendingDiff is the ID of the audit diff of a preview of s (adding a
// rule that opens SSH to the internet to group, which the audit finds),
// with no time to wait for it: the page links it. A diff done as soon as
// the plan is shown instead (the preview's wait picks either), so the
// preview is asked again until one links its diff.
func pendingDiff(t *testing.T, c *Console, s *session, region, group string) string {
	t.Helper()
	was := c.budgets.preview
	c.budgets.preview = 0
	defer func() { c.budgets.preview = was }()
	f := url.Values{"csrf": {s.csrf}, "op": {"add-rules"}, "step": {"preview"}, "group": {group}, "dir": {"ingress"},
		"r1.policy": {"accept"}, "r1.priority": {"1"}, "r1.protocol": {"TCP"}, "r1.ports": {"22"}, "r1.peer": {"0.0.0.0/0"}}
	var body string
	for range 50 {
		req := httptest.NewRequest("POST", Prefix+"r/"+region+"/change", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
		w := httptest.NewRecorder()
		serveFollowing(c, w, req)
		body = w.Body.String()
		if m := regexp.MustCompile(`change/audit/([0-9a-f]+)`).FindStringSubmatch(body); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no preview of 50 links its audit diff: %.500s", body)
	return ""
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// accountRecords are an account's stored records, by kind and ID.
func accountRecords(t *testing.T, st store.Store, account string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := st.View(context.Background(), func(tx store.ReadTx) error {
		for kind := range service.Kinds {
			recs, err := tx.List(kind, store.Query{Account: account})
			if err != nil {
				return err
			}
			for _, r := range recs {
				out[string(kind)+"/"+r.ID] = string(r.Data)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("account %s has no records", account)
	}
	return out
}

// foreignMarkup is the first piece of markup in page that no template of
// the console draws, "" if none: an event handler attribute, a script
// that is not one of the console's files or the map's data, an element
// that runs or loads something (iframe, object, embed, base, meta
// refresh, svg), a link, form or source that is a javascript: address.
// It reads the page as a browser's tokenizer does, so a payload that
// broke out of its attribute or text shows as a tag or attribute here.
func foreignMarkup(page string) string {
	z := xhtml.NewTokenizer(strings.NewReader(page))
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return ""
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			tok := z.Token()
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				attrs[a.Key] = a.Val
				v := strings.ToLower(strings.Map(func(r rune) rune {
					if r <= ' ' {
						return -1
					}
					return r
				}, a.Val))
				switch {
				case strings.HasPrefix(a.Key, "on"):
					return tok.String()
				case (a.Key == "href" || a.Key == "src" || a.Key == "action" || a.Key == "formaction") && (strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "data:") || strings.HasPrefix(v, "vbscript:")):
					return tok.String()
				}
			}
			switch tok.Data {
			case "script":
				if !strings.HasPrefix(attrs["src"], Prefix+"assets/") && attrs["type"] != "application/json" {
					return tok.String()
				}
			case "iframe", "object", "embed", "base", "svg", "math", "frame", "frameset", "applet":
				return tok.String()
			case "meta":
				if attrs["http-equiv"] != "" {
					return tok.String()
				}
			}
		}
	}
}
