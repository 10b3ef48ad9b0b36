package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// encodeGroup is json.Marshal byte for byte, whether its rules are cached
// or not, for groups with no rules, an empty list, tags and text that
// json.Marshal escapes.
func TestEncodeGroup(t *testing.T) {
	var rs []model.Rule
	for k := range 25 {
		r := modeltest.Rule(fmt.Sprintf("sgr-%d", k), fmt.Sprintf("in accept %d TCP %d/%d 10.%d.0.0/16", 1+k, 1000+k, 1000+k, k))
		r.Description = fmt.Sprintf("web <%d> & \"friends\" \u2028", k)
		r.Created = time.Date(2026, 12, 5, 10, k, 0, 0, time.UTC)
		rs = append(rs, r)
	}
	g := modeltest.Group("sg-1", "vpc-1", "basic", rs...)
	g.Tags = []model.Tag{{Key: "env", Value: "<prod>"}}
	g.Description = "a & b"
	bare := *g
	bare.Rules = nil
	empty := *g
	empty.Rules = []model.Rule{}
	other := *g
	other.ID, other.Rules = "sg-2", append([]model.Rule{rs[3]}, rs[:2]...) // the same rules, cached, in another order
	modified := other
	modified.Rules = append([]model.Rule(nil), other.Rules...)
	modified.Rules[0].Description = "changed since it was cached" // same ID, other JSON
	modified.Rules[1].Priority++
	noID := *g
	noID.Rules = []model.Rule{rs[0]}
	noID.Rules[0].ID = ""
	// The same group again and again, as writes change it: a rule added,
	// rules revoked in the middle, a rule changed (a copy of the group, as
	// writers make), reordered, emptied.
	edits := []*model.SecurityGroup{g}
	edit := func(f func(rs []model.Rule) []model.Rule) {
		e := *edits[len(edits)-1]
		e.Rules = f(append([]model.Rule(nil), e.Rules...))
		edits = append(edits, &e)
	}
	added := modeltest.Rule("sgr-new", "in drop 5 UDP 53/53 192.0.2.0/24")
	edit(func(rs []model.Rule) []model.Rule { return append(rs, added) })
	edit(func(rs []model.Rule) []model.Rule { return append(rs[:3], rs[4:]...) })
	edit(func(rs []model.Rule) []model.Rule { return append(rs[:5], rs[8:]...) })
	edit(func(rs []model.Rule) []model.Rule {
		rs[6].Description = "changed"
		return rs
	})
	edit(func(rs []model.Rule) []model.Rule {
		rs[0], rs[len(rs)-1] = rs[len(rs)-1], rs[0]
		return rs
	})
	edit(func(rs []model.Rule) []model.Rule { return rs[:0] })
	edit(func(rs []model.Rule) []model.Rule { return append(rs, added) })
	for i, g := range []*model.SecurityGroup{g, g, &bare, &empty, &other, &modified, &noID} {
		want, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeGroup(g)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("group %d:\n got %s\nwant %s", i, got, want)
		}
	}
	for i, g := range edits {
		want, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeGroup(g)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("edit %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func BenchmarkEncodeGroup(b *testing.B) {
	var rs []model.Rule
	for k := range 20 {
		rs = append(rs, modeltest.Rule(fmt.Sprintf("sgr-%d", k), fmt.Sprintf("in accept %d TCP %d/%d 10.%d.0.0/16", 1+k, 1000+k, 1000+k, k)))
	}
	g := modeltest.Group("sg-1", "vpc-1", "basic", rs...)
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(g)
		}
	})
	b.Run("encodeGroup", func(b *testing.B) {
		for b.Loop() {
			encodeGroup(g)
		}
	})
}

// sameShell tells apart groups that differ in any field but Rules (a
// field added to SecurityGroup later fails this test until sameShell
// compares it), and a group from its copy.
func TestSameShell(t *testing.T) {
	base := model.SecurityGroup{ID: "sg-1", Region: "r", Owner: "o", Name: "n", Description: "d", Type: "normal", VpcID: "vpc-1",
		InnerAccessPolicy: "Accept", ResourceGroupID: "rg-1", Tags: []model.Tag{{Key: "k", Value: "v"}}, Created: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)}
	same := base
	same.Tags = slices.Clone(base.Tags)
	if !sameShell(&base, &same) {
		t.Error("a copy is not the same")
	}
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Name == "Rules" {
			continue
		}
		other := base
		v := reflect.ValueOf(&other).Elem().Field(i)
		switch x := v.Addr().Interface().(type) {
		case *[]model.Tag:
			*x = append(slices.Clone(*x), model.Tag{Key: "k2"})
		case *time.Time:
			*x = x.Add(time.Second)
		default:
			if v.Kind() != reflect.String {
				t.Fatalf("SecurityGroup.%s (%s): teach sameShell and this test about it", f.Name, f.Type)
			}
			v.SetString(v.String() + "x")
		}
		if sameShell(&base, &other) {
			t.Errorf("groups that differ in %s are the same", f.Name)
		}
		// Encoded after the group it differs from, with the same rules.
		rules := []model.Rule{modeltest.Rule("sgr-1", "in accept 1 TCP 22/22 10.0.0.0/8")}
		before, after := base, other
		before.Rules, after.Rules = rules, rules
		encodeGroup(&before)
		want, _ := json.Marshal(&after)
		if got, _ := encodeGroup(&after); !bytes.Equal(got, want) {
			t.Errorf("%s changed:\n got %s\nwant %s", f.Name, got, want)
		}
	}
}

// The cache stays bounded by groups as well as rules (groups without rules
// are not kept at all), and a kept encoding does not take a rule's JSON
// from the very memory it compares with: an edit in place of the group
// encoded last cannot make its next encoding stale.
func TestGroupCacheBounded(t *testing.T) {
	groupJSON.mu.Lock()
	groupJSON.m, groupJSON.rules = nil, 0
	groupJSON.mu.Unlock()
	for k := range 3 * groupJSONMax {
		g := modeltest.Group(fmt.Sprintf("sg-e%d", k), "vpc-1", "basic")
		g.Rules = []model.Rule{}
		if _, err := encodeGroup(g); err != nil {
			t.Fatal(err)
		}
		if k%2 == 0 {
			g.Rules = []model.Rule{modeltest.Rule("sgr-1", "in accept 1 TCP 22/22 10.0.0.0/8")}
			if _, err := encodeGroup(g); err != nil {
				t.Fatal(err)
			}
		}
	}
	groupJSON.mu.Lock()
	n, counted := len(groupJSON.m), groupJSON.rules
	groupJSON.mu.Unlock()
	if n > groupJSONMax || counted > groupJSONMax {
		t.Fatalf("cache holds %d groups counted as %d; bound %d", n, counted, groupJSONMax)
	}

	g := modeltest.Group("sg-edit", "vpc-1", "basic", modeltest.Rule("sgr-1", "in accept 1 TCP 22/22 10.0.0.0/8"))
	if _, err := encodeGroup(g); err != nil {
		t.Fatal(err)
	}
	g.Rules[0].Description = "changed in place"
	got, err := encodeGroup(g)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(g)
	if !bytes.Equal(got, want) {
		t.Fatalf("after an edit in place:\n got %s\nwant %s", got, want)
	}
}
