package trail

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Params encode and decode as the map of the same parameters, whatever
// their order or repeats (the last of a name counts), and Get, set and
// Map agree with that map.
func TestParamsAsMap(t *testing.T) {
	for _, tc := range []struct {
		ps   Params
		want map[string]string // nil: JSON null
	}{
		{nil, nil},
		{Params{}, map[string]string{}},
		{Params{{"A", "1"}}, map[string]string{"A": "1"}},
		{Params{{"A", "1"}, {"A", "2"}}, map[string]string{"A": "2"}},
		{Params{{"B", "1"}, {"A", "2"}, {"B", "3"}}, map[string]string{"A": "2", "B": "3"}},
		{Params{{"a<&>", "\xff"}, {"", ""}, {"é", "\u2028"}}, map[string]string{"a<&>": "\xff", "": "", "é": "\u2028"}},
	} {
		got, err := json.Marshal(tc.ps)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(tc.want)
		if string(got) != string(want) {
			t.Errorf("%q encodes as %s, want %s", tc.ps, got, want)
		}
		var back Params
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		var wantBack map[string]string
		json.Unmarshal(want, &wantBack)
		if !reflect.DeepEqual(back.Map(), wantBack) || !back.canonical() || (back == nil) != (tc.want == nil) {
			t.Errorf("%s decodes to %q", got, back)
		}
		for k, v := range tc.want {
			if tc.ps.Get(k) != v {
				t.Errorf("%q: Get(%q) = %q, want %q", tc.ps, k, tc.ps.Get(k), v)
			}
		}
		if !reflect.DeepEqual(tc.ps.Map(), tc.want) {
			t.Errorf("%q: Map() = %v, want %v", tc.ps, tc.ps.Map(), tc.want)
		}
	}
	ps := ParamsOf(map[string]string{"B": "b", "D": "d"})
	for _, kv := range []Param{{"C", "c"}, {"A", "a"}, {"E", "e"}, {"B", "b2"}} {
		ps = ps.set(kv.Name, kv.Value)
	}
	if want := (Params{{"A", "a"}, {"B", "b2"}, {"C", "c"}, {"D", "d"}, {"E", "e"}}); !reflect.DeepEqual(ps, want) {
		t.Errorf("set: %q, want %q", ps, want)
	}
}
