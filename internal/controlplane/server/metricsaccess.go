package server

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"unicode"
)

// MetricsAccess says who may read /metrics. Its series show every
// tenant's activity in aggregate and name the operator's hosts, so by
// default only this machine's own clients (loopback) read it.
type MetricsAccess struct {
	// Public answers anyone who reaches the listener.
	Public bool
	// Token, when set, also answers a client off loopback that sends
	// "Authorization: Bearer TOKEN" (a Prometheus scrape config's
	// authorization credentials).
	Token string
}

// MinMetricsToken is the shortest token accepted: a guessable one would
// open the metrics to anyone patient.
const MinMetricsToken = 16

// check refuses a token too short to resist guessing, or with white
// space inside. Space around it is not part of it: a token file ends with a
// newline, and Prometheus trims the file it sends.
func (a MetricsAccess) check() error {
	t := strings.TrimSpace(a.Token)
	switch {
	case a.Token == "":
		return nil
	case len(t) < MinMetricsToken:
		return fmt.Errorf("PALISADE_METRICS_TOKEN has %d characters: use at least %d (e.g. openssl rand -hex 16)", len(t), MinMetricsToken)
	case strings.IndexFunc(t, unicode.IsSpace) >= 0:
		return errors.New("PALISADE_METRICS_TOKEN has white space inside: use one word (e.g. openssl rand -hex 16)")
	}
	return nil
}

// guard serves h to the clients a allows; the others get 401 (a wrong or
// missing token when one is set) or 403, in plain text, saying what lets
// them in. Nothing of the metrics is in the refusal.
func (a MetricsAccess) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loopback := loopbackClient(r.RemoteAddr)
		if a.Public || loopback && localHost(r.Host) || a.tokenIn(r) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if loopback {
			// A web page whose DNS name was pointed at this machine
			// (DNS rebinding) reaches it from the browser's loopback
			// address, but names its own site in Host.
			token := "start serve with PALISADE_METRICS_TOKEN set and send it as \"Authorization: Bearer TOKEN\""
			if a.Token != "" {
				token = "send the token serve was given in PALISADE_METRICS_TOKEN as \"Authorization: Bearer TOKEN\""
			}
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte("/metrics answers loopback clients that name this machine in Host (an IP address, localhost, its host name " +
				"or a loopback name of " + hostsFile + "), not another site's name pointed at it: ask for http://127.0.0.1:PORT/metrics, or " + token + "\n"))
			return
		}
		if a.Token != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="palisade metrics"`)
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte("/metrics: send the token serve was given in PALISADE_METRICS_TOKEN as \"Authorization: Bearer TOKEN\"\n"))
			return
		}
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("/metrics answers clients on this machine (loopback) only: start serve with PALISADE_METRICS_TOKEN set " +
			"and scrape with \"Authorization: Bearer TOKEN\", or with --metrics-public\n"))
	})
}

// tokenIn reports whether r carries the token, compared in constant time.
func (a MetricsAccess) tokenIn(r *http.Request) bool {
	if a.Token == "" {
		return false
	}
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(a.Token)) == 1
}

// localHost reports whether a request's Host names this machine as its
// own clients do: an IP address, localhost (which browsers never look up
// in DNS), the machine's host name, or a name the hosts file gives a
// loopback address (Debian's 127.0.1.1 HOST.DOMAIN, RHEL's
// localhost.localdomain); "" is a client too old to send one. A browser
// sends a rebinding site's own name, which is none of these: DNS cannot
// add to the hosts file.
func localHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if _, err := netip.ParseAddr(host); err == nil || host == "" {
		return true
	}
	if strings.EqualFold(host, "localhost") || len(host) > len(".localhost") && strings.EqualFold(host[len(host)-len(".localhost"):], ".localhost") {
		return true
	}
	if name, err := os.Hostname(); err == nil && name != "" && strings.EqualFold(host, name) {
		return true
	}
	return loopbackName(host)
}

// hostsFile is where the machine names addresses itself (tests point it
// elsewhere).
var hostsFile = "/etc/hosts"

// loopbackName reports whether the hosts file gives name a loopback
// address. It is read on each call: only a Host that nothing else
// accepted gets here.
func loopbackName(name string) bool {
	f, err := os.Open(hostsFile)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		if ip, err := netip.ParseAddr(fields[0]); err != nil || !ip.Unmap().IsLoopback() {
			continue
		}
		for _, n := range fields[1:] {
			if strings.EqualFold(strings.TrimSuffix(n, "."), name) {
				return true
			}
		}
	}
	return false
}

// loopbackClient reports whether a request's remote address (HOST:PORT) is
// on loopback.
func loopbackClient(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
