// Package nft is Palisade's data plane: it compiles the policies of the
// instances bound to one host into one nftables table of its own (family
// inet, "palisade" by default) and applies it atomically through netlink.
//
// It never restates the semantics: the order of the rules, intra-group
// access and the defaults all come from policy.Program. Build turns Programs
// into a Ruleset, plain data that String renders in nft syntax; a Table
// applies it: a Kernel to a network namespace in one netlink batch, a Fake in
// memory for tests that run without root.
//
// Layout (Build):
//
//	chain forward (hook forward, policy accept):
//	    ct state established,related accept
//	    ct state invalid drop
//	    ct state new tcp flags != syn / fin,syn,rst,ack drop    (no connection starts in midstream)
//	    iifname "pi-*" iifname != @ifaces drop    (Options.InterfacePrefix)
//	    oifname "pi-*" oifname != @ifaces drop
//	    iifname vmap @egress                      (instance → its egress chain)
//	    oifname vmap @ingress                     (→ the instance's ingress chain)
//
// An instance chain returns for an accept (so that a packet between two
// instances of the host meets the sender's egress chain and then the
// receiver's ingress chain) and drops for a drop; it starts with the
// intra-group grants and ends with the Program's default. A group peer is a
// lookup in the named sets g_<group>_4 and g_<group>_6 of its members'
// addresses, shared by every chain; a prefix list is an interval set
// p_<list>_4 or _6, and a port range list an interval set r_<list> of ports
// that "th dport @r_<list>" tests. A classic-network instance's chain dispatches on whether
// the remote address is in its network (sets n_<vpc>_4/_6) to an intranet and
// an internet chain.
//
// Chains are named by a hash of their content and never modified: instances
// with the same policy share a chain, a changed policy is a new chain (the
// map elements re-pointed and the old chain deleted in the same batch), and a
// change of group membership only changes set elements.
//
// Every rule enforcing a security-group rule has a counter and a comment
// "groupID/ruleID"; Kernel.Counters sums them per rule.
//
// Options.FlowLog makes each deciding entry of the instance chains report
// itself for flow logs (see flowlog.go): accepting entries write their ID
// into the new connection's conntrack label (egress half, ingress half),
// dropping entries go to a log chain that logs to NFLOG under a limit and
// counts what it did not log; Ruleset.Entries says what each ID stands for.
// Merged runs (Options.MergeRuns) then look rules up in verdict maps whose
// elements go to the chain of their entry.
//
// BuildLinear lays the same policy out the way iptables-based firewalls do,
// as a baseline for benchmarks; Options.MergeRuns replaces runs of rules by
// lookups in concatenated interval sets (see merge.go).
package nft
