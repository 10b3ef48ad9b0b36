package service

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/flowstore"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Flow records: what the agents recorded for the flow logs (flowlogs.go),
// shipped with PalisadeReportFlowRecords and read by their tenants with
// PalisadeDescribeFlowRecords. The server keeps them in a flowstore.Store:
// on its local disk (server.Config.FlowRecords), bounded by age, size and
// count per account; a Service made by New keeps them in memory only.

// FlowRecord is one flow on one side in one capture window: the fields of
// an ECS VPC flow-log record, plus the entry of the security-group chains
// that decided it on this side.
type FlowRecord = flowstore.Record

// MaxFlowRecordsPerReport bounds one PalisadeReportFlowRecords call (it
// also fits the request body limit).
const MaxFlowRecordsPerReport = 1000

// FlowRetention bounds the records kept per account; zero fields keep the
// store's.
type FlowRetention struct {
	MaxRecords int
	MaxAge     time.Duration
}

// flowStore is the service's record store; a Service not made by New
// keeps none.
func (s *Service) flowStore() *flowstore.Store {
	if s.flows == nil {
		return flowstore.Memory()
	}
	return s.flows
}

// SetFlowRetention sets how many records, and how old, are kept per
// account.
func (s *Service) SetFlowRetention(r FlowRetention) {
	s.flowStore().SetLimits(r.MaxAge, r.MaxRecords)
}

// SetFlowRecords makes st the store of the flow records (the server's, on
// its disk), in place of the one in memory New made. Call it before
// serving.
func (s *Service) SetFlowRecords(st *flowstore.Store) { s.flows = st }

// FlowRecords is the store of the flow records.
func (s *Service) FlowRecords() *flowstore.Store { return s.flowStore() }

// FlowReportInput is a host's shipment of records.
type FlowReportInput struct {
	Caller   Caller
	HostName string // required: the host that recorded them
	Records  []FlowRecord
	// Idem's ClientToken (the agent's, one per batch) keeps the records
	// once however often they are sent: a retry is answered as the first
	// sending was, even after the server was killed between its write and
	// its answer. The token is the host's own and is kept with the
	// records (flowstore.Batch).
	Idem Idempotency
}

// FlowReportResult says what was kept: records of NICs not on the host,
// not covered by an active flow log of their owner, or malformed, are
// refused (a host ships for its own NICs, and only what a flow log asks
// for is recorded).
type FlowReportResult struct {
	Accepted int
	Refused  int
}

// ReportFlowRecords takes a host's records (PalisadeReportFlowRecords).
// The account, region, VPC, vSwitch and instance of each record are the
// server's, from the ENI named: a host cannot file records under another
// tenant, nor for NICs it does not hold.
func (s *Service) ReportFlowRecords(ctx context.Context, in FlowReportInput) (FlowReportResult, error) {
	var out FlowReportResult
	if err := CheckHostCaller(in.Caller, "PalisadeReportFlowRecords", in.HostName); err != nil {
		return out, err
	}
	if err := checkHost(in.HostName, true); err != nil {
		return out, err
	}
	if len(in.Records) > MaxFlowRecordsPerReport {
		return out, ecserr.InvalidParameter("Records", "send at most 1000 records per call")
	}
	if err := checkClientToken(in.Idem.ClientToken); err != nil {
		return out, err
	}
	batch := flowstore.Batch{Host: in.HostName, Token: in.Idem.ClientToken}
	if batch.Token != "" {
		batch.Hash = in.Idem.fingerprint(struct {
			HostName string
			Records  []FlowRecord
		}{in.HostName, in.Records})
		// A retry is answered from the first sending, before the checks:
		// they may judge otherwise now (a flow log deleted since).
		if k, ok, err := s.flowStore().Sent(batch); ok {
			if err == nil && s.FlowBatches != nil {
				// Its mark may have failed (etcd unavailable): the
				// other servers answer the retry from it.
				if err := s.settleBatch(ctx, batch, &k); err != nil {
					return FlowReportResult{}, err
				}
			}
			return flowAnswer(k, err, in.Idem.ClientToken)
		}
	}
	now := s.Now()
	var kept []FlowRecord
	err := s.read(ctx, func(tx store.ReadTx) error {
		// The flow logs read, by owner and region: a host may hold NICs of
		// one owner in several regions.
		logs := map[store.Query][]*model.FlowLog{}
		for _, r := range in.Records {
			nic, ok := hostNIC(tx, in.HostName, r.EniId)
			if !ok || !validFlowRecord(&r, now) {
				out.Refused++
				continue
			}
			q := store.Query{Account: nic.Owner, Region: nic.Region}
			fl, ok := logs[q]
			if !ok {
				var err error
				if fl, err = listWhere[model.FlowLog](tx, KindFlowLog, q); err != nil {
					return err
				}
				logs[q] = fl
			}
			covered := slices.ContainsFunc(fl, func(f *model.FlowLog) bool {
				return f.Covers(model.NICENI(nic), nic.VSwitchID, nic.VpcID, r.Action)
			})
			if !covered || !nicEntry(tx, nic, &r) {
				out.Refused++
				continue
			}
			r.AccountId, r.RegionId, r.VpcId, r.VSwitchId, r.HostName = nic.Owner, nic.Region, nic.VpcID, nic.VSwitchID, in.HostName
			r.VmId = nic.ID
			if model.HasPrefix(nic.ID, "eni") {
				r.VmId = nicInstance(tx, nic.ID)
			}
			kept = append(kept, r)
			out.Accepted++
		}
		return nil
	})
	if err != nil {
		return FlowReportResult{}, err
	}
	batch.Refused = out.Refused
	shared := batch.Token != "" && len(kept) > 0 && s.FlowBatches != nil // a batch of nothing is not remembered
	if shared {
		var ans errAnswered
		if err := s.claimBatch(ctx, batch, now); errors.As(err, &ans) {
			return flowAnswer(ans.k, nil, in.Idem.ClientToken)
		} else if err != nil {
			return flowAnswer(flowstore.Kept{}, err, in.Idem.ClientToken)
		}
	}
	k, again, err := s.flowStore().AppendBatch(batch, kept, now)
	if again { // a retry that overtook its first sending's check (or another batch under its token)
		return flowAnswer(k, err, in.Idem.ClientToken)
	}
	if err != nil {
		if shared {
			s.settleBatch(ctx, batch, nil) // best effort: a claim left pending is taken over in time
		}
		// Nothing was kept: the agent sends the batch again.
		return FlowReportResult{}, ecserr.New(http.StatusServiceUnavailable, "ServiceUnavailable", "The flow records could not be written; send them again later.")
	}
	if shared {
		// Kept here but not yet marked: the agent sends it again (here,
		// the mark is retried; elsewhere, it waits).
		if err := s.settleBatch(ctx, batch, &k); err != nil {
			return FlowReportResult{}, err
		}
	}
	return out, nil
}

// flowAnswer is the answer to a batch sent again under its token: the
// first sending's, or the refusal of a token used for another batch.
func flowAnswer(k flowstore.Kept, err error, token string) (FlowReportResult, error) {
	if err != nil && !errors.Is(err, flowstore.ErrTokenReused) {
		return FlowReportResult{}, err
	}
	if err != nil {
		return FlowReportResult{}, ecserr.BadRequest("IdempotentParameterMismatch", "The ClientToken %q was used before with other records; use a new token for a new batch.", token)
	}
	return FlowReportResult{Accepted: k.Records, Refused: k.Refused}, nil
}

// hostNIC returns the NIC an ENI ID names if it is bound to host: a
// secondary ENI attached and placed there, or an instance's primary ENI.
func hostNIC(tx store.ReadTx, host, eni string) (*model.Instance, bool) {
	if !model.HasPrefix(eni, "eni") {
		return nil, false
	}
	if rec, ok, err := tx.Get(KindENI, eni); err == nil && ok {
		n, err := decode[model.NetworkInterface](rec)
		if err != nil || !n.Attached() || n.Host != host {
			return nil, false
		}
		return n.NIC(), true
	}
	rec, ok, err := tx.Get(KindInstance, model.DerivedID("i", eni))
	if err != nil || !ok {
		return nil, false
	}
	in, err := decode[model.Instance](rec)
	if err != nil || in.Host != host {
		return nil, false
	}
	return in, true
}

// nicInstance is the instance a secondary ENI is attached to.
func nicInstance(tx store.ReadTx, eni string) string {
	if rec, ok, err := tx.Get(KindENI, eni); err == nil && ok {
		if n, err := decode[model.NetworkInterface](rec); err == nil {
			return n.InstanceID
		}
	}
	return ""
}

// nicEntry reports whether a record's deciding entry can be the NIC's: its
// group one of the NIC's groups (the owner's, by construction), and its
// rule, if any, one of that group's rules now, with the priority and
// policy the record gives it (the policy the record's action). Else a host
// could credit hits to any rule of the tenant, and make a rule it never
// enforces look in use (SGA-034), or show the tenant an accept rule
// dropping its traffic.
func nicEntry(tx store.ReadTx, nic *model.Instance, r *FlowRecord) bool {
	group, rule := r.SecurityGroupId, r.SecurityGroupRuleId
	if group == "" {
		return rule == ""
	}
	if !slices.Contains(nic.SecurityGroups, group) {
		return false
	}
	rec, ok, err := tx.Get(KindGroup, group)
	if err != nil || !ok || rec.Account != nic.Owner {
		return false
	}
	if rule == "" {
		return true
	}
	g, err := decode[model.SecurityGroup](rec)
	return err == nil && slices.ContainsFunc(g.Rules, func(gr model.Rule) bool {
		return gr.ID == rule && gr.Priority == r.Priority && gr.Policy.Display() == r.Policy
	})
}

// entryShaped reports whether a record names its deciding entry as the
// agents do (agent.RecordOf): a rule by group, ID, priority and policy,
// intra-group access by its group alone, a default by nothing, each with
// the action it decides.
func entryShaped(r *FlowRecord) bool {
	switch r.Reason {
	case "rule":
		return r.SecurityGroupId != "" && r.SecurityGroupRuleId != "" &&
			(r.Policy == "Accept") == (r.Action == "ACCEPT") && (r.Policy == "Drop") == (r.Action == "REJECT")
	case "intra-group access":
		return r.SecurityGroupId != "" && r.SecurityGroupRuleId == "" && r.Priority == 0 && r.Policy == ""
	}
	// A default decides one action (policy.Reason.DefaultVerdict): a
	// record of another did not happen as it says.
	v, ok := policy.Reason(r.Reason).DefaultVerdict()
	return r.SecurityGroupId == "" && r.SecurityGroupRuleId == "" && r.Priority == 0 && r.Policy == "" &&
		ok && (v == policy.Accept) == (r.Action == "ACCEPT")
}

// flowReasons are the reasons a record may give (policy.Reason's values).
var flowReasons = []string{"rule", "intra-group access", "default inbound drop", "default outbound accept (basic group)", "enterprise default outbound drop"}

// validFlowRecord checks what a host says of a flow.
func validFlowRecord(r *FlowRecord, now time.Time) bool {
	src, err1 := netip.ParseAddr(r.SrcAddr)
	dst, err2 := netip.ParseAddr(r.DstAddr)
	if err1 != nil || err2 != nil || src.Zone() != "" || dst.Zone() != "" {
		return false
	}
	r.SrcAddr, r.DstAddr = src.String(), dst.String()
	switch {
	case r.Action != "ACCEPT" && r.Action != "REJECT",
		r.Direction != "in" && r.Direction != "out",
		r.LogStatus != "OK" && r.LogStatus != "SKIPDATA" && r.LogStatus != "NODATA",
		r.Protocol < 0 || r.Protocol > 255, r.SrcPort < 0 || r.SrcPort > 65535, r.DstPort < 0 || r.DstPort > 65535,
		r.TcpFlags < 0 || r.TcpFlags > 255,
		r.Start <= 0 || r.End < r.Start || r.End > now.Add(time.Hour).Unix(),
		!slices.Contains(flowReasons, r.Reason),
		!FlowRecordID(r.SecurityGroupId) || !FlowRecordID(r.SecurityGroupRuleId),
		r.Policy != "" && r.Policy != "Accept" && r.Policy != "Drop",
		!entryShaped(r):
		return false
	}
	r.Version = 1
	return true
}

// FlowRecordFilter selects a tenant's records; zero fields do not filter.
type FlowRecordFilter struct {
	Caller             Caller
	InstanceID         string
	NetworkInterfaceID string
	GroupID            string
	RuleID             string
	Action             string // ACCEPT | REJECT
	Address            netip.Addr
	Port               int // 0: any
	Since, Until       time.Time
	Page               Page // NextToken/MaxResults
}

// DescribeFlowRecords returns one page of the caller's records in its
// region, newest first (PalisadeDescribeFlowRecords).
func (s *Service) DescribeFlowRecords(ctx context.Context, in FlowRecordFilter) (Listing[FlowRecord], error) {
	out, _, err := s.flowMatches(in)
	if err != nil {
		return Listing[FlowRecord]{}, err
	}
	return pageOf(out, in.Page), nil
}

// FlowRecordPart is one page of this server's records for a merged
// listing of every server's (package peers), with each record's position:
// where the next page continues after it, which stays valid while records
// are appended (an offset would not). A position is sealed for the caller
// (flowstore.Cursor): its sequence number in this server's store counts
// every tenant's records.
type FlowRecordPart struct {
	Items   []FlowRecord
	Cursors []string // Cursors[i] continues after Items[i]
	More    bool
	Total   int // matches on all pages
}

// DescribeFlowRecordsPart returns up to max of the caller's records that
// in selects, newest first, after the position after ("": from the
// newest), one this server handed to the caller.
func (s *Service) DescribeFlowRecordsPart(ctx context.Context, in FlowRecordFilter, after string, max int) (FlowRecordPart, error) {
	fs := s.flowStore()
	var below uint64 // records whose sequence number is below this one
	if after != "" {
		var ok bool
		if below, ok = fs.ParseCursor(in.Caller.Account, after); !ok {
			return FlowRecordPart{}, BadFlowToken(after)
		}
	}
	recs, seqs, err := s.flowMatches(in)
	if err != nil {
		return FlowRecordPart{}, err
	}
	out := FlowRecordPart{Total: len(recs)}
	i := 0
	if after != "" { // newest first: seqs descend
		i, _ = slices.BinarySearchFunc(seqs, below, func(a, b uint64) int { return cmp.Compare(b, a) })
		for i < len(seqs) && seqs[i] >= below {
			i++
		}
	}
	end := min(i+max, len(recs))
	out.Items, out.More = recs[i:end], end < len(recs)
	for _, q := range seqs[i:end] {
		out.Cursors = append(out.Cursors, fs.Cursor(in.Caller.Account, q))
	}
	return out, nil
}

// BadFlowToken is the error of a flow-record NextToken this server did
// not hand to the caller.
func BadFlowToken(t string) error {
	return ecserr.BadRequest("InvalidNextToken.Malformed", "NextToken %.80q is not one this server returned to you; page again from the first page (no NextToken).", t)
}

// flowMatches are the caller's records that in selects, newest first,
// with their sequence numbers.
func (s *Service) flowMatches(in FlowRecordFilter) ([]FlowRecord, []uint64, error) {
	c := in.Caller
	if c.Host != "" || c.Operator {
		return nil, nil, ecserr.Forbidden("Forbidden.OperatorKey", "Flow records belong to tenants; use a tenant's key.")
	}
	if in.Action != "" && in.Action != "ACCEPT" && in.Action != "REJECT" {
		return nil, nil, ecserr.InvalidParameter("Verdict", "ACCEPT or REJECT")
	}
	if in.Port < 0 || in.Port > 65535 {
		return nil, nil, ecserr.InvalidParameter("Port", "a port from 1 to 65535")
	}
	var (
		out  []FlowRecord
		seqs []uint64
	)
	for q, r := range s.flowStore().Newest(c.Account, s.Now()) {
		switch {
		case c.Region != "" && r.RegionId != c.Region,
			in.InstanceID != "" && r.VmId != in.InstanceID,
			in.NetworkInterfaceID != "" && r.EniId != in.NetworkInterfaceID,
			in.GroupID != "" && r.SecurityGroupId != in.GroupID,
			in.RuleID != "" && r.SecurityGroupRuleId != in.RuleID,
			in.Action != "" && r.Action != in.Action,
			in.Address.IsValid() && r.SrcAddr != in.Address.String() && r.DstAddr != in.Address.String(),
			in.Port != 0 && r.SrcPort != in.Port && r.DstPort != in.Port,
			!in.Since.IsZero() && r.End < in.Since.Unix(),
			!in.Until.IsZero() && r.Start > in.Until.Unix():
			continue
		}
		out = append(out, *r)
		seqs = append(seqs, q)
	}
	return out, seqs, nil
}

// FlowRecordID reports whether a record's group or rule ID is one an ID
// can be: at most 128 letters, digits, '-', '_', '.' or ':' (a scenario's
// group may be named "web"). What a host reports is shown to tenants, in
// terminals too. (lab play turns no flow log on for a NIC whose group or
// rule IDs are not such, as its records would be refused.)
func FlowRecordID(id string) bool {
	return len(id) <= 128 && strings.IndexFunc(id, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':')
	}) < 0
}
