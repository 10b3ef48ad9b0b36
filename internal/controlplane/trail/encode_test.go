package trail

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

// fill sets every settable field of v (a struct) to a non-zero value made
// from s, so that a field added to Event later is covered too.
func fill(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(len(s)) + 7)
	case reflect.Struct:
		if v.Type().PkgPath() == "time" {
			return // Time is not encoded
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), s+v.Type().Field(i).Name)
			}
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		if v.Type().Elem().Kind() == reflect.Interface {
			// Every kind of value a map of an event may hold.
			for i, x := range []any{s + "x", true, false, 42, json.Number("12.5"), 3.25, nil, []string{s}} {
				k := reflect.ValueOf(s + string(rune('a'+i)))
				if x == nil {
					m.SetMapIndex(k, reflect.Zero(v.Type().Elem()))
				} else {
					m.SetMapIndex(k, reflect.ValueOf(x))
				}
			}
		} else {
			for _, k := range []string{"b", s, "a<&>"} {
				ev := reflect.New(v.Type().Elem()).Elem()
				fill(ev, s+k)
				m.SetMapIndex(reflect.ValueOf(k), ev)
			}
		}
		v.Set(m)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), s)
	}
}

// TestAppendEvent checks the trail's encoder against json.Marshal: the
// same JSON value (decoded generically, numbers exact), and the same Event
// decoded, for events with every field set (and any field added later),
// awkward strings, and without the optional parts.
func TestAppendEvent(t *testing.T) {
	awkward := []string{"plain", "", `quote " and \ back`, "ctl \x00\x01\x1f\t\n\r", "html <b>&amp;</b>",
		"utf8 é 中 😀", "bad \xff\xfe utf8 \xc3", "sep \u2028 \u2029", "del \x7f"}
	var evs []Event
	for _, s := range awkward {
		var ev Event
		fill(reflect.ValueOf(&ev).Elem(), s)
		evs = append(evs, ev)
	}
	evs = append(evs, Event{}, Event{RequestParameters: Params{}, ResponseElements: map[string]any{}})
	c := call("AuthorizeSecurityGroup", rpc.Params{"AccessKeyId": "LTAIkey", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-1",
		"Permissions.1.IpProtocol": "TCP", "Permissions.1.Description": "web <a> \"b\" \xff"}, "", `{"RequestId":"R","Success":true,"Count":3}`)
	evs = append(evs, EventOf(c, "1000000000000001"), EventOf(call("DeleteSecurityGroup", rpc.Params{}, "Forbidden", "{}"), ""))
	// additionalEventData as EventOf makes it (written without a sort),
	// and maps of two that are not.
	for _, m := range []map[string]any{{"HttpMethod": "PO\"ST<&\xff", "HttpStatus": -7}, {"HttpMethod": 1, "HttpStatus": "x"},
		{"HttpMethod": "GET", "Other": 1}, {"HttpStatus": 200, "A": "a"}} {
		evs = append(evs, Event{AdditionalData: m})
	}
	for i, ev := range evs {
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendEvent(nil, &ev)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		generic := func(b []byte) any {
			var v any
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatalf("event %d: %v in %s", i, err, b)
			}
			return v
		}
		if g, w := generic(got), generic(want); !reflect.DeepEqual(g, w) {
			t.Errorf("event %d:\n got %s\nwant %s", i, got, want)
		}
		var ge, we Event
		json.Unmarshal(got, &ge)
		json.Unmarshal(want, &we)
		if !reflect.DeepEqual(ge, we) {
			t.Errorf("event %d decodes to %+v, want %+v", i, ge, we)
		}
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	c := call("AuthorizeSecurityGroup", rpc.Params{"AccessKeyId": "LTAIkey", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-1",
		"Permissions.1.IpProtocol": "TCP", "Permissions.1.PortRange": "22/22", "Permissions.1.SourceCidrIp": "10.0.0.0/8",
		"SignatureNonce": "abc", "Timestamp": "2026-12-05T10:00:00Z", "Format": "JSON"}, "", `{"RequestId":"R"}`)
	ev := EventOf(c, "1000000000000001")
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(ev)
		}
	})
	b.Run("appendEvent", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf, _ = appendEvent(buf[:0], &ev)
		}
	})
}

func BenchmarkEventOf(b *testing.B) {
	c := call("AuthorizeSecurityGroup", rpc.Params{"AccessKeyId": "LTAIkey", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-1",
		"Permissions.1.IpProtocol": "TCP", "Permissions.1.PortRange": "22/22", "Permissions.1.SourceCidrIp": "10.0.0.0/8",
		"SignatureNonce": "abc", "Timestamp": "2026-12-05T10:00:00Z", "Format": "JSON", "Signature": "xx", "SignatureMethod": "HMAC-SHA1",
		"SignatureVersion": "1.0", "Version": "2014-05-26"}, "", "{\"RequestId\":\"4F5E6D7C-1234-5678-9ABC-DEF012345678\"}\n") // as the server writes it
	for b.Loop() {
		EventOf(c, "1000000000000001")
	}
}

// The parameters EventOf makes encode as the map of them does, for names
// clipped into one, more names than an event keeps, and names that sort
// after the "…" entry; and the same parameters out of order, with a name
// listed twice, encode the same.
func TestAppendEventParamsOrder(t *testing.T) {
	long := strings.Repeat("n", maxValueBytes+10)
	many := rpc.Params{}
	for i := range maxParams + 5 {
		many[fmt.Sprintf("P%03d", i)] = "v"
	}
	big := rpc.Params{"\u3042": "x", "\u3093": strings.Repeat("v", 300)} // あ is kept, ん is not: "…" comes after あ
	for i := range maxParamBytes / 1000 {
		big[fmt.Sprint("A", i)] = strings.Repeat("v", 1000)
	}
	for i, p := range []rpc.Params{
		{"RegionId": "cn-hangzhou", "SecurityGroupId": "sg-1", "PortRange": "22/22"},
		{long + "a": "1", long + "b": "2", "Z": "3"},
		many,
		big,
		{"\u3042": "x", "a": "y"},
	} {
		ev := EventOf(call("AuthorizeSecurityGroup", p, "", `{}`), "1")
		got, err := appendEvent(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		if !ev.RequestParameters.canonical() {
			t.Errorf("params %d: EventOf's are not sorted, each name once: %q", i, ev.RequestParameters)
		}
		// As the map of the same parameters encodes.
		m := ev.RequestParameters.Map()
		asMap, _ := json.Marshal(m)
		if !bytes.Contains(got, append([]byte(`"requestParameters":`), asMap...)) {
			t.Errorf("params %d: encoded\n %s\nwant the parameters as %s", i, got, asMap)
		}
		// The same parameters out of order, and a name listed twice
		// (the last counts), encode the same.
		shuffled := ev
		shuffled.RequestParameters = slices.Clone(ev.RequestParameters)
		slices.Reverse(shuffled.RequestParameters)
		first := ev.RequestParameters[0].Name
		shuffled.RequestParameters = append(Params{{first, "dropped"}}, shuffled.RequestParameters...)
		want, _ := appendEvent(nil, &shuffled)
		if !bytes.Equal(got, want) {
			t.Errorf("params %d:\n got %s\nwant %s", i, got, want)
		}
	}
}
