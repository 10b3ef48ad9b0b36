package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// The batch instance actions, RebootInstance and DescribeInstanceStatus,
// in the classic Go SDK's shapes (ecs.StartInstancesResponse,
// ecs.InstanceResponse, ecs.DescribeInstanceStatusResponse). An
// InstanceResponse's CurrentStatus is the status the instance holds
// after the call (Running, Stopped): Palisade has no Starting or
// Stopping phase.
func (s *Service) lifecycleActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"RebootInstance":             s.rebootInstance,
		"StartInstances":             s.batchAction(s.StartInstances, false),
		"StopInstances":              s.batchAction(s.StopInstances, true),
		"RebootInstances":            s.batchAction(s.RebootInstances, false),
		"DeleteInstances":            s.deleteInstances,
		"DescribeInstanceStatus":     s.describeInstanceStatus,
		"ModifyInstanceVpcAttribute": s.modifyInstanceVpcAttribute,
	}
}

// instanceIDList reads InstanceId.N; a bare InstanceId is refused, not
// taken for one item (other actions take it as a single value).
func instanceIDList(p rpc.Params) ([]string, error) {
	if e := p.CheckList("InstanceId", false, true); e != nil {
		return nil, e
	}
	return p.List("InstanceId"), nil
}

// stoppedModes are StopInstance(s)' StoppedMode values; Palisade bills
// nothing, so they all stop the same way, but the instance answers the
// mode it was stopped with, as ECS does.
var stoppedModes = map[string]bool{"": true, "StopCharging": true, "KeepCharging": true}

// notApplicable is the StoppedMode a running instance answers. Terraform's
// alicloud_instance reads it into stopped_mode and sends it back with the
// StopInstance of its next stop (status Stopped, a vSwitch change), so it
// stops as with no mode named; refused, every such apply failed.
const notApplicable = "Not-applicable"

// stoppedMode reads StopInstance(s)' StoppedMode.
func stoppedMode(p rpc.Params) (string, *ecserr.Error) {
	m := p.Get("StoppedMode")
	if m == notApplicable {
		return "", nil
	}
	if !stoppedModes[m] {
		return "", ecserr.InvalidParameter("StoppedMode", "it is StopCharging or KeepCharging")
	}
	return m, nil
}

// defaultStoppedMode is how an instance stops when StopInstance(s) names
// no StoppedMode (ECS's default without economical mode).
const defaultStoppedMode = "KeepCharging"

// stoppedModeOf is an instance's StoppedMode as ECS answers it: one
// stopped without a mode (or before modes were kept) stopped in the
// default one.
func stoppedModeOf(in *model.Instance) string {
	switch {
	case in.Status != model.StatusStopped:
		return notApplicable
	case in.StoppedMode == "":
		return defaultStoppedMode
	}
	return in.StoppedMode
}

func (s *Service) rebootInstance(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	p := req.Params
	// ForceStop (a hard reset) reboots the same way here: checked, not kept.
	if _, e := p.Bool("ForceStop", false); e != nil {
		return nil, e
	}
	dry, e := p.Bool("DryRun", false)
	if e != nil {
		return nil, e
	}
	if err := s.RebootInstance(ctx, c, p.Get("InstanceId"), dry); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

type instanceResponse struct {
	Code, Message, InstanceId, CurrentStatus, PreviousStatus string
}

type batchResponse struct {
	rpc.Base
	InstanceResponses struct{ InstanceResponse []instanceResponse }
}

// batchAction serves StartInstances, StopInstances and RebootInstances
// (stop: StopInstances' own parameters too).
func (s *Service) batchAction(act func(context.Context, service.BatchInput) ([]service.InstanceOutcome, error), stop bool) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		c, err := s.callerOf(ctx, req, true)
		if err != nil {
			return nil, err
		}
		p := req.Params
		in := service.BatchInput{Caller: c, Idempotency: idempotency(req)}
		if in.InstanceIDs, err = instanceIDList(p); err != nil {
			return nil, err
		}
		switch p.Get("BatchOptimization") {
		case "", "AllTogether":
		case "SuccessFirst":
			in.SuccessFirst = true
		default:
			return nil, ecserr.InvalidParameter("BatchOptimization", "it is AllTogether or SuccessFirst")
		}
		var e *ecserr.Error
		if in.DryRun, e = p.Bool("DryRun", false); e != nil {
			return nil, e
		}
		// ForceStop and ForceReboot change how a guest is stopped, which
		// Palisade does not run: checked, not kept.
		for _, name := range []string{"ForceStop", "ForceReboot"} {
			if _, e := p.Bool(name, false); e != nil {
				return nil, e
			}
		}
		if stop {
			if in.StoppedMode, e = stoppedMode(p); e != nil {
				return nil, e
			}
		}
		res, err := act(ctx, in)
		if err != nil {
			return nil, err
		}
		out := &batchResponse{}
		out.InstanceResponses.InstanceResponse = make([]instanceResponse, 0, len(res))
		for _, o := range res {
			out.InstanceResponses.InstanceResponse = append(out.InstanceResponses.InstanceResponse, instanceResponse{Code: o.Code,
				Message: o.Message, InstanceId: o.InstanceID, CurrentStatus: o.Current, PreviousStatus: o.Previous})
		}
		return out, nil
	}
}

func (s *Service) deleteInstances(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.DeleteInstancesInput{Caller: c, Idempotency: idempotency(req)}
	if in.InstanceIDs, err = instanceIDList(p); err != nil {
		return nil, err
	}
	var e *ecserr.Error
	if in.Force, e = p.Bool("Force", false); e != nil {
		return nil, e
	}
	if in.DryRun, e = p.Bool("DryRun", false); e != nil {
		return nil, e
	}
	// Subscriptions are not sold here: checked, not kept.
	if _, e := p.Bool("TerminateSubscription", false); e != nil {
		return nil, e
	}
	if err := s.DeleteInstances(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

type describeInstanceStatusResponse struct {
	rpc.Base
	TotalCount, PageNumber, PageSize int
	InstanceStatuses                 struct {
		InstanceStatus []instanceStatusItem
	}
}

type instanceStatusItem struct{ InstanceId, Status string }

func (s *Service) describeInstanceStatus(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	// ECS pages this listing by number only, up to 50 a page.
	pg, err := numberPage(p, 50)
	if err != nil {
		return nil, err
	}
	in := service.DescribeInstanceStatusInput{Caller: c, ZoneID: p.Get("ZoneId"), Page: pg}
	if in.IDs, err = instanceIDList(p); err != nil {
		return nil, err
	}
	res, err := s.DescribeInstanceStatus(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describeInstanceStatusResponse{TotalCount: res.Total, PageNumber: pg.Number, PageSize: pg.Size}
	out.InstanceStatuses.InstanceStatus = make([]instanceStatusItem, 0, len(res.Items))
	for _, it := range res.Items {
		out.InstanceStatuses.InstanceStatus = append(out.InstanceStatuses.InstanceStatus, instanceStatusItem{InstanceId: it.InstanceID, Status: it.Status})
	}
	return out, nil
}

func (s *Service) modifyInstanceVpcAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	p := req.Params
	// SecurityGroupId.N is a list here: a bare value is refused, not dropped.
	if e := p.CheckList("SecurityGroupId", false, true); e != nil {
		return nil, e
	}
	in := service.InstanceVpcInput{Caller: c, InstanceID: p.Get("InstanceId"), VSwitchID: p.Get("VSwitchId"),
		PrivateIP: p.Get("PrivateIpAddress"), VpcID: p.Get("VpcId"), SecurityGroupIDs: p.List("SecurityGroupId"),
		Idempotency: idempotency(req)}
	if err := s.ModifyInstanceVpcAttribute(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}
