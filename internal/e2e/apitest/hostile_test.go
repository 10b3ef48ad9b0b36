package apitest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/ratelimit"
	"github.com/palisade-sg/palisade/internal/testkit/signedpost"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestRateLimitByCost: an account's requests are charged by their size,
// so large ones (which cost the server many small ones to read, parse and
// check) are throttled sooner: with a burst of 20, twenty ordinary calls
// pass, but only one of 900 KB does (it takes 14 tokens).
func TestRateLimitByCost(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet(), RateLimit: ratelimit.Config{PerAction: 0.001, ActionBurst: 20, PerAccount: 1000, AccountBurst: 1000}})
	for _, tc := range []struct {
		name  string
		pad   int // bytes of a padding parameter
		calls int
		want  int // admitted
	}{
		{"ordinary", 100, 20, 20},
		{"large", 900_000, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := srv.NewAccount(t, tc.name)
			ok := 0
			for range tc.calls {
				body := signedpost.Body(a.KeyID, a.Secret, map[string]string{"Action": "DescribeRegions", "Pad": strings.Repeat("x", tc.pad)})
				resp, err := http.Post("http://"+srv.Addr+"/", "application/x-www-form-urlencoded", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var e struct{ Code string }
				json.Unmarshal(b, &e)
				switch {
				case resp.StatusCode == 200:
					ok++
				case e.Code != "Throttling.User":
					t.Fatalf("%d %.300s", resp.StatusCode, b)
				}
			}
			if ok != tc.want {
				t.Errorf("%d of %d calls admitted, want %d", ok, tc.calls, tc.want)
			}
		})
	}
}
