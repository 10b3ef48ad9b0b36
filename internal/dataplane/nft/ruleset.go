package nft

import (
	"net/netip"
)

// Options name the table and the interfaces it guards.
type Options struct {
	// Table is the name of the inet table Palisade owns; default "palisade".
	Table string
	// InterfacePrefix makes the table fail closed: forwarded traffic of an
	// interface with this prefix that no instance owns (yet) is dropped, so
	// that an instance plugged in before the agent programmed it is not open.
	// Empty: no such rule.
	InterfacePrefix string
	// MergeRuns makes Build look consecutive TCP and UDP rules with inline
	// CIDR peers up in one concatenated interval set ("meta l4proto . th
	// dport . ip saddr") instead of walking them one by one: a first packet
	// then costs a few lookups instead of a walk of every rule. Rules that
	// no packet can match together may be reordered to make longer runs;
	// verdicts and the rule each packet is counted for stay those of the
	// plain layout. A chain of more rules than any valid policy compiles
	// to (maxMergeRules) is left plain. See merge.go.
	MergeRuns bool
	// FlowLog makes every deciding entry of the instance chains report
	// itself (see flowlog.go): accepting entries label the new connection,
	// dropping ones log to NFLOG group LogGroup (0: DefaultLogGroup) under a
	// rate limit. Verdicts do not change. With MergeRuns, a merged lookup
	// is a verdict map whose elements go to a chain per entry (labelling or
	// logging), so the entry is known without walking the rules.
	FlowLog  bool
	LogGroup uint16
	// LogRate is the packets per second each dropping entry logs (0:
	// DefaultLogRate), with a burst of a quarter of it.
	LogRate uint32
}

// DefaultTable is the table name when Options.Table is empty.
const DefaultTable = "palisade"

func (o Options) logGroup() uint16 {
	if o.LogGroup == 0 {
		return DefaultLogGroup
	}
	return o.LogGroup
}

func (o Options) table() string {
	if o.Table == "" {
		return DefaultTable
	}
	return o.Table
}

// Ruleset is the desired content of one nftables table (family inet): plain
// data, built without touching the kernel, rendered by String and applied by
// Kernel.Apply.
type Ruleset struct {
	Table  string
	Sets   []Set   // named sets, sorted by name
	Maps   []Map   // verdict maps, sorted by name
	Chains []Chain // the base chain first, then the others sorted by name
	// Problems lists the instances left out, with why.
	Problems []string
	// Entries are the deciding entries the chains name (Options.FlowLog).
	Entries map[EntryID]Entry
}

// SetType is the key type of a named set.
type SetType string

const (
	IPv4Addr SetType = "ipv4_addr"
	IPv6Addr SetType = "ipv6_addr"
	IfName   SetType = "ifname"
	// PortSet is an interval set of transport ports: a port range list's
	// ranges, tested by "th dport @set".
	PortSet SetType = "inet_service"
	// Tuple sets hold (protocol, destination ports, remote prefix) elements
	// of merged rules (Options.MergeRuns).
	Tuple4 SetType = "inet_proto . inet_service . ipv4_addr"
	Tuple6 SetType = "inet_proto . inet_service . ipv6_addr"
)

// Set is a named set. Address sets hold addresses (plain sets, for group
// members and network addresses) or prefixes (interval sets, for prefix
// lists); interface sets hold names.
type Set struct {
	Name     string
	Type     SetType
	Interval bool
	Addrs    []netip.Addr   // plain address sets, sorted
	Prefixes []netip.Prefix // interval sets, masked and sorted
	Names    []string       // ifname sets, sorted
	Ports    []Ports        // port sets (Interval), sorted and merged
	// Tuples are the elements of a tuple set, each with its own counter.
	// Tuple sets are named by a hash of their elements and never change.
	Tuples []TupleElem
	// VMap makes a tuple set a verdict map: each element goes to its Chain
	// (Options.FlowLog with MergeRuns).
	VMap bool
}

// TupleElem is one merged rule in a tuple set.
type TupleElem struct {
	Proto uint8
	Port  Ports // zero: every port
	Addr  netip.Prefix
	Key   RuleKey // the rule counted when a packet matches the element
	// Chain is where a verdict map's element goes (goto): the chain of the
	// rule's deciding entry, which labels or logs, then returns or drops.
	Chain string
}

// Map is a verdict map keyed by interface name: each element jumps to a chain.
type Map struct {
	Name  string
	Elems []MapElem // sorted by interface
}

// MapElem sends the traffic of one interface to a chain.
type MapElem struct {
	Interface string
	Chain     string
}

// Chain is a chain of rules. Only the base chain is hooked; the others are
// reached by jumps, named by a hash of their content and never modified in
// place (a changed chain is a new chain).
type Chain struct {
	Name  string
	Base  bool // hooked at forward, priority filter, policy accept
	Rules []Rule
}

// Family restricts a rule to one address family.
type Family uint8

const (
	AnyFamily Family = 0
	IPv4      Family = 4
	IPv6      Family = 6
)

// Ports is an inclusive port range; the zero value does not constrain.
type Ports struct{ From, To uint16 }

// IsZero reports whether the range constrains nothing.
func (p Ports) IsZero() bool { return p == Ports{} }

// CtState values a rule may test.
const (
	CtEstablishedRelated = "established,related"
	CtInvalid            = "invalid"
	CtNew                = "new"
)

// Rule is one nftables rule. Its conditions are ANDed, in the order the
// fields are listed (the order nft itself lists them in).
type Rule struct {
	CtState string // CtEstablishedRelated, CtInvalid or CtNew
	// NotSyn matches a TCP segment that is not a connection's first: of
	// its flags FIN, SYN, RST and ACK, not SYN alone.
	NotSyn bool
	IIF    Iface // input interface
	OIF    Iface // output interface
	Proto  uint8 // IP protocol (meta l4proto); 0: any
	DPort  Ports // transport destination port (TCP and UDP rules only)
	// DPortSet looks the destination port up in a named port set (a port
	// range list's); TCP and UDP rules only, with DPort zero.
	DPortSet string
	SPort    Ports  // transport source port
	Family   Family // meta nfproto; set whenever Addrs is not empty
	Addrs    []AddrMatch
	Tuple    Tuple // a lookup of merged rules
	Counter  bool
	Key      RuleKey // the security-group rule this rule enforces, if any
	// Label, when its ID is set, ORs the entry into the connection's
	// conntrack label (Options.FlowLog).
	Label Label
	// Over, when set, matches the packets over its rate ("limit rate over").
	Over *Limit
	// Log, when set, logs the packet to NFLOG before the verdict.
	Log     *Log
	Verdict Verdict
}

// Iface matches an interface name; the zero value matches any. Name and
// Set both apply when both are given.
type Iface struct {
	Name     string // exact name, or a prefix when Wildcard
	Wildcard bool   // nft's "name*"
	Set      string // a lookup in a named ifname set
	Not      bool   // negates the Set lookup
}

// AddrMatch tests one address of the packet.
type AddrMatch struct {
	Dst    bool         // the destination address; false: the source
	Prefix netip.Prefix // an inline prefix (or host address)
	Set    string       // a named set of the rule's family
	Anon   []netip.Addr // an anonymous set of two or more addresses (BuildLinear)
	Not    bool         // negates the match
}

// Tuple looks "meta l4proto . th dport . <remote address>" up in a tuple
// set; the zero value is no lookup.
type Tuple struct {
	Set string
	Dst bool // the remote address is the destination
	// VMap: the set is a verdict map, whose element decides (the rule has
	// no verdict of its own); no element, no match.
	VMap bool
}

// VerdictKind is what a matching rule does.
type VerdictKind string

const (
	Accept VerdictKind = "accept"
	Drop   VerdictKind = "drop"
	Return VerdictKind = "return"
	Jump   VerdictKind = "jump"
	Goto   VerdictKind = "goto"
	// VMap looks the interface (OIF: the output one) up in a verdict map.
	VMap VerdictKind = "vmap"
)

// Verdict ends a rule.
type Verdict struct {
	Kind  VerdictKind
	Chain string // Jump, Goto
	Map   string // VMap
	OIF   bool   // VMap keyed by the output interface
}

// RuleKey names a security-group rule; counters are summed per key.
type RuleKey struct {
	GroupID string
	RuleID  string
}

func (k RuleKey) String() string {
	if k == (RuleKey{}) {
		return ""
	}
	return k.GroupID + "/" + k.RuleID
}

// Counter is the traffic a rule matched: the first packets of connections
// (established traffic is accepted before any instance chain).
type Counter struct {
	Packets uint64
	Bytes   uint64
}

// Stats counts what an Apply changed in the kernel.
type Stats struct {
	ChainsAdded, ChainsDeleted int
	RulesAdded                 int
	SetsAdded, SetsDeleted     int // sets and maps
	ElementsAdded              int // set and map elements
	ElementsDeleted            int
}

// IsZero reports whether nothing changed.
func (s Stats) IsZero() bool { return s == Stats{} }

// chain returns the chain with the given name, nil if none.
func (rs *Ruleset) chain(name string) *Chain {
	for i := range rs.Chains {
		if rs.Chains[i].Name == name {
			return &rs.Chains[i]
		}
	}
	return nil
}

// ruleKeys returns the security-group rules the ruleset counts.
func (rs *Ruleset) ruleKeys() map[RuleKey]bool {
	keys := map[RuleKey]bool{}
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			if r.Key != (RuleKey{}) {
				keys[r.Key] = true
			}
		}
	}
	for _, s := range rs.Sets {
		for _, e := range s.Tuples {
			keys[e.Key] = true
		}
	}
	return keys
}
