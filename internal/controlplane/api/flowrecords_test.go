package api

import (
	"runtime"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestReportFlowRecordsBounded: a report's Records are refused past the
// bound before more than the bound is made of them. json.Unmarshal made
// every element first: one request of a megabyte of "{}," (about 350,000
// records) took some 450 MB of the server's memory before it was refused,
// from anyone holding a host key.
func TestReportFlowRecordsBounded(t *testing.T) {
	const maxAlloc = 16 << 20
	many := "[" + strings.Repeat("{},", 1<<20/3) + "{}]"
	for _, tc := range []struct {
		name     string
		records  string
		wantCode string // "" for success
	}{
		{"a megabyte of empty records", many, "InvalidParameter"},
		{"one past the bound", "[" + strings.Repeat("{},", 1000) + "{}]", "InvalidParameter"},
		{"none", "[]", ""},
		{"null", "null", ""},
		{"at the bound", "[" + strings.Repeat(`{"EniId":"eni-x"},`, 999) + "{}]", ""},
		{"not an array", `{"EniId":"eni-x"}`, "InvalidParameter"},
		{"not records", "[1,2]", "InvalidParameter"},
		{"cut short", "[{},", "InvalidParameter"},
		{"no comma", "[{} {}]", "InvalidParameter"},
		{"more after it", "[{}] []", "InvalidParameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t).operator()
			e.ecs("PalisadeRegisterHost", map[string]string{"HostName": "h1"})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := e.call(ECSVersion, "PalisadeReportFlowRecords", map[string]string{"HostName": "h1", "Records": tc.records})
			runtime.ReadMemStats(&after)
			if tc.wantCode == "" && err != nil || tc.wantCode != "" && (err == nil || ecserr.As(err).Code != tc.wantCode) {
				t.Fatalf("got %v, want %q", err, tc.wantCode)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > maxAlloc {
				t.Errorf("the call allocated %d MiB for %d bytes of Records", n>>20, len(tc.records))
			}
		})
	}
}

// TestFlowRecordsPort: PalisadeDescribeFlowRecords reads Port as the other
// analysis actions do (model.ParsePort, in the same words); 0 or none is
// any port. A port out of range was accepted and matched nothing.
func TestFlowRecordsPort(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		port     string
		wantCode string // "" for success
	}{
		{"", ""}, {"0", ""}, {"22", ""}, {"65535", ""},
		{"-5", "InvalidParameter"}, {"99999", "InvalidParameter"}, {"022", "InvalidParameter"}, {"ssh", "InvalidParameter"},
	} {
		t.Run(tc.port, func(t *testing.T) {
			_, err := e.call(ECSVersion, "PalisadeDescribeFlowRecords", map[string]string{"RegionId": "cn-hangzhou", "Port": tc.port})
			if tc.wantCode == "" && err != nil || tc.wantCode != "" && (err == nil || ecserr.As(err).Code != tc.wantCode ||
				!strings.Contains(ecserr.As(err).Message, model.PortWanted)) {
				t.Fatalf("Port %q: got %v, want %q", tc.port, err, tc.wantCode)
			}
		})
	}
}
