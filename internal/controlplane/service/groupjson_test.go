package service

import (
	"bytes"
	"encoding/json"
	"fmt"
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
