package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/console"
	"github.com/palisade-sg/palisade/internal/controlplane/ratelimit"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// as is a tenant's view of one server: its SDK client and scheme.
type as struct {
	srv    *testenv.Server
	sdk    *sdk.Client
	scheme string
}

func tenantOn(t testing.TB, s *testenv.Server, keyID, secret string) as {
	c := s.Common(t)
	if keyID != s.KeyID {
		c = testenv.CommonClient(t, s.Addr, keyID, secret)
		if s.CA != nil {
			t.Fatal("a second tenant over TLS: not needed by these tests")
		}
	}
	scheme := "http"
	if s.CA != nil {
		scheme = "https"
	}
	return as{s, c, scheme}
}

// call sends an action and decodes its answer into out; it returns the
// error code of a refusal.
func (a as) call(t testing.TB, version, action string, params map[string]string, out any) string {
	t.Helper()
	req := requests.NewCommonRequest()
	req.Method, req.Scheme, req.Domain = "POST", a.scheme, a.srv.Addr
	req.Version, req.ApiName, req.Product = version, action, "Ecs"
	req.FormParams = map[string]string{"RegionId": testenv.Region}
	maps.Copy(req.FormParams, params)
	resp, err := a.sdk.ProcessCommonRequest(req)
	if err != nil {
		var se *sdkerrors.ServerError
		if !errors.As(err, &se) {
			t.Fatalf("%s: %v", action, err)
		}
		t.Logf("%s refused: %s: %s", action, se.ErrorCode(), se.Message())
		return se.ErrorCode()
	}
	if err := json.Unmarshal(resp.GetHttpContentBytes(), out); err != nil {
		t.Fatalf("%s: %v in %s", action, err, resp.GetHttpContentString())
	}
	return ""
}

type eventsPage struct {
	NextToken string
	Events    []struct {
		EventName          string         `json:"eventName"`
		EventTime          string         `json:"eventTime"`
		ResourceName       string         `json:"resourceName"`
		RecipientAccountID string         `json:"recipientAccountId"`
		ResponseElements   map[string]any `json:"responseElements"`
	}
	PalisadeMissingServers []string
}

// groupEvents pages through LookupEvents (CreateSecurityGroup only) and
// returns the groups made, in the order listed, the pages' count and the
// servers any page said were missing.
func (a as) groupEvents(t *testing.T, max int) (groups []string, pages int, missing []string) {
	t.Helper()
	now := time.Now().UTC()
	tok := ""
	var last string
	for pages = 1; pages < 100; pages++ {
		var p eventsPage
		params := map[string]string{"MaxResults": fmt.Sprint(max), "LookupAttribute.1.Key": "EventName", "LookupAttribute.1.Value": "CreateSecurityGroup",
			"StartTime": now.Add(-time.Hour).Format(time.RFC3339), "EndTime": now.Add(time.Minute).Format(time.RFC3339)}
		if tok != "" {
			params["NextToken"] = tok
		}
		if code := a.call(t, trail.Version, "LookupEvents", params, &p); code != "" {
			t.Fatalf("LookupEvents page %d: %s", pages, code)
		}
		if len(p.Events) > max {
			t.Errorf("page %d has %d events, MaxResults %d", pages, len(p.Events), max)
		}
		for _, ev := range p.Events {
			if last != "" && ev.EventTime > last {
				t.Errorf("page %d: event of %s after one of %s: not newest first", pages, ev.EventTime, last)
			}
			last = ev.EventTime
			id, _ := ev.ResponseElements["SecurityGroupId"].(string)
			if id == "" {
				id = ev.ResourceName
			}
			groups = append(groups, id)
		}
		missing = append(missing, p.PalisadeMissingServers...)
		if tok = p.NextToken; tok == "" {
			return groups, pages, missing
		}
	}
	t.Fatal("LookupEvents gives a NextToken after 100 pages")
	return
}

// consolePage signs in to s's console with its tenant key, as a browser
// does, and returns the page at rel (under console.Prefix).
func consolePage(t *testing.T, s *testenv.Server, rel string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	base := "http://" + s.Addr + console.Prefix
	r, err := hc.PostForm(base+"signin", url.Values{"AccessKeyId": {s.KeyID}, "AccessKeySecret": {s.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK { // after the redirect to the console
		t.Fatalf("console sign-in: %s", r.Status)
	}
	r, err = hc.Get(base + rel)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("console %s: %s %v %.500s", rel, r.Status, err, b)
	}
	return string(b)
}

type flowPage struct {
	TotalCount  int
	NextToken   string
	FlowRecords struct {
		FlowRecord []service.FlowRecord
	}
	PalisadeMissingServers []string
}

// flowPorts pages through PalisadeDescribeFlowRecords and returns the
// source ports of the records listed.
func (a as) flowPorts(t *testing.T, max int) (ports []int, pages, total int) {
	t.Helper()
	tok := ""
	for pages = 1; pages < 100; pages++ {
		var p flowPage
		params := map[string]string{"MaxResults": fmt.Sprint(max)}
		if tok != "" {
			params["NextToken"] = tok
		}
		if code := a.call(t, api.ECSVersion, "PalisadeDescribeFlowRecords", params, &p); code != "" {
			t.Fatalf("PalisadeDescribeFlowRecords page %d: %s", pages, code)
		}
		if len(p.FlowRecords.FlowRecord) > max {
			t.Errorf("page %d has %d records, MaxResults %d", pages, len(p.FlowRecords.FlowRecord), max)
		}
		if len(p.PalisadeMissingServers) > 0 {
			t.Errorf("page %d: servers missing: %v", pages, p.PalisadeMissingServers)
		}
		total = p.TotalCount
		for _, r := range p.FlowRecords.FlowRecord {
			ports = append(ports, r.SrcPort)
		}
		if tok = p.NextToken; tok == "" {
			return ports, pages, total
		}
	}
	t.Fatal("PalisadeDescribeFlowRecords gives a NextToken after 100 pages")
	return
}

func makeGroups(t testing.TB, c *ecs.Client, prefix string, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		out = append(out, createGroup(t, c, fmt.Sprintf("%s-%d", prefix, i)))
	}
	return out
}

// shipRecords imports an instance on host h1 with a flow log over its VPC
// (through the first server), then ships records to each server as the
// host's agent would after moving between them: ports[i] to servers[i].
func shipRecords(t *testing.T, ss []*testenv.Server, ports [][]int) {
	t.Helper()
	ctx := context.Background()
	g := &model.SecurityGroup{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop,
		Rules: []model.Rule{modeltest.Rule("sgr-http", "in accept 1 TCP 80/80 0.0.0.0/0")}}
	in := &model.Instance{ID: "i-web", VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.0.1"), SecurityGroups: []string{"sg-web"},
		Status: model.StatusRunning, Host: "h1", Interface: "pi-1"}
	if _, err := ss[0].Ops.Import(ctx, testenv.Region, api.Resources{VPCs: []*model.VPC{{ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16")}},
		Groups: []*model.SecurityGroup{g}, Instances: []*model.Instance{in}}); err != nil {
		t.Fatal(err)
	}
	tenant, err := ss[0].Ops.CallerOf(ctx, ss[0].KeyID, testenv.Region, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss[0].Ops.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: tenant, ResourceType: model.FlowLogVPC, ResourceID: "vpc-a", TrafficType: model.TrafficAll}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	for i, s := range ss {
		var recs []service.FlowRecord
		for _, p := range ports[i] {
			recs = append(recs, service.FlowRecord{EniId: "eni-web", SrcAddr: "10.0.9.9", SrcPort: p, DstAddr: "10.0.0.1", DstPort: 80, Protocol: 6,
				Direction: "in", Packets: 1, Bytes: 60, Start: now - int64(p%5) - 1, End: now - int64(p%5), Action: "ACCEPT", LogStatus: "OK",
				Reason: "rule", SecurityGroupId: "sg-web", SecurityGroupRuleId: "sgr-http", Priority: 1, Policy: "Accept"})
		}
		// The server's view follows etcd's watch: it knows the NIC and the
		// flow log a moment after they were written.
		testenv.Eventually(t, 10*time.Second, func() (bool, string) {
			res, err := s.Ops.ReportFlowRecords(ctx, service.FlowReportInput{Caller: service.Caller{Host: "h1"}, HostName: "h1", Records: recs})
			return err == nil && res.Accepted == len(recs), fmt.Sprintf("server %d accepted %+v of %d records (%v)", i, res, len(recs), err)
		})
	}
}

// TestMergedQueries: three servers of one installation (on an embedded
// etcd, in this process) each keep the events of the calls they answered
// and the flow records shipped to them; LookupEvents and
// PalisadeDescribeFlowRecords on the third server list every server's,
// merged and paged, each once; another tenant sees none of them; a server
// that is registered but does not answer makes the answer partial (it is
// named), not an error. Over TLS each server pins the others'
// self-signed certificates from the registry.
func TestMergedQueries(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			if tls && testing.Short() {
				t.Skip("short: the plain run covers the merge")
			}
			ss := testenv.StartCluster(t, 3, testenv.Config{TLS: tls, Adjust: func(c *server.Config) { c.PeerTimeout = time.Second }})
			one := makeGroups(t, ss[0].ECS(t), "on-0", 4)
			two := makeGroups(t, ss[1].ECS(t), "on-1", 3)
			want := append(slices.Clone(one), two...)

			third := tenantOn(t, ss[2], ss[2].KeyID, ss[2].Secret)
			got, pages, missing := third.groupEvents(t, 3)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) || pages != 3 || len(missing) > 0 {
				t.Errorf("LookupEvents on the third server, 3 a page: %d pages listing %v (missing %v); want 3 pages listing %v", pages, got, missing, want)
			}
			if tls {
				return // the rest does not depend on the transport
			}
			// PalisadeLocalOnly, from a client, narrows the answer to the
			// server's own part: the third server answered no write.
			var local eventsPage
			if code := third.call(t, trail.Version, "LookupEvents", map[string]string{"PalisadeLocalOnly": "true",
				"LookupAttribute.1.Key": "EventName", "LookupAttribute.1.Value": "CreateSecurityGroup"}, &local); code != "" || len(local.Events) != 0 {
				t.Errorf("the third server's own part: %s, %d events; want none", code, len(local.Events))
			}
			// A server's own part takes pages of up to 200 (the console
			// scans with them); a client's merged answer up to 50.
			for _, c := range []struct {
				local, max, code string
			}{{"true", "200", ""}, {"true", "201", "InvalidParameter"}, {"false", "51", "InvalidParameter"}, {"false", "50", ""}} {
				var p eventsPage
				if code := third.call(t, trail.Version, "LookupEvents", map[string]string{"PalisadeLocalOnly": c.local, "MaxResults": c.max}, &p); code != c.code {
					t.Errorf("LookupEvents, PalisadeLocalOnly=%s MaxResults=%s: %q, want %q", c.local, c.max, code, c.code)
				}
			}

			// The console's events page on the third server lists the
			// groups made through the other two.
			page := consolePage(t, ss[2], "r/cn-hangzhou/events")
			for _, g := range want {
				if !strings.Contains(page, "<code>"+g+"</code>") {
					t.Errorf("the third server's console events page lacks %s (made through another server): %.2000s", g, page)
				}
			}

			// Another tenant, its events on the second server: it sees
			// only its own.
			acct := ss[0].NewAccount(t, "other")
			var otherGroups []string
			testenv.Eventually(t, 10*time.Second, func() (bool, string) { // the second server's view learns the key
				_, err := testenv.ECSClient(t, ss[1].Addr, acct.KeyID, acct.Secret).DescribeRegions(ecs.CreateDescribeRegionsRequest())
				return err == nil, fmt.Sprint(err)
			})
			otherGroups = makeGroups(t, testenv.ECSClient(t, ss[1].Addr, acct.KeyID, acct.Secret), "other", 2)
			other := tenantOn(t, ss[2], acct.KeyID, acct.Secret)
			testenv.Eventually(t, 10*time.Second, func() (bool, string) { // the third server's view learns the key
				var p eventsPage
				code := other.call(t, trail.Version, "LookupEvents", map[string]string{}, &p)
				return code == "", code
			})
			og, _, _ := other.groupEvents(t, 50)
			slices.Sort(og)
			if slices.Sort(otherGroups); !slices.Equal(og, otherGroups) {
				t.Errorf("the other tenant lists %v, want its own %v", og, otherGroups)
			}
			if got, _, _ := third.groupEvents(t, 50); slices.ContainsFunc(got, func(g string) bool { return slices.Contains(otherGroups, g) }) {
				t.Errorf("the first tenant lists the other's groups: %v", got)
			}
			// The first tenant's NextToken (after its oldest event), in
			// the other's hands, lists only the other's events.
			var p1, p2 eventsPage
			if code := third.call(t, trail.Version, "LookupEvents", map[string]string{"MaxResults": "1", "Direction": "FORWARD"}, &p1); code != "" || p1.NextToken == "" {
				t.Fatalf("LookupEvents: %s, NextToken %q", code, p1.NextToken)
			}
			if code := other.call(t, trail.Version, "LookupEvents", map[string]string{"NextToken": p1.NextToken, "MaxResults": "50", "Direction": "FORWARD"}, &p2); code != "" {
				t.Fatalf("LookupEvents with the first tenant's token: %s", code)
			}
			if len(p2.Events) == 0 {
				t.Error("the other tenant, with the first's token, lists none of its own events")
			}
			for _, ev := range p2.Events {
				if ev.RecipientAccountID != acct.UID {
					t.Errorf("the other tenant, with the first's token, lists an event of account %q", ev.RecipientAccountID)
				}
			}

			// Flow records shipped to each server.
			ports := [][]int{{1001, 1002, 1003, 1004}, {2001, 2002, 2003}, {3001}}
			shipRecords(t, ss, ports)
			var all []int
			for _, p := range ports {
				all = append(all, p...)
			}
			gotPorts, pages, total := third.flowPorts(t, 2)
			slices.Sort(gotPorts)
			if !slices.Equal(gotPorts, all) || pages != 4 || total != len(all) {
				t.Errorf("PalisadeDescribeFlowRecords, 2 a page: %d pages (TotalCount %d) listing ports %v; want 4 pages (%d) listing %v",
					pages, total, gotPorts, len(all), all)
			}
			if p, _, total := other.flowPorts(t, 50); len(p) != 0 || total != 0 {
				t.Errorf("the other tenant lists flow records of ports %v (TotalCount %d)", p, total)
			}
			// A server's positions are sealed for the tenant: its own
			// part's cursors are no record numbers (those count every
			// tenant's records), and the first tenant's NextToken in the
			// other's hands is refused.
			var lp struct {
				PalisadeCursors []string
				NextToken       string
			}
			if code := third.call(t, api.ECSVersion, "PalisadeDescribeFlowRecords", map[string]string{"PalisadeLocalOnly": "true", "MaxResults": "1"}, &lp); code != "" || len(lp.PalisadeCursors) != 1 {
				t.Fatalf("the third server's own part: %s, cursors %q", code, lp.PalisadeCursors)
			}
			if _, err := strconv.ParseUint(lp.PalisadeCursors[0], 10, 64); err == nil || lp.NextToken != "" {
				t.Errorf("the third server's own part: cursor %q, NextToken %q; want a sealed cursor and no next page (one record)", lp.PalisadeCursors[0], lp.NextToken)
			}
			var fp1 flowPage
			if code := third.call(t, api.ECSVersion, "PalisadeDescribeFlowRecords", map[string]string{"MaxResults": "1"}, &fp1); code != "" || fp1.NextToken == "" {
				t.Fatalf("PalisadeDescribeFlowRecords: %s, NextToken %q", code, fp1.NextToken)
			}
			if code := other.call(t, api.ECSVersion, "PalisadeDescribeFlowRecords", map[string]string{"NextToken": fp1.NextToken}, &flowPage{}); code != "InvalidNextToken.Malformed" {
				t.Errorf("the first tenant's flow-record NextToken in the other's hands: %q, want InvalidNextToken.Malformed", code)
			}
			// A NextToken made up by the other tenant shows it nothing more.
			var fp flowPage
			forged := map[string]string{"NextToken": "m1.eyJ4Ijp7fX0"} // {"x":{}}
			if code := other.call(t, api.ECSVersion, "PalisadeDescribeFlowRecords", forged, &fp); code != "" || len(fp.FlowRecords.FlowRecord) != 0 {
				t.Errorf("a made-up token: %s, %d records", code, len(fp.FlowRecords.FlowRecord))
			}

			// A server that is listed but does not answer (hung), one
			// whose port is closed, and one registered at another's
			// address (several servers advertising one address, a copied
			// ID file): the answer is partial, says so, and lists the
			// server at that address once; its NextToken resumes them
			// while they stay registered, and ends once they leave.
			hung, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer hung.Close()
			closed, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			closed.Close()
			st := ss[0].Store.(*etcd.Store)
			var stops []func()
			for id, addr := range map[string]string{"hung": hung.Addr().String(), "gone": closed.Addr().String(), "twin": ss[0].Addr} {
				stop, err := st.RegisterServer(context.Background(), etcd.ServerInfo{ID: id, URL: "http://" + addr}, 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				stops = append(stops, stop)
			}
			start := time.Now()
			events := map[string]string{"MaxResults": "50", "LookupAttribute.1.Key": "EventName", "LookupAttribute.1.Value": "CreateSecurityGroup"}
			var ep eventsPage
			if code := third.call(t, trail.Version, "LookupEvents", events, &ep); code != "" {
				t.Fatalf("LookupEvents with three servers not answering: %s", code)
			}
			got = nil
			for _, ev := range ep.Events {
				if id, _ := ev.ResponseElements["SecurityGroupId"].(string); id != "" {
					got = append(got, id)
				}
			}
			slices.Sort(got)
			missing = slices.Sorted(slices.Values(ep.PalisadeMissingServers))
			if !slices.Equal(got, want) || !slices.Equal(missing, []string{"gone", "hung", "twin"}) || ep.NextToken == "" {
				t.Errorf("with three servers not answering: listing %v, missing %v, NextToken %q; want %v, missing [gone hung twin], a NextToken",
					got, missing, ep.NextToken, want)
			}
			t.Logf("LookupEvents with a hung server answered in %v (PeerTimeout 1s)", time.Since(start).Round(time.Millisecond))
			// The console's events page lists what the others gave and
			// names those that did not answer.
			page = consolePage(t, ss[2], "r/cn-hangzhou/events")
			for _, want := range append([]string{`id="events-missing"`, "<code>hung</code>", "<code>gone</code>"}, one...) {
				if !strings.Contains(page, want) {
					t.Errorf("with servers not answering, the console's events page lacks %s", want)
				}
			}
			var fp2 flowPage
			code := third.call(t, api.ECSVersion, "PalisadeDescribeFlowRecords", map[string]string{"MaxResults": "50"}, &fp2)
			missing = slices.Sorted(slices.Values(fp2.PalisadeMissingServers))
			if code != "" || len(fp2.FlowRecords.FlowRecord) != len(all) || fp2.TotalCount != len(all) || !slices.Equal(missing, []string{"gone", "hung", "twin"}) ||
				fp2.NextToken == "" {
				t.Errorf("flow records with three servers not answering: %s, %d records (TotalCount %d), missing %v, NextToken %q; want %d, missing [gone hung twin], a NextToken",
					code, len(fp2.FlowRecords.FlowRecord), fp2.TotalCount, missing, fp2.NextToken, len(all))
			}
			for _, stop := range stops {
				stop()
			}
			if live, err := st.Servers(context.Background()); err != nil || len(live) != 3 {
				t.Errorf("after the stops, listed: %v, %v", live, err)
			}
			events["NextToken"] = ep.NextToken
			var last eventsPage
			if code := third.call(t, trail.Version, "LookupEvents", events, &last); code != "" || len(last.Events) != 0 || last.NextToken != "" || len(last.PalisadeMissingServers) != 0 {
				t.Errorf("once they left: %s, %d events, NextToken %q, missing %v; want the end", code, len(last.Events), last.NextToken, last.PalisadeMissingServers)
			}

			// A peer that throttles its part: the caller gets the
			// Throttling error (SDKs retry it), not a partial page.
			throttler := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"Code":"Throttling.User","Message":"Request was denied due to user flow control."}`))
			}))
			defer throttler.Close()
			stop, err := st.RegisterServer(context.Background(), etcd.ServerInfo{ID: "throttler", URL: throttler.URL}, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			delete(events, "NextToken")
			if code := third.call(t, trail.Version, "LookupEvents", events, &ep); code != "Throttling.User" {
				t.Errorf("LookupEvents with a throttled peer: %q, want Throttling.User", code)
			}
			if code := third.call(t, api.ECSVersion, "PalisadeDescribeFlowRecords", map[string]string{"MaxResults": "50"}, &fp2); code != "Throttling.User" {
				t.Errorf("PalisadeDescribeFlowRecords with a throttled peer: %q, want Throttling.User", code)
			}
			stop()

			// A server stopped gracefully leaves the registry at once.
			ss[1].Stop()
			live, err := st.Servers(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, si := range live {
				if si.ID == ss[1].ID {
					t.Errorf("server %s is still listed after its stop", si.ID)
				}
			}
			got, _, _ = third.groupEvents(t, 50)
			slices.Sort(got)
			if slices.Sort(one); !slices.Equal(got, one) {
				t.Errorf("after the second server stopped: listing %v, want the first server's %v", got, one)
			}
		})
	}
}

// BenchmarkLookupEvents: LookupEvents (20 of 60 events) on one server of
// three, its own part only (PalisadeLocalOnly) against the merged answer
// that asks the two others, in one run: the ratio is the fan-in's cost.
func BenchmarkLookupEvents(b *testing.B) {
	ss := testenv.StartCluster(b, 3, testenv.Config{Log: testenv.Quiet(), RateLimit: ratelimit.Config{PerAction: -1, PerAccount: -1}})
	for i, s := range ss {
		makeGroups(b, s.ECS(b), fmt.Sprintf("bench-%d", i), 20)
	}
	c := tenantOn(b, ss[2], ss[2].KeyID, ss[2].Secret)
	for _, mode := range []string{"local", "merged"} {
		b.Run(mode, func(b *testing.B) {
			params := map[string]string{"MaxResults": "20"}
			if mode == "local" {
				params["PalisadeLocalOnly"] = "true"
			}
			for b.Loop() {
				var p eventsPage
				if code := c.call(b, trail.Version, "LookupEvents", params, &p); code != "" || len(p.Events) != 20 {
					b.Fatalf("LookupEvents: %s, %d events", code, len(p.Events))
				}
			}
		})
	}
}

// TestStopLeavesFirst: a stopping server leaves the registry before it
// drains its connections, so queries stop asking it for parts it will
// not give.
func TestStopLeavesFirst(t *testing.T) {
	ss := testenv.StartCluster(t, 2, testenv.Config{Log: testenv.Quiet(), Adjust: func(c *server.Config) { c.Limits.HeaderTimeout = 2 * time.Second }})
	st := ss[0].Store.(*etcd.Store)
	// A connection in the middle of its request holds the drain up until
	// its header timeout.
	conn, err := net.Dial("tcp", ss[1].Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the server reads it
	stopped := make(chan struct{})
	go func() { ss[1].Stop(); close(stopped) }()
	for {
		live, err := st.Servers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(live, func(si etcd.ServerInfo) bool { return si.ID == ss[1].ID }) {
			break
		}
		select {
		case <-stopped:
			t.Fatal("the server stayed registered while it drained")
		case <-time.After(20 * time.Millisecond):
		}
	}
	<-stopped
}

// hitsAnswer is PalisadeDescribeFlowHits's answer.
type hitsAnswer struct {
	service.FlowHitsAnswer
}

func (h hitsAnswer) of(entry string) service.FlowHit {
	for _, x := range h.Hits {
		if x.Entry == entry {
			return x
		}
	}
	return service.FlowHit{}
}

type effectiveAnswer struct {
	Policies []struct {
		Entries []struct {
			Position int
			RuleID   string
		}
	}
	Hits []struct {
		Policy, Position int
		Flows            int
		LastHitTime      string
	}
	PalisadeMissingServers []string
}

// ruleFlows is the flows effective's Hits give the rule.
func (e effectiveAnswer) ruleFlows(rule string) int {
	n := 0
	for _, h := range e.Hits {
		if h.Policy < len(e.Policies) {
			for _, en := range e.Policies[h.Policy].Entries {
				if en.Position == h.Position && en.RuleID == rule {
					n += h.Flows
				}
			}
		}
	}
	return n
}

type auditAnswer struct {
	Findings []struct {
		Check, Resource, RuleID, Message string
	}
	PalisadeMissingServers []string
}

// unused is the rules SGA-034 reports.
func (a auditAnswer) unused() []string {
	var out []string
	for _, f := range a.Findings {
		if f.Check == "SGA-034" {
			out = append(out, f.Resource+"/"+f.RuleID)
		}
	}
	slices.Sort(out)
	return out
}

// hitsCluster starts three servers with a group of two rules (sgr-http,
// sgr-ssh) on an instance whose VPC a flow log covers, and ships records of
// sgr-http to the first two servers only (2 and 3 records, 2 packets and
// 100 bytes each, the newest ending 10 s before now); it returns the
// servers, the tenant on the third and now.
func hitsCluster(t testing.TB) ([]*testenv.Server, as, int64) {
	t.Helper()
	ss := testenv.StartCluster(t, 3, testenv.Config{Log: testenv.Quiet(), RateLimit: ratelimit.Config{PerAction: -1, PerAccount: -1},
		Adjust: func(c *server.Config) { c.PeerTimeout = time.Second }})
	ctx := context.Background()
	g := &model.SecurityGroup{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop,
		Rules: []model.Rule{modeltest.Rule("sgr-http", "in accept 1 TCP 80/80 0.0.0.0/0"), modeltest.Rule("sgr-ssh", "in accept 1 TCP 22/22 10.0.0.0/8")}}
	in := &model.Instance{ID: "i-web", VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.0.1"), SecurityGroups: []string{"sg-web"},
		Status: model.StatusRunning, Host: "h1", Interface: "pi-1"}
	if _, err := ss[0].Ops.Import(ctx, testenv.Region, api.Resources{VPCs: []*model.VPC{{ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16")}},
		Groups: []*model.SecurityGroup{g}, Instances: []*model.Instance{in}}); err != nil {
		t.Fatal(err)
	}
	tenant, err := ss[0].Ops.CallerOf(ctx, ss[0].KeyID, testenv.Region, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss[0].Ops.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: tenant, ResourceType: model.FlowLogVPC, ResourceID: "vpc-a", TrafficType: model.TrafficAll}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	ends := [][]int64{{now - 30, now - 20}, {now - 10, now - 40, now - 50}, nil} // per server
	for i, s := range ss {
		var recs []service.FlowRecord
		for j, end := range ends[i] {
			recs = append(recs, service.FlowRecord{EniId: model.NICENI(in), SrcAddr: "10.0.9.9", SrcPort: 1000*(i+1) + j, DstAddr: "10.0.0.1", DstPort: 80, Protocol: 6,
				Direction: "in", Packets: 2, Bytes: 100, Start: end - 1, End: end, Action: "ACCEPT", LogStatus: "OK",
				Reason: "rule", SecurityGroupId: "sg-web", SecurityGroupRuleId: "sgr-http", Priority: 1, Policy: "Accept"})
		}
		if len(recs) == 0 {
			continue
		}
		testenv.Eventually(t, 10*time.Second, func() (bool, string) { // the server's view learns the NIC
			res, err := s.Ops.ReportFlowRecords(ctx, service.FlowReportInput{Caller: service.Caller{Host: "h1"}, HostName: "h1", Records: recs})
			return err == nil && res.Accepted == len(recs), fmt.Sprintf("server %d accepted %+v of %d records (%v)", i, res, len(recs), err)
		})
	}
	third := tenantOn(t, ss[2], ss[2].KeyID, ss[2].Secret)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) { // the third server's view learns the instance
		var e effectiveAnswer
		code := third.call(t, api.ECSVersion, "PalisadeDescribeEffectiveRules", map[string]string{"InstanceId": "i-web"}, &e)
		return code == "", code
	})
	return ss, third, now
}

// TestMergedHits: rule hits from flow records count every server's
// records. Records of one rule are shipped to the first two servers only;
// on the third, PalisadeDescribeFlowHits sums them (latest last hit),
// PalisadeDescribeEffectiveRules and PalisadeDescribeRuleCounters show
// them, and the audit's SGA-034 reports only the rule no server has a
// record of; another tenant sees none. A server listed but not answering makes each answer name it, and
// the audit then claims no rule unused (review only).
func TestMergedHits(t *testing.T) {
	ss, third, now := hitsCluster(t)
	ctx := context.Background()
	lastHit := time.Unix(now-10, 0).UTC().Format(time.RFC3339)
	http, ssh := "sg-web/sgr-http", "sg-web/sgr-ssh"

	check := func(name string, missing []string) {
		t.Helper()
		var h hitsAnswer
		if code := third.call(t, api.ECSVersion, service.FlowHitsAction, nil, &h); code != "" {
			t.Fatalf("%s: %s: %s", name, service.FlowHitsAction, code)
		}
		if got := h.of(http); got.Flows != 5 || got.Packets != 10 || got.Bytes != 500 || got.LastHitTime != lastHit || h.of(ssh).Flows != 0 ||
			!slices.Equal(h.PalisadeMissingServers, missing) {
			t.Errorf("%s: hits of %s %+v, of %s %+v, missing %v; want 5 flows, 10 packets, 500 bytes, last %s; none; missing %v",
				name, http, got, ssh, h.of(ssh), h.PalisadeMissingServers, lastHit, missing)
		}
		if (h.CompleteSinceTime == "") != (len(missing) > 0) {
			t.Errorf("%s: CompleteSinceTime %q with servers missing %v: want one only with every server", name, h.CompleteSinceTime, missing)
		}
		var e effectiveAnswer
		if code := third.call(t, api.ECSVersion, "PalisadeDescribeEffectiveRules", map[string]string{"InstanceId": "i-web"}, &e); code != "" {
			t.Fatalf("%s: PalisadeDescribeEffectiveRules: %s", name, code)
		}
		if e.ruleFlows("sgr-http") != 5 || e.ruleFlows("sgr-ssh") != 0 || !slices.Equal(e.PalisadeMissingServers, missing) {
			t.Errorf("%s: effective rules show %d flows of sgr-http, %d of sgr-ssh, missing %v; want 5, 0, %v",
				name, e.ruleFlows("sgr-http"), e.ruleFlows("sgr-ssh"), e.PalisadeMissingServers, missing)
		}
		var rc struct {
			RuleCounters struct {
				RuleCounter []struct {
					SecurityGroupRuleId string
					FlowRecords         int
				}
			}
			PalisadeMissingServers []string
		}
		if code := third.call(t, api.ECSVersion, "PalisadeDescribeRuleCounters", map[string]string{"SecurityGroupId": "sg-web"}, &rc); code != "" {
			t.Fatalf("%s: PalisadeDescribeRuleCounters: %s", name, code)
		}
		flows := map[string]int{}
		for _, r := range rc.RuleCounters.RuleCounter {
			flows[r.SecurityGroupRuleId] = r.FlowRecords
		}
		if flows["sgr-http"] != 5 || flows["sgr-ssh"] != 0 || !slices.Equal(rc.PalisadeMissingServers, missing) {
			t.Errorf("%s: rule counters' flow records %v, missing %v; want sgr-http 5, sgr-ssh 0, missing %v", name, flows, rc.PalisadeMissingServers, missing)
		}
		var a auditAnswer
		if code := third.call(t, api.ECSVersion, "PalisadeAudit", map[string]string{"Config": `{"unusedRuleDays": 1}`}, &a); code != "" {
			t.Fatalf("%s: PalisadeAudit: %s", name, code)
		}
		if got := a.unused(); !slices.Equal(got, []string{ssh}) || !slices.Equal(a.PalisadeMissingServers, missing) {
			t.Errorf("%s: SGA-034 reports %v, missing %v; want [%s], missing %v", name, got, a.PalisadeMissingServers, ssh, missing)
		}
		for _, f := range a.Findings {
			if f.Check == "SGA-034" && !strings.Contains(f.Message, "no evidence") {
				t.Errorf("%s: SGA-034 claims a rule unused: %s", name, f.Message)
			}
		}
	}
	check("all servers", nil)

	// The third server's own part: it was shipped nothing.
	var local hitsAnswer
	if code := third.call(t, api.ECSVersion, service.FlowHitsAction, map[string]string{"PalisadeLocalOnly": "true"}, &local); code != "" || len(local.Hits) != 0 {
		t.Errorf("the third server's own hits: %s, %+v; want none", code, local.Hits)
	}
	// Another tenant sees no hits of the first's records.
	acct := ss[0].NewAccount(t, "other")
	other := tenantOn(t, ss[2], acct.KeyID, acct.Secret)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) { // every server's view learns the key
		var h hitsAnswer
		code := other.call(t, api.ECSVersion, service.FlowHitsAction, nil, &h)
		return code == "" && len(h.PalisadeMissingServers) == 0, fmt.Sprint(code, h.PalisadeMissingServers)
	})
	var oh hitsAnswer
	if code := other.call(t, api.ECSVersion, service.FlowHitsAction, nil, &oh); code != "" || len(oh.Hits) != 0 {
		t.Errorf("the other tenant's hits: %s, %+v; want none", code, oh.Hits)
	}

	// A server listed but hung: every answer names it.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	stop, err := ss[0].Store.(*etcd.Store).RegisterServer(ctx, etcd.ServerInfo{ID: "hung", URL: "http://" + hung.Addr().String()}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	check("a server hung", []string{"hung"})
}

// BenchmarkFlowHits: PalisadeDescribeFlowHits on one server of three,
// its own part only (PalisadeLocalOnly) against the merged answer that
// asks the two others, in one run: the ratio is the fan-in's cost, which
// every effective-rules call, rule-counters call and audit now pays.
func BenchmarkFlowHits(b *testing.B) {
	_, c, _ := hitsCluster(b)
	for _, mode := range []string{"local", "merged"} {
		b.Run(mode, func(b *testing.B) {
			params := map[string]string{}
			if mode == "local" {
				params["PalisadeLocalOnly"] = "true"
			}
			for b.Loop() {
				var h hitsAnswer
				if code := c.call(b, api.ECSVersion, service.FlowHitsAction, params, &h); code != "" || len(h.PalisadeMissingServers) > 0 {
					b.Fatalf("%s: %s, missing %v", service.FlowHitsAction, code, h.PalisadeMissingServers)
				}
			}
		})
	}
}
