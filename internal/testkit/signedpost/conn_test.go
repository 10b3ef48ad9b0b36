package signedpost

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/signature"
)

// TestConn posts over one connection to a server that checks the
// signature, and follows it through a refusal and a server-side close.
func TestConn(t *testing.T) {
	const id, secret = "LTAItest", "secret"
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		want := signature.SignV1(secret, signature.StringToSignV1("POST", withoutSignature(r.PostForm)))
		if got := r.PostForm.Get("Signature"); got != want {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		switch r.PostForm.Get("Action") {
		case "Refuse":
			http.Error(w, "refused", http.StatusBadRequest)
		case "Close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		default:
			w.Write([]byte(strings.Repeat("x", 100<<10)))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	c, err := Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		action   string
		wantN    int
		wantErr  string
		wantDead bool
	}{
		{"Describe", 100 << 10, "", false},
		{"Describe", 100 << 10, "", false}, // the same connection
		{"Close", 3, "", true},
		{"Describe", 100 << 10, "", false},
		{"Refuse", 0, "HTTP 400: refused", true},
	} {
		if c.Dead() {
			if c, err = Dial(addr); err != nil {
				t.Fatal(err)
			}
		}
		n, err := c.Post(id, secret, map[string]string{"Action": tc.action})
		if n != tc.wantN || (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: %d, %v; want %d, %q", tc.action, n, err, tc.wantN, tc.wantErr)
		}
		if c.Dead() != tc.wantDead {
			t.Errorf("%s: dead %v, want %v", tc.action, c.Dead(), tc.wantDead)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (reused until the server closed it)", n)
	}
}

func withoutSignature(v url.Values) url.Values {
	out := url.Values{}
	for k, s := range v {
		if k != "Signature" {
			out[k] = s
		}
	}
	return out
}
