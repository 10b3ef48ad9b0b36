package metrics

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

func observe(m *Metrics, action, code string, d time.Duration) {
	m.Observe(&rpc.Call{Request: &rpc.Request{Action: action}, Code: code, Duration: d})
}

func TestObserve(t *testing.T) {
	now := time.Now()
	m := New([]string{"CreateSecurityGroup", "PalisadeAudit"}, []string{"PalisadeAudit"}, Sources{
		Revision: func(context.Context) (int64, error) { return 40, nil },
		Hosts: func() []Host {
			return []Host{{Name: "h1", Applied: 38, Seen: now}, {Name: "gone", Applied: 1, Seen: now.Add(-time.Hour)}}
		},
		History: func() History { return History{Changes: 12, Bytes: 34567} },
	})
	observe(m, "CreateSecurityGroup", "", time.Millisecond)
	observe(m, "CreateSecurityGroup", "Throttling.User", time.Millisecond)
	observe(m, "PalisadeAudit", "", 2*time.Second)
	// A name the client made up is not a label.
	observe(m, "Create<script>", "InvalidAction.NotFound", time.Millisecond)
	for i := range maxCodes + 10 {
		observe(m, "CreateSecurityGroup", fmt.Sprintf("Code%d", i), time.Millisecond)
	}

	out := gather(t, m)
	for _, want := range []string{
		`palisade_api_throttled_requests_total{action="CreateSecurityGroup"} 1`,
		`palisade_store_revision 40`,
		`palisade_agents_connected 1`,
		`palisade_agent_applied_revision_lag{host="h1"} 2`,
		`palisade_view_history_changes 12`,
		`palisade_view_history_bytes 34567`,
		`palisade_analysis_duration_seconds_count{action="PalisadeAudit"} 1`,
		`palisade_api_requests_total{action="Unknown",code="InvalidAction.NotFound"} 1`,
		`palisade_api_requests_total{action="CreateSecurityGroup",code="Other"} `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, bad := range []string{"<script>", `host="gone"`, "Code205"} {
		if strings.Contains(out, bad) {
			t.Errorf("metrics hold %s", bad)
		}
	}
	if n := testutil.CollectAndCount(m.requests); n > maxCodes+5 {
		t.Errorf("%d request series; the code labels are not bounded", n)
	}
}

func gather(t *testing.T, m *Metrics) string {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range fams {
		for _, mt := range f.Metric {
			var labels []string
			for _, l := range mt.Label {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			name, v := f.GetName(), 0.0
			switch {
			case mt.Counter != nil:
				v = mt.Counter.GetValue()
			case mt.Gauge != nil:
				v = mt.Gauge.GetValue()
			case mt.Histogram != nil:
				name, v = name+"_count", float64(mt.Histogram.GetSampleCount())
			}
			lab := ""
			if len(labels) > 0 {
				lab = "{" + strings.Join(labels, ",") + "}"
			}
			fmt.Fprintf(&b, "%s%s %v\n", name, lab, v)
		}
	}
	return b.String()
}
