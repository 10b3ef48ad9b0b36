package sessions

import (
	"fmt"
	"slices"
	"sync"
	"syscall"

	"github.com/ti-mo/conntrack"
)

// Fake is a connection table in memory, for tests that run without root.
type Fake struct {
	mu      sync.Mutex
	flows   []conntrack.Flow
	deleted []conntrack.Flow
	// OnDump, if set, is called at each Dump (before it reads the table).
	OnDump func()
	// DeleteErr, if set, is what Delete returns for a connection it
	// refuses (true), instead of deleting it.
	DeleteErr func(conntrack.Flow) (error, bool)
}

// NewFake returns a table holding flows.
func NewFake(flows ...conntrack.Flow) *Fake { return &Fake{flows: flows} }

// Add adds connections.
func (f *Fake) Add(flows ...conntrack.Flow) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flows = append(f.flows, flows...)
}

// Dump lists the table.
func (f *Fake) Dump() ([]conntrack.Flow, error) {
	if f.OnDump != nil {
		f.OnDump()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.flows), nil
}

// Delete deletes the connection whose original tuple and zone f names, as
// the kernel finds it.
func (f *Fake) Delete(d conntrack.Flow) error {
	if f.DeleteErr != nil {
		if err, ok := f.DeleteErr(d); ok {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.flows, func(e conntrack.Flow) bool { return e.TupleOrig == d.TupleOrig && e.Zone == d.Zone })
	if i < 0 {
		return fmt.Errorf("delete %s: %w", d.TupleOrig, syscall.ENOENT)
	}
	f.deleted = append(f.deleted, f.flows[i])
	f.flows = slices.Delete(f.flows, i, i+1)
	return nil
}

// Deleted returns the connections deleted so far, in order.
func (f *Fake) Deleted() []conntrack.Flow {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deleted)
}

// Close does nothing.
func (f *Fake) Close() error { return nil }
