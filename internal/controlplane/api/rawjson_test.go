package api

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// reflected is the answer as the rpc encoder writes a struct (compact,
// HTML characters as they are), without the newline.
func reflected(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// flatGroups is DescribeSecurityGroups' answer as ECS shapes it, with
// flat items.
type flatGroups struct {
	RequestId      string
	RegionId       string
	NextToken      string
	TotalCount     *int `json:",omitempty" xml:",omitempty"`
	PageNumber     *int `json:",omitempty" xml:",omitempty"`
	PageSize       *int `json:",omitempty" xml:",omitempty"`
	SecurityGroups struct {
		SecurityGroup []struct {
			SecurityGroupId, SecurityGroupName, Description, SecurityGroupType, VpcId, CreationTime, ResourceGroupId string
			ServiceManaged                                                                                           bool
			ServiceID                                                                                                int64
			RuleCount, GroupToGroupRuleCount, EcsCount, AvailableInstanceAmount                                      int
			Tags                                                                                                     tagSet
		}
	}
}

// xmlOf is v's XML under the root the rpc encoder names.
func xmlOf(v any) ([]byte, error) {
	var b bytes.Buffer
	err := xml.NewEncoder(&b).EncodeElement(v, xml.StartElement{Name: xml.Name{Local: "DescribeSecurityGroupsResponse"}})
	return b.Bytes(), err
}

func flatOf(r *describeSecurityGroupsResponse) any {
	f := flatGroups{RequestId: r.RequestId, RegionId: r.RegionId, NextToken: r.NextToken, TotalCount: r.TotalCount, PageNumber: r.PageNumber, PageSize: r.PageSize}
	items := &f.SecurityGroups.SecurityGroup
	*items = make([]struct {
		SecurityGroupId, SecurityGroupName, Description, SecurityGroupType, VpcId, CreationTime, ResourceGroupId string
		ServiceManaged                                                                                           bool
		ServiceID                                                                                                int64
		RuleCount, GroupToGroupRuleCount, EcsCount, AvailableInstanceAmount                                      int
		Tags                                                                                                     tagSet
	}, len(r.SecurityGroups.SecurityGroup))
	for i, it := range r.SecurityGroups.SecurityGroup {
		x := &(*items)[i]
		x.SecurityGroupId, x.SecurityGroupName, x.Description, x.SecurityGroupType = it.SecurityGroupId, it.SecurityGroupName, it.Description, it.SecurityGroupType
		x.VpcId, x.CreationTime, x.ResourceGroupId, x.ServiceManaged, x.ServiceID = it.VpcId, it.CreationTime, it.ResourceGroupId, it.ServiceManaged, it.ServiceID
		x.RuleCount, x.GroupToGroupRuleCount, x.EcsCount, x.AvailableInstanceAmount, x.Tags = it.RuleCount, it.GroupToGroupRuleCount, it.EcsCount, it.AvailableInstanceAmount, it.Tags
	}
	return &f
}

// TestDescribeSecurityGroupsRawJSON: the answer written from the memoised
// items is byte for byte the struct's reflective encoding, whatever the
// strings hold (quotes, escapes, HTML, control characters, invalid UTF-8,
// the counts' own text) and whichever paging fields are set; a memoised
// item serves the next answer with other counts unchanged.
func TestDescribeSecurityGroupsRawJSON(t *testing.T) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("x", 3600))
	groups := []model.SecurityGroup{
		{ID: "sg-plain", Name: "web", Type: model.Normal, VpcID: "vpc-1", Created: created},
		{ID: "sg-classic", Type: model.Enterprise, Created: created, ResourceGroupID: "rg-1",
			Tags: []model.Tag{{Key: "env", Value: "prod"}, {Key: "k", Value: ""}}},
		{ID: "sg-odd", Name: `a "quoted" \ name <b>&amp;`, Description: "tab\tnl\n\x01 é 日本 \u2028\u2029 \x7f \xff\xfe",
			Type: model.Normal, VpcID: "vpc-<1>", Created: created, Tags: []model.Tag{{Key: "<k>", Value: "\"v\"\\"}}},
		{ID: "sg-counts", Description: `","RuleCount":0,"GroupToGroupRuleCount":0,"EcsCount":0,"AvailableInstanceAmount":0,"x":"`,
			Name: `"RuleCount":0,"GroupToGroupRuleCount":0,"EcsCount":0,"AvailableInstanceAmount":0`, Type: model.Normal, Created: created,
			Rules: []model.Rule{{Peer: model.Peer{GroupID: "sg-plain"}}, {Peer: model.Peer{GroupID: "sg-odd"}}}},
	}
	memos := make([]store.Memo, len(groups))
	for _, tc := range []struct {
		name                 string
		requestID, region    string
		next                 string
		total, number, size  int
		members, rules, peer int
		memo                 bool // items memoised on a record (else: made per call)
	}{
		{name: "numbers", requestID: "6C1E7B6A-0000-4000-8000-000000000001", region: "cn-hangzhou", total: 4, number: 1, size: 10, members: 3, rules: 7, peer: 2, memo: true},
		{name: "tokens", requestID: "r", region: "cn-beijing", next: "50", members: 0, rules: 0, memo: true},
		{name: "memoised again, other counts", requestID: "r2", region: "cn-beijing", members: 1999, rules: 200, peer: 20, memo: true},
		{name: "odd strings", requestID: "<\"id\">", region: "é", next: "\\", total: 1, members: 5, memo: true},
		{name: "no memo", requestID: "r3", region: "cn-hangzhou", total: 9, number: 3, size: 50, members: 2, rules: 1, memo: false},
		{name: "empty", requestID: "r4", region: "cn-hangzhou", total: 0, number: 1, size: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &describeSecurityGroupsResponse{RegionId: tc.region, NextToken: tc.next}
			if tc.number != 0 { // paged by number: the counts, 0 included
				out.TotalCount, out.PageNumber, out.PageSize = new(tc.total), new(tc.number), new(tc.size)
			}
			out.SetRequestID(tc.requestID)
			out.SecurityGroups.SecurityGroup = []securityGroupItem{}
			if tc.name != "empty" {
				for i := range groups {
					s := service.GroupSummary{Group: &groups[i], Members: tc.members + i, RuleCount: tc.rules + i, PeerRules: tc.peer,
						AvailableInstanceAmount: 2000 - tc.members - i}
					if tc.memo {
						s.Memo = &memos[i]
					}
					out.SecurityGroups.SecurityGroup = append(out.SecurityGroups.SecurityGroup, groupItem(s))
				}
			}
			var r rpc.RawJSON = out
			got, err := r.RawJSON()
			if err != nil {
				t.Fatal(err)
			}
			if want := reflected(t, out); string(got) != want {
				t.Errorf("RawJSON:\n%s\nwant the struct's encoding:\n%s", got, want)
			}
			// The shape is ECS's, as a flat struct writes it, in JSON and XML.
			flat := flatOf(out)
			if want := reflected(t, flat); string(got) != want {
				t.Errorf("RawJSON:\n%s\nwant ECS's shape:\n%s", got, want)
			}
			gotXML, err1 := xmlOf(out)
			wantXML, err2 := xmlOf(flat)
			if err1 != nil || err2 != nil || !bytes.Equal(gotXML, wantXML) {
				t.Errorf("XML:\n%s (%v)\nwant ECS's shape:\n%s (%v)", gotXML, err1, wantXML, err2)
			}
			for _, it := range out.SecurityGroups.SecurityGroup { // the answer is sized exactly, not grown
				if b, _ := it.appendJSON(nil); tc.memo && len(b) != it.jsonSize() {
					t.Errorf("%s: %d bytes, jsonSize %d", it.SecurityGroupId, len(b), it.jsonSize())
				}
			}
		})
	}
	for _, n := range []int{0, 9, 10, 99, 100, 1999, -1, -10, 1 << 40} {
		if got, want := digits(n), len(fmt.Sprint(n)); got != want {
			t.Errorf("digits(%d) = %d, want %d", n, got, want)
		}
	}
	for i := range groups { // each group's item was made once, with its JSON split around the counts
		m, ok := memos[i].Get(groupHeadKey{}, func() any { return nil }).(*groupHead)
		if !ok || m.head == nil || m.SecurityGroupId != groups[i].ID {
			t.Errorf("%s: memoised item %+v", groups[i].ID, m)
		}
	}
}

// TestDescribeSecurityGroupsAnswerFollowsChanges: the JSON answer, written
// from items memoised with each group, shows each change to the group.
func TestDescribeSecurityGroupsAnswerFollowsChanges(t *testing.T) {
	e := newEnv(t)
	id := e.newGroup(map[string]string{"SecurityGroupName": "web"})
	for _, step := range []struct {
		params map[string]string // ModifySecurityGroupAttribute's; nil: none
		want   string
	}{
		{nil, `"SecurityGroupName":"web","Description":""`},
		{map[string]string{"SecurityGroupName": "db"}, `"SecurityGroupName":"db","Description":""`},
		{map[string]string{"Description": "the <db> & co"}, `"SecurityGroupName":"db","Description":"the <db> & co"`},
	} {
		if step.params != nil {
			step.params["SecurityGroupId"] = id
			e.ecs("ModifySecurityGroupAttribute", step.params)
		}
		body, err := e.ecs("DescribeSecurityGroups", nil).(rpc.RawJSON).RawJSON()
		if err != nil || !bytes.Contains(body, []byte(step.want)) {
			t.Errorf("after %v: %s (%v), want %s", step.params, body, err, step.want)
		}
	}
}
