package rpc

import "syscall"

// lowerThreadPriority sets the nice value of the calling OS thread (on
// Linux PRIO_PROCESS with a thread ID names that thread alone). A failure
// (a sandbox that forbids it) leaves the priority as it was.
func lowerThreadPriority(nice int) {
	if nice > 0 {
		syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
	}
}
