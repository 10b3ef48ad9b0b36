package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/flowstore"
	"github.com/palisade-sg/palisade/internal/controlplane/peers"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Flow records (Palisade's own actions, see package service,
// flowrecords.go): agents ship them, tenants read them.

func (s *Service) flowRecordActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"PalisadeReportFlowRecords":   s.reportFlowRecords,
		"PalisadeDescribeFlowRecords": s.describeFlowRecords,
		service.FlowHitsAction:        s.describeFlowHits, // flowhits.go
	}
}

// FlowRecord is one flow record as shipped and read.
type FlowRecord = service.FlowRecord

// decodeRecords reads a JSON array of at most max flow records, one at a
// time: json.Unmarshal made every element before the count was checked,
// and a megabyte of "{}," is some 350,000 records, 450 MB of them.
func decodeRecords(v string, max int) ([]FlowRecord, error) {
	bad := ecserr.InvalidParameter("Records", "a JSON array of flow records")
	dec := json.NewDecoder(strings.NewReader(v))
	t, err := dec.Token()
	if err != nil || t != nil && t != json.Delim('[') {
		return nil, bad
	}
	var out []FlowRecord
	for t != nil && dec.More() { // t nil: null, no records
		if len(out) == max {
			return nil, ecserr.InvalidParameter("Records", fmt.Sprintf("send at most %d records per call", max))
		}
		var r FlowRecord
		if err := dec.Decode(&r); err != nil {
			return nil, bad
		}
		out = append(out, r)
	}
	if t != nil {
		if end, err := dec.Token(); err != nil || end != json.Delim(']') {
			return nil, bad
		}
	}
	if _, err := dec.Token(); err != io.EOF { // nothing after the array
		return nil, bad
	}
	return out, nil
}

type reportFlowRecordsResponse struct {
	rpc.Base
	Accepted int
	Refused  int
}

// reportFlowRecords reads HostName, Records (a JSON array of
// FlowRecord, at most service.MaxFlowRecordsPerReport) and ClientToken
// (the batch's: a retry is kept once).
func (s *Service) reportFlowRecords(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.operator(ctx, req)
	if err != nil {
		return nil, err
	}
	in := service.FlowReportInput{Caller: c, HostName: req.Params.Get("HostName"), Idem: idempotency(req)}
	if v := req.Params.Get("Records"); v != "" {
		if in.Records, err = decodeRecords(v, service.MaxFlowRecordsPerReport); err != nil {
			return nil, err
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
	// PalisadeMissingServers, on an installation of several servers, are
	// those that did not give their records in time: the answer (and
	// TotalCount) lacks theirs.
	PalisadeMissingServers []string `json:",omitempty"`
	// PalisadeCursors, in the answer to a server's own part
	// (peers.LocalParam), continue after each record.
	PalisadeCursors []string `json:",omitempty"`
	// PalisadeServerId, in the answer to a server's own part, names the
	// server that gave it (peers.ServerParam).
	PalisadeServerId string `json:",omitempty"`
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
	local, merged := peers.Local(p), s.Peers != nil && !peers.Local(p)
	self, err := s.Peers.Asked(p)
	if err != nil {
		return nil, err
	}
	tokenParam := p.Get("NextToken")
	if local || merged {
		tokenParam = "" // not an offset: read below
	}
	pg, err := parsePage(rpc.Params{"NextToken": tokenParam, "MaxResults": p.Get("MaxResults"), "PageNumber": "", "PageSize": ""}, 50, 500, 50, 500)
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
	if v := p.Get("Port"); v != "" && v != "0" { // 0: any port, as none given
		n, ok := model.ParsePort(v)
		if !ok {
			return nil, ecserr.InvalidParameter("Port", model.PortWanted)
		}
		in.Port = int(n)
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
	switch {
	case merged:
		return s.describeFlowRecordsMerged(ctx, req, in)
	case local:
		part, err := s.DescribeFlowRecordsPart(ctx, in, p.Get("NextToken"), in.Page.Size)
		if err != nil {
			return nil, err
		}
		out := &describeFlowRecordsResponse{TotalCount: part.Total, PalisadeServerId: self}
		out.FlowRecords.FlowRecord = append([]FlowRecord{}, part.Items...)
		out.PalisadeCursors = part.Cursors
		if part.More {
			out.NextToken = part.Cursors[len(part.Cursors)-1]
		}
		return out, nil
	}
	res, err := s.DescribeFlowRecords(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describeFlowRecordsResponse{TotalCount: res.Total, NextToken: res.NextToken}
	out.FlowRecords.FlowRecord = append([]FlowRecord{}, res.Items...)
	return out, nil
}

// describeFlowRecordsMerged answers with the records of every live server
// of the installation: this one's from its store, the others' asked for
// as the caller (each filters them as for the caller's own call), merged
// newest first by their end, each server's part continuing from its
// position in the NextToken. Every server is asked on every page, so
// TotalCount counts all of them.
func (s *Service) describeFlowRecordsMerged(ctx context.Context, req *rpc.Request, in service.FlowRecordFilter) (any, error) {
	f := s.Peers
	tok, ok := peers.DecodeToken(req.Params.Get("NextToken"))
	if !ok {
		return nil, service.BadFlowToken(req.Params.Get("NextToken"))
	}
	out := &describeFlowRecordsResponse{}
	mine, err := s.DescribeFlowRecordsPart(ctx, in, tok[f.Self].After, in.Page.Size)
	if err != nil {
		if ecserr.Is(err, "InvalidNextToken.Malformed") {
			err = service.BadFlowToken(req.Params.Get("NextToken")) // the token given, not this server's part of it
		}
		return nil, err
	}
	parts := []peers.Part[FlowRecord]{{Server: f.Self, Items: mine.Items, More: mine.More, Total: mine.Total, Cursors: mine.Cursors}}
	theirs, named, missing, err := peers.Gather(ctx, f, req, tok, true, func(a peers.Answer) (peers.Part[FlowRecord], error) { return remoteFlowPart(a, in.Page.Size) })
	if err != nil {
		return nil, err
	}
	parts = append(parts, theirs...)
	out.PalisadeMissingServers = named
	for _, p := range parts {
		out.TotalCount += p.Total
	}
	items, next, more := peers.Merge(tok, parts, in.Page.Size, func(a, b FlowRecord) bool {
		return a.End > b.End || a.End == b.End && a.Start > b.Start
	}, missing...)
	out.FlowRecords.FlowRecord = append([]FlowRecord{}, items...)
	if more {
		out.NextToken = next.Encode()
	}
	return out, nil
}

// remoteFlowPart reads a server's answer to its part of a query.
func remoteFlowPart(a peers.Answer, max int) (peers.Part[FlowRecord], error) {
	p := peers.Part[FlowRecord]{Server: a.Server}
	var r describeFlowRecordsResponse
	if err := peers.Decode(a, &r, &r.PalisadeServerId); err != nil {
		return p, err
	}
	recs := r.FlowRecords.FlowRecord
	if len(r.PalisadeCursors) != len(recs) || len(recs) > max {
		return p, errors.New("an answer without a position for each record")
	}
	for _, c := range r.PalisadeCursors {
		if !flowstore.CursorText(c) {
			return p, errors.New("an answer with a bad position")
		}
	}
	p.Items, p.Cursors, p.More, p.Total = recs, r.PalisadeCursors, r.NextToken != "", r.TotalCount
	return p, nil
}
