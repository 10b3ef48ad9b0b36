package service

import (
	"context"
	"errors"
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
		if got := matchWildcard(tc.pattern, tc.s); got != tc.want {
			t.Errorf("matchWildcard(%q, %q) = %v; want %v", tc.pattern, tc.s, got, tc.want)
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

// TestKeyGenerationBounded: CreateKeyPair makes one key at a time, and
// refuses what its write would refuse before making one. With the one
// generation's turn held (as by another tenant's create), a create of a
// taken name is refused at once; one of a free name waits for the turn,
// and one whose caller gives up makes nothing.
func TestKeyGenerationBounded(t *testing.T) {
	e := newEnv(t)
	if _, err := e.s.CreateKeyPair(e.ctx, KeyPairInput{Caller: e.c, Name: "taken"}); err != nil {
		t.Fatal(err)
	}
	keygen <- struct{}{} // another create's turn
	defer func() { <-keygen }()

	ctx, cancel := context.WithTimeout(e.ctx, 200*time.Millisecond)
	defer cancel()
	_, err := e.s.CreateKeyPair(ctx, KeyPairInput{Caller: e.c, Name: "taken"})
	if !ecserr.Is(err, model.CodeKeyPairExists) {
		t.Errorf("a create of a taken name, while a key is made: %v; want %s at once", err, model.CodeKeyPairExists)
	}
	_, err = e.s.CreateKeyPair(ctx, KeyPairInput{Caller: e.c, Name: "free"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a create waiting for its turn, given up: %v; want the caller's deadline", err)
	}
	l, err := e.s.DescribeKeyPairs(e.ctx, DescribeKeyPairsInput{Caller: e.c, Page: Page{Number: 1, Size: 10}})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("key pairs after the refused creates: %+v %v", l.Items, err)
	}
}
