package ratelimit

import (
	"fmt"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// clock is a manual time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTest(cfg Config) (*Limiter, *clock) {
	c := &clock{t: time.Unix(1e9, 0)}
	l := New(cfg)
	l.now = c.now
	return l, c
}

// admitted counts the requests of n that are let through.
func admitted(l *Limiter, account, action string, n int) int {
	ok := 0
	for range n {
		if l.Allow(account, action) == nil {
			ok++
		}
	}
	return ok
}

func TestLimits(t *testing.T) {
	cfg := Config{PerAction: 1, ActionBurst: 3, PerAccount: 2, AccountBurst: 5, Exempt: map[string]bool{"PalisadeWatchChanges": true}}
	for _, tc := range []struct {
		name string
		run  func(l *Limiter, c *clock) int
		want int
	}{
		{"an action's burst", func(l *Limiter, c *clock) int { return admitted(l, "a", "X", 10) }, 3},
		{"another action has its own bucket within the account's", func(l *Limiter, c *clock) int {
			admitted(l, "a", "X", 10)
			return admitted(l, "a", "Y", 10)
		}, 2},
		{"another account is unaffected", func(l *Limiter, c *clock) int {
			admitted(l, "a", "X", 10)
			admitted(l, "a", "Y", 10)
			return admitted(l, "b", "X", 10)
		}, 3},
		{"tokens come back with time", func(l *Limiter, c *clock) int {
			admitted(l, "a", "X", 10)
			c.t = c.t.Add(2 * time.Second)
			return admitted(l, "a", "X", 10)
		}, 2},
		{"a refusal takes no token of the account", func(l *Limiter, c *clock) int {
			admitted(l, "a", "X", 100) // 3 pass, 97 refused by X's bucket
			return admitted(l, "a", "Y", 10)
		}, 2},
		{"exempt actions pass", func(l *Limiter, c *clock) int { return admitted(l, "a", "PalisadeWatchChanges", 50) }, 50},
		{"negative rates turn limits off", func(l *Limiter, c *clock) int {
			l.cfg.PerAction, l.cfg.PerAccount = -1, -1
			return admitted(l, "a", "X", 50)
		}, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, c := newTest(cfg)
			if got := tc.run(l, c); got != tc.want {
				t.Errorf("admitted %d, want %d", got, tc.want)
			}
		})
	}
}

func TestRefusalIsThrottlingUser(t *testing.T) {
	l, _ := newTest(Config{PerAction: 1, ActionBurst: 1})
	if err := l.Allow("a", "X"); err != nil {
		t.Fatal(err)
	}
	e := ecserr.As(l.Allow("a", "X"))
	if e == nil || e.Code != "Throttling.User" || e.Status != 400 {
		t.Fatalf("got %+v, want Throttling.User with HTTP 400", e)
	}
}

func TestBucketsAreBounded(t *testing.T) {
	l, _ := newTest(Config{MaxBuckets: 50})
	for i := range 1000 {
		l.Allow(fmt.Sprint("acct", i), "X")
	}
	if n := l.Len(); n > 50 {
		t.Errorf("%d buckets kept, want at most 50", n)
	}
}
