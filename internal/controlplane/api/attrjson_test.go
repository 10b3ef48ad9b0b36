package api

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// hostile is text that every JSON escape touches: quotes, backslashes,
// control characters, HTML, U+2028/2029, DEL and invalid UTF-8.
const hostile = "tab\t nl\n \x01 \"q\" \\ <b>&amp; é 日本 \u2028\u2029 \x7f \xff\xfe end"

// attrEnv stores groups whose rules are of every kind DescribeSecurityGroupAttribute
// shows: CIDR v4 and v6, peer groups of the account (with and without its
// owner) and of another account, prefix lists, a port range list,
// quintuple rules with source ports and local CIDRs, both directions and
// policies, hostile descriptions and IDs; and an empty group.
func attrEnv(t *testing.T) (e *env, ids map[string]string) {
	e = newEnv(t)
	me := plAccount(e)
	o := e.otherAccount()
	them := plAccount(o)
	pl := plCreate(e, map[string]string{"PrefixListName": "office", "Entry.1.Cidr": "10.9.0.0/16"})
	prl := e.ecs("CreatePortRangeList", map[string]string{"PortRangeListName": "web", "MaxEntries": "10",
		"Entry.1.PortRange": "80/80"}).(*createPortRangeListResponse).PortRangeListId
	peer := e.newGroup(map[string]string{"SecurityGroupName": "app"})
	theirs := o.newGroup(map[string]string{"SecurityGroupName": "their-secret"})
	created := time.Date(2024, 5, 6, 7, 8, 9, 123, time.FixedZone("x", 3600))
	cidr := func(s string) model.Peer { return model.Peer{CIDR: netip.MustParsePrefix(s), CIDRText: s} }
	rule := func(id string, dir model.Direction, p model.Peer, mod func(*model.Rule)) model.Rule {
		r := model.Rule{ID: id, Direction: dir, Policy: model.Accept, Priority: 1, Protocol: model.TCP,
			PortRange: model.PortRange{Start: 22, End: 22}, Peer: p, NicType: model.Intranet, Created: created}
		if mod != nil {
			mod(&r)
		}
		return r
	}
	all := &model.SecurityGroup{ID: "sg-all", Region: "cn-hangzhou", Owner: me, Name: hostile, Description: hostile,
		Type: model.Normal, VpcID: "vpc-<1>", InnerAccessPolicy: model.InnerAccept, Created: created, Rules: []model.Rule{
			rule("sgr-v4", model.Ingress, cidr("10.0.0.0/8"), func(r *model.Rule) { r.Description = hostile }),
			rule("sgr-v6", model.Ingress, cidr("2001:db8::/64"), func(r *model.Rule) { r.Protocol, r.PortRange = model.UDP, model.PortRange{Start: 53, End: 53} }),
			rule("sgr-peer", model.Ingress, model.Peer{GroupID: peer}, nil),
			rule("sgr-peer-owned", model.Ingress, model.Peer{GroupID: peer, GroupOwner: me}, func(r *model.Rule) { r.Priority = 2 }),
			rule("sgr-theirs", model.Ingress, model.Peer{GroupID: theirs, GroupOwner: them}, nil),
			rule("sgr-peer-out", model.Egress, model.Peer{GroupID: peer}, nil),
			rule("sgr-theirs-out", model.Egress, model.Peer{GroupID: theirs, GroupOwner: them}, nil),
			rule("sgr-pl", model.Ingress, model.Peer{PrefixListID: pl}, nil),
			rule("sgr-pl-out", model.Egress, model.Peer{PrefixListID: pl}, func(r *model.Rule) { r.Policy = model.Drop }),
			rule("sgr-ports", model.Ingress, cidr("10.2.0.0/16"), func(r *model.Rule) { r.PortRange, r.PortRangeListID = model.PortRange{}, prl }),
			rule("sgr-quint", model.Ingress, cidr("10.1.0.0/16"), func(r *model.Rule) {
				r.SourcePortRange, r.Local, r.LocalText = model.PortRange{Start: 1000, End: 2000}, netip.MustParsePrefix("192.168.0.0/24"), "192.168.0.0/24"
			}),
			rule("sgr-quint6", model.Egress, cidr("2001:db8:1::/48"), func(r *model.Rule) {
				r.SourcePortRange, r.Local, r.LocalText = model.PortRange{Start: 1, End: 65535}, netip.MustParsePrefix("2001:db8:2::/48"), "2001:DB8:2::/48"
			}),
			rule("sgr-drop", model.Egress, cidr("0.0.0.0/0"), func(r *model.Rule) {
				r.Policy, r.Priority, r.Protocol, r.PortRange = model.Drop, 100, model.ALL, model.PortRange{Start: -1, End: -1}
			}),
			rule(`sgr-"<odd>"`, model.Ingress, cidr("10.3.0.0/16"), func(r *model.Rule) { r.Description = "\u2028</script>" }),
		}}
	empty := &model.SecurityGroup{ID: "sg-empty", Region: "cn-hangzhou", Owner: me, Type: model.Normal,
		InnerAccessPolicy: model.InnerAccept, Created: created, Rules: []model.Rule{}}
	if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error {
		if err := putGroup(tx, all); err != nil {
			return err
		}
		return putGroup(tx, empty)
	}); err != nil {
		t.Fatal(err)
	}
	return e, map[string]string{"all": all.ID, "empty": empty.ID, "peer": peer, "pl": pl, "prl": prl}
}

// attrBoth calls DescribeSecurityGroupAttribute as a caller other than the
// server (Format unset), which gets the struct's Permissions as well as
// the rules RawJSON writes: the two encodings of one answer.
func attrBoth(t *testing.T, e *env, params map[string]string) (raw, reflect string, out *describeSecurityGroupAttributeResponse) {
	t.Helper()
	out = e.ecs("DescribeSecurityGroupAttribute", params).(*describeSecurityGroupAttributeResponse)
	out.SetRequestID(`6C1E7B6A-<"id">`)
	var r rpc.RawJSON = out
	body, err := r.RawJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(body), reflected(t, out), out
}

// TestDescribeSecurityGroupAttributeRawJSON: the answer written from the
// rules' memoised texts (and, without a memo, from each rule) is byte for
// byte the struct's reflective encoding, for every kind of rule, filter
// and page; another account's group is shown by ID and owner, never its
// name.
func TestDescribeSecurityGroupAttributeRawJSON(t *testing.T) {
	e, ids := attrEnv(t)
	memoised := 0
	for _, tc := range []struct {
		name   string
		params map[string]string
		rules  int // in the answer
	}{
		{"all", map[string]string{"SecurityGroupId": ids["all"]}, 14},
		{"ingress", map[string]string{"SecurityGroupId": ids["all"], "Direction": "ingress"}, 9},
		{"egress", map[string]string{"SecurityGroupId": ids["all"], "Direction": "Egress"}, 5},
		{"first page", map[string]string{"SecurityGroupId": ids["all"], "MaxResults": "10"}, 10},
		{"second page", map[string]string{"SecurityGroupId": ids["all"], "MaxResults": "10", "NextToken": "10"}, 4},
		{"past the end", map[string]string{"SecurityGroupId": ids["all"], "MaxResults": "10", "NextToken": "20"}, 0},
		{"empty", map[string]string{"SecurityGroupId": ids["empty"]}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 2 { // the second from the memo made by the first, when the view serves it
				raw, want, out := attrBoth(t, e, tc.params)
				if raw != want {
					t.Fatalf("RawJSON:\n%s\nwant the struct's encoding:\n%s", raw, want)
				}
				if n := len(out.Permissions.Permission); n != tc.rules {
					t.Errorf("%d rules, want %d", n, tc.rules)
				}
				if strings.Contains(raw, "their-secret") {
					t.Errorf("another account's group name shown: %s", raw)
				}
				if out.memo != nil {
					memoised++
				}
				// Without the memo: each rule written now, the same bytes.
				out.memo = nil
				if body, err := out.RawJSON(); err != nil || string(body) != want {
					t.Fatalf("round %d, no memo:\n%s (%v)\nwant:\n%s", round, body, err, want)
				}
			}
		})
	}
	if memoised == 0 {
		t.Error("no answer was written from the group record's memo")
	}
	// The answer is valid JSON of the ECS shape.
	raw, _, _ := attrBoth(t, e, map[string]string{"SecurityGroupId": ids["all"]})
	var doc struct {
		Permissions struct{ Permission []map[string]string }
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil || len(doc.Permissions.Permission) != 14 || len(doc.Permissions.Permission[0]) != 26 {
		t.Fatalf("answer %s: %v", raw, err)
	}
}

// TestDescribeSecurityGroupAttributeNamesFollow: the names a rule shows
// are other records' (peer group, prefix list, port range list): renaming
// them changes the answer although the group's record, and the rule texts
// memoised with it, stay the same.
func TestDescribeSecurityGroupAttributeNamesFollow(t *testing.T) {
	e, ids := attrEnv(t)
	params := map[string]string{"SecurityGroupId": ids["all"]}
	for _, step := range []struct {
		action string
		params map[string]string
		want   string
	}{
		{"", nil, `"SourceGroupName":"app"`},
		{"ModifySecurityGroupAttribute", map[string]string{"SecurityGroupId": ids["peer"], "SecurityGroupName": "app-2"}, `"SourceGroupName":"app-2"`},
		{"ModifyPrefixList", map[string]string{"PrefixListId": ids["pl"], "PrefixListName": "office-2"}, `"SourcePrefixListName":"office-2"`},
		{"ModifyPortRangeList", map[string]string{"PortRangeListId": ids["prl"], "PortRangeListName": "web-2"}, `"PortRangeListName":"web-2"`},
	} {
		if step.action != "" {
			e.ecs(step.action, step.params)
		}
		raw, want, _ := attrBoth(t, e, params)
		if raw != want || !strings.Contains(raw, step.want) {
			t.Errorf("after %s %v:\n%s\nwant %s, as the struct's:\n%s", step.action, step.params, raw, step.want, want)
		}
	}
	// The egress twins show the names on the Dest side.
	raw, _, _ := attrBoth(t, e, map[string]string{"SecurityGroupId": ids["all"], "Direction": "egress"})
	for _, want := range []string{`"DestGroupName":"app-2"`, `"DestPrefixListName":"office-2"`} {
		if !bytes.Contains([]byte(raw), []byte(want)) {
			t.Errorf("egress answer %s lacks %s", raw, want)
		}
	}
}
