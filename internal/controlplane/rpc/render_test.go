package rpc

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

type permission struct {
	IpProtocol string
	PortRange  string
	Priority   string
}

type describeAttr struct {
	Base
	SecurityGroupId string
	Permissions     struct{ Permission []permission }
	Tags            struct{ Tag []struct{ Key, Value string } }
	TotalCount      int
}

type nested struct {
	Base
	Outer struct {
		Inner []struct {
			Names struct{ Name []string }
		}
	}
	Ptr   *struct{ Items []string }
	Any   any
	Map   map[string][]string
	Raw   []byte
	When  time.Time
	Arr   [2]struct{ L []int }
	Count int
	hide  []int
}

func TestEncodeResult(t *testing.T) {
	full := &describeAttr{SecurityGroupId: "sg-1", TotalCount: 1}
	full.Permissions.Permission = []permission{{"TCP", "22/22", "1"}, {"UDP", "53/53", "2"}}
	for _, tc := range []struct {
		name     string
		format   string
		action   string
		result   any
		want     string // exact body without trailing newline
		wantType string
	}{
		{name: "json empty lists are []", format: "JSON", action: "DescribeSecurityGroupAttribute", result: &describeAttr{SecurityGroupId: "sg-1"},
			want: `{"RequestId":"RID","SecurityGroupId":"sg-1","Permissions":{"Permission":[]},"Tags":{"Tag":[]},"TotalCount":0}`, wantType: contentTypeJSON},
		{name: "json value not pointer", format: "JSON", action: "X", result: describeAttr{},
			want: `{"RequestId":"RID","SecurityGroupId":"","Permissions":{"Permission":[]},"Tags":{"Tag":[]},"TotalCount":0}`, wantType: contentTypeJSON},
		{name: "json nil result", format: "JSON", action: "DeleteSecurityGroup", result: nil, want: `{"RequestId":"RID"}`, wantType: contentTypeJSON},
		{name: "json full", format: "JSON", action: "X", result: full,
			want: `{"RequestId":"RID","SecurityGroupId":"sg-1","Permissions":{"Permission":[{"IpProtocol":"TCP","PortRange":"22/22","Priority":"1"},{"IpProtocol":"UDP","PortRange":"53/53","Priority":"2"}]},"Tags":{"Tag":[]},"TotalCount":1}`, wantType: contentTypeJSON},
		{name: "json nested wrappers", format: "JSON", action: "X", result: &nested{
			Outer: struct {
				Inner []struct{ Names struct{ Name []string } }
			}{Inner: make([]struct{ Names struct{ Name []string } }, 1)},
			Ptr: &struct{ Items []string }{}, Any: &struct{ L []string }{}, Map: map[string][]string{"k": nil},
		},
			want: `{"RequestId":"RID","Outer":{"Inner":[{"Names":{"Name":[]}}]},"Ptr":{"Items":[]},"Any":{"L":[]},"Map":{"k":[]},"Raw":null,"When":"0001-01-01T00:00:00Z","Arr":[{"L":[]},{"L":[]}],"Count":0}`, wantType: contentTypeJSON},
		{name: "xml root is ActionResponse", format: "XML", action: "DeleteSecurityGroup", result: nil,
			want: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<DeleteSecurityGroupResponse><RequestId>RID</RequestId></DeleteSecurityGroupResponse>`, wantType: contentTypeXML},
		{name: "xml wrappers and repeated elements", format: "XML", action: "DescribeSecurityGroupAttribute", result: full,
			want: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<DescribeSecurityGroupAttributeResponse><RequestId>RID</RequestId><SecurityGroupId>sg-1</SecurityGroupId>` +
				`<Permissions><Permission><IpProtocol>TCP</IpProtocol><PortRange>22/22</PortRange><Priority>1</Priority></Permission>` +
				`<Permission><IpProtocol>UDP</IpProtocol><PortRange>53/53</PortRange><Priority>2</Priority></Permission></Permissions>` +
				`<Tags></Tags><TotalCount>1</TotalCount></DescribeSecurityGroupAttributeResponse>`, wantType: contentTypeXML},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, ct, err := encodeResult(&Request{Action: tc.action, Format: tc.format, RequestID: "RID"}, tc.result)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSuffix(string(body), "\n"); got != tc.want {
				t.Errorf("body\n got %s\nwant %s", got, tc.want)
			}
			if ct != tc.wantType {
				t.Errorf("content type %q", ct)
			}
		})
	}
}

// The JSON normalisation copies: a handler's (possibly shared) value keeps
// its nil slices, and unexported fields survive the copy.
func TestWithEmptySlicesDoesNotMutate(t *testing.T) {
	in := &nested{hide: []int{1}}
	out := withEmptySlices(in).(*nested)
	if in.Outer.Inner != nil || in.Map != nil {
		t.Error("input modified")
	}
	if out == in || out.Outer.Inner == nil || len(out.hide) != 1 {
		t.Errorf("output %+v", out)
	}
	if withEmptySlices(nil) != nil {
		t.Error("nil")
	}
	if got, _ := json.Marshal(withEmptySlices([]string(nil))); string(got) != "[]" {
		t.Errorf("top-level nil slice = %s", got)
	}
}

func TestEncodeResultUnsupported(t *testing.T) {
	// encoding/xml cannot render maps: the server turns this into a 500.
	_, _, err := encodeResult(&Request{Action: "X", Format: "XML", RequestID: "RID"}, map[string]string{"a": "b"})
	if err == nil {
		t.Fatal("want error")
	}
}

type completeResp struct {
	Base
	List []string
}

func (*completeResp) SlicesComplete() {}

type embedsComplete struct {
	completeResp
	Other []int
}

func TestSlicesComplete(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want bool
	}{
		{&Base{}, true},
		{&completeResp{}, true},
		{&embedsComplete{}, false}, // promoted: the embedding type may add lists
		{&struct{ Base }{}, false},
	} {
		if got := slicesComplete(tt.v); got != tt.want {
			t.Errorf("slicesComplete(%T) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

type tree struct {
	Name string
	Kids []*tree
	Next *tree
}

type flat struct {
	A, B string
	N    int
	Raw  []byte
	When time.Time
}

// holdsSlice decides which values the walk may skip: only those that can
// hold no slice it would change (recursive types included).
func TestHoldsSlice(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want bool
	}{
		{"flat struct", flat{}, false},
		{"slice of flat", []flat{}, true},
		{"pointer to flat", &flat{}, false},
		{"map of strings", map[string]string{}, false},
		{"map of slices", map[string][]int{}, true},
		{"bytes", []byte{}, false},
		{"interface field", struct{ X any }{}, true},
		{"recursive", tree{}, true},
		{"nested", nested{}, true},
		{"array of flat", [2]flat{}, false},
	} {
		if got := holdsSlice(reflect.TypeOf(tc.v)); got != tc.want {
			t.Errorf("%s: holdsSlice = %v, want %v", tc.name, got, tc.want)
		}
	}
	// A recursive value is walked all the way down.
	got, _ := json.Marshal(withEmptySlices(&tree{Name: "a", Next: &tree{Name: "b"}}))
	if want := `{"Name":"a","Kids":[],"Next":{"Name":"b","Kids":[],"Next":null}}`; string(got) != want {
		t.Errorf("recursive: got %s, want %s", got, want)
	}
}

// BenchmarkWithEmptySlices: a large answer of flat items (the analysis's
// links) is walked without copying each item.
func BenchmarkWithEmptySlices(b *testing.B) {
	v := struct {
		Links struct{ Link []flat }
		Tags  []string
	}{}
	v.Links.Link = make([]flat, 10000)
	for b.Loop() {
		withEmptySlices(&v)
	}
}

// TestWithEmptySlicesCopiesOnlyWhatChanges: a list whose items hold no nil
// slice is encoded from the handler's own value (an analysis's thousands
// of links are not copied); one nil slice deep in it copies the path to
// it, and the input keeps its nil.
func TestWithEmptySlicesCopiesOnlyWhatChanges(t *testing.T) {
	type item struct {
		Name  string
		Ports []int
	}
	type answer struct {
		Base
		Items []item
		Meta  map[string][]string
	}
	items := []item{{"a", []int{1}}, {"b", []int{}}, {"c", []int{3}}}
	full := &answer{Items: items, Meta: map[string][]string{"k": {"v"}}}
	if out := withEmptySlices(full); out != any(full) {
		t.Errorf("an answer without nil slices was copied")
	}
	items[1].Ports = nil
	out := withEmptySlices(full).(*answer)
	if out == full || &out.Items[0] == &items[0] || out.Items[1].Ports == nil || items[1].Ports != nil {
		t.Errorf("nil slice in an item: input %+v, output %+v", items, out.Items)
	}
	if &out.Items[0].Ports[0] != &items[0].Ports[0] || out.Meta["k"][0] != "v" {
		t.Errorf("the items' unchanged insides were not kept: %+v", out)
	}
	full.Meta["n"] = nil
	out = withEmptySlices(full).(*answer)
	if out.Meta["n"] == nil || full.Meta["n"] != nil || len(out.Meta) != 2 {
		t.Errorf("nil slice in a map value: input %v, output %v", full.Meta, out.Meta)
	}
}
