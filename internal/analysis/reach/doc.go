// Package reach computes reachability over a whole policy.Cloud: for every
// ordered pair of instances, and between each instance and the outside
// ("internet": any address that is not an instance), the protocols and
// ports that pass. A flow passes when the source's egress and the
// destination's ingress both accept it on the path policy.Path gives the
// pair, the one policy.Evaluate uses.
//
// Work is shared along two kinds of equivalence. Instances with the same
// policy.InstanceKey (groups, direction, path, local-CIDR answers) share one
// analysed policy (a class). Within a class, remote addresses are grouped
// into pieces that every rule treats alike (the atoms of the CIDR blocks,
// prefix lists and group memberships the rules name), each with the set of
// flows accepted there, interned. A pair is then two binary searches and a
// memoised meet of two interned sets; no port is ever tried one by one.
//
// A Result answers pairs, filters, an instance matrix and a group graph, and
// follows changes: Update rebuilds only the classes a rule, membership or
// prefix-list change touches, and a change of rules alone it folds into
// them: it analyses only the rules that can match within the protocols,
// ports and addresses the changed rules match, and splices what they decide
// there into the classes' old pieces.
package reach
