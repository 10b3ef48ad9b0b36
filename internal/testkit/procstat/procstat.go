// Package procstat reads a process's CPU time and memory from /proc, for
// the benchmark programs that measure a server they run as a child.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPU is the process's user+system CPU time so far (0 if it is gone).
func CPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	// The command name may hold spaces: the fields follow its ')'.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// Status reads a field given in kB of the process's /proc status (VmRSS,
// VmHWM, …), in bytes; 0 if it is missing.
func Status(pid int, field string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// IO is what a process wrote so far, from its /proc io: bytes passed to
// write calls (files and sockets alike) and the number of those calls.
type IO struct{ Bytes, Calls int64 }

// Written reads the process's IO (zero if it is gone).
func Written(pid int) IO {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	var w IO
	for _, l := range strings.Split(string(b), "\n") {
		name, v, _ := strings.Cut(l, ":")
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch name {
		case "wchar":
			w.Bytes = n
		case "syscw":
			w.Calls = n
		}
	}
	return w
}
