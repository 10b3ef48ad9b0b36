package peers

import (
	"context"
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
		w.Write([]byte(`{"ok":"` + r.PostForm.Get("NextToken") + `"}`))
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

	cert := secure.Certificate().Raw
	peers := []Peer{
		{ID: "plain", URL: plain.URL}, {ID: "secure", URL: secure.URL, Cert: cert},
		{ID: "impostor", URL: other.URL, Cert: cert}, {ID: "nocert", URL: secure.URL},
		{ID: "refuses", URL: refuses.URL}, {ID: "hung", URL: hung.URL}, {ID: "huge", URL: huge.URL},
		{ID: "badurl", URL: "ftp://x"},
	}
	var missed []string
	f := &Fanin{Self: "me", Timeout: 500 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Missed: func(a string) { missed = append(missed, a) },
		Secret: func(id string) (string, bool) { return secret, id == key }}
	params := rpc.Params{"RegionId": "cn-hangzhou", "MaxResults": "5", "NextToken": "callers", "Signature": "x", "SignatureNonce": "n",
		"AccessKeyId": key, LocalParam: "false"}
	answers := f.Ask(context.Background(), peers, "2020-07-06", "LookupEvents", key, params, func(id string) string { return "tok-" + id })
	want := map[string]string{"plain": `{"ok":"tok-plain"}`, "secure": `{"ok":"tok-secure"}`}
	for _, a := range answers {
		if w, ok := want[a.Server]; ok {
			if a.Err != nil || string(a.Body) != w {
				t.Errorf("%s: %s, %v; want %s", a.Server, a.Body, a.Err, w)
			}
		} else if a.Err == nil {
			t.Errorf("%s answered %.40q; want an error", a.Server, a.Body)
		}
	}
	if len(missed) != len(peers)-2 {
		t.Errorf("%d peers counted as missed, want %d", len(missed), len(peers)-2)
	}
	for _, p := range got {
		if p.Get(LocalParam) != "true" || p.Get("MaxResults") != "5" || p.Get("Action") != "LookupEvents" || p.Get("Version") != "2020-07-06" ||
			p.Get("SignatureNonce") == "n" || !strings.HasPrefix(p.Get("NextToken"), "tok-") || len(p["NextToken"]) != 1 {
			t.Errorf("a peer got %v", p)
		}
	}
	// A key gone since the call was verified: nothing is sent.
	got = nil
	for _, a := range f.Ask(context.Background(), peers[:1], "2020-07-06", "LookupEvents", "LTAIgone", params, func(string) string { return "" }) {
		if a.Err == nil || len(got) != 0 {
			t.Errorf("with the key gone: %v, %d requests sent", a.Err, len(got))
		}
	}
}
