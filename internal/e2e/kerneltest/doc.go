// Package kerneltest holds the tests that hold the kernel to the model: the
// policies the agent compiles to nftables are played with real packets in
// network-namespace labs and every verdict is compared with the policy
// engine's. The tests need root and nftables; they skip without them.
package kerneltest
