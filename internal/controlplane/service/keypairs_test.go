package service

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestMatchWildcard(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"SshKey", "SshKey", true},
		{"SshKey", "SshKey1", false},
		{"SshKey*", "SshKey", true},
		{"SshKey*", "SshKey-web", true},
		{"SshKey*", "web-SshKey", false},
		{"*SshKey", "web-SshKey", true},
		{"*SshKey", "SshKey-web", false},
		{"*SshKey*", "a-SshKey-b", true},
		{"*SshKey*", "SshKe", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "a-b-b-c", true},
		{"a*b*c", "acb", false},
		{"ab*ba", "aba", false}, // the ends may not overlap
		{"*", "anything", true},
		{"**", "", true},
	} {
		if got := nameMatches(tc.pattern, tc.s); got != tc.want {
			t.Errorf("nameMatches(%q, %q) = %v; want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// TestKeyPairWritesLeaveViewValues: key pair writes and reads that share
// the view's values (the launch's and DescribeKeyPairs' peeks, the tag
// actions' copies) never modify them.
func TestKeyPairWritesLeaveViewValues(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"k-one", "k-two"} {
		if _, err := e.s.CreateKeyPair(e.ctx, KeyPairInput{Caller: e.c, Name: name, Tags: []model.Tag{{Key: "env", Value: "a"}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []func() error{
		func() error {
			return e.s.TagResources(e.ctx, TagInput{Caller: e.c, ResourceType: "keypair", ResourceIDs: []string{"k-one"}, Tags: []model.Tag{{Key: "team", Value: "b"}}})
		},
		func() error {
			return e.s.UntagResources(e.ctx, UntagInput{Caller: e.c, ResourceType: "keypair", ResourceIDs: []string{"k-one", "k-two"}, TagKeys: []string{"env"}})
		},
		func() error {
			_, err := e.s.DescribeKeyPairs(e.ctx, DescribeKeyPairsInput{Caller: e.c, Name: "k-*", Page: Page{Number: 1, Size: 10}})
			return err
		},
		func() error {
			return e.s.DeleteKeyPairs(e.ctx, DeleteKeyPairsInput{Caller: e.c, Names: []string{"k-two"}})
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	l, err := e.s.DescribeKeyPairs(e.ctx, DescribeKeyPairsInput{Caller: e.c, Page: Page{Number: 1, Size: 10}})
	if err != nil || len(l.Items) != 1 || len(l.Items[0].Tags) != 1 || l.Items[0].Tags[0].Key != "team" {
		t.Fatalf("key pairs: %+v %v", l.Items, err)
	}
	viewMatchesStore(t, e)
}

// TestKeyGenerationBounded: CreateKeyPair makes one key at a time, holds
// one create of an account at a time, and makes no key for a create its
// write would refuse: not for a taken name (refused before it waits), nor
// for a name taken while it waited (checked again with its turn). The
// turn is held here as by another tenant's create.
func TestKeyGenerationBounded(t *testing.T) {
	e := newEnv(t)
	var made atomic.Int32
	real := keygen.make
	keygen.make = func() (*rsa.PrivateKey, error) { made.Add(1); return real() }
	defer func() { keygen.make = real }()
	if _, err := e.s.CreateKeyPair(e.ctx, KeyPairInput{Caller: e.c, Name: "taken"}); err != nil {
		t.Fatal(err)
	}
	keygen.turn <- struct{}{} // another create's turn
	released := false
	release := func() {
		if !released {
			<-keygen.turn
			released = true
		}
	}
	defer release()
	create := func(ctx context.Context, c Caller, name string) error {
		_, err := e.s.CreateKeyPair(ctx, KeyPairInput{Caller: c, Name: name})
		return err
	}

	short, cancel := context.WithTimeout(e.ctx, 200*time.Millisecond)
	defer cancel()
	if err := create(short, e.c, "taken"); !ecserr.Is(err, model.CodeKeyPairExists) {
		t.Errorf("a create of a taken name, while a key is made: %v; want %s at once", err, model.CodeKeyPairExists)
	}
	if err := create(short, Caller{Account: "1000000000000002", Region: e.c.Region}, "free"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("another account's create waiting for its turn, given up: %v; want the caller's deadline", err)
	}

	// One create of the account waits; a second is refused at once; the
	// name the first asks for is taken while it waits.
	waiting := make(chan error, 1)
	go func() { waiting <- create(e.ctx, e.c, "raced") }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		keygen.mu.Lock()
		busy := keygen.busy[e.c.Account]
		keygen.mu.Unlock()
		if busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first create never waited for its turn")
		}
	}
	short2, cancel2 := context.WithTimeout(e.ctx, 200*time.Millisecond)
	defer cancel2()
	if err := create(short2, e.c, "second"); !ecserr.Is(err, "Throttling.User") {
		t.Errorf("a second create of the account while one waits: %v; want Throttling.User", err)
	}
	pub := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	if _, err := e.s.ImportKeyPair(e.ctx, KeyPairInput{Caller: e.c, Name: "raced", PublicKeyBody: pub}); err != nil {
		t.Fatal(err)
	}
	release()
	if err := <-waiting; !ecserr.Is(err, model.CodeKeyPairExists) {
		t.Errorf("a create whose name was taken while it waited: %v; want %s", err, model.CodeKeyPairExists)
	}
	if n := made.Load(); n != 1 {
		t.Errorf("%d keys made; want 1 (the first create's)", n)
	}
	l, err := e.s.DescribeKeyPairs(e.ctx, DescribeKeyPairsInput{Caller: e.c, Page: Page{Number: 1, Size: 10}})
	if err != nil || len(l.Items) != 2 {
		t.Fatalf("key pairs after the refused creates: %+v %v", l.Items, err)
	}
}

// TestKeyPairInstancesBound: AttachKeyPair's InstanceIds count each ID
// once and are refused past MaxKeyPairInstances however many a request
// holds (a megabyte's worth is some eighty thousand, once searched for
// among the distinct ones so far each: seconds of a core a request).
func TestKeyPairInstancesBound(t *testing.T) {
	e := newEnv(t)
	pub := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	if _, err := e.s.ImportKeyPair(e.ctx, KeyPairInput{Caller: e.c, Name: "kp", PublicKeyBody: pub}); err != nil {
		t.Fatal(err)
	}
	ids := func(distinct, repeats int) []string {
		var out []string
		for i := range distinct {
			out = append(out, fmt.Sprintf("i-%020d", i))
		}
		for i := range repeats {
			out = append(out, out[i%distinct])
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		given   []string
		results int // one per distinct ID; 0: refused
	}{
		{"the bound with repeats", ids(model.MaxKeyPairInstances, 5000), model.MaxKeyPairInstances},
		{"one over", ids(model.MaxKeyPairInstances+1, 0), 0},
		{"a megabyte of IDs", ids(80000, 0), 0},
		{"a megabyte of repeats", ids(3, 80000), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.s.AttachKeyPair(e.ctx, KeyPairInstancesInput{Caller: e.c, Name: "kp", InstanceIDs: tc.given})
			if tc.results == 0 {
				if !ecserr.Is(err, model.CodeKeyPairInstances) {
					t.Fatalf("%d IDs: %v; want %s", len(tc.given), err, model.CodeKeyPairInstances)
				}
				return
			}
			if err != nil || len(res.Results) != tc.results || res.Fail != tc.results {
				t.Fatalf("%d IDs: %d results, %d failed, %v; want %d, each not found", len(tc.given), len(res.Results), res.Fail, err, tc.results)
			}
		})
	}
}
