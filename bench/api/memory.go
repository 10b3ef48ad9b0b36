package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"

	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
)

// viewSize loads the 10k-instance benchmark cloud into a store and reports
// the heap the in-memory view of it takes, against the JSON it is stored as.
func viewSize() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "palisade-bench-view-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(filepath.Join(dir, "view.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	c := reachtest.Big()
	svc := api.New(st)
	rev, err := svc.Import(ctx, "cn-hangzhou", api.Resources{VPCs: c.VPCs, Groups: c.Groups, Instances: c.Instances, PrefixLists: c.PrefixLists})
	if err != nil {
		log.Fatal(err)
	}
	var rules int
	for _, g := range c.Groups {
		rules += len(g.Rules)
	}
	var jsonBytes int64
	st.View(ctx, func(tx store.ReadTx) error {
		for kind := range service.Kinds {
			recs, _ := tx.List(kind, store.Query{})
			for _, r := range recs {
				jsonBytes += int64(len(r.Data))
			}
		}
		return nil
	})
	c, svc = nil, nil // only the view below stays reachable
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	v := view.New(st, service.Kinds, service.Indexes...)
	if _, err := v.Wait(ctx, rev); err != nil {
		log.Fatal(err)
	}
	after := heap()
	runtime.KeepAlive(v)
	fmt.Printf("benchmark cloud (reachtest.Big): %d VPCs, %d groups, %d rules, %d instances, %d prefix lists\n",
		len(reachtest.Big().VPCs), len(reachtest.Big().Groups), rules, len(reachtest.Big().Instances), len(reachtest.Big().PrefixLists))
	fmt.Printf("stored as JSON: %.1f MiB; in-memory view: %.1f MiB of heap\n", float64(jsonBytes)/(1<<20), float64(after-before)/(1<<20))
	v.Close()
}
