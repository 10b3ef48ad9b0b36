package api

import (
	"context"
	"encoding/json"
	"net/netip"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// Flow records (Palisade's own actions, see package service,
// flowrecords.go): agents ship them, tenants read them.

func (s *Service) flowRecordActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"PalisadeReportFlowRecords":   s.reportFlowRecords,
		"PalisadeDescribeFlowRecords": s.describeFlowRecords,
	}
}

// FlowRecord is one flow record as shipped and read.
type FlowRecord = service.FlowRecord

type reportFlowRecordsResponse struct {
	rpc.Base
	Accepted int
	Refused  int
}

// reportFlowRecords reads HostName and Records (a JSON array of
// FlowRecord, at most service.MaxFlowRecordsPerReport).
func (s *Service) reportFlowRecords(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.operator(ctx, req)
	if err != nil {
		return nil, err
	}
	in := service.FlowReportInput{Caller: c, HostName: req.Params.Get("HostName")}
	if v := req.Params.Get("Records"); v != "" {
		if err := json.Unmarshal([]byte(v), &in.Records); err != nil {
			return nil, ecserr.InvalidParameter("Records", "a JSON array of flow records")
		}
	}
	res, err := s.ReportFlowRecords(ctx, in)
	if err != nil {
		return nil, err
	}
	return &reportFlowRecordsResponse{Accepted: res.Accepted, Refused: res.Refused}, nil
}

type describeFlowRecordsResponse struct {
	rpc.Base
	TotalCount  int
	NextToken   string
	FlowRecords struct{ FlowRecord []FlowRecord }
}

// describeFlowRecords reads InstanceId, NetworkInterfaceId,
// SecurityGroupId, SecurityGroupRuleId, Verdict (ACCEPT or REJECT: "Action" names the call), Address, Port, StartTime
// and EndTime (ECS times, 2006-01-02T15:04:05Z), NextToken and MaxResults
// (default 50, at most 500).
func (s *Service) describeFlowRecords(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := parsePage(rpc.Params{"NextToken": p.Get("NextToken"), "MaxResults": p.Get("MaxResults"), "PageNumber": "", "PageSize": ""}, 50, 500, 50, 500)
	if err != nil {
		return nil, err
	}
	if !pg.Tokens {
		pg = service.Page{Tokens: true, Size: 50}
	}
	in := service.FlowRecordFilter{Caller: c, InstanceID: p.Get("InstanceId"), NetworkInterfaceID: p.Get("NetworkInterfaceId"),
		GroupID: p.Get("SecurityGroupId"), RuleID: p.Get("SecurityGroupRuleId"), Action: p.Get("Verdict"), Page: pg}
	if v := p.Get("Address"); v != "" {
		if in.Address, err = netip.ParseAddr(v); err != nil {
			return nil, ecserr.InvalidParameter("Address", "an IPv4 or IPv6 address")
		}
	}
	var e *ecserr.Error
	if in.Port, e = p.Int("Port", 0); e != nil {
		return nil, e
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"StartTime", &in.Since}, {"EndTime", &in.Until}} {
		if v := p.Get(t.name); v != "" {
			if *t.dst, err = time.Parse(time.RFC3339, v); err != nil {
				return nil, ecserr.InvalidParameter(t.name, "a time such as 2026-01-02T15:04:05Z")
			}
		}
	}
	res, err := s.DescribeFlowRecords(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describeFlowRecordsResponse{TotalCount: res.Total, NextToken: res.NextToken}
	out.FlowRecords.FlowRecord = append([]FlowRecord{}, res.Items...)
	return out, nil
}
