package service

import (
	"context"
	"fmt"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// The instance actions on several instances at once (StartInstances,
// StopInstances, RebootInstances, DeleteInstances), RebootInstance and
// DescribeInstanceStatus. Palisade's instances change status at once:
// there is no Starting, Stopping or rebooting phase to wait out.

// MaxBatchInstances bounds InstanceId.N of the batch actions, as ECS does.
const MaxBatchInstances = 100

// checkBatchIDs checks an InstanceId.N list: 1 to MaxBatchInstances IDs,
// none twice.
func checkBatchIDs(ids []string) error {
	if len(ids) == 0 {
		return ecserr.MissingParameter("InstanceId.N")
	}
	if err := CheckFilterItems("InstanceId.N", len(ids), MaxBatchInstances); err != nil {
		return err
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return ecserr.InvalidParameter("InstanceId.N", fmt.Sprintf("%s is given more than once", model.Clip(id)))
		}
		seen[id] = true
	}
	return nil
}

// BatchInput names instances for StartInstances, StopInstances and
// RebootInstances.
type BatchInput struct {
	Caller      Caller
	InstanceIDs []string
	// SuccessFirst (BatchOptimization=SuccessFirst) acts on every instance
	// it can and answers each one's outcome; otherwise (AllTogether) one
	// instance that cannot be acted on fails the call and none changes.
	SuccessFirst bool
	DryRun       bool   // check everything, change nothing: answers DryRunOperation
	StoppedMode  string // StopInstances': StopCharging or KeepCharging ("": KeepCharging)
	Idempotency  `json:"-"`
}

// InstanceOutcome is one instance's InstanceResponse.
type InstanceOutcome struct {
	InstanceID        string
	Code, Message     string // "200" and "success" when done, else the ECS error
	Previous, Current string
}

// transition is a status change: an instance in from goes to to.
type transition struct{ action, from, to string }

var (
	startTransition  = transition{"StartInstances", model.StatusStopped, model.StatusRunning}
	stopTransition   = transition{"StopInstances", model.StatusRunning, model.StatusStopped}
	rebootTransition = transition{"RebootInstances", model.StatusRunning, model.StatusRunning}
)

// check refuses an instance not in tr.from.
func (tr transition) check(inst *model.Instance) error {
	if inst.Status != tr.from {
		return ecserr.Forbidden("IncorrectInstanceStatus", "Instance %s is %s; %s needs it %s.", inst.ID, inst.Status, tr.action, tr.from)
	}
	return nil
}

// move puts a checked instance in tr.to; a stop keeps mode (StoppedMode).
func (tr transition) move(inst *model.Instance, mode string) {
	inst.Status = tr.to
	setStoppedMode(inst, mode)
}

// batch applies tr to the instances of in, in one write (none at all for
// a reboot, which changes no record).
func (s *Service) batch(ctx context.Context, in BatchInput, tr transition) ([]InstanceOutcome, error) {
	c := in.Caller
	if err := checkBatchIDs(in.InstanceIDs); err != nil {
		return nil, err
	}
	run := func(tx store.ReadTx, put func(*model.Instance) error) ([]InstanceOutcome, error) {
		out := make([]InstanceOutcome, 0, len(in.InstanceIDs))
		for _, id := range in.InstanceIDs {
			o := InstanceOutcome{InstanceID: id}
			inst, err := GetInstance(tx, c, id)
			if err == nil {
				o.Previous = inst.Status
				if err = tr.check(inst); err == nil && put != nil && !in.DryRun {
					tr.move(inst, in.StoppedMode)
					err = put(inst)
				}
			}
			if err != nil {
				if e := ecserr.As(err); e.Status < 500 && in.SuccessFirst && !in.DryRun {
					o.Code, o.Message, o.Current = e.Code, e.Message, o.Previous
					out = append(out, o)
					continue
				}
				return nil, err
			}
			o.Code, o.Message, o.Current = "200", "success", tr.to
			out = append(out, o)
		}
		if in.DryRun {
			return nil, dryRunPassed()
		}
		return out, nil
	}
	if tr.from == tr.to {
		return View(s, ctx, func(tx store.ReadTx) ([]InstanceOutcome, error) { return run(tx, nil) })
	}
	return Update(s, ctx, c, tr.action, in.Idempotency, in, func(tx store.Tx) ([]InstanceOutcome, error) {
		return run(tx, func(inst *model.Instance) error { return PutInstance(tx, inst) })
	})
}

// StartInstances starts stopped instances.
func (s *Service) StartInstances(ctx context.Context, in BatchInput) ([]InstanceOutcome, error) {
	return s.batch(ctx, in, startTransition)
}

// StopInstances stops running instances.
func (s *Service) StopInstances(ctx context.Context, in BatchInput) ([]InstanceOutcome, error) {
	return s.batch(ctx, in, stopTransition)
}

// RebootInstances reboots running instances: their status, addresses and
// policy stay as they are, so nothing is written.
func (s *Service) RebootInstances(ctx context.Context, in BatchInput) ([]InstanceOutcome, error) {
	return s.batch(ctx, in, rebootTransition)
}

// RebootInstance reboots one running instance; a stopped one is refused
// (IncorrectInstanceStatus), as ECS refuses it.
func (s *Service) RebootInstance(ctx context.Context, c Caller, id string, dryRun bool) error {
	if id == "" {
		return ecserr.MissingParameter("InstanceId")
	}
	tr := rebootTransition
	tr.action = "RebootInstance"
	_, err := s.batch(ctx, BatchInput{Caller: c, InstanceIDs: []string{id}, DryRun: dryRun}, tr)
	return err
}

// DeleteInstancesInput names instances to delete together.
type DeleteInstancesInput struct {
	Caller      Caller
	InstanceIDs []string
	Force       bool // delete them whatever their status
	DryRun      bool
	Idempotency `json:"-"`
}

// DeleteInstances deletes instances, all or none: each stopped (any with
// Force), as DeleteInstance deletes one.
func (s *Service) DeleteInstances(ctx context.Context, in DeleteInstancesInput) error {
	c := in.Caller
	if err := checkBatchIDs(in.InstanceIDs); err != nil {
		return err
	}
	_, err := Update(s, ctx, c, "DeleteInstances", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		for _, id := range in.InstanceIDs {
			inst, err := GetInstance(tx, c, id)
			if err != nil {
				return struct{}{}, err
			}
			if err := deleteInstance(tx, c, inst, in.Force); err != nil {
				return struct{}{}, err
			}
		}
		if in.DryRun { // every check passed; the error rolls the write back
			return struct{}{}, dryRunPassed()
		}
		return struct{}{}, nil
	})
	return err
}

// InstanceStatus is one item of DescribeInstanceStatus.
type InstanceStatus struct{ InstanceID, Status string }

// DescribeInstanceStatusInput filters DescribeInstanceStatus: the
// caller's instances of its region, narrowed to IDs and a zone when given.
type DescribeInstanceStatusInput struct {
	Caller Caller
	IDs    []string // InstanceId.N, at most MaxBatchInstances
	ZoneID string
	Page   Page
}

// DescribeInstanceStatus lists the status of the caller's instances in
// its region, newest first, one page at a time.
func (s *Service) DescribeInstanceStatus(ctx context.Context, in DescribeInstanceStatusInput) (Listing[InstanceStatus], error) {
	c := in.Caller
	if err := CheckFilterItems("InstanceId.N", len(in.IDs), MaxBatchInstances); err != nil {
		return Listing[InstanceStatus]{}, err
	}
	f := DescribeInstancesInput{Caller: c, IDs: in.IDs, ZoneID: in.ZoneID}
	return View(s, ctx, func(tx store.ReadTx) (Listing[InstanceStatus], error) {
		insts, err := matchedInstances(tx, &f)
		if err != nil {
			return Listing[InstanceStatus]{}, err
		}
		out := Listing[InstanceStatus]{Total: len(insts), Items: []InstanceStatus{}}
		paged, next := paginate(insts, in.Page)
		out.NextToken = next
		for _, i := range paged {
			out.Items = append(out.Items, InstanceStatus{InstanceID: i.ID, Status: i.Status})
		}
		return out, nil
	})
}
