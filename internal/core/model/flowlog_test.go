package model_test

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestFlowLogCovers(t *testing.T) {
	for _, tc := range []struct {
		name          string
		f             model.FlowLog
		eni, vsw, vpc string
		action        string
		want          bool
	}{
		{"its VPC, any action", model.FlowLog{ResourceType: model.FlowLogVPC, ResourceID: "vpc-a", TrafficType: model.TrafficAll, Status: model.FlowLogActive}, "eni-1", "vsw-1", "vpc-a", "REJECT", true},
		{"another VPC", model.FlowLog{ResourceType: model.FlowLogVPC, ResourceID: "vpc-b", TrafficType: model.TrafficAll, Status: model.FlowLogActive}, "eni-1", "vsw-1", "vpc-a", "ACCEPT", false},
		{"its vSwitch", model.FlowLog{ResourceType: model.FlowLogVSwitch, ResourceID: "vsw-1", TrafficType: model.TrafficAll, Status: model.FlowLogActive}, "eni-1", "vsw-1", "vpc-a", "ACCEPT", true},
		{"its ENI", model.FlowLog{ResourceType: model.FlowLogENI, ResourceID: "eni-1", TrafficType: model.TrafficAll, Status: model.FlowLogActive}, "eni-1", "vsw-1", "vpc-a", "ACCEPT", true},
		{"an ID of another type", model.FlowLog{ResourceType: model.FlowLogENI, ResourceID: "vsw-1", TrafficType: model.TrafficAll, Status: model.FlowLogActive}, "eni-1", "vsw-1", "vpc-a", "ACCEPT", false},
		{"Allow records accepts", model.FlowLog{ResourceType: model.FlowLogVPC, ResourceID: "vpc-a", TrafficType: model.TrafficAllow, Status: model.FlowLogActive}, "eni-1", "vsw-1", "vpc-a", "ACCEPT", true},
		{"Allow skips drops", model.FlowLog{ResourceType: model.FlowLogVPC, ResourceID: "vpc-a", TrafficType: model.TrafficAllow, Status: model.FlowLogActive}, "eni-1", "vsw-1", "vpc-a", "REJECT", false},
		{"Drop records drops", model.FlowLog{ResourceType: model.FlowLogVPC, ResourceID: "vpc-a", TrafficType: model.TrafficDrop, Status: model.FlowLogActive}, "eni-1", "vsw-1", "vpc-a", "REJECT", true},
		{"Drop skips accepts", model.FlowLog{ResourceType: model.FlowLogVPC, ResourceID: "vpc-a", TrafficType: model.TrafficDrop, Status: model.FlowLogActive}, "eni-1", "vsw-1", "vpc-a", "ACCEPT", false},
		{"inactive covers nothing", model.FlowLog{ResourceType: model.FlowLogVPC, ResourceID: "vpc-a", TrafficType: model.TrafficAll, Status: model.FlowLogInactive}, "eni-1", "vsw-1", "vpc-a", "ACCEPT", false},
	} {
		if got := tc.f.Covers(tc.eni, tc.vsw, tc.vpc, tc.action); got != tc.want {
			t.Errorf("%s: Covers = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFlowLogFields(t *testing.T) {
	for _, tc := range []struct {
		interval int
		code     string
	}{{0, ""}, {1, ""}, {5, ""}, {10, ""}, {2, "IllegalParam.AggregationInterval"}, {-1, "IllegalParam.AggregationInterval"}, {600, "IllegalParam.AggregationInterval"}} {
		_, e := model.FlowLogInterval(tc.interval)
		if code := codeOf(e); code != tc.code {
			t.Errorf("interval %d: %q, want %q", tc.interval, code, tc.code)
		}
	}
	for _, tc := range []struct {
		name, desc, project, store string
		code                       string
	}{
		{"a", "", "", "", ""},
		{"http://x", "", "", "", "IllegalParam.FlowLogName"},
		{"", "https://x", "", "", "IllegalParam.Description"},
		{"", "", "my-project", "my_store", ""},
		{"", "", "My-Project", "", "IllegalParam.ProjectName"},
		{"", "", "", "-store", "IllegalParam.LogStoreName"},
		{"bad\x00name", "", "", "", "IllegalParam.FlowLogName"},
	} {
		if code := codeOf(model.ValidateFlowLogText(tc.name, tc.desc, tc.project, tc.store)); code != tc.code {
			t.Errorf("%+v: %q, want %q", tc, code, tc.code)
		}
	}
}
