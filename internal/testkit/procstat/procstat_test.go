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

// TestWritten sees this process's own writes counted.
func TestWritten(t *testing.T) {
	before := Written(os.Getpid())
	f, err := os.Create(t.TempDir() + "/w")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 3 {
		if _, err := f.Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	after := Written(os.Getpid())
	if after.Bytes-before.Bytes < 3000 || after.Calls-before.Calls < 3 {
		t.Errorf("3 writes of 1,000 bytes counted as %d bytes in %d calls", after.Bytes-before.Bytes, after.Calls-before.Calls)
	}
	if (Written(-1) != IO{}) {
		t.Error("a missing process reads as having written")
	}
}
