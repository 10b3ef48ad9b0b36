// Package policy is the one home of Palisade's evaluation semantics: how the
// rules of an instance's security groups, intra-group access, the defaults of
// each group type and the network path (VPCs, public addresses, IPv6) decide
// the fate of a flow. The API, the scenario checker, the agent and the
// analyzers all ask this package; none of them re-implements any of it.
//
// A flow is the first packet of a connection. It passes when the source
// instance's egress policy and the destination instance's ingress policy both
// let it through (an outside address has no policy). A policy pools the rules
// of all the instance's groups for one direction, ordered by priority (1
// first) and, at equal priority, drop before accept; the first matching rule
// decides. When none matches, ingress drops, and egress accepts for basic
// groups and drops for enterprise groups. Members of a shared basic group
// whose InnerAccessPolicy is Accept always reach each other.
//
// Two evaluators implement the per-instance decision: Linear, a plain scan of
// the ordered rules kept as the reference, and Compiled, which indexes each
// policy by protocol, port interval and address interval so a lookup costs
// two binary searches instead of a scan of every rule.
//
// The shared vocabulary of the evaluators and analyzers lives here too: Path
// (which path a flow takes, which addresses each side sees, why a flow has
// none), Applies and Order (which rules of a group pool into a policy, in
// what order: a Program), and Key (the comparable name of "the same policy"
// that every cache of compiled or analysed policies is keyed by).
package policy
