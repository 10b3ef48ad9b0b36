package apitest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// ECS's older tag actions (AddTags, RemoveTags, DescribeTags), through the
// official SDK's own request and response types.

// addTags sends AddTags; tags are key, value pairs.
func addTags(c *ecs.Client, typ, id string, tags ...string) error {
	r := ecs.CreateAddTagsRequest()
	r.ResourceType, r.ResourceId = typ, id
	var ts []ecs.AddTagsTag
	for i := 0; i+1 < len(tags); i += 2 {
		ts = append(ts, ecs.AddTagsTag{Key: tags[i], Value: tags[i+1]})
	}
	if ts != nil {
		r.Tag = &ts
	}
	_, err := c.AddTags(r)
	return err
}

// removeTags sends RemoveTags; tags are key, value pairs.
func removeTags(c *ecs.Client, typ, id string, tags ...string) error {
	r := ecs.CreateRemoveTagsRequest()
	r.ResourceType, r.ResourceId = typ, id
	var ts []ecs.RemoveTagsTag
	for i := 0; i+1 < len(tags); i += 2 {
		ts = append(ts, ecs.RemoveTagsTag{Key: tags[i], Value: tags[i+1]})
	}
	if ts != nil {
		r.Tag = &ts
	}
	_, err := c.RemoveTags(r)
	return err
}

// tagQuery is a DescribeTags request's parameters.
type tagQuery struct {
	typ, id          string
	tags             []ecs.DescribeTagsTag
	number, pageSize int // 0: not sent
}

func describeTags(c *ecs.Client, q tagQuery) (*ecs.DescribeTagsResponse, error) {
	r := ecs.CreateDescribeTagsRequest()
	r.ResourceType, r.ResourceId = q.typ, q.id
	if q.tags != nil {
		r.Tag = &q.tags
	}
	if q.number > 0 {
		r.PageNumber = requests.NewInteger(q.number)
	}
	if q.pageSize > 0 {
		r.PageSize = requests.NewInteger(q.pageSize)
	}
	return c.DescribeTags(r)
}

// tagCounts renders DescribeTags' tags as "key=value instances/groups/ENIs".
func tagCounts(res *ecs.DescribeTagsResponse) []string {
	var out []string
	for _, tg := range res.Tags.Tag {
		n := tg.ResourceTypeCount
		out = append(out, fmt.Sprintf("%s=%s %d/%d/%d", tg.TagKey, tg.TagValue, n.Instance, n.Securitygroup, n.Eni))
	}
	return out
}

// TestLegacyTags: AddTags and RemoveTags change the tags TagResources and
// ListTagResources see, and DescribeTags counts the resources of each type
// that carry each tag, filtered and paged as ECS does.
func TestLegacyTags(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	a := createGroup(t, c, "tags-a", "", "")
	b := createGroup(t, c, "tags-b", "", "")
	inst := runInstance(t, c, "", a)
	noErr(t, addTags(c, "securitygroup", a, "env", "prod", "team", "net"))
	noErr(t, addTags(c, "SecurityGroup", b, "env", "test")) // the type in any case
	noErr(t, addTags(c, "securitygroup", b, "env", "prod")) // a key it has: the new value
	noErr(t, addTags(c, "instance", inst, "env", "prod", "role", "db", "empty", ""))
	// The tags are the ones the newer actions read.
	if got := tagRows(t, c, "securitygroup", a); !slices.Equal(got, []string{"env=prod", "team=net"}) {
		t.Fatalf("ListTagResources of %s after AddTags: %v", a, got)
	}
	if got := tagRows(t, c, "securitygroup", b); !slices.Equal(got, []string{"env=prod"}) {
		t.Fatalf("ListTagResources of %s after AddTags: %v", b, got)
	}

	for _, tc := range []struct {
		name        string
		q           tagQuery
		want        []string
		total, page int
	}{
		{"all types", tagQuery{}, []string{"empty= 1/0/0", "env=prod 1/2/0", "role=db 1/0/0", "team=net 0/1/0"}, 4, 1},
		{"one type", tagQuery{typ: "securitygroup"}, []string{"env=prod 0/2/0", "team=net 0/1/0"}, 2, 1},
		{"one resource", tagQuery{id: a}, []string{"env=prod 0/1/0", "team=net 0/1/0"}, 2, 1},
		{"resource of another type", tagQuery{typ: "instance", id: a}, nil, 0, 1},
		{"by key", tagQuery{tags: []ecs.DescribeTagsTag{{Key: "env"}}}, []string{"env=prod 1/2/0"}, 1, 1},
		{"by key and value", tagQuery{tags: []ecs.DescribeTagsTag{{Key: "env", Value: "test"}}}, nil, 0, 1},
		{"by either of two", tagQuery{tags: []ecs.DescribeTagsTag{{Key: "role", Value: "db"}, {Key: "team"}}}, []string{"role=db 1/0/0", "team=net 0/1/0"}, 2, 1},
		{"unknown resource", tagQuery{id: "sg-nothere000000000000"}, nil, 0, 1},
		{"first page", tagQuery{pageSize: 3}, []string{"empty= 1/0/0", "env=prod 1/2/0", "role=db 1/0/0"}, 4, 1},
		{"second page", tagQuery{pageSize: 3, number: 2}, []string{"team=net 0/1/0"}, 4, 2},
		{"past the end", tagQuery{pageSize: 3, number: 3}, nil, 4, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := must(describeTags(c, tc.q))(t)
			if got := tagCounts(res); !slices.Equal(got, tc.want) {
				t.Errorf("tags %v, want %v", got, tc.want)
			}
			size := tc.q.pageSize
			if size == 0 {
				size = 50
			}
			if res.TotalCount != tc.total || res.PageNumber != tc.page || res.PageSize != size {
				t.Errorf("TotalCount %d PageNumber %d PageSize %d, want %d %d %d", res.TotalCount, res.PageNumber, res.PageSize, tc.total, tc.page, size)
			}
		})
	}

	// RemoveTags removes the tags that match a key (and a value, when
	// given); others, and keys the resource lacks, are left alone.
	for _, tc := range []struct {
		name string
		tags []string
		want []string
	}{
		{"another value", []string{"env", "test"}, []string{"env=prod", "team=net"}},
		{"absent key", []string{"nothere", ""}, []string{"env=prod", "team=net"}},
		{"no tags", nil, []string{"env=prod", "team=net"}},
		{"key and value", []string{"env", "prod"}, []string{"team=net"}},
		{"key only", []string{"team", ""}, nil},
	} {
		t.Run("RemoveTags "+tc.name, func(t *testing.T) {
			noErr(t, removeTags(c, "securitygroup", a, tc.tags...))
			if got := tagRows(t, c, "securitygroup", a); !slices.Equal(got, tc.want) {
				t.Errorf("tags of %s: %v, want %v", a, got, tc.want)
			}
		})
	}
	if got := tagCounts(must(describeTags(c, tagQuery{}))(t)); !slices.Equal(got, []string{"empty= 1/0/0", "env=prod 1/1/0", "role=db 1/0/0"}) {
		t.Errorf("DescribeTags after RemoveTags: %v", got)
	}
}

// errorMessage is an SDK error's message.
func errorMessage(err error) string {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.Message()
	}
	return ""
}

// TestLegacyTagsRefused: bad input gets ECS's error and changes nothing; a
// tenant naming another's resource is told it does not exist, in the words
// a missing one gets, and reads none of its tags.
func TestLegacyTagsRefused(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	other := e.newAccount(t, "other")
	a := createGroup(t, c, "mine", "", "")
	theirs := createGroup(t, other.ecs, "theirs", "", "")
	noErr(t, addTags(other.ecs, "securitygroup", theirs, "owner", "other"))
	// a carries 19 tags: two more would pass the quota of 20.
	var nineteen []string
	for i := range 19 {
		nineteen = append(nineteen, fmt.Sprintf("k%02d", i), "v")
	}
	noErr(t, addTags(c, "securitygroup", a, nineteen...))
	before := tagRows(t, c, "securitygroup", a)
	var many []string
	for i := range 21 {
		many = append(many, fmt.Sprintf("n%02d", i), "v")
	}

	for _, tc := range []struct {
		name   string
		action func(c *ecs.Client, typ, id string, tags ...string) error
		typ    string
		id     string
		tags   []string
		status int
		code   string
	}{
		{"AddTags unknown type", addTags, "disk", a, []string{"x", "1"}, 404, "InvalidResourceType.NotFound"},
		{"AddTags VPC's type", addTags, "vpc", a, []string{"x", "1"}, 404, "InvalidResourceType.NotFound"},
		{"AddTags no type", addTags, "", a, []string{"x", "1"}, 404, "MissingParameter.ResourceType"},
		{"AddTags no id", addTags, "securitygroup", "", []string{"x", "1"}, 400, "MissingParameter"},
		{"AddTags unknown id", addTags, "securitygroup", "sg-nothere000000000000", []string{"x", "1"}, 404, "InvalidResourceId.NotFound"},
		{"AddTags a group as an instance", addTags, "instance", a, []string{"x", "1"}, 404, "InvalidResourceId.NotFound"},
		{"AddTags another tenant's", addTags, "securitygroup", theirs, []string{"x", "1"}, 404, "InvalidResourceId.NotFound"},
		{"AddTags no tags", addTags, "securitygroup", a, nil, 400, "InvalidTagCount"},
		{"AddTags 21 tags", addTags, "securitygroup", a, many, 400, "InvalidTagCount"},
		{"AddTags past the quota", addTags, "securitygroup", a, []string{"x", "1", "y", "2"}, 400, "OperationDenied.QuotaExceed"},
		{"AddTags aliyun key", addTags, "securitygroup", a, []string{"aliyun:x", "1"}, 400, "InvalidTagKey.Malformed"},
		{"AddTags acs: key", addTags, "securitygroup", a, []string{"ACS:x", "1"}, 400, "InvalidTagKey.Malformed"},
		{"AddTags long key", addTags, "securitygroup", a, []string{strings.Repeat("k", 129), "1"}, 400, "InvalidTagKey.Malformed"},
		{"AddTags long value", addTags, "securitygroup", a, []string{"x", strings.Repeat("v", 129)}, 400, "InvalidTagValue.Malformed"},
		{"AddTags value without key", addTags, "securitygroup", a, []string{"", "1"}, 400, "InvalidTagKey.Malformed"},
		{"AddTags key twice", addTags, "securitygroup", a, []string{"x", "1", "x", "2"}, 400, "Duplicate.TagKey"},
		{"RemoveTags unknown type", removeTags, "disk", a, []string{"k00", ""}, 404, "InvalidResourceType.NotFound"},
		{"RemoveTags unknown id", removeTags, "securitygroup", "sg-nothere000000000000", []string{"k00", ""}, 404, "InvalidResourceId.NotFound"},
		{"RemoveTags another tenant's", removeTags, "securitygroup", theirs, []string{"owner", ""}, 404, "InvalidResourceId.NotFound"},
		{"RemoveTags 21 tags", removeTags, "securitygroup", a, many, 400, "InvalidTagCount"},
		{"RemoveTags value without key", removeTags, "securitygroup", a, []string{"", "v"}, 400, "InvalidTagKey.Malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.action(c, tc.typ, tc.id, tc.tags...)
			wantErr(t, err, tc.status, tc.code)
			if got := tagRows(t, c, "securitygroup", a); !slices.Equal(got, before) {
				t.Errorf("tags of %s changed to %v", a, got)
			}
			if got := tagRows(t, other.ecs, "securitygroup", theirs); !slices.Equal(got, []string{"owner=other"}) {
				t.Errorf("the other tenant's tags changed to %v", got)
			}
		})
	}

	// Another tenant's group is answered as a missing one: the same
	// message but for the ID.
	missing := addTags(c, "securitygroup", "sg-nothere000000000000", "x", "1")
	foreign := addTags(c, "securitygroup", theirs, "x", "1")
	if m, f := errorMessage(missing), errorMessage(foreign); strings.ReplaceAll(f, theirs, "sg-nothere000000000000") != m || m == "" {
		t.Errorf("another tenant's group: %q; a missing one: %q", f, m)
	}

	for _, tc := range []struct {
		name   string
		q      tagQuery
		status int
		code   string
	}{
		{"VPC's type", tagQuery{typ: "vswitch"}, 404, "InvalidResourceType.NotFound"},
		{"unknown type", tagQuery{typ: "bucket"}, 404, "InvalidResourceType.NotFound"},
		{"page size 101", tagQuery{pageSize: 101}, 400, "InvalidPageSize.Malformed"},
		{"21 tags", tagQuery{tags: func() []ecs.DescribeTagsTag {
			var ts []ecs.DescribeTagsTag
			for i := range 21 {
				ts = append(ts, ecs.DescribeTagsTag{Key: fmt.Sprintf("k%02d", i)})
			}
			return ts
		}()}, 400, "InvalidTagCount"},
		{"value without key", tagQuery{tags: []ecs.DescribeTagsTag{{Value: "v"}}}, 400, "InvalidTagKey.Malformed"},
	} {
		t.Run("DescribeTags "+tc.name, func(t *testing.T) {
			_, err := describeTags(c, tc.q)
			wantErr(t, err, tc.status, tc.code)
		})
	}
	// DescribeTags of another tenant's resource answers as of a missing one.
	for _, q := range []tagQuery{{id: theirs}, {typ: "securitygroup", id: theirs}, {tags: []ecs.DescribeTagsTag{{Key: "owner"}}}} {
		res := must(describeTags(c, q))(t)
		if len(res.Tags.Tag) != 0 || res.TotalCount != 0 {
			t.Errorf("DescribeTags %+v shows another tenant's tags: %+v", q, res.Tags.Tag)
		}
	}
}

// TestLegacyTagsTrail: AddTags and RemoveTags are in the event trail as the
// other writes are, naming the resource with its ActionTrail type, refused
// calls too; a DescribeTags that succeeds is a read and is not.
func TestLegacyTagsTrail(t *testing.T) {
	s := testenv.Start(t, testenv.Config{})
	a := newTenant(t, s, "a")
	cr := ecs.CreateCreatePrefixListRequest()
	cr.AddressFamily, cr.MaxEntries, cr.PrefixListName = "IPv4", "5", "office"
	for _, tc := range []struct {
		typ, id, trailType, create string
	}{
		{"securitygroup", newGroup(t, a.ecs), "ACS::ECS::SecurityGroup", "CreateSecurityGroup"},
		{"prefixlist", must(a.ecs.CreatePrefixList(cr))(t).PrefixListId, "ACS::VPC::PrefixList", "CreatePrefixList"},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			noErr(t, addTags(a.ecs, tc.typ, tc.id, "env", "prod"))
			noErr(t, removeTags(a.ecs, tc.typ, tc.id, "env", ""))
			wantErr(t, addTags(a.ecs, tc.typ, tc.id, "aliyun:x", "1"), 400, "InvalidTagKey.Malformed")
			must(describeTags(a.ecs, tagQuery{typ: tc.typ}))(t)

			got := map[string]int{}
			for _, ev := range lookup(t, a.trail, "ResourceName", tc.id) {
				code, _ := ev["errorCode"].(string)
				got[ev["eventName"].(string)+" "+code]++
				if ev["resourceType"] != tc.trailType || ev["eventRW"] != "Write" {
					t.Errorf("%s event: resourceType %v, eventRW %v; want %s Write", ev["eventName"], ev["resourceType"], ev["eventRW"], tc.trailType)
				}
			}
			want := map[string]int{tc.create + " ": 1, "AddTags ": 1, "RemoveTags ": 1, "AddTags InvalidTagKey.Malformed": 1}
			if len(got) != len(want) {
				t.Errorf("events of %s: %v, want %v", tc.id, got, want)
			}
			for k, n := range want {
				if got[k] != n {
					t.Errorf("events of %s: %v, want %v", tc.id, got, want)
				}
			}
		})
	}
	for _, ev := range lookup(t, a.trail, "EventName", "DescribeTags") {
		t.Errorf("a DescribeTags that succeeded is in the trail: %v", ev)
	}
}
