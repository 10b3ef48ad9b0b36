package service

import (
	"context"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// TestGroupEditSharedAcrossHosts: a rule added to a group that several
// hosts enforce reaches each of them as that group alone, in one answer
// computed and encoded once for all of them (not once per watcher), and
// hosts that do not enforce the group are not woken with it.
func TestGroupEditSharedAcrossHosts(t *testing.T) {
	ctx := context.Background()
	s, hosts := downloadCloudOf(t, 1, 40, 100, 5)
	local := map[string][]string{} // group → the hosts that enforce it
	revs := map[string]int64{}
	for _, h := range hosts {
		snap, err := s.GetSnapshot(ctx, Caller{Host: h})
		if err != nil {
			t.Fatal(err)
		}
		revs[h] = snap.Revision
		seen := map[string]bool{}
		for _, in := range snap.Instances {
			for _, g := range in.SecurityGroups {
				if in.Host == h && !seen[g] {
					seen[g] = true
					local[g] = append(local[g], h)
				}
			}
		}
	}
	var gid string
	for g, hs := range local {
		if len(hs) >= 2 && len(hs) < len(hosts) && (gid == "" || g < gid) {
			gid = g
		}
	}
	if gid == "" {
		t.Fatal("no group is enforced by some hosts but not all: change the cloud")
	}
	if _, err := s.Store.Update(ctx, func(tx store.Tx) error {
		g, _, err := store.GetAs[model.SecurityGroup](tx, KindGroup, gid)
		if err != nil {
			return err
		}
		g.Rules = append(g.Rules, modeltest.Rule("sgr-edit", "in accept 1 TCP 9999/9999 192.0.2.0/24"))
		return PutGroup(tx, &g)
	}); err != nil {
		t.Fatal(err)
	}
	var shared *SharedEncoding
	for _, h := range hosts {
		ch, err := s.WatchChanges(ctx, WatchInput{Caller: Caller{Host: h}, AfterRevision: revs[h]})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(local[gid], h) {
			if len(ch.Groups)+len(ch.Instances)+len(ch.ENIs)+len(ch.Deleted) > 0 {
				t.Errorf("%s does not enforce %s but was sent %+v", h, gid, ch)
			}
			continue
		}
		if len(ch.Groups) != 1 || ch.Groups[0].ID != gid || len(ch.Instances)+len(ch.ENIs)+len(ch.Deleted) > 0 {
			t.Fatalf("%s: want %s alone, got %+v", h, gid, ch)
		}
		if !slices.ContainsFunc(ch.Groups[0].Rules, func(r model.Rule) bool { return r.ID == "sgr-edit" }) {
			t.Errorf("%s: %s was sent without the new rule", h, gid)
		}
		switch {
		case ch.shared == nil:
			t.Errorf("%s: the answer is made for this watcher alone", h)
		case shared == nil:
			shared = ch.shared
		case ch.shared != shared:
			t.Errorf("%s: the answer is made again for this watcher", h)
		}
	}
}
