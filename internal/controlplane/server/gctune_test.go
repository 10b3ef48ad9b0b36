package server

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	for _, tc := range []struct {
		live     uint64
		headroom int64
		want     int
	}{
		{0, 64 << 20, 1000},
		{1 << 20, 64 << 20, 1000},  // a tiny heap: capped
		{16 << 20, 64 << 20, 400},  // grows by the headroom
		{25 << 20, 64 << 20, 250},  // rounded down to a step
		{64 << 20, 64 << 20, 100},  // Go's own pacing gives as much
		{1 << 30, 64 << 20, 100},   // a large heap: Go's pacing
		{100 << 20, 1 << 30, 1000}, // capped
		{300 << 20, 600 << 20, 200},
	} {
		if got := gcPercentFor(tc.live, tc.headroom); got != tc.want {
			t.Errorf("live %d MiB, headroom %d MiB: %d%%, want %d%%", tc.live>>20, tc.headroom>>20, got, tc.want)
		}
	}
}

// TestTuneGC: while a server serves, a small live heap gets a GC percent
// that lets it grow by the headroom; once all stop, Go's default is back;
// a GC percent the operator set is left alone.
func TestTuneGC(t *testing.T) {
	if gcPercent() != 100 {
		t.Skip("GOGC is set")
	}
	stop1 := tuneGC(64 << 20)
	stop2 := tuneGC(64 << 20) // a second server in the process
	raised := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !raised; time.Sleep(20 * time.Millisecond) {
		runtime.GC()
		raised = gcPercent() > 100
	}
	if !raised {
		t.Fatalf("GC percent %d with a small heap and 64 MiB of headroom, want more than 100", gcPercent())
	}
	stop1()
	stop1() // idempotent
	if gcPercent() == 100 {
		t.Error("one server stopped: the other's tuning was undone")
	}
	stop2()
	if p := gcPercent(); p != 100 {
		t.Errorf("all stopped: GC percent %d, want 100", p)
	}
	debug.SetGCPercent(150)
	defer debug.SetGCPercent(100)
	stop := tuneGC(64 << 20)
	runtime.GC()
	time.Sleep(3 * gcTuneEvery)
	stop()
	if p := gcPercent(); p != 150 {
		t.Errorf("GC percent %d after tuning, want the 150 set before", p)
	}
}
