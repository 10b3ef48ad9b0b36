// Package webhook notifies an HTTP endpoint of every accepted change to
// security groups, their rules and their members (the alerting that audit
// check SGA-032 asks for). A notification is the change's event-trail
// record as JSON, POSTed from a bounded queue with a timeout and retries:
// it never holds up the call that made the change; when the queue is full
// notifications are dropped and counted.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/trail"
)

// Headers of a notification.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the
	// body under the configured secret (only when a secret is set).
	SignatureHeader = "X-Palisade-Signature"
	// EventHeader carries the action, e.g. AuthorizeSecurityGroup.
	EventHeader = "X-Palisade-Event"
)

// Config says where notifications go.
type Config struct {
	URL     string // http or https
	Secret  string // signs each body (SignatureHeader); "" sends none
	Timeout time.Duration
	// Retries is how many times a failed delivery (no answer, or a status
	// other than 2xx) is tried again, waiting Backoff, then twice that, …
	Retries int
	Backoff time.Duration
	Queue   int // notifications that may wait; more are dropped
	Client  *http.Client
	Log     *slog.Logger
}

// Defaults of Config.
const (
	DefaultTimeout = 5 * time.Second
	DefaultRetries = 3
	DefaultBackoff = time.Second
	DefaultQueue   = 1000
)

// CheckURL says what is wrong with a webhook URL, if anything.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook URL %q: want http://HOST/PATH or https://HOST/PATH", s)
	}
	return nil
}

// Notifier delivers notifications in the background.
type Notifier struct {
	cfg  Config
	ch   chan trail.Event
	stop chan struct{}
	done chan struct{}
	once sync.Once
	ctx  context.Context
	end  context.CancelFunc

	delivered, failed, dropped atomic.Uint64
}

// New starts a notifier.
func New(cfg Config) (*Notifier, error) {
	if err := CheckURL(cfg.URL); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Client == nil {
		// No redirects: a notification goes where it was configured to.
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	ctx, end := context.WithCancel(context.Background())
	n := &Notifier{cfg: cfg, ch: make(chan trail.Event, cfg.Queue), stop: make(chan struct{}), done: make(chan struct{}), ctx: ctx, end: end}
	go n.run()
	return n, nil
}

// Notify queues an event if it is a security-group change; it never waits.
func (n *Notifier) Notify(ev trail.Event) {
	if !Wanted(ev) {
		return
	}
	select {
	case <-n.stop:
		n.dropped.Add(1)
		return
	default:
	}
	select {
	case n.ch <- ev:
	default:
		n.dropped.Add(1)
	}
}

// Stats are the notifier's counters.
type Stats struct{ Delivered, Failed, Dropped uint64 }

func (n *Notifier) Stats() Stats {
	return Stats{Delivered: n.delivered.Load(), Failed: n.failed.Load(), Dropped: n.dropped.Load()}
}

// Close delivers what is queued, waiting at most wait, then gives up on
// the rest.
func (n *Notifier) Close(wait time.Duration) {
	n.once.Do(func() { close(n.stop) })
	select {
	case <-n.done:
	case <-time.After(wait):
		n.end()
		<-n.done
	}
	n.end()
}

// groupActions change security groups or their rules whenever accepted.
var groupActions = map[string]bool{
	"CreateSecurityGroup": true, "DeleteSecurityGroup": true, "ModifySecurityGroupAttribute": true, "ModifySecurityGroupPolicy": true,
	"AuthorizeSecurityGroup": true, "AuthorizeSecurityGroupEgress": true, "RevokeSecurityGroup": true, "RevokeSecurityGroupEgress": true,
	"ModifySecurityGroupRule": true, "ModifySecurityGroupEgressRule": true,
	"JoinSecurityGroup": true, "LeaveSecurityGroup": true,
}

// memberActions change a group's members when they name groups.
var memberActions = map[string]bool{
	"RunInstances": true, "CreateInstance": true, "ModifyInstanceAttribute": true,
	"CreateNetworkInterface": true, "ModifyNetworkInterfaceAttribute": true,
}

// Wanted reports whether an event is an accepted change to a security
// group, its rules or its members.
func Wanted(ev trail.Event) bool {
	if ev.ErrorCode != "" || ev.EventRW != "Write" {
		return false
	}
	if groupActions[ev.EventName] {
		return true
	}
	if memberActions[ev.EventName] {
		for _, p := range ev.RequestParameters {
			if strings.HasPrefix(p.Name, "SecurityGroupId") {
				return true
			}
		}
	}
	return false
}

func (n *Notifier) run() {
	defer close(n.done)
	for {
		select {
		case ev := <-n.ch:
			n.deliver(ev)
		case <-n.stop:
			for {
				select {
				case ev := <-n.ch:
					n.deliver(ev)
				default:
					return
				}
			}
		}
	}
}

// Sign is the SignatureHeader value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (n *Notifier) deliver(ev trail.Event) {
	body, err := json.Marshal(ev)
	if err != nil {
		n.failed.Add(1)
		return
	}
	wait := n.cfg.Backoff
	for try := 0; ; try++ {
		err := n.post(ev.EventName, body)
		if err == nil {
			n.delivered.Add(1)
			return
		}
		if try == n.cfg.Retries || n.ctx.Err() != nil {
			n.failed.Add(1)
			n.cfg.Log.Warn("webhook: a security-group change was not delivered", "event", ev.EventName, "requestId", ev.RequestID, "tries", try+1, "err", err)
			return
		}
		select {
		case <-time.After(wait):
		case <-n.ctx.Done():
		}
		wait *= 2
	}
}

func (n *Notifier) post(event string, body []byte) error {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "palisade-webhook")
	req.Header.Set(EventHeader, event)
	if n.cfg.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(n.cfg.Secret, body))
	}
	resp, err := n.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the endpoint answered %s", resp.Status)
	}
	return nil
}
