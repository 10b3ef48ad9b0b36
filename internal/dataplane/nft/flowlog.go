package nft

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Flow logging (Options.FlowLog).
//
// Every entry of an instance chain that decides (an intra-group grant, a
// security-group rule, the default) is an Entry with a 64-bit EntryID, a
// hash of what it stands for: stable across builds and agent restarts, the
// same on every host, and needing no table kept in step with the kernel.
//
//   - An accepting entry sets its half of the connection's 128-bit conntrack
//     label when the connection is created: bytes 0–7 the egress side's
//     entry, bytes 8–15 the ingress side's (both sides of a flow between two
//     instances of one host pass the same forward hook, one after the
//     other). Only new connections reach the instance chains, and a fresh
//     connection's label is zero, so the kernel's "set" (an OR) writes the
//     ID as is. The mark (32 bits) was too small for collision-free IDs of
//     two sides.
//   - A dropping entry goes to its log chain ("ld-…", shared by every
//     instance whose chains hold the entry): packets over a rate limit are
//     counted and dropped (the counter is what the log missed: SKIPDATA),
//     the others logged to the NFLOG group with the prefix LogPrefix+ID and
//     dropped in the same rule. Every way through drops: enforcement never
//     depends on the log.
//   - With MergeRuns, a merged run is one lookup in a verdict map (not a
//     set) keyed like the tuple sets, whose element of each rule goes (goto)
//     to its entry's chain: the log chain of a dropping entry, or the label
//     chain ("la-…") of an accepting one, which labels and returns (to the
//     base chain, as the plain rule's return would). A new connection's
//     first packet then costs a few lookups with flow logs as without: the
//     flow log does not turn merging off.
//
// Ruleset.Entries maps the IDs the ruleset uses to their meaning.

// EntryID names a deciding entry; 0 is none.
type EntryID uint64

func (id EntryID) String() string { return fmt.Sprintf("%016x", uint64(id)) }

// ParseEntryID parses EntryID.String.
func ParseEntryID(s string) (EntryID, bool) {
	v, err := strconv.ParseUint(s, 16, 64)
	return EntryID(v), err == nil && len(s) == 16 && v != 0
}

// Entry is what a deciding entry stands for: a rule (GroupID, RuleID,
// Priority, Policy) or an implicit reason (intra-group access in GroupID,
// a default).
type Entry struct {
	Side     model.Direction
	Reason   policy.Reason
	GroupID  string
	RuleID   string
	Priority int
	Policy   model.Policy
	Verdict  policy.Verdict
}

// Decision is the entry as the model's evaluator states a decision.
func (e Entry) Decision() policy.Decision {
	d := policy.Decision{Verdict: e.Verdict, Reason: e.Reason}
	switch e.Reason {
	case policy.ByRule:
		d.Rule = &policy.RuleRef{GroupID: e.GroupID, RuleID: e.RuleID, Priority: e.Priority, Policy: e.Policy}
	case policy.IntraGroup:
		d.Group = e.GroupID
	}
	return d
}

// ID is the entry's hash.
func (e Entry) ID() EntryID {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%s\x00%d\x00%s\x00%s",
		e.Side, e.Reason, e.GroupID, e.RuleID, e.Priority, e.Policy, e.Verdict))
	id := binary.BigEndian.Uint64(h[:8])
	if id == 0 {
		id = 1
	}
	return EntryID(id)
}

// LogPrefix starts the NFLOG prefix of a dropping entry; the entry's ID
// follows in hex.
const LogPrefix = "pal:"

// EntryOfPrefix returns the entry ID an NFLOG prefix names.
func EntryOfPrefix(p string) (EntryID, bool) {
	p = strings.TrimRight(p, "\x00")
	if !strings.HasPrefix(p, LogPrefix) {
		return 0, false
	}
	return ParseEntryID(p[len(LogPrefix):])
}

// Defaults of the log rules.
const (
	DefaultLogGroup = 7301
	// DefaultLogRate is the packets per second each log rule passes to
	// NFLOG (and DefaultLogBurst above it); beyond it a drop is not logged.
	DefaultLogRate  = 200
	DefaultLogBurst = 50
)

// Label is the conntrack label of an accepting entry: its ID in the half of
// its side.
type Label struct {
	ID      EntryID
	Ingress bool
}

// Bytes is the 128-bit label value the rule ORs in.
func (l Label) Bytes() []byte {
	b := make([]byte, 16)
	off := 0
	if l.Ingress {
		off = 8
	}
	binary.BigEndian.PutUint64(b[off:], uint64(l.ID))
	return b
}

// LabelIDs splits a conntrack label into the egress and ingress entries.
func LabelIDs(label []byte) (egress, ingress EntryID) {
	if len(label) < 16 {
		return 0, 0
	}
	return EntryID(binary.BigEndian.Uint64(label[:8])), EntryID(binary.BigEndian.Uint64(label[8:16]))
}

// Limit is a rate in packets per second, with a burst above it.
type Limit struct {
	Rate, Burst uint32
}

// Log is the statement of a log rule.
type Log struct {
	Group  uint16
	Prefix string
	// Egress copies the first 32 bits of the label (the egress side's
	// entry) into the packet mark, which NFLOG reports: the ingress side
	// of a host drops a packet its egress side accepted, and kernels
	// without CONFIG_NETFILTER_NETLINK_GLUE_CT cannot report the label
	// itself. The packet is dropped next, so the mark goes nowhere else.
	Egress bool
}

// flowLog holds Options.FlowLog's settings for one build.
type flowLog struct {
	on      bool
	group   uint16
	rate    uint32
	entries map[EntryID]Entry
}

// entry registers an entry and returns its ID.
func (f *flowLog) entry(e Entry) EntryID {
	id := e.ID()
	f.entries[id] = e
	return id
}

// decide returns the rules of one deciding entry: r itself, labelled when
// it accepts; when it drops, r goes to the entry's log chain instead: the
// packets over the limit are counted (the records they miss) and dropped,
// the others are logged and dropped in one rule. The match is walked once,
// and every way through the chain drops.
func (b *builder) decide(r Rule, e Entry) []Rule {
	f := &b.flow
	if !f.on {
		return []Rule{r}
	}
	id := f.entry(e)
	switch r.Verdict.Kind {
	case Return, Accept:
		r.Label = Label{ID: id, Ingress: e.Side == model.Ingress}
	case Drop:
		r.Verdict = Verdict{Kind: Goto, Chain: b.logChain(id, e)}
	}
	return []Rule{r}
}

// logChain registers the log chain of a dropping entry and returns its name.
func (b *builder) logChain(id EntryID, e Entry) string {
	f := &b.flow
	lim := &Limit{Rate: DefaultLogRate, Burst: DefaultLogBurst}
	if f.rate != 0 {
		lim = &Limit{Rate: f.rate, Burst: max(f.rate/4, 1)}
	}
	drop := Verdict{Kind: Drop}
	rules := []Rule{
		{Over: lim, Counter: true, Verdict: drop},
		{Log: &Log{Group: f.group, Prefix: LogPrefix + id.String(), Egress: e.Side == model.Ingress}, Verdict: drop},
	}
	return b.entryChain(LogChainPrefix, rules)
}

// entryChain registers a chain of one entry (shared by every instance chain
// holding the entry) and returns its name.
func (b *builder) entryChain(prefix string, rules []Rule) string {
	name := chainName(prefix, rules)
	if _, ok := b.chains[name]; !ok {
		b.chains[name] = &Chain{Name: name, Rules: rules}
	}
	return name
}

// decideChain returns the chain a merged lookup's element goes to for the
// rule r of entry e: for an accepting entry, a chain that labels the
// connection and returns (to the base chain: elements are reached by goto,
// like the plain rule's return ending the instance chain); for a dropping
// one, its log chain.
func (b *builder) decideChain(r *Rule, e Entry) string {
	id := b.flow.entry(e)
	if r.Verdict.Kind == Drop {
		return b.logChain(id, e)
	}
	return b.entryChain(LabelChainPrefix, []Rule{{Label: Label{ID: id, Ingress: e.Side == model.Ingress}, Verdict: Verdict{Kind: Return}}})
}

// Prefixes of the names of the entries' chains: log chains of dropping
// entries, label chains of accepting ones.
const (
	LogChainPrefix   = "ld"
	LabelChainPrefix = "la"
)

// defaultEntry is the entry of a Program's default.
func defaultEntry(p policy.Program) Entry {
	return Entry{Side: p.Direction, Reason: p.Default.Reason, Verdict: p.Default.Verdict}
}

// ruleEntry is the entry of a security-group rule.
func ruleEntry(pr policy.ProgramRule, dir model.Direction) Entry {
	d := pr.Decision()
	return Entry{Side: dir, Reason: policy.ByRule, GroupID: pr.Group.ID, RuleID: pr.Rule.ID,
		Priority: pr.Rule.Priority, Policy: pr.Rule.Policy, Verdict: d.Verdict}
}
