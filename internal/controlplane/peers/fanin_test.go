package peers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/signature"
	"github.com/palisade-sg/palisade/internal/controlplane/tlscert"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// TestAsk: each peer gets the caller's parameters (not its signature,
// nor the caller's NextToken) with its own NextToken and LocalParam,
// signed V1 with the caller's key; over HTTPS only the registered
// certificate is accepted; a refusal, a hung peer and an oversized answer
// are errors of that peer alone.
func TestAsk(t *testing.T) {
	const key, secret = "LTAIcaller", "caller-secret"
	var (
		mu  sync.Mutex
		got []url.Values
	)
	check := func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		got = append(got, r.PostForm)
		mu.Unlock()
		sig := r.PostForm.Get("Signature")
		if want := signature.SignV1(secret, signature.StringToSignV1("POST", r.PostForm)); sig != want {
			http.Error(w, `{"Code":"SignatureDoesNotMatch"}`, http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"ok":"` + r.PostForm.Get("NextToken") + `","PalisadeServerId":"` + r.PostForm.Get(ServerParam) + `"}`))
	}
	plain := httptest.NewServer(http.HandlerFunc(check))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(check))
	defer secure.Close()
	// httptest's TLS servers share one certificate: this one has its own.
	other := httptest.NewUnstartedServer(http.HandlerFunc(check))
	cfg, _, _, err := tlscert.SelfSigned(t.TempDir(), "127.0.0.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other.TLS = cfg
	other.StartTLS()
	defer other.Close()
	refuses := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"Code":"Forbidden.RAM","Message":"no"}`))
	}))
	defer refuses.Close()
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // then the server notices the client leave
		<-r.Context().Done()
	}))
	defer hung.Close()
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat(" ", maxAnswer+1)))
	}))
	defer huge.Close()
	// Answers for another server: several registered at one address.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"PalisadeServerId":"someone"}`))
	}))
	defer liar.Close()
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	defer silent.Close()
	throttled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"Code":"Throttling.User","Message":"slow down"}`))
	}))
	defer throttled.Close()

	cert := secure.Certificate().Raw
	peers := []Peer{
		{ID: "plain", URL: plain.URL}, {ID: "secure", URL: secure.URL, Cert: cert},
		{ID: "impostor", URL: other.URL, Cert: cert}, {ID: "nocert", URL: secure.URL},
		{ID: "refuses", URL: refuses.URL}, {ID: "hung", URL: hung.URL}, {ID: "huge", URL: huge.URL},
		{ID: "badurl", URL: "ftp://x"}, {ID: "liar", URL: liar.URL}, {ID: "silent", URL: silent.URL},
		{ID: "offhost", URL: "http://192.0.2.1:8080"}, // plain HTTP off loopback: never dialed
	}
	f := &Fanin{Self: "me", Timeout: 3 * time.Second, // long enough for a TLS handshake on a loaded machine; "hung" waits it out
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Secret: func(id string) (string, bool) { return secret, id == key }}
	params := rpc.Params{"RegionId": "cn-hangzhou", "MaxResults": "5", "NextToken": "callers", "Signature": "x", "SignatureNonce": "n",
		"AccessKeyId": key, LocalParam: "false"}
	answers := f.Ask(context.Background(), peers, "2020-07-06", "LookupEvents", key, params, func(id string) string { return "tok-" + id })
	want := map[string]string{"plain": `{"ok":"tok-plain","PalisadeServerId":"plain"}`, "secure": `{"ok":"tok-secure","PalisadeServerId":"secure"}`,
		"liar": `{"PalisadeServerId":"someone"}`, "silent": `{}`}
	for _, a := range answers {
		if w, ok := want[a.Server]; ok {
			if a.Err != nil || string(a.Body) != w {
				t.Errorf("%s: %s, %v; want %s", a.Server, a.Body, a.Err, w)
			}
		} else if a.Err == nil {
			t.Errorf("%s answered %.40q; want an error", a.Server, a.Body)
		}
		// Decode reads the body once and checks the server it names.
		var r struct{ Ok, PalisadeServerId string }
		err := Decode(a, &r, &r.PalisadeServerId)
		if _, good := want[a.Server]; good && a.Server != "liar" && a.Server != "silent" {
			if err != nil || r.Ok != "tok-"+a.Server {
				t.Errorf("Decode %s: %+v, %v", a.Server, r, err)
			}
		} else if a.Server == "liar" || a.Server == "silent" {
			if !errors.Is(err, ErrWrongServer) || !strings.Contains(err.Error(), a.URL) {
				t.Errorf("Decode %s: %v, want ErrWrongServer naming %s", a.Server, err, a.URL)
			}
		} else if !errors.Is(err, a.Err) {
			t.Errorf("Decode %s: %v, want its error %v", a.Server, err, a.Err)
		}
	}
	for _, p := range got {
		if p.Get(LocalParam) != "true" || p.Get("MaxResults") != "5" || p.Get("Action") != "LookupEvents" || p.Get("Version") != "2020-07-06" ||
			p.Get("SignatureNonce") == "n" || !strings.HasPrefix(p.Get("NextToken"), "tok-") || len(p["NextToken"]) != 1 ||
			p.Get("NextToken") != "tok-"+p.Get(ServerParam) {
			t.Errorf("a peer got %v", p)
		}
	}
	for _, a := range answers {
		if a.Server == "offhost" && !errors.Is(a.Err, ErrPlaintext) {
			t.Errorf("plain HTTP off loopback: %v, want ErrPlaintext", a.Err)
		}
	}
	if err := Throttled(answers); err != nil {
		t.Errorf("Throttled without a throttled peer: %v", err)
	}
	thr := f.Ask(context.Background(), []Peer{peers[0], {ID: "throttled", URL: throttled.URL}}, "2020-07-06", "LookupEvents", key, params, func(string) string { return "" })
	if err := Throttled(thr); !ecserr.Is(err, "Throttling.User") || ecserr.As(err).Status != http.StatusBadRequest {
		t.Errorf("a throttled peer gives %v, want Throttling.User", err)
	}
	// A key gone since the call was verified, or none: nothing is sent.
	for _, k := range []string{"LTAIgone", ""} {
		got = nil
		for _, a := range f.Ask(context.Background(), peers[:1], "2020-07-06", "LookupEvents", k, params, func(string) string { return "" }) {
			if a.Err == nil || len(got) != 0 {
				t.Errorf("with key %q: %v, %d requests sent", k, a.Err, len(got))
			}
		}
	}
}

func TestCheckAsked(t *testing.T) {
	for _, tc := range []struct {
		p    rpc.Params
		self string
		ok   bool
	}{
		{rpc.Params{LocalParam: "true", ServerParam: "me"}, "me", true},
		{rpc.Params{LocalParam: "true", ServerParam: "other"}, "me", false},
		{rpc.Params{LocalParam: "true", ServerParam: "me"}, "", false}, // a server without an ID
		{rpc.Params{LocalParam: "true", ServerParam: ""}, "me", false},
		{rpc.Params{LocalParam: "true"}, "me", true},   // not named: as before
		{rpc.Params{ServerParam: "other"}, "me", true}, // not a part: the marker is ignored
	} {
		if err := CheckAsked(tc.p, tc.self); (err == nil) != tc.ok {
			t.Errorf("CheckAsked(%v, %q) = %v, want ok %v", tc.p, tc.self, err, tc.ok)
		}
	}
}

// TestPermanent: the failures that asking again will not cure hold no
// listing open; the others (timeouts, server errors, throttling) do.
func TestPermanent(t *testing.T) {
	wrap := func(err error) error { return errors.Join(errors.New("server s2"), err) }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"plain HTTP", wrap(ErrPlaintext), true},
		{"another server answered", wrap(ErrWrongServer), true},
		{"misdirected", &Refusal{Status: http.StatusMisdirectedRequest, Code: "InvalidParameter.PalisadeServerId"}, true},
		{"forbidden", &Refusal{Status: http.StatusForbidden, Code: "Forbidden.RAM"}, true},
		{"throttled", &Refusal{Status: http.StatusBadRequest, Code: "Throttling.User"}, false},
		{"server error", &Refusal{Status: http.StatusInternalServerError, Code: "InternalError"}, false},
		{"unavailable", &Refusal{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable"}, false},
		{"timeout", context.DeadlineExceeded, false},
		{"bad body", errors.New("unexpected end of JSON input"), false},
	} {
		if got := Permanent(tc.err); got != tc.want {
			t.Errorf("%s: Permanent %v, want %v", tc.name, got, tc.want)
		}
	}
}
