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
