// Package testenv starts what Palisade's integration tests and benchmarks
// run against: a real API server in-process on loopback over a temporary
// SQLite store, with clients of the official Alibaba Cloud SDKs and of
// Palisade's own apiclient (server.go), and a lab of network namespaces with
// one agent per host (lab.go).
//
// Everything it starts is stopped through TB.Cleanup. Tests pass their
// *testing.T or *testing.B; a program without one (bench/dataplane) passes a
// Program and calls its Close.
package testenv

import (
	"fmt"
	"os"
	"slices"
	"sync"
)

// TB is the part of testing.TB that testenv uses.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	TempDir() string
}

// Program is a TB for a program that has no *testing.T: Fatalf and Errorf
// print, Fatalf then runs the clean-ups and exits, and Close runs the
// clean-ups (last registered first) when the program is done.
type Program struct {
	mu       sync.Mutex
	cleanups []func()
	failed   bool
	Quiet    bool // drop Logf output
}

// NewProgram returns a Program; defer its Close.
func NewProgram() *Program { return &Program{Quiet: true} }

func (p *Program) Helper() {}

func (p *Program) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}

func (p *Program) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	p.mu.Lock()
	p.failed = true
	p.mu.Unlock()
}

func (p *Program) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	p.Close()
	os.Exit(1)
}

func (p *Program) Logf(format string, args ...any) {
	if !p.Quiet {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

// TempDir returns a new directory that Close removes.
func (p *Program) TempDir() string {
	dir, err := os.MkdirTemp("", "palisade-")
	if err != nil {
		p.Fatalf("testenv: %v", err)
	}
	p.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Close runs the clean-ups, last registered first. It is idempotent.
func (p *Program) Close() {
	p.mu.Lock()
	fs := p.cleanups
	p.cleanups = nil
	p.mu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}

// Failed reports whether Errorf was called.
func (p *Program) Failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}
