package service

import (
	"context"
	"net/http"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Flow logs (VPC 2016-04-28): which network interfaces' flows the agents
// record. Alibaba Cloud runs these calls asynchronously (Activating,
// Deactivating, …); here each takes effect in its transaction, so a
// caller polling DescribeFlowLogs finds the final status at once. The
// agents of the hosts of the covered interfaces get the flow logs in their
// snapshot and watch (hostscope.go) and ship records (flowrecords.go).

// KindFlowLog holds flow logs (fl-…).
const KindFlowLog store.Kind = "flowlog"

// CreateFlowLogInput is a new flow log.
type CreateFlowLogInput struct {
	Caller       Caller
	ResourceType string // required: NetworkInterface, VSwitch or VPC
	ResourceID   string // required
	TrafficType  string // required: All, Allow or Drop
	Name         string
	Description  string
	ProjectName  string
	LogStoreName string
	Interval     int // AggregationInterval, minutes; 0: 10
	IPVersion    string
	TrafficPath  []string
	Tags         []model.Tag
	Idempotency  `json:"-"`
}

// CreateFlowLogResult names the flow log made.
type CreateFlowLogResult struct {
	FlowLogId string
}

// CreateFlowLog creates a flow log, Active at once.
func (s *Service) CreateFlowLog(ctx context.Context, in CreateFlowLogInput) (CreateFlowLogResult, error) {
	c := in.Caller
	for _, f := range []struct{ name, v string }{{"ResourceType", in.ResourceType}, {"ResourceId", in.ResourceID}, {"TrafficType", in.TrafficType}} {
		if f.v == "" {
			return CreateFlowLogResult{}, ecserr.MissingParameter(f.name)
		}
	}
	switch in.ResourceType {
	case model.FlowLogENI, model.FlowLogVSwitch, model.FlowLogVPC:
	default:
		return CreateFlowLogResult{}, ecserr.BadRequest("IllegalParam.ResourceType", "ResourceType must be NetworkInterface, VSwitch or VPC; %q was given.", in.ResourceType)
	}
	switch in.TrafficType {
	case model.TrafficAll, model.TrafficAllow, model.TrafficDrop:
	default:
		return CreateFlowLogResult{}, ecserr.BadRequest("IllegalParam.TrafficType", "TrafficType must be All, Allow or Drop; %q was given.", in.TrafficType)
	}
	if e := model.ValidateFlowLogText(in.Name, in.Description, in.ProjectName, in.LogStoreName); e != nil {
		return CreateFlowLogResult{}, e
	}
	interval, e := model.FlowLogInterval(in.Interval)
	if e != nil {
		return CreateFlowLogResult{}, e
	}
	ipv, e := model.FlowLogIPVersion(in.IPVersion)
	if e != nil {
		return CreateFlowLogResult{}, e
	}
	for i, p := range in.TrafficPath {
		if p != "all" && p != "internetGateway" {
			return CreateFlowLogResult{}, ecserr.BadRequest("IllegalParam.TrafficPath", "TrafficPath.N must be all or internetGateway; %q was given.", p)
		}
		if slices.Contains(in.TrafficPath[:i], p) {
			return CreateFlowLogResult{}, ecserr.BadRequest("IllegalParam.TrafficPath", "TrafficPath.%d repeats %q; name each path once.", i+1, p)
		}
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return CreateFlowLogResult{}, e
	}
	f := &model.FlowLog{ID: model.NewID("fl"), Region: c.Region, Owner: c.Account, Name: in.Name, Description: in.Description,
		ResourceType: in.ResourceType, ResourceID: in.ResourceID, TrafficType: in.TrafficType, Interval: interval,
		ProjectName: in.ProjectName, LogStoreName: in.LogStoreName, IPVersion: ipv, TrafficPath: slices.Clone(in.TrafficPath),
		Status: model.FlowLogActive, Created: s.Now(), Tags: in.Tags}
	f.ActiveSince = f.Created
	return Update(s, ctx, c, "CreateFlowLog", in.Idempotency, in, func(tx store.Tx) (CreateFlowLogResult, error) {
		vpc, err := flowLogResource(tx, c, in.ResourceType, in.ResourceID)
		if err != nil {
			return CreateFlowLogResult{}, err
		}
		f.VpcID = vpc
		n, err := ownedBy(KindFlowLog, c).count(tx)
		if err != nil {
			return CreateFlowLogResult{}, err
		}
		q, err := s.quotasOf(tx, c.Account)
		if err != nil {
			return CreateFlowLogResult{}, err
		}
		if n >= q.FlowLogs {
			return CreateFlowLogResult{}, ecserr.BadRequest("QuotaExceeded.FlowLog", "This account has %d flow logs in %s and may hold %d; delete one first.", n, c.Region, q.FlowLogs)
		}
		return CreateFlowLogResult{FlowLogId: f.ID}, putFlowLog(tx, f)
	})
}

// flowLogResource checks the resource of a flow log and returns its VPC.
// Unknown or another account's: 404 ResourceNotFound.<type>.
func flowLogResource(tx store.ReadTx, c Caller, typ, id string) (string, error) {
	notFound := func() error {
		return ecserr.New(http.StatusNotFound, "ResourceNotFound."+typ, "The specified ResourceId %q is not a %s of this account and region.", id, typ)
	}
	var vpc string
	var err error
	switch typ {
	case model.FlowLogENI:
		var n *model.NetworkInterface
		if !model.HasPrefix(id, "eni") {
			return "", notFound()
		}
		if n, err = GetENI(tx, c, id); err == nil {
			vpc = n.VpcID
		}
	case model.FlowLogVSwitch:
		var w *model.VSwitch
		if !model.HasPrefix(id, "vsw") {
			return "", notFound()
		}
		if w, err = getVSwitch(tx, c, id); err == nil {
			vpc = w.VpcID
		}
	case model.FlowLogVPC:
		var v *model.VPC
		if !model.HasPrefix(id, "vpc") {
			return "", notFound()
		}
		if v, err = getVPC(tx, c, id); err == nil {
			vpc = v.ID
		}
	}
	if isNotFound(err) {
		return "", notFound()
	}
	return vpc, err
}

func putFlowLog(tx store.Tx, f *model.FlowLog) error {
	return store.PutAs(tx, KindFlowLog, f.ID, f.Owner, f.Region, f)
}

// getFlowLog loads a flow log of the caller; any other ID is 404
// ResourceNotFound.FlowLog.
func getFlowLog(tx store.ReadTx, c Caller, id string) (*model.FlowLog, error) {
	if id == "" {
		return nil, ecserr.MissingParameter("FlowLogId")
	}
	if !model.HasPrefix(id, "fl") {
		return nil, ecserr.New(http.StatusNotFound, "ResourceNotFound.FlowLog", "The specified FlowLogId %q does not exist in this account and region.", id)
	}
	f, err := get[model.FlowLog](tx, KindFlowLog, c, id, "FlowLogId", "fl", "ResourceNotFound.FlowLog")
	if err != nil {
		return nil, err
	}
	return f, nil
}

// DescribeFlowLogsInput filters the caller's flow logs; zero fields do not.
type DescribeFlowLogsInput struct {
	Caller                                   Caller
	FlowLogID, Name, Description             string
	ResourceType, ResourceID, VpcID          string
	TrafficType, Status                      string
	ProjectName, LogStoreName, ResourceGroup string
	Tags                                     []model.Tag
	Page                                     Page
}

// DescribeFlowLogs returns one page of the caller's flow logs, newest first.
func (s *Service) DescribeFlowLogs(ctx context.Context, in DescribeFlowLogsInput) (Listing[*model.FlowLog], error) {
	c := in.Caller
	return View(s, ctx, func(tx store.ReadTx) (Listing[*model.FlowLog], error) {
		all, err := list[model.FlowLog](tx, KindFlowLog, c)
		if err != nil {
			return Listing[*model.FlowLog]{}, err
		}
		byCreation(all, func(f *model.FlowLog) (int64, string) { return f.Created.Unix(), f.ID })
		var out []*model.FlowLog
		for _, f := range all {
			for _, m := range []struct{ want, have string }{{in.FlowLogID, f.ID}, {in.Name, f.Name}, {in.Description, f.Description},
				{in.ResourceType, f.ResourceType}, {in.ResourceID, f.ResourceID}, {in.VpcID, f.VpcID}, {in.TrafficType, f.TrafficType},
				{in.Status, f.Status}, {in.ProjectName, f.ProjectName}, {in.LogStoreName, f.LogStoreName}} {
				if m.want != "" && m.want != m.have {
					goto skip
				}
			}
			if in.ResourceGroup != "" && in.ResourceGroup != ResourceGroupID(f.Owner) || !matchTags(f.Tags, in.Tags) {
				continue
			}
			out = append(out, f)
		skip:
		}
		return pageOf(out, in.Page), nil
	})
}

// ModifyFlowLogInput changes what ModifyFlowLogAttribute may change; nil
// or empty fields stay.
type ModifyFlowLogInput struct {
	Caller      Caller
	FlowLogID   string
	Name        *string
	Description *string
	Interval    int // 0: unchanged
	IPVersion   string
	Idempotency `json:"-"`
}

// ModifyFlowLogAttribute changes a flow log's name, description, capture
// window or IP version.
func (s *Service) ModifyFlowLogAttribute(ctx context.Context, in ModifyFlowLogInput) error {
	c := in.Caller
	var name, desc string
	if in.Name != nil {
		name = *in.Name
	}
	if in.Description != nil {
		desc = *in.Description
	}
	if e := model.ValidateFlowLogText(name, desc, "", ""); e != nil {
		return e
	}
	var interval int
	if in.Interval != 0 {
		var e *ecserr.Error
		if interval, e = model.FlowLogInterval(in.Interval); e != nil {
			return e
		}
	}
	ipv, e := model.FlowLogIPVersion(in.IPVersion)
	if e != nil {
		return e
	}
	_, err := Update(s, ctx, c, "ModifyFlowLogAttribute", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		f, err := getFlowLog(tx, c, in.FlowLogID)
		if err != nil {
			return struct{}{}, err
		}
		if in.Name != nil {
			f.Name = name
		}
		if in.Description != nil {
			f.Description = desc
		}
		if interval != 0 {
			f.Interval = interval
		}
		if ipv != "" {
			f.IPVersion = ipv
		}
		return struct{}{}, putFlowLog(tx, f)
	})
	return err
}

// FlowLogRef names a flow log of the caller.
type FlowLogRef struct {
	Caller      Caller
	FlowLogID   string
	Idempotency `json:"-"`
}

// ActiveFlowLog starts an Inactive flow log; an Active one is
// IncorrectStatus.flowlog.
func (s *Service) ActiveFlowLog(ctx context.Context, in FlowLogRef) error {
	return s.setFlowLogStatus(ctx, in, "ActiveFlowLog", model.FlowLogInactive, model.FlowLogActive)
}

// DeactiveFlowLog stops an Active flow log (the agents stop recording);
// an Inactive one is IncorrectStatus.flowlog.
func (s *Service) DeactiveFlowLog(ctx context.Context, in FlowLogRef) error {
	return s.setFlowLogStatus(ctx, in, "DeactiveFlowLog", model.FlowLogActive, model.FlowLogInactive)
}

func (s *Service) setFlowLogStatus(ctx context.Context, in FlowLogRef, action, from, to string) error {
	c := in.Caller
	_, err := Update(s, ctx, c, action, in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		f, err := getFlowLog(tx, c, in.FlowLogID)
		if err != nil {
			return struct{}{}, err
		}
		if f.Status != from {
			return struct{}{}, ecserr.BadRequest("IncorrectStatus.flowlog", "Flow log %s is %s; %s needs it %s.", f.ID, f.Status, action, from)
		}
		f.Status = to
		if to == model.FlowLogActive {
			f.ActiveSince = s.Now()
		}
		return struct{}{}, putFlowLog(tx, f)
	})
	return err
}

// DeleteFlowLog deletes a flow log; the records it collected stay until
// their retention ends.
func (s *Service) DeleteFlowLog(ctx context.Context, in FlowLogRef) error {
	c := in.Caller
	_, err := Update(s, ctx, c, "DeleteFlowLog", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		f, err := getFlowLog(tx, c, in.FlowLogID)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, tx.Delete(KindFlowLog, f.ID)
	})
	return err
}
