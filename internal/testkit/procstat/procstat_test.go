package procstat

import (
	"os"
	"testing"
)

// TestSelf reads this test process: it has used some CPU and holds memory.
func TestSelf(t *testing.T) {
	x := 0
	for i := range 50_000_000 {
		x += i
	}
	_ = x
	if CPU(os.Getpid()) <= 0 {
		t.Errorf("CPU of this process is %v", CPU(os.Getpid()))
	}
	for _, f := range []string{"VmRSS", "VmHWM"} {
		if Status(os.Getpid(), f) <= 0 {
			t.Errorf("%s of this process is %d", f, Status(os.Getpid(), f))
		}
	}
	if Status(os.Getpid(), "NoSuchField") != 0 || CPU(-1) != 0 {
		t.Error("a missing field or process reads as non-zero")
	}
}
