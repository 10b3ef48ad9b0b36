package apitest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/ratelimit"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/testkit/signedpost"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestRateLimitByCost: an account's requests are charged by their size,
// so large ones (which cost the server many small ones to read, parse and
// check) are throttled sooner: with a burst of 20, twenty ordinary calls
// pass, but only one of 900 KB does (it takes 14 tokens).
func TestRateLimitByCost(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet(), RateLimit: ratelimit.Config{PerAction: 0.001, ActionBurst: 20, PerAccount: 1000, AccountBurst: 1000}})
	for _, tc := range []struct {
		name  string
		pad   int // bytes of a padding parameter
		calls int
		want  int // admitted
	}{
		{"ordinary", 100, 20, 20},
		{"large", 900_000, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := srv.NewAccount(t, tc.name)
			ok := 0
			for range tc.calls {
				body := signedpost.Body(a.KeyID, a.Secret, map[string]string{"Action": "DescribeRegions", "Pad": strings.Repeat("x", tc.pad)})
				resp, err := http.Post("http://"+srv.Addr+"/", "application/x-www-form-urlencoded", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var e struct{ Code string }
				json.Unmarshal(b, &e)
				switch {
				case resp.StatusCode == 200:
					ok++
				case e.Code != "Throttling.User":
					t.Fatalf("%d %.300s", resp.StatusCode, b)
				}
			}
			if ok != tc.want {
				t.Errorf("%d of %d calls admitted, want %d", ok, tc.calls, tc.want)
			}
		})
	}
}

// fakeID is an ID of the same form as id that exists nowhere: each
// character of its random part moved one along.
func fakeID(id string) string {
	p, body, ok := strings.Cut(id, "-")
	if !ok {
		return id + "x"
	}
	b := []byte(body)
	for i := range b {
		switch {
		case b[i] >= 'a' && b[i] < 'z', b[i] >= '0' && b[i] < '9':
			b[i]++
		case b[i] == 'z':
			b[i] = 'a'
		case b[i] == '9':
			b[i] = '0'
		}
	}
	return p + "-" + string(b)
}

// TestForeignIDsAnswerAsMissing: whatever a second tenant does with the
// first tenant's IDs, in every routed action and every parameter that
// takes one, and on the console's pages and forms, the answer is the one
// an ID of the same form that exists nowhere gets (the same status, code
// and message, the ID aside): nothing tells it that the ID exists, and
// no answer shows the first tenant's names or addresses.
func TestForeignIDsAnswerAsMissing(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet(), RateLimit: ratelimit.Config{PerAction: 1e6, ActionBurst: 1e6, PerAccount: 1e6, AccountBurst: 1e6}})
	one := testenv.CommonClient(t, srv.Addr, srv.KeyID, srv.Secret)
	must1 := func(version, action string, p map[string]string) map[string]any {
		t.Helper()
		p["RegionId"] = testenv.Region
		text, code := rawCall(t, one, srv.Addr, version, action, p)
		if code != "" {
			t.Fatalf("%s: %s", action, text)
		}
		var out map[string]any
		json.Unmarshal([]byte(text), &out)
		return out
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	vpcID := str(must1(api.VPCVersion, "CreateVpc", map[string]string{"CidrBlock": "10.77.0.0/16", "VpcName": "t1mark-vpc"}), "VpcId")
	vswID := str(must1(api.VPCVersion, "CreateVSwitch", map[string]string{"VpcId": vpcID, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.77.1.0/24", "VSwitchName": "t1mark-vsw"}), "VSwitchId")
	sgID := str(must1(api.ECSVersion, "CreateSecurityGroup", map[string]string{"VpcId": vpcID, "SecurityGroupName": "t1mark-sg", "Description": "t1mark-desc"}), "SecurityGroupId")
	peerID := str(must1(api.ECSVersion, "CreateSecurityGroup", map[string]string{"VpcId": vpcID, "SecurityGroupName": "t1mark-peer"}), "SecurityGroupId")
	must1(api.ECSVersion, "AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sgID, "IpProtocol": "tcp", "PortRange": "22/22",
		"SourceGroupId": peerID, "Description": "t1mark-rule"})
	attr := must1(api.ECSVersion, "DescribeSecurityGroupAttribute", map[string]string{"SecurityGroupId": sgID})
	perms, _ := attr["Permissions"].(map[string]any)["Permission"].([]any)
	ruleID := str(perms[0].(map[string]any), "SecurityGroupRuleId")
	run := must1(api.ECSVersion, "RunInstances", map[string]string{"ImageId": imageID, "InstanceType": instanceType, "VSwitchId": vswID,
		"SecurityGroupId": sgID, "InstanceName": "t1mark-inst"})
	instID := run["InstanceIdSets"].(map[string]any)["InstanceIdSet"].([]any)[0].(string)
	plID := str(must1(api.ECSVersion, "CreatePrefixList", map[string]string{"AddressFamily": "IPv4", "MaxEntries": "5", "PrefixListName": "t1mark-pl",
		"Entry.1.Cidr": "10.77.50.0/24"}), "PrefixListId")
	prlID := str(must1(api.ECSVersion, "CreatePortRangeList", map[string]string{"MaxEntries": "5", "PortRangeListName": "t1mark-prl",
		"Entry.1.PortRange": "8080/8080"}), "PortRangeListId")
	eip := must1(api.VPCVersion, "AllocateEipAddress", map[string]string{"Name": "t1mark-eip"})
	eipID := str(eip, "AllocationId")
	must1(api.VPCVersion, "AssociateEipAddress", map[string]string{"AllocationId": eipID, "InstanceId": instID})
	eniID := str(must1(api.ECSVersion, "CreateNetworkInterface", map[string]string{"VSwitchId": vswID, "SecurityGroupId": sgID,
		"NetworkInterfaceName": "t1mark-eni"}), "NetworkInterfaceId")
	flID := str(must1(api.VPCVersion, "CreateFlowLog", map[string]string{"ResourceType": "VPC", "ResourceId": vpcID, "TrafficType": "All",
		"FlowLogName": "t1mark-fl"}), "FlowLogId")
	ids := []string{vpcID, vswID, sgID, peerID, ruleID, instID, plID, prlID, eipID, eniID, flID}
	fakes := map[string]string{}
	for _, id := range ids {
		fakes[id] = fakeID(id)
	}
	idParams := []map[string]string{
		{"SecurityGroupId": sgID}, {"SecurityGroupId.1": sgID}, {"SecurityGroupIds.1": sgID}, {"SecurityGroupIds": `["` + sgID + `"]`},
		{"SecurityGroupId": sgID, "SecurityGroupRuleId.1": ruleID}, {"SecurityGroupRuleId": ruleID}, {"SecurityGroupRuleId.1": ruleID},
		{"SourceGroupId": sgID}, {"DestGroupId": sgID},
		{"InstanceId": instID}, {"InstanceIds": `["` + instID + `"]`}, {"InstanceId.1": instID}, {"From": instID, "To": instID},
		{"Source": instID}, {"Destination": instID}, {"SourceId": instID}, {"DestinationId": instID},
		{"AssociatedInstanceId": instID, "AssociatedInstanceType": "EcsInstance"},
		{"VpcId": vpcID}, {"VSwitchId": vswID}, {"VpcId": vpcID, "VSwitchId": vswID},
		{"PrefixListId": plID}, {"PrefixListId.1": plID}, {"SourcePrefixListId": plID}, {"DestPrefixListId": plID},
		{"PortRangeListId": prlID}, {"PortRangeListId.1": prlID},
		{"AllocationId": eipID}, {"AllocationId": eipID, "InstanceId": instID},
		{"NetworkInterfaceId": eniID}, {"NetworkInterfaceId.1": eniID}, {"NetworkInterfaceId": eniID, "InstanceId": instID},
		{"ResourceType": "securitygroup", "ResourceId.1": sgID}, {"ResourceType": "instance", "ResourceId.1": instID},
		{"ResourceType": "VPC", "ResourceId.1": vpcID}, {"ResourceType": "VSWITCH", "ResourceId.1": vswID},
		{"FlowLogId": flID}, {"FlowLogId.1": flID}, {"ResourceType": "VPC", "ResourceId": vpcID, "TrafficType": "All"},
		{"ResourceType": "NetworkInterface", "ResourceId": eniID, "TrafficType": "All"},
		{"ResourceType": "VSwitch", "ResourceId": vswID, "TrafficType": "All"},
		{"ResourceId": sgID}, {"ResourceId": instID},
		{"ResourceType": "eni", "ResourceId.1": eniID}, {"ResourceType": "prefixlist", "ResourceId.1": plID},
		{"ResourceType": "securitygroup", "ResourceId": sgID, "ResourceGroupId": "rg-x", "NewResourceGroupId": "rg-x"},
		{"ResourceType": "vpc", "ResourceId": vpcID, "NewResourceGroupId": "rg-x"},
	}
	fillers := map[string]string{"RegionId": testenv.Region, "IpProtocol": "tcp", "PortRange": "22/22", "Policy": "accept", "Priority": "1",
		"Description": "x", "ChangeAction": "RevokeSecurityGroup", "Protocol": "tcp", "Port": "22", "Force": "true", "WaitSeconds": "0",
		"Tag.1.Key": "k", "MaxEntries": "5", "AddressFamily": "IPv4", "SourceCidrIp": "1.2.3.4/32"}
	routes := slices.SortedFunc(maps.Keys(server.Routes(srv.Ops)), func(a, b rpc.RouteKey) int {
		return strings.Compare(a.Version+a.Action, b.Version+b.Action)
	})
	other := srv.NewAccount(t, "other")
	c := testenv.CommonClient(t, srv.Addr, other.KeyID, other.Secret)
	norm := func(s string, p map[string]string) string {
		s = regexp.MustCompile(`"RequestId":"[^"]*"`).ReplaceAllString(s, "")
		s = regexp.MustCompile(`[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}`).ReplaceAllString(s, "UUID")
		for id, f := range fakes {
			s = strings.ReplaceAll(s, id, "ID")
			s = strings.ReplaceAll(s, f, "ID")
		}
		return s
	}
	bad := regexp.MustCompile(`(?i)sql|\.go:|runtime|goroutine|%!|json: |strconv\.|/tmp/|panic|nil pointer|t1mark|10\.77\.`)
	consoleProbe(t, srv.Addr, other.KeyID, other.Secret, fakes, map[string]string{"sg": sgID, "peer": peerID, "rule": ruleID, "inst": instID, "vpc": vpcID, "eni": eniID, "pl": plID})
	// The comparison only means something if the calls reach the checks
	// that look IDs up: many must say NotFound, and none may fail earlier
	// for one reason common to both (the key, the signature).
	notFound := 0
	for _, k := range routes {
		if k.Action == "PalisadeWatchStream" || k.Action == "PalisadeWatchChanges" || k.Action == "CreateAccessKey" {
			continue // a stream; a long poll; a quota of keys the first call may fill
		}
		for _, ip := range idParams {
			p := maps.Clone(fillers)
			maps.Copy(p, ip)
			text, _ := rawCall(t, c, srv.Addr, k.Version, k.Action, p)
			fp := map[string]string{}
			for kk, v := range p {
				for id, f := range fakes {
					v = strings.ReplaceAll(v, id, f)
				}
				fp[kk] = v
			}
			ftext, _ := rawCall(t, c, srv.Addr, k.Version, k.Action, fp)
			if a, b := norm(text, p), norm(ftext, fp); a != b {
				t.Errorf("%s %v: the first tenant's ID and a missing one answer differently:\n real: %s\n fake: %s", k.Action, ip, a, b)
			}
			if bad.MatchString(norm(text, p)) { // the IDs aside: a random one may spell "sql"
				t.Errorf("%s %v shows internals or the first tenant's data: %s", k.Action, ip, text)
			}
			if strings.Contains(text, "NotFound") {
				notFound++
			}
			if strings.Contains(text, "SignatureDoesNotMatch") || strings.Contains(text, "InvalidAccessKeyId") {
				t.Fatalf("%s %v: the probe's own key is refused: %s", k.Action, ip, text)
			}
		}
	}
	if notFound < 100 { // 127 when written
		t.Errorf("only %d answers said NotFound: the probes do not reach the ID lookups", notFound)
	}
}

// consoleProbe signs in to the console as key and compares its pages and
// forms for the first tenant's IDs (a) with those for missing ones.
func consoleProbe(t *testing.T, addr, key, secret string, fakes map[string]string, a map[string]string) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	base := "http://" + addr + "/console/"
	resp, err := hc.PostForm(base+"signin", url.Values{"AccessKeyId": {key}, "AccessKeySecret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	get := func(u string) (int, string) {
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, page := get(base + "r/cn-hangzhou/groups")
	tok := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)[1]
	post := func(f url.Values) (int, string) {
		f.Set("csrf", tok)
		req, _ := http.NewRequest("POST", base+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	norm := func(s string) string {
		s = regexp.MustCompile(`[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}`).ReplaceAllString(s, "UUID")
		s = regexp.MustCompile(`\d\d:\d\d:\d\d`).ReplaceAllString(s, "TIME")
		// A change's answer is its own page, at an address named by a
		// random ID (POST-redirect-GET). Not \b after it: an ID ending in
		// '-' before a quote has no word boundary, and one in 64 did.
		s = regexp.MustCompile(`/change/[A-Za-z0-9_-]{22}([^A-Za-z0-9_-]|$)`).ReplaceAllString(s, "/change/PREVIEW$1")
		for id, f := range fakes {
			s = strings.ReplaceAll(s, id, "ID")
			s = strings.ReplaceAll(s, f, "ID")
		}
		return s
	}
	sub := func(s string) string {
		for id, f := range fakes {
			s = strings.ReplaceAll(s, id, f)
		}
		return s
	}
	r := base + "r/cn-hangzhou/"
	urls := []string{
		r + "groups/" + a["sg"], r + "groups/" + a["sg"] + "/rules/new", r + "groups/" + a["sg"] + "/rules/new?template=" + a["rule"],
		r + "groups/" + a["sg"] + "/rules/" + a["rule"] + "/edit", r + "groups/" + a["sg"] + "/export", r + "groups/" + a["sg"] + "/export?format=csv",
		r + "groups/" + a["sg"] + "/import", r + "groups/" + a["sg"] + "/import?from=" + a["sg"], r + "groups/" + a["sg"] + "/compare?with=" + a["peer"],
		r + "instances/" + a["inst"], r + "instances?vpc=" + a["vpc"], r + "map?vpc=" + a["vpc"], r + "map?group=" + a["sg"],
		r + "map/edge?from=" + a["sg"] + "&to=" + a["peer"], r + "groups?q=" + a["sg"], r + "instances?q=" + a["inst"],
		r + "audit?to=" + a["inst"] + "&from=" + a["inst"], r + "change/audit/" + a["sg"], r + "groups/new?vpc=" + a["vpc"],
		r + "groups?vpc=" + a["vpc"],
	}
	for _, u := range urls {
		s1, b1 := get(u)
		s2, b2 := get(sub(u))
		if s1 != s2 || norm(b1) != norm(b2) {
			t.Errorf("console %s: the first tenant's IDs and missing ones answer differently: %d, %d\n%s", u, s1, s2, diffLines(norm(b1), norm(b2)))
		}
		if strings.Contains(b1, "t1mark") || strings.Contains(b1, "10.77.") {
			t.Errorf("console %s shows the first tenant's data", u)
		}
	}
	forms := []url.Values{
		{"op": {"clone-group"}, "step": {"apply"}, "group": {a["sg"]}, "name": {"xyzzy-name"}},
		{"op": {"create-group"}, "step": {"apply"}, "name": {"x"}, "vpc": {a["vpc"]}},
		{"op": {"modify-group"}, "step": {"apply"}, "group": {a["sg"]}, "name": {"xyzzy-name"}}, {"op": {"edit-rule"}, "step": {"apply"}, "group": {a["sg"]}, "dir": {"ingress"}, "rule": {a["rule"]}, "r1.proto": {"tcp"}, "r1.ports": {"22/22"}, "r1.source": {"1.2.3.4/32"}},
		{"op": {"set-policy"}, "step": {"apply"}, "group": {a["sg"]}, "policy": {"Drop"}},
		{"op": {"delete-group"}, "step": {"apply"}, "group": {a["sg"]}},
		{"op": {"delete-rules"}, "step": {"apply"}, "group": {a["sg"]}, "dir": {"ingress"}, "rule": {a["rule"]}},
		{"op": {"import-rules"}, "step": {"preview"}, "group": {a["sg"]}, "dir": {"ingress"}, "rules": {"[]"}},
		{"op": {"join"}, "step": {"apply"}, "group": {a["sg"]}, "instance": {a["inst"]}},
		{"op": {"leave"}, "step": {"apply"}, "group": {a["sg"]}, "instance": {a["inst"]}},
	}
	for _, f := range forms {
		s1, b1 := post(f)
		g := url.Values{}
		for k, v := range f {
			g[k] = []string{sub(v[0])}
		}
		s2, b2 := post(g)
		if s1 != s2 || norm(b1) != norm(b2) {
			t.Errorf("console change %v: the first tenant's IDs and missing ones answer differently: %d, %d\n%s", f["op"], s1, s2, diffLines(norm(b1), norm(b2)))
		}
		if strings.Contains(b1, "t1mark") || strings.Contains(b1, "10.77.") {
			t.Errorf("console change %v shows the first tenant's data", f["op"])
		}
	}
}

// diffLines lists the first lines where a and b differ.
func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "- "+x, "+ "+y)
		}
		if len(out) > 10 {
			break
		}
	}
	return strings.Join(out, "\n")
}

// TestStreamEndsWithItsKey: a host's change stream lasts only as long as
// the key that opened it: once the host is registered again (which
// replaces its key, as when a host's key leaked) the stream sends nothing
// more and ends, so the old key's holder no longer follows the rules of
// the instances on that host; a request signed with the old key would be
// refused, and so is the agent's next.
func TestStreamEndsWithItsKey(t *testing.T) {
	e, n, key, secret := hostH1(t)
	frames := hostStream(t, e.addr, key, secret, "h1")
	// until reads frames until one holds mark; false when the stream ends.
	until := func(mark string) bool {
		for frames.Scan() {
			if strings.Contains(frames.Text(), mark) {
				return true
			}
		}
		return false
	}
	rule := func(port, desc string) {
		t.Helper()
		noErr(t, authorize(e.ecs, n.sgA, ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: port + "/" + port,
			SourceCidrIp: "192.0.2.1/32", Description: desc}))
	}
	rule("2201", "before-rotation")
	if !until("before-rotation") {
		t.Fatalf("the stream ended before the first change: %v", frames.Err())
	}
	e.srv.RegisterHost(t, "h1") // the old key is gone
	rule("2202", "after-rotation")
	if until("after-rotation") {
		t.Fatal("the stream of a replaced key goes on: it sent a change made after the key was replaced")
	}
}

// TestLongPollEndsWithItsKey: a host's long poll waiting when its key is
// replaced (the host registered again) does not answer a change made
// after that: it answers the old key's error, as the agent's next request
// would get.
func TestLongPollEndsWithItsKey(t *testing.T) {
	e, n, key, secret := hostH1(t)
	poll := func(after, wait string) (string, error) {
		b, err := signedpost.Post(context.Background(), http.DefaultClient, e.addr, key, secret, map[string]string{
			"Action": "PalisadeWatchChanges", "Version": api.ECSVersion, "HostName": "h1", "AfterRevision": after, "WaitSeconds": wait,
			"AppliedRevision": after})
		return string(b), err
	}
	first, err := poll("0", "0")
	if err != nil {
		t.Fatal(err)
	}
	var at struct{ Revision int64 }
	if err := json.Unmarshal([]byte(first), &at); err != nil || at.Revision == 0 {
		t.Fatalf("no revision in %s (%v)", first, err)
	}
	type answer struct {
		body string
		err  error
	}
	waiting := make(chan answer, 1)
	go func() {
		b, err := poll(strconv.FormatInt(at.Revision, 10), "30")
		waiting <- answer{b, err}
	}()
	// The poll has passed its signature check once the host's applied
	// revision it reports shows in the metrics.
	applied := fmt.Sprintf("palisade_agent_applied_revision{host=\"h1\"} %d\n", at.Revision)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if strings.Contains(metricsText(t, e.addr), applied) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the poll did not start: no %q in /metrics", applied)
		}
	}
	e.srv.RegisterHost(t, "h1") // the old key is gone
	noErr(t, authorize(e.ecs, n.sgA, ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "2202/2202",
		SourceCidrIp: "192.0.2.1/32", Description: "after-rotation"}))
	select {
	case a := <-waiting:
		if a.err == nil || strings.Contains(a.body, "after-rotation") {
			t.Fatalf("the poll of a replaced key answered a change made after it was replaced: %.300s", a.body)
		}
		if !strings.Contains(a.err.Error(), "InvalidAccessKeyId.NotFound") {
			t.Errorf("the poll answered %v, want the old key's InvalidAccessKeyId.NotFound", a.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the poll did not wake on the change")
	}
}

// metricsText is the server's /metrics.
func metricsText(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hostH1 is a server with a network, an instance of its group sgA bound to
// host h1, and h1's key.
// hostStream opens host's change stream (PalisadeWatchStream, heartbeats
// every second) with its key; the frames are read from the scanner, and
// the stream is closed at the end of the test.
func hostStream(t *testing.T, addr, key, secret, host string) *bufio.Scanner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := signedpost.Request(ctx, addr, key, secret, map[string]string{"Action": "PalisadeWatchStream", "Version": api.ECSVersion,
		"HostName": host, "HeartbeatSeconds": "1"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("the stream: %d %s", resp.StatusCode, b)
	}
	frames := bufio.NewScanner(resp.Body)
	frames.Buffer(nil, 1<<24)
	return frames
}

func hostH1(t *testing.T) (e *env, n network, key, secret string) {
	e = newEnv(t)
	n = newNetwork(t, e, "10.0.0.0/16")
	inst := runInstance(t, e.ecs, n.vsw, n.sgA)
	key, secret = e.srv.RegisterHost(t, "h1")
	if err := e.srv.Operator(t).Call(context.Background(), "PalisadeBindInstance",
		map[string]string{"InstanceId": inst, "HostName": "h1", "Interface": "pi-a"}, nil, 0); err != nil {
		t.Fatal(err)
	}
	return e, n, key, secret
}

// TestDeregisterHost: the operator can retire a host's key (a host gone,
// or not to be trusted) without issuing a new one: the key is refused from
// its next request, for every host action, and what its agent reported is
// forgotten. There was no way to do it: registering the host again left a
// key of that host valid.
func TestDeregisterHost(t *testing.T) {
	e, _, key, secret := hostH1(t)
	ctx := context.Background()
	op, tenant := e.srv.Operator(t), e.srv.API(t)
	host := testenv.APIClient(t, e.addr, key, secret)
	code := func(err error) string {
		if err == nil {
			return ""
		}
		if e, ok := errors.AsType[*apiclient.Error](err); ok {
			return e.Code
		}
		return err.Error()
	}
	var rev struct{ Revision int64 }
	noErr(t, host.Call(ctx, "PalisadeGetSnapshot", map[string]string{"HostName": "h1"}, &rev, 0))
	noErr(t, host.Call(ctx, "PalisadeReportHostStatus", map[string]string{"HostName": "h1", "AppliedRevision": fmt.Sprint(rev.Revision)}, nil, 0))
	hosts := func() map[string]int64 {
		var out struct {
			Hosts struct {
				Host []struct {
					HostName        string
					AppliedRevision int64
				}
			}
		}
		noErr(t, op.Call(ctx, "PalisadeListHosts", nil, &out, 0))
		m := map[string]int64{}
		for _, h := range out.Hosts.Host {
			m[h.HostName] = h.AppliedRevision
		}
		return m
	}
	if got := hosts(); got["h1"] != rev.Revision {
		t.Fatalf("before: hosts %v, want h1 at %d", got, rev.Revision)
	}
	deregister := func(c *apiclient.Client, name string) error {
		return c.Call(ctx, "PalisadeDeregisterHost", map[string]string{"HostName": name}, nil, 0)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"a tenant", deregister(tenant, "h1"), "Forbidden.Operator"},
		{"the host itself", deregister(host, "h1"), "Forbidden.HostKey"},
		{"no name", deregister(op, ""), "MissingParameter"},
		{"a bad name", deregister(op, "h1;rm"), "InvalidParameter"},
		{"a host never registered", deregister(op, "h9"), "InvalidHostName.NotFound"},
		{"h1, by the operator", deregister(op, "h1"), ""},
		{"h1 again", deregister(op, "h1"), "InvalidHostName.NotFound"},
		{"h1's snapshot", host.Call(ctx, "PalisadeGetSnapshot", map[string]string{"HostName": "h1"}, nil, 0), "InvalidAccessKeyId.NotFound"},
		{"h1's report", host.Call(ctx, "PalisadeReportHostStatus", map[string]string{"HostName": "h1"}, nil, 0), "InvalidAccessKeyId.NotFound"},
		{"h1's poll", host.Call(ctx, "PalisadeWatchChanges", map[string]string{"HostName": "h1", "WaitSeconds": "0"}, nil, 0), "InvalidAccessKeyId.NotFound"},
		{"h1's flow records", host.Call(ctx, "PalisadeReportFlowRecords", map[string]string{"HostName": "h1", "Records": "[]"}, nil, 0), "InvalidAccessKeyId.NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := code(tc.err); got != tc.want {
				t.Errorf("got %q (%v), want %q", got, tc.err, tc.want)
			}
		})
	}
	if got := hosts(); len(got) != 0 {
		t.Errorf("after: hosts %v, want none", got)
	}
	// Registered again, h1 starts with nothing reported.
	e.srv.RegisterHost(t, "h1")
	if got := hosts(); got["h1"] != 0 {
		t.Errorf("h1 registered again reports revision %d, want 0 (nothing reported since)", got["h1"])
	}
}
