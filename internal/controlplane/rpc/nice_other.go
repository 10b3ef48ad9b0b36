//go:build !linux

package rpc

// lowerThreadPriority does nothing here: only Linux sets one thread's
// priority.
func lowerThreadPriority(nice int) {}
