package service

import (
	"fmt"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Quotas bound what one account may create, so that no tenant can grow the
// server's memory and every tenant's analyses without end. Each is per
// account and region unless it says otherwise; a zero field takes
// DefaultQuotas' (Service.Quotas, the server's --quota-* flags). An account
// may have its own (model.Account.Quotas, PalisadeSetAccountQuotas), which
// replace the server's field by field. The rule, member and per-instance
// limits are ECS's fixed ones (package model).
//
//	VPCs            QuotaExceeded.Vpc (400)
//	VSwitchesPerVPC per VPC: QuotaExceeded.VSwitch (400)
//	Instances       QuotaExceed.ElasticQuota (403)
//	SecurityGroups  QuotaExceed.SecurityGroup (403)
//	ENIs            secondary ENIs: MaxEniCountExceeded (403)
//	FlowLogs        QuotaExceeded.FlowLog (400)
//	PrefixLists     QuotaExceed.PrefixList (403)
//	PortRangeLists  QuotaExceed.PortRangeList (403)
//	PublicIPs       the public addresses an account holds in all regions
//	                together, EIPs and instances' public IPs (the pool is
//	                shared by every account): QuotaExceeded.Eip (400)
//	KeyPairs        SSH key pairs: QuotaExceed.KeyPair (403)
type Quotas model.Quotas

// DefaultQuotas are ECS's and VPC's default quotas where they have one
// (VPCs 10 per region, vSwitches 150 per VPC, security groups, prefix
// lists and secondary ENIs 100); ECS bounds instances by vCPUs, not by
// count, so Palisade allows 1,000 per account and region; flow logs and
// port range lists have no documented quota (50 and 100 here); key pairs
// ECS's 500 a region; public
// addresses a sixteenth of the shared pool, so that no tenant can take the
// others'.
var DefaultQuotas = Quotas{
	VPCs:            10,
	VSwitchesPerVPC: 150,
	Instances:       1000,
	SecurityGroups:  model.MaxGroupsPerRegion,
	ENIs:            model.MaxENIsPerAccount,
	FlowLogs:        model.MaxFlowLogs,
	PrefixLists:     model.MaxPrefixListsRegion,
	PortRangeLists:  model.MaxPortRangeListsRegion,
	PublicIPs:       int(1 << (32 - PublicPool.Bits()) / 16),
	KeyPairs:        model.MaxKeyPairsRegion,
}

// QuotaName names one quota, as the flags and the operator's actions do.
type QuotaName struct {
	// Flag is serve's --quota-FLAG and `palisade account quota`'s --FLAG.
	Flag string
	// Param is PalisadeSetAccountQuotas' parameter and QuotaName in the
	// answers.
	Param string
}

// QuotaNames are the quotas' names, in the order of Quotas' fields.
var QuotaNames = func() (out [quotaCount]QuotaName) {
	var q Quotas
	for i, f := range q.fields() {
		out[i] = f.QuotaName
	}
	return out
}()

// QuotaParams lists PalisadeSetAccountQuotas' quota parameters, for
// messages.
func QuotaParams() string {
	names := make([]string, len(QuotaNames))
	for i, n := range QuotaNames {
		names[i] = n.Param
	}
	return strings.Join(names, ", ")
}

// MaxQuota bounds an account's own quota: a value past it is a typo, not
// a team's need (the server holds every record in memory).
const MaxQuota = 1_000_000

// quotaField is one quota of a Quotas: its names, its field's name (for
// messages), the field and its default.
type quotaField struct {
	QuotaName
	name string
	v    *int
	def  int
}

// quotaCount is how many quotas there are.
const quotaCount = 10

// Field is q's quota i, in QuotaNames' order.
func (q *Quotas) Field(i int) *int { return q.fields()[i].v }

// fields lists q's quotas, each with its names: the one list of them.
func (q *Quotas) fields() [quotaCount]quotaField {
	d := &DefaultQuotas
	return [...]quotaField{
		{QuotaName{"vpcs", "Vpcs"}, "VPCs", &q.VPCs, d.VPCs},
		{QuotaName{"vswitches-per-vpc", "VSwitchesPerVpc"}, "VSwitchesPerVPC", &q.VSwitchesPerVPC, d.VSwitchesPerVPC},
		{QuotaName{"instances", "Instances"}, "Instances", &q.Instances, d.Instances},
		{QuotaName{"security-groups", "SecurityGroups"}, "SecurityGroups", &q.SecurityGroups, d.SecurityGroups},
		{QuotaName{"enis", "NetworkInterfaces"}, "ENIs", &q.ENIs, d.ENIs},
		{QuotaName{"flow-logs", "FlowLogs"}, "FlowLogs", &q.FlowLogs, d.FlowLogs},
		{QuotaName{"prefix-lists", "PrefixLists"}, "PrefixLists", &q.PrefixLists, d.PrefixLists},
		{QuotaName{"port-range-lists", "PortRangeLists"}, "PortRangeLists", &q.PortRangeLists, d.PortRangeLists},
		{QuotaName{"public-ips", "PublicIpAddresses"}, "PublicIPs", &q.PublicIPs, d.PublicIPs},
		{QuotaName{"key-pairs", "KeyPairs"}, "KeyPairs", &q.KeyPairs, d.KeyPairs},
	}
}

// WithDefaults is q with each zero field DefaultQuotas'.
func (q Quotas) WithDefaults() Quotas {
	for _, f := range q.fields() {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	return q
}

// Check refuses a negative quota (0 takes the default), or with
// zeroToo a zero one (a quota given explicitly, as serve's flags are).
func (q Quotas) Check(zeroToo bool) error {
	for _, f := range q.fields() {
		switch {
		case zeroToo && *f.v <= 0:
			return fmt.Errorf("quota %s is %d; give a positive number", f.name, *f.v)
		case *f.v < 0:
			return fmt.Errorf("service: quota %s is %d; give a positive number (0 takes the default)", f.name, *f.v)
		}
	}
	return nil
}

// quotasOf are the quotas in force for an account as tx sees it: its own
// where it has one, else the server's. In a write the account's record is
// read through tx, a precondition like the counts': an override changed
// before the write commits makes it run again on the new quota, so a
// quota change racing creates still lands exactly the quota in force.
func (s *Service) quotasOf(tx store.ReadTx, account string) (Quotas, error) {
	q := s.Quotas.WithDefaults()
	a, found, err := peekAs[model.Account](tx, KindAccount, account)
	if err != nil || !found || a.Quotas == nil {
		return q, err
	}
	return q.override(Quotas(*a.Quotas)), nil
}

// override is q with each non-zero field of o.
func (q Quotas) override(o Quotas) Quotas {
	ofs := o.fields()
	for i, f := range q.fields() {
		if v := *ofs[i].v; v != 0 {
			*f.v = v
		}
	}
	return q
}

// countSet is a set of records a quota counts: those of an account and
// region (index ""), or those under key in a secondary index of the view.
type countSet struct {
	kind   store.Kind
	q      store.Query
	index  string
	key    string
	keysOf func(any) []string
}

// ownedBy is the set of records of kind that c's account holds in c's
// region.
func ownedBy(kind store.Kind, c Caller) countSet {
	return countSet{kind: kind, q: store.Query{Account: c.Account, Region: c.Region}}
}

// underKey is the set of records of kind under key in index name.
func underKey(kind store.Kind, name, key string) countSet {
	return countSet{kind: kind, index: name, key: key, keysOf: indexKeys(kind, name)}
}

// holds reports whether a record (decoded: Object set, for an index) is in
// the set.
func (s *countSet) holds(r *store.Record) bool {
	if s.index == "" {
		return (s.q.Account == "" || r.Account == s.q.Account) && (s.q.Region == "" || r.Region == s.q.Region)
	}
	return r.Object != nil && slices.Contains(s.keysOf(r.Object), s.key)
}

// count returns how many records are in the set as tx sees them, for a
// quota, without reading them: the view's index gives the count, and only
// what tx (or its batch) changed since the view's revision is read, so the
// cost does not grow with the records in the region. In an optimistic
// write the count is a precondition: a record that enters the set before
// the write commits fails it (store.ErrConflict; Update runs it again),
// so concurrent creations land exactly the quota. Records changed in
// place or deleted meanwhile do not fail it: neither raises the count.
// Without a view to ask (etcd's transaction), the store's listing, which
// its commit compares.
func (s countSet) count(tx store.ReadTx) (int, error) {
	snap, dirty, ok, err := indexed(tx)
	if err != nil {
		return 0, err
	}
	if !ok {
		return s.scan(tx)
	}
	var n int
	if s.index == "" {
		n = len(snap.IDs(s.kind, s.q))
	} else {
		n = len(snap.Indexed(s.kind, s.index, s.key))
	}
	for id := range dirty[s.kind] {
		if old := snap.Record(s.kind, id); old != nil && s.holds(old) {
			n--
		}
		r, found, err := s.current(tx, id)
		if err != nil {
			return 0, err
		}
		if found && s.holds(r) {
			n++
		}
	}
	if t, isOpt := tx.(*optTx); isOpt {
		t.preds = append(t.preds, readPred{kind: s.kind, q: s.q, index: s.index, key: s.key, indexKeys: s.keysOf, created: true})
	}
	return n, nil
}

// current is record id of the set's kind as tx has it now, decoded.
func (s *countSet) current(tx store.ReadTx, id string) (*store.Record, bool, error) {
	var r store.Record
	if t, isOpt := tx.(*optTx); isOpt {
		// Its own write: read without a precondition.
		w := t.w[view.Ref{Kind: s.kind, ID: id}]
		if w == nil {
			return nil, false, nil
		}
		r = *w
	} else {
		var found bool
		var err error
		if r, found, err = tx.Get(s.kind, id); err != nil || !found {
			return nil, false, err
		}
	}
	if err := decodeInto(&r); err != nil {
		return nil, false, err
	}
	return &r, true, nil
}

// scan counts the set from the store's listing of the account and region.
func (s *countSet) scan(tx store.ReadTx) (int, error) {
	recs, err := tx.List(s.kind, s.q)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range recs {
		if s.index != "" {
			if err := decodeInto(&recs[i]); err != nil {
				return 0, err
			}
		}
		if s.holds(&recs[i]) {
			n++
		}
	}
	return n, nil
}

// decodeInto sets a record's Object from its Data when it has none.
func decodeInto(r *store.Record) error {
	if r.Object != nil {
		return nil
	}
	dec := Kinds[r.Kind]
	if dec == nil {
		return nil
	}
	o, err := dec(r.Data)
	if err != nil {
		return fmt.Errorf("service: decode %s/%s: %w", r.Kind, r.ID, err)
	}
	r.Object = o
	return nil
}
