package apitest

import (
	"regexp"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

var flID = regexp.MustCompile(`^fl-[a-z0-9]{20}$`)

func createFlowLog(c *vpc.Client, typ, id, traffic string, edit func(r *vpc.CreateFlowLogRequest)) (*vpc.CreateFlowLogResponse, error) {
	r := vpc.CreateCreateFlowLogRequest()
	r.ResourceType, r.ResourceId, r.TrafficType = typ, id, traffic
	if edit != nil {
		edit(r)
	}
	return c.CreateFlowLog(r)
}

func describeFlowLogs(t testing.TB, c *vpc.Client, edit func(r *vpc.DescribeFlowLogsRequest)) *vpc.DescribeFlowLogsResponse {
	t.Helper()
	r := vpc.CreateDescribeFlowLogsRequest()
	if edit != nil {
		edit(r)
	}
	return must(c.DescribeFlowLogs(r))(t)
}

// TestFlowLogLifecycle drives the six flow-log actions through the
// official SDK: the shapes it decodes (string counters), each status, the
// filters.
func TestFlowLogLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.vpc
	v := createVPC(t, c, "192.168.0.0/16")
	w := createVSwitch(t, c, v, "192.168.1.0/24")
	g := createGroup(t, e.ecs, "web", v, "")
	inst := runInstance(t, e.ecs, w, g)
	eni := "eni-" + inst[len("i-"):] // the instance's primary ENI

	created := must(createFlowLog(c, "VPC", v, "All", func(r *vpc.CreateFlowLogRequest) {
		r.FlowLogName, r.Description, r.AggregationInterval = "all-of-prod", "every flow", "1"
		r.Tag = &[]vpc.CreateFlowLogTag{{Key: "env", Value: "prod"}}
	}))(t)
	if !flID.MatchString(created.FlowLogId) || created.Success != "true" || created.ResourceGroupId == "" {
		t.Fatalf("CreateFlowLog decoded %+v", created)
	}
	drops := must(createFlowLog(c, "NetworkInterface", eni, "Drop", nil))(t).FlowLogId
	must(createFlowLog(c, "VSwitch", w, "Allow", nil))(t)

	all := describeFlowLogs(t, c, nil)
	if all.TotalCount != "3" || all.PageNumber != "1" || all.PageSize != "20" || len(all.FlowLogs.FlowLog) != 3 || all.Success != "true" {
		t.Fatalf("DescribeFlowLogs: %+v", all)
	}
	got := describeFlowLogs(t, c, func(r *vpc.DescribeFlowLogsRequest) { r.FlowLogId = created.FlowLogId }).FlowLogs.FlowLog
	if len(got) != 1 {
		t.Fatalf("DescribeFlowLogs FlowLogId=%s: %+v", created.FlowLogId, got)
	}
	f := got[0]
	if f.FlowLogName != "all-of-prod" || f.Description != "every flow" || f.ResourceType != "VPC" || f.ResourceId != v || f.TrafficType != "All" ||
		f.Status != "Active" || f.AggregationInterval != 1 || f.RegionId != region || len(f.Tags.Tag) != 1 || f.Tags.Tag[0].Key != "env" {
		t.Errorf("flow log decoded as %+v", f)
	}
	recent(t, "CreationTime", f.CreationTime)
	for name, edit := range map[string]func(r *vpc.DescribeFlowLogsRequest){
		"ResourceType=NetworkInterface": func(r *vpc.DescribeFlowLogsRequest) { r.ResourceType = "NetworkInterface" },
		"ResourceId=eni":                func(r *vpc.DescribeFlowLogsRequest) { r.ResourceId = eni },
		"TrafficType=Drop":              func(r *vpc.DescribeFlowLogsRequest) { r.TrafficType = "Drop" },
	} {
		if got := describeFlowLogs(t, c, edit).FlowLogs.FlowLog; len(got) != 1 || got[0].FlowLogId != drops {
			t.Errorf("DescribeFlowLogs %s: %+v", name, got)
		}
	}
	if got := describeFlowLogs(t, c, func(r *vpc.DescribeFlowLogsRequest) { r.VpcId = v }); got.TotalCount != "3" {
		t.Errorf("DescribeFlowLogs VpcId: every flow log is in the VPC, got %s", got.TotalCount)
	}
	if got := describeFlowLogs(t, c, func(r *vpc.DescribeFlowLogsRequest) {
		r.Tags = &[]vpc.DescribeFlowLogsTags{{Key: "env", Value: "prod"}}
	}); got.TotalCount != "1" {
		t.Errorf("DescribeFlowLogs Tags.1=env:prod: %s", got.TotalCount)
	}
	if got := describeFlowLogs(t, c, func(r *vpc.DescribeFlowLogsRequest) { r.PageSize, r.PageNumber = "2", "2" }); got.TotalCount != "3" || len(got.FlowLogs.FlowLog) != 1 {
		t.Errorf("DescribeFlowLogs page 2 of size 2: %+v", got)
	}

	mr := vpc.CreateModifyFlowLogAttributeRequest()
	mr.FlowLogId, mr.FlowLogName, mr.AggregationInterval = drops, "drops", "5"
	if res := must(c.ModifyFlowLogAttribute(mr))(t); res.Success != "true" {
		t.Errorf("ModifyFlowLogAttribute: %+v", res)
	}
	if f := describeFlowLogs(t, c, func(r *vpc.DescribeFlowLogsRequest) { r.FlowLogId = drops }).FlowLogs.FlowLog[0]; f.FlowLogName != "drops" || f.AggregationInterval != 5 || f.Status != "Active" {
		t.Errorf("after ModifyFlowLogAttribute: %+v", f)
	}

	dr := vpc.CreateDeactiveFlowLogRequest()
	dr.FlowLogId = drops
	must(c.DeactiveFlowLog(dr))(t)
	if f := describeFlowLogs(t, c, func(r *vpc.DescribeFlowLogsRequest) { r.FlowLogId = drops }).FlowLogs.FlowLog[0]; f.Status != "Inactive" {
		t.Errorf("after DeactiveFlowLog: %s", f.Status)
	}
	dr = vpc.CreateDeactiveFlowLogRequest()
	dr.FlowLogId = drops
	_, err := c.DeactiveFlowLog(dr)
	wantErr(t, err, 400, "IncorrectStatus.flowlog")
	ar := vpc.CreateActiveFlowLogRequest()
	ar.FlowLogId = drops
	must(c.ActiveFlowLog(ar))(t)
	ar = vpc.CreateActiveFlowLogRequest()
	ar.FlowLogId = drops
	_, err = c.ActiveFlowLog(ar)
	wantErr(t, err, 400, "IncorrectStatus.flowlog")

	del := vpc.CreateDeleteFlowLogRequest()
	del.FlowLogId = drops
	must(c.DeleteFlowLog(del))(t)
	if got := describeFlowLogs(t, c, nil); got.TotalCount != "2" {
		t.Errorf("after DeleteFlowLog: %s flow logs", got.TotalCount)
	}
	del = vpc.CreateDeleteFlowLogRequest()
	del.FlowLogId = drops
	_, err = c.DeleteFlowLog(del)
	wantErr(t, err, 404, "ResourceNotFound.FlowLog")

	if st := must(c.GetFlowLogServiceStatus(vpc.CreateGetFlowLogServiceStatusRequest()))(t); !st.Enabled {
		t.Errorf("GetFlowLogServiceStatus: %+v", st)
	}
}

// TestFlowLogErrors: bad input gets the VPC code and changes nothing; a
// tenant neither sees nor touches another's flow logs, nor covers another's
// resources.
func TestFlowLogErrors(t *testing.T) {
	e := newEnv(t)
	c := e.vpc
	v := createVPC(t, c, "192.168.0.0/16")
	w := createVSwitch(t, c, v, "192.168.1.0/24")
	mine := must(createFlowLog(c, "VPC", v, "All", nil))(t).FlowLogId

	for _, tc := range []struct {
		name        string
		typ, id, tr string
		edit        func(r *vpc.CreateFlowLogRequest)
		status      int
		code        string
	}{
		{"no ResourceType", "", v, "All", nil, 400, "MissingParameter"},
		{"no TrafficType", "VPC", v, "", nil, 400, "MissingParameter"},
		{"bad ResourceType", "Instance", v, "All", nil, 400, "IllegalParam.ResourceType"},
		{"bad TrafficType", "VPC", v, "Everything", nil, 400, "IllegalParam.TrafficType"},
		{"bad interval", "VPC", v, "All", func(r *vpc.CreateFlowLogRequest) { r.AggregationInterval = "3" }, 400, "IllegalParam.AggregationInterval"},
		{"URL name", "VPC", v, "All", func(r *vpc.CreateFlowLogRequest) { r.FlowLogName = "http://x" }, 400, "IllegalParam.FlowLogName"},
		{"bad project", "VPC", v, "All", func(r *vpc.CreateFlowLogRequest) { r.ProjectName = "A_b" }, 400, "IllegalParam.ProjectName"},
		{"bad IpVersion", "VPC", v, "All", func(r *vpc.CreateFlowLogRequest) { r.IpVersion = "IPv5" }, 400, "IllegalParam.IpVersion"},
		{"repeated TrafficPath", "VPC", v, "All", func(r *vpc.CreateFlowLogRequest) { r.TrafficPath = &[]string{"all", "all"} }, 400, "IllegalParam.TrafficPath"},
		{"unknown VPC", "VPC", "vpc-nosuchthing", "All", nil, 404, "ResourceNotFound.VPC"},
		{"type and ID disagree", "VSwitch", v, "All", nil, 404, "ResourceNotFound.VSwitch"},
		{"unknown ENI", "NetworkInterface", "eni-nosuchthing", "All", nil, 404, "ResourceNotFound.NetworkInterface"},
	} {
		_, err := createFlowLog(c, tc.typ, tc.id, tc.tr, tc.edit)
		if code, status, _ := apiError(err); code != tc.code || status != tc.status {
			t.Errorf("%s: got %d %s (%v), want %d %s", tc.name, status, code, err, tc.status, tc.code)
		}
	}
	if got := describeFlowLogs(t, c, nil); got.TotalCount != "1" {
		t.Errorf("refused creates left %s flow logs, want 1", got.TotalCount)
	}

	other := e.newAccount(t, "other")
	// Another tenant's resources are unknown to it, and so are its flow logs.
	_, err := createFlowLog(other.vpc, "VSwitch", w, "All", nil)
	wantErr(t, err, 404, "ResourceNotFound.VSwitch")
	if got := describeFlowLogs(t, other.vpc, nil); got.TotalCount != "0" {
		t.Errorf("another tenant sees %s flow logs", got.TotalCount)
	}
	del := vpc.CreateDeleteFlowLogRequest()
	del.FlowLogId = mine
	_, err = other.vpc.DeleteFlowLog(del)
	wantErr(t, err, 404, "ResourceNotFound.FlowLog")
	dr := vpc.CreateDeactiveFlowLogRequest()
	dr.FlowLogId = mine
	_, err = other.vpc.DeactiveFlowLog(dr)
	wantErr(t, err, 404, "ResourceNotFound.FlowLog")
	if f := describeFlowLogs(t, c, nil).FlowLogs.FlowLog[0]; f.Status != "Active" {
		t.Errorf("another tenant's calls changed the flow log: %+v", f)
	}
}
