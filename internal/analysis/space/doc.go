// Package space analyses one policy.Program over the whole packet space. For
// each address family, protocol (TCP, UDP, ICMP, ICMPv6, GRE and "other",
// which only protocol-ALL rules reach) and interval of source ports that the
// rules tell apart, it partitions destination ports × remote addresses into
// cells and names the decider of each cell: a rule, an intra-group grant or
// the default. From the partition it derives, per rule, its hit space (where
// it decides), whether it is shadowed (its hit is empty), whether it is
// redundant (removing it changes no verdict), which earlier entries block it,
// and which rules of the other action overlap it at the same priority.
//
// The partition is built by a sweep: destination ports are cut at every
// rule boundary, port intervals with the same covering rules share one
// address table, and each address table is painted by the covering rules in
// evaluation order with a skip list over settled pieces, so the cost grows
// with the number of boundaries, not with the number of ports or addresses.
//
// BuildHiding is Build for a reader who may not see the members of some
// groups the rules name (a tenant, another account's): its standings hold
// for every membership those groups could have, or are Unknown.
//
// Ordering, defaults and intra-group grants come from policy.Program only;
// rule matching follows policy.Cloud.RuleMatches (a test holds the two
// together on random clouds).
package space
