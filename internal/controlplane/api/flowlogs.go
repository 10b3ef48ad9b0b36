package api

import (
	"context"
	"strconv"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// The flow-log actions of VPC 2016-04-28 (see package service,
// flowlogs.go). Their counters and Success are JSON strings, as both SDKs
// read them.

func (s *Service) flowLogActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreateFlowLog":          s.createFlowLog,
		"DescribeFlowLogs":       s.describeFlowLogs,
		"ModifyFlowLogAttribute": s.modifyFlowLogAttribute,
		"ActiveFlowLog":          s.flowLogRef(s.ActiveFlowLog),
		"DeactiveFlowLog":        s.flowLogRef(s.DeactiveFlowLog),
		"DeleteFlowLog":          s.flowLogRef(s.DeleteFlowLog),
		// The account-level switch: always on here.
		"GetFlowLogServiceStatus": s.flowLogService,
		"OpenFlowLogService":      s.flowLogService,
	}
}

type flowLogSuccess struct {
	rpc.Base
	Success string
}

type createFlowLogResponse struct {
	flowLogSuccess
	FlowLogId       string
	ResourceGroupId string
}

// intParam reads an optional integer parameter as the VPC API refuses a
// malformed one.
func intParam(p rpc.Params, name string) (int, error) {
	if !p.Has(name) {
		return 0, nil
	}
	n, err := strconv.Atoi(p.Get(name))
	if err != nil {
		return 0, ecserr.BadRequest("IllegalParam."+name, "%s must be an integer; %q was given.", name, p.Get(name))
	}
	return n, nil
}

func (s *Service) createFlowLog(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	if err := service.CheckResourceGroup(c, p.Get("ResourceGroupId")); err != nil {
		return nil, err
	}
	in := service.CreateFlowLogInput{Caller: c, ResourceType: p.Get("ResourceType"), ResourceID: p.Get("ResourceId"),
		TrafficType: p.Get("TrafficType"), Name: p.Get("FlowLogName"), Description: p.Get("Description"),
		ProjectName: p.Get("ProjectName"), LogStoreName: p.Get("LogStoreName"), IPVersion: p.Get("IpVersion"),
		TrafficPath: p.List("TrafficPath"), Idempotency: idempotency(req)}
	if in.Interval, err = intParam(p, "AggregationInterval"); err != nil {
		return nil, err
	}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	res, err := s.CreateFlowLog(ctx, in)
	if err != nil {
		return nil, err
	}
	return &createFlowLogResponse{flowLogSuccess: flowLogSuccess{Success: "true"}, FlowLogId: res.FlowLogId, ResourceGroupId: service.ResourceGroupID(c.Account)}, nil
}

type flowLogTag struct {
	Key   string
	Value string
}

type flowLogItem struct {
	FlowLogId                  string
	FlowLogName                string
	Description                string
	RegionId                   string
	CreationTime               string
	ResourceType               string
	ResourceId                 string
	TrafficType                string
	ProjectName                string
	LogStoreName               string
	Status                     string
	BusinessStatus             string
	AggregationInterval        int
	ServiceType                string
	ResourceGroupId            string
	IpVersion                  string
	FlowLogDeliverStatus       string
	FlowLogDeliverErrorMessage string
	TrafficPath                struct{ TrafficPathList []string }
	Tags                       struct{ Tag []flowLogTag }
}

type describeFlowLogsResponse struct {
	flowLogSuccess
	TotalCount string
	PageNumber string
	PageSize   string
	FlowLogs   struct{ FlowLog []flowLogItem }
}

func (s *Service) describeFlowLogs(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := parsePage(rpc.Params{"PageNumber": p.Get("PageNumber"), "PageSize": p.Get("PageSize")}, 20, 50, 20, 50)
	if err != nil {
		return nil, err
	}
	in := service.DescribeFlowLogsInput{Caller: c, FlowLogID: p.Get("FlowLogId"), Name: p.Get("FlowLogName"), Description: p.Get("Description"),
		ResourceType: p.Get("ResourceType"), ResourceID: p.Get("ResourceId"), VpcID: p.Get("VpcId"), TrafficType: p.Get("TrafficType"),
		Status: p.Get("Status"), ProjectName: p.Get("ProjectName"), LogStoreName: p.Get("LogStoreName"),
		ResourceGroup: p.Get("ResourceGroupId"), Page: pg}
	for _, t := range p.Structs("Tags") {
		if t.Get("Key") == "" {
			return nil, ecserr.BadRequest("MissingParam.TagKey", "Tags.N.Value was given without its Tags.N.Key.")
		}
		in.Tags = append(in.Tags, model.Tag{Key: t.Get("Key"), Value: t.Get("Value")})
	}
	res, err := s.DescribeFlowLogs(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describeFlowLogsResponse{flowLogSuccess: flowLogSuccess{Success: "true"}, TotalCount: strconv.Itoa(res.Total),
		PageNumber: strconv.Itoa(pg.Number), PageSize: strconv.Itoa(pg.Size)}
	out.FlowLogs.FlowLog = make([]flowLogItem, 0, len(res.Items))
	for _, f := range res.Items {
		out.FlowLogs.FlowLog = append(out.FlowLogs.FlowLog, flowLogOut(f))
	}
	return out, nil
}

func flowLogOut(f *model.FlowLog) flowLogItem {
	it := flowLogItem{FlowLogId: f.ID, FlowLogName: f.Name, Description: f.Description, RegionId: f.Region,
		CreationTime: timeText(f.Created), ResourceType: f.ResourceType, ResourceId: f.ResourceID, TrafficType: f.TrafficType,
		ProjectName: f.ProjectName, LogStoreName: f.LogStoreName, Status: f.Status, BusinessStatus: "Normal",
		AggregationInterval: f.Interval, ResourceGroupId: service.ResourceGroupID(f.Owner), IpVersion: f.IPVersion,
		FlowLogDeliverStatus: "SUCCESS"}
	if it.IpVersion == "" {
		it.IpVersion = "IPv4"
	}
	it.TrafficPath.TrafficPathList = append([]string{}, f.TrafficPath...)
	it.Tags.Tag = []flowLogTag{}
	for _, t := range f.Tags {
		it.Tags.Tag = append(it.Tags.Tag, flowLogTag{t.Key, t.Value})
	}
	return it
}

func (s *Service) modifyFlowLogAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.ModifyFlowLogInput{Caller: c, FlowLogID: p.Get("FlowLogId"), IPVersion: p.Get("IpVersion"), Idempotency: idempotency(req)}
	if p.Has("FlowLogName") {
		v := p.Get("FlowLogName")
		in.Name = &v
	}
	if p.Has("Description") {
		v := p.Get("Description")
		in.Description = &v
	}
	if in.Interval, err = intParam(p, "AggregationInterval"); err != nil {
		return nil, err
	}
	if p.Has("AggregationInterval") && in.Interval == 0 {
		return nil, ecserr.BadRequest("IllegalParam.AggregationInterval", "AggregationInterval must be 1, 5 or 10 (minutes); 0 was given.")
	}
	if err := s.ModifyFlowLogAttribute(ctx, in); err != nil {
		return nil, err
	}
	return &flowLogSuccess{Success: "true"}, nil
}

func (s *Service) flowLogRef(fn func(context.Context, service.FlowLogRef) error) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		c, err := s.callerOf(ctx, req, true)
		if err != nil {
			return nil, err
		}
		if err := fn(ctx, service.FlowLogRef{Caller: c, FlowLogID: req.Params.Get("FlowLogId"), Idempotency: idempotency(req)}); err != nil {
			return nil, err
		}
		return &flowLogSuccess{Success: "true"}, nil
	}
}

type flowLogServiceResponse struct {
	rpc.Base
	Enabled bool
}

func (s *Service) flowLogService(ctx context.Context, req *rpc.Request) (any, error) {
	if _, err := s.callerOf(ctx, req, true); err != nil {
		return nil, err
	}
	return &flowLogServiceResponse{Enabled: true}, nil
}
