package server

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/metrics"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
)

// TestThrottledFloodIsSampled: of a flood of throttled calls, the log and
// the trail keep the first of each key, action and second, so that the
// flood does not make the server write for it; other refusals and writes
// are all kept.
func TestThrottledFloodIsSampled(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	type call struct {
		key, action, code string
		at                time.Duration // after t0
	}
	for _, tc := range []struct {
		name  string
		calls []call
		want  int // events and log lines
	}{
		{"a flood of one key and action in one second", []call{
			{"k1", "DescribeSecurityGroupAttribute", "Throttling.User", 0},
			{"k1", "DescribeSecurityGroupAttribute", "Throttling.User", 100 * time.Millisecond},
			{"k1", "DescribeSecurityGroupAttribute", "Throttling.User", 900 * time.Millisecond},
		}, 1},
		{"each second, action and key has its first", []call{
			{"k1", "AuthorizeSecurityGroup", "Throttling.User", 0},
			{"k1", "AuthorizeSecurityGroup", "Throttling.User", time.Second},
			{"k1", "RevokeSecurityGroup", "Throttling.User", time.Second},
			{"k2", "RevokeSecurityGroup", "Throttling.User", time.Second},
			{"k2", "PalisadeAudit", "Throttling", time.Second},
			{"k2", "PalisadeAudit", "Throttling", time.Second},
		}, 5},
		{"other refusals and writes are all kept", []call{
			{"k1", "AuthorizeSecurityGroup", "InvalidParameter", 0},
			{"k1", "AuthorizeSecurityGroup", "InvalidParameter", 0},
			{"k1", "AuthorizeSecurityGroup", "", 0},
			{"k1", "AuthorizeSecurityGroup", "", 0},
		}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := trail.Open(filepath.Join(t.TempDir(), "events"), trail.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			var logged bytes.Buffer
			obs := &observer{log: slog.New(slog.NewTextHandler(&logged, nil)), trail: tr,
				accounts: &accountCache{lookup: func(context.Context, string) (string, bool) { return "1", true }, m: map[string]string{}}}
			for _, c := range tc.calls {
				status := 200
				if c.code != "" {
					status = 400
				}
				obs.observe(&rpc.Call{Request: &rpc.Request{Action: c.action, Version: "2014-05-26", AccessKeyID: c.key, RequestID: rpc.NewRequestID()},
					Start: t0.Add(c.at), Status: status, Code: c.code, Method: "POST"})
			}
			tr.Flush(context.Background())
			if got := tr.Stats().Recorded; got != uint64(tc.want) {
				t.Errorf("trail events: %d, want %d", got, tc.want)
			}
			if got := strings.Count(logged.String(), "msg=request"); got != tc.want {
				t.Errorf("log lines: %d, want %d", got, tc.want)
			}
		})
	}
}

// TestReportsLogAtDebug: an agent's accepted status report (one per host
// per change applied) is logged only at debug, a refused one and every
// other request at info; the metrics count them all.
func TestReportsLogAtDebug(t *testing.T) {
	calls := []struct {
		action, code string
	}{
		{"PalisadeReportHostStatus", ""},
		{"PalisadeReportHostStatus", ""},
		{"PalisadeReportHostStatus", "Forbidden.HostMismatch"},
		{"PalisadeWatchChanges", ""},
		{"DescribeSecurityGroups", ""},
	}
	for _, tc := range []struct {
		level slog.Level
		want  int // log lines
	}{
		{slog.LevelInfo, 3},
		{slog.LevelDebug, 5},
	} {
		t.Run(tc.level.String(), func(t *testing.T) {
			var logged bytes.Buffer
			met := metrics.New([]string{"PalisadeReportHostStatus", "PalisadeWatchChanges", "DescribeSecurityGroups"}, nil, metrics.Sources{})
			obs := &observer{log: slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: tc.level})), metrics: met,
				accounts: &accountCache{lookup: func(context.Context, string) (string, bool) { return "1", true }, m: map[string]string{}}}
			for _, c := range calls {
				status := 200
				if c.code != "" {
					status = 403
				}
				obs.observe(&rpc.Call{Request: &rpc.Request{Action: c.action, Version: "2014-05-26", AccessKeyID: "k1", RequestID: rpc.NewRequestID()},
					Start: time.Now(), Status: status, Code: c.code, Method: "POST"})
			}
			if got := strings.Count(logged.String(), "msg=request"); got != tc.want {
				t.Errorf("log lines: %d, want %d:\n%s", got, tc.want, logged.String())
			}
			if got := strings.Count(logged.String(), "action=PalisadeReportHostStatus code=OK"); tc.level == slog.LevelInfo && got != 0 {
				t.Errorf("accepted reports logged at info: %d", got)
			}
			families, err := met.Registry().Gather()
			if err != nil {
				t.Fatal(err)
			}
			var reports float64
			for _, f := range families {
				if f.GetName() != "palisade_api_requests_total" {
					continue
				}
				for _, m := range f.GetMetric() {
					for _, l := range m.GetLabel() {
						if l.GetName() == "action" && l.GetValue() == "PalisadeReportHostStatus" {
							reports += m.GetCounter().GetValue()
						}
					}
				}
			}
			if reports != 3 {
				t.Errorf("palisade_api_requests_total of the reports: %v, want 3", reports)
			}
		})
	}
}

// TestLogLineBounded: the request log line of a call refused before its
// route was known (an unknown Action or Version, a method the API does
// not take) names what the client sent, but only the start of it: a
// client, signed or not, must not get a megabyte written to the log per
// request.
func TestLogLineBounded(t *testing.T) {
	huge := strings.Repeat("A", 500_000)
	for _, tc := range []struct {
		name                    string
		action, version, method string
	}{
		{"action", huge, "2014-05-26", "POST"},
		{"version", "DescribeRegions", huge, "POST"},
		{"method", "", "", huge},
		{"all", huge, huge, huge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged bytes.Buffer
			obs := &observer{log: slog.New(slog.NewTextHandler(&logged, nil)),
				accounts: &accountCache{lookup: func(context.Context, string) (string, bool) { return "", false }, m: map[string]string{}}}
			obs.observe(&rpc.Call{Request: &rpc.Request{Action: tc.action, Version: tc.version, RequestID: rpc.NewRequestID()},
				Start: time.Now(), Status: 404, Code: "InvalidAction.NotFound", Method: tc.method})
			if n := logged.Len(); n == 0 || n > 2048 {
				t.Errorf("log line of %d bytes, want 1 to 2048:\n%.300s", n, logged.String())
			}
		})
	}
}

// TestUnverifiedFloodIsSampled: of the calls refused before a signature
// verified (no key: anyone who reaches the port can send them), the log
// and the trail keep the first of each client address (an IPv6 /64) and
// code in each second. A flood of them would otherwise have the server
// write an event for each, fill the trail's queue (whose overflow drops
// the tenants' own events) and prune their history by count. Refusals of
// a verified key are all kept.
func TestUnverifiedFloodIsSampled(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	type call struct {
		key, from, code string
		at              time.Duration // after t0
	}
	for _, tc := range []struct {
		name  string
		calls []call
		want  int // events and log lines
	}{
		{"a flood from one address", []call{
			{"", "192.0.2.1:1000", "SignatureDoesNotMatch", 0},
			{"", "192.0.2.1:1001", "SignatureDoesNotMatch", 10 * time.Millisecond},
			{"", "192.0.2.1:1002", "SignatureDoesNotMatch", 900 * time.Millisecond},
		}, 1},
		{"each second, address and code has its first", []call{
			{"", "192.0.2.1:1000", "SignatureDoesNotMatch", 0},
			{"", "192.0.2.1:1000", "SignatureDoesNotMatch", time.Second},
			{"", "192.0.2.1:1000", "MissingParameter", time.Second},
			{"", "198.51.100.2:1000", "MissingParameter", time.Second},
		}, 4},
		{"one IPv6 /64", []call{
			{"", "[2001:db8::1]:1000", "InvalidAccessKeyId.NotFound", 0},
			{"", "[2001:db8::2]:1000", "InvalidAccessKeyId.NotFound", 0},
			{"", "[2001:db8:0:1::2]:1000", "InvalidAccessKeyId.NotFound", 0},
		}, 2},
		{"a verified key's refusals are all kept", []call{
			{"k1", "192.0.2.1:1000", "InvalidParameter", 0},
			{"k1", "192.0.2.1:1000", "InvalidParameter", 0},
			{"k1", "192.0.2.1:1000", "InvalidParameter", 0},
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := trail.Open(filepath.Join(t.TempDir(), "events"), trail.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			var logged bytes.Buffer
			obs := &observer{log: slog.New(slog.NewTextHandler(&logged, nil)), trail: tr,
				accounts: &accountCache{lookup: func(context.Context, string) (string, bool) { return "1", true }, m: map[string]string{}}}
			for _, c := range tc.calls {
				obs.observe(&rpc.Call{Request: &rpc.Request{Action: "DescribeSecurityGroups", Version: "2014-05-26", AccessKeyID: c.key, RequestID: rpc.NewRequestID()},
					Start: t0.Add(c.at), Status: 400, Code: c.code, Method: "POST", RemoteAddr: c.from})
			}
			tr.Flush(context.Background())
			if got := tr.Stats().Recorded; got != uint64(tc.want) {
				t.Errorf("trail events: %d, want %d", got, tc.want)
			}
			if got := strings.Count(logged.String(), "msg=request"); got != tc.want {
				t.Errorf("log lines: %d, want %d", got, tc.want)
			}
		})
	}
}
