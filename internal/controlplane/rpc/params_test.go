package rpc

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParamsScalars(t *testing.T) {
	p := Params{"N": "42", "Neg": "-3", "Bad": "4x", "Empty": "", "T": "TRUE", "F": "false", "B": "yes", "J": `["sg-a","sg-b"]`, "JBad": `[1]`,
		"Plus": "+5", "Space": " 5", "Zero": "05", "Huge": "9223372036854775808"}
	if !p.Has("N") || p.Has("Empty") || p.Has("Nope") || p.Get("Empty") != "" {
		t.Error("Has/Get: empty must count as absent")
	}
	for _, tc := range []struct {
		name    string
		def     int
		want    int
		wantErr bool
	}{
		{"N", 0, 42, false}, {"Neg", 0, -3, false}, {"Empty", 7, 7, false}, {"Nope", 9, 9, false}, {"Bad", 1, 1, true},
		{"Plus", 1, 1, true}, {"Space", 1, 1, true}, {"Zero", 1, 1, true}, {"Huge", 1, 1, true},
	} {
		got, err := p.Int(tc.name, tc.def)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("Int(%s) = %d, %v", tc.name, got, err)
		}
		if err != nil && (err.Code != "InvalidParameter" || err.Status != 400 || !strings.Contains(err.Message, tc.name)) {
			t.Errorf("Int(%s) error = %+v", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name      string
		def, want bool
		wantErr   bool
	}{
		{"T", false, true, false}, {"F", true, false, false}, {"Empty", true, true, false}, {"B", false, false, true},
	} {
		got, err := p.Bool(tc.name, tc.def)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("Bool(%s) = %v, %v", tc.name, got, err)
		}
	}
	if l, err := p.JSONList("J"); err != nil || !reflect.DeepEqual(l, []string{"sg-a", "sg-b"}) {
		t.Errorf("JSONList(J) = %v, %v", l, err)
	}
	if l, err := p.JSONList("Nope"); err != nil || l != nil {
		t.Errorf("JSONList(Nope) = %v, %v", l, err)
	}
	if _, err := p.JSONList("JBad"); err == nil || err.Code != "InvalidParameter" {
		t.Errorf("JSONList(JBad) error = %v", err)
	}
}

func TestParamsList(t *testing.T) {
	for _, tc := range []struct {
		name, list string
		p          Params
		want       []string
	}{
		{"none", "Id", Params{"Other.1": "x"}, []string{}},
		{"in order", "Id", Params{"Id.2": "b", "Id.1": "a"}, []string{"a", "b"}},
		{"numeric not string order", "Id", Params{"Id.10": "j", "Id.9": "i", "Id.1": "a", "Id.2": "b", "Id.11": "k"}, []string{"a", "b", "i", "j", "k"}},
		{"gaps skipped", "Id", Params{"Id.1": "a", "Id.3": "c", "Id.7": "g"}, []string{"a", "c", "g"}},
		{"empty skipped", "Id", Params{"Id.1": "", "Id.2": "b"}, []string{"b"}},
		{"not indexes", "Id", Params{"Id.0": "z", "Id.01": "z", "Id.-1": "z", "Id.+1": "z", "Id.x": "z", "Id.1.Key": "z", "Id": "z", "Idx.1": "z", "Id.": "z", "Id.1234567890": "z"}, []string{}},
		{"prefix must match a whole name", "SecurityGroupId", Params{"SecurityGroupIds.1": "a", "SecurityGroupId.1": "b"}, []string{"b"}},
		{"dotted list name", "TagFilter.1.TagValues", Params{"TagFilter.1.TagValues.2": "y", "TagFilter.1.TagValues.1": "x", "TagFilter.1.TagKey": "k"}, []string{"x", "y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.List(tc.list); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("List(%s) = %q, want %q", tc.list, got, tc.want)
			}
		})
	}
}

func TestParamsStructs(t *testing.T) {
	for _, tc := range []struct {
		name, list string
		p          Params
		want       []Params
	}{
		{"none", "Permissions", Params{"Permissions": "x", "Permissions.1": "x"}, []Params{}},
		{"two elements", "Permissions", Params{
			"Permissions.1.IpProtocol": "TCP", "Permissions.1.PortRange": "22/22",
			"Permissions.2.IpProtocol": "UDP",
		}, []Params{{"IpProtocol": "TCP", "PortRange": "22/22"}, {"IpProtocol": "UDP"}}},
		{"numeric order and gaps", "Permissions", Params{
			"Permissions.10.A": "10", "Permissions.2.A": "2", "Permissions.9.A": "9", "Permissions.1.A": "1",
		}, []Params{{"A": "1"}, {"A": "2"}, {"A": "9"}, {"A": "10"}}},
		{"nested keys stay whole", "TagFilter", Params{
			"TagFilter.1.TagKey": "env", "TagFilter.1.TagValues.1": "prod", "TagFilter.1.TagValues.2": "dev",
			"TagFilter.2.TagKey": "team",
		}, []Params{{"TagKey": "env", "TagValues.1": "prod", "TagValues.2": "dev"}, {"TagKey": "team"}}},
		{"empty values and empty elements dropped", "Tag", Params{
			"Tag.1.Key": "", "Tag.2.Key": "k", "Tag.2.Value": "",
		}, []Params{{"Key": "k"}}},
		{"bad indexes and empty fields ignored", "Tag", Params{
			"Tag.0.Key": "z", "Tag.01.Key": "z", "Tag.x.Key": "z", "Tag.1.": "z", "Tags.1.Key": "z", "Tag.1.Key": "k",
		}, []Params{{"Key": "k"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Structs(tc.list); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Structs(%s) = %v, want %v", tc.list, got, tc.want)
			}
		})
	}
	// Elements read their own nested lists.
	el := Params{"TagFilter.1.TagValues.2": "b", "TagFilter.1.TagValues.1": "a"}.Structs("TagFilter")[0]
	if got := el.List("TagValues"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("nested List = %q", got)
	}
}

// FuzzStructs checks Structs and List against a naive model of their
// definitions on arbitrary keys (N up to 12 so the model can scan indexes).
func FuzzStructs(f *testing.F) {
	f.Add("P.1.A", "x", "P.10.B.2", "y", "P.2.A", "")
	f.Add("P.01.A", "x", "P.1.", "y", "P..A", "z")
	f.Add("P.2", "x", "P.10", "y", "P.9", "z")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		p := Params{k1: v1, k2: v2, k3: v3}
		for k := range p {
			if rest, ok := strings.CutPrefix(k, "P."); ok {
				if n, _, _ := strings.Cut(rest, "."); len(n) > 2 || n > "12" && len(n) == 2 {
					t.Skip()
				}
			}
		}
		var wantStructs []Params
		var wantList []string
		for i := 1; i <= 12; i++ {
			el := Params{}
			for k, v := range p {
				if field, ok := strings.CutPrefix(k, fmt.Sprintf("P.%d.", i)); ok && field != "" && v != "" {
					el[field] = v
				}
			}
			if len(el) > 0 {
				wantStructs = append(wantStructs, el)
			}
			if v := p[fmt.Sprintf("P.%d", i)]; v != "" {
				wantList = append(wantList, v)
			}
		}
		if got := p.Structs("P"); len(got) != len(wantStructs) || len(got) > 0 && !reflect.DeepEqual(got, wantStructs) {
			t.Fatalf("Structs(%v) = %v, want %v", p, got, wantStructs)
		}
		if got := p.List("P"); len(got) != len(wantList) || len(got) > 0 && !reflect.DeepEqual(got, wantList) {
			t.Fatalf("List(%v) = %q, want %q", p, got, wantList)
		}
	})
}

// FuzzParseParams feeds arbitrary query strings and form bodies to the
// parameter parser: it must not panic, and what it returns must agree with
// the signed values.
func FuzzParseParams(f *testing.F) {
	f.Add("Action=A&Version=V", "RegionId=cn&Tag.1.Key=k")
	f.Add("a=1&a=2", "")
	f.Add("%zz", "a=%")
	f.Add("a=1", "a=1")
	f.Fuzz(func(t *testing.T, query, body string) {
		r := httptestRequest("POST", "/?"+query, body)
		p, set, err := parseSigned(r, []byte(body))
		if err != nil {
			if err.Status != 400 {
				t.Fatalf("status %d", err.Status)
			}
			return
		}
		defer set.release()
		signed := set.values
		if len(p) != len(signed) {
			t.Fatalf("params %v vs signed %v", p, signed)
		}
		for k, v := range p {
			if len(signed[k]) != 1 || signed[k][0] != v {
				t.Fatalf("%q: %q vs %q", k, v, signed[k])
			}
		}
		for _, name := range []string{"a", "Tag"} {
			p.List(name)
			p.Structs(name)
		}
	})
}

func TestParamsCheckList(t *testing.T) {
	for _, tc := range []struct {
		name          string
		list          string
		objects, bare bool
		p             Params
		wantField     string // "" = no error
		wantMsg       string
	}{
		{"objects", "Permissions", true, true, Params{"Permissions.1.IpProtocol": "TCP", "Permissions.10.PortRange": "22/22", "Other": "x"}, "", ""},
		{"absent", "Permissions", true, true, Params{"Permissions": ""}, "", ""},
		{"JSON string", "Permissions", true, true, Params{"Permissions": `[{"IpProtocol":"TCP"}]`}, "Permissions", "Permissions.1.Field"},
		{"bare allowed", "SecurityGroupIds", false, false, Params{"SecurityGroupIds": `["sg-a"]`}, "", ""},
		{"word index", "Permissions", true, true, Params{"Permissions.1.IpProtocol": "TCP", "Permissions.x.PortRange": "22/22"}, "Permissions.x.PortRange", "whole number"},
		{"zero index", "Tag", true, true, Params{"Tag.0.Key": "k"}, "Tag.0.Key", "whole number"},
		{"leading zero", "ResourceId", false, false, Params{"ResourceId.01": "sg-a"}, "ResourceId.01", "whole number"},
		{"object without field", "Tag", true, true, Params{"Tag.1": "k"}, "Tag.1", "Tag.1.Field"},
		{"scalar with field", "SecurityGroupRuleId", false, false, Params{"SecurityGroupRuleId.1.Id": "sgr-a"}, "SecurityGroupRuleId.1.Id", "SecurityGroupRuleId.1, "},
		{"empty values ignored", "Tag", true, true, Params{"Tag.x.Key": ""}, "", ""},
		{"whole names only", "Tag", true, true, Params{"Tags.x": "v", "TagFilter.1.TagValues.1": "v"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.p.CheckList(tc.list, tc.objects, tc.bare)
			switch {
			case tc.wantField == "" && e != nil:
				t.Fatalf("CheckList = %v, want nil", e)
			case tc.wantField == "":
			case e == nil:
				t.Fatalf("CheckList = nil, want an error on %s", tc.wantField)
			case e.Code != "InvalidParameter" || e.Status != 400 || !strings.Contains(e.Message, strconv.Quote(tc.wantField)) || !strings.Contains(e.Message, tc.wantMsg):
				t.Fatalf("CheckList = %d %s %q, want 400 InvalidParameter naming %q and %q", e.Status, e.Code, e.Message, tc.wantField, tc.wantMsg)
			}
		})
	}
}
