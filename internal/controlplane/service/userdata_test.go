package service

import (
	"cmp"
	"context"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestAgentsGetNoUserData: an instance's user data (a boot script, which
// may hold passwords) stays out of what the agents are sent: the host's
// and the operator's snapshots and the changes after one; the API still
// answers it to the instance's owner.
func TestAgentsGetNoUserData(t *testing.T) {
	ctx := context.Background()
	s, hosts := downloadCloudOf(t, 1, 4, 40, 2)
	host := hosts[0]
	snap, err := s.GetSnapshot(ctx, Caller{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Instances) == 0 {
		t.Fatal("the host enforces no instance: change the cloud")
	}
	id := snap.Instances[0].ID
	const secret = "IyEvYmluL3NoCmVjaG8gcm9vdDpodW50ZXIyCg==" // #!/bin/sh echo root:hunter2
	var owner string
	rev, err := s.Store.Update(ctx, func(tx store.Tx) error {
		in, _, err := store.GetAs[model.Instance](tx, KindInstance, id)
		if err != nil {
			return err
		}
		in.UserData, owner = secret, in.Owner
		return PutInstance(tx, &in)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.view.Wait(ctx, rev); err != nil { // the snapshots below are of the view
		t.Fatal(err)
	}
	check := func(what string, ins []*model.Instance, mustHave bool) {
		t.Helper()
		found := false
		for _, in := range ins {
			found = found || in.ID == id
			if in.UserData != "" {
				t.Errorf("%s: instance %s carries its user data", what, in.ID)
			}
		}
		if mustHave && !found {
			t.Errorf("%s: instance %s is missing", what, id)
		}
	}
	for _, c := range []Caller{{Host: host}, {Operator: true}} {
		who := cmp.Or(c.Host, "the operator")
		ch, err := s.WatchChanges(ctx, WatchInput{Caller: c, AfterRevision: snap.Revision})
		if err != nil {
			t.Fatal(err)
		}
		check("the changes of "+who, ch.Instances, c.Operator) // a host is sent the fields it uses only
		sn, err := s.GetSnapshot(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		check("the snapshot of "+who, sn.Instances, true)
	}
	got, err := s.DescribeUserData(ctx, Caller{Account: owner, Region: snap.Instances[0].Region}, id)
	if err != nil || got != secret {
		t.Errorf("DescribeUserData = %q, %v; want the user data", got, err)
	}
}
