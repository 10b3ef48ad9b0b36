package store

import (
	"testing"
)

// oneRecord is a ReadTx holding one record.
type oneRecord struct {
	ReadTx
	r Record
}

func (t *oneRecord) Get(kind Kind, id string) (Record, bool, error) {
	return t.r, kind == t.r.Kind && id == t.r.ID, nil
}

type typedDoc struct {
	A string `json:"a"`
	N int    `json:"n"`
}

// TestGetAs: the decoded value when the record has one, else its JSON
// decoded; a document that does not decode is an error, with what was
// decoded of it.
func TestGetAs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		r      Record
		want   typedDoc
		ok     bool
		hasErr bool
	}{
		{"object", Record{Kind: "k", ID: "x", Object: &typedDoc{A: "o", N: 1}, Data: []byte(`{"a":"json"}`)}, typedDoc{A: "o", N: 1}, true, false},
		{"json", Record{Kind: "k", ID: "x", Data: []byte(`{"a":"j","n":2}`)}, typedDoc{A: "j", N: 2}, true, false},
		{"object of another type", Record{Kind: "k", ID: "x", Object: &struct{}{}, Data: []byte(`{"a":"j"}`)}, typedDoc{A: "j"}, true, false},
		{"bad json", Record{Kind: "k", ID: "x", Data: []byte(`{"a":"j","n":"two"}`)}, typedDoc{A: "j"}, false, true},
		{"absent", Record{Kind: "k", ID: "y"}, typedDoc{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := GetAs[typedDoc](&oneRecord{r: tc.r}, "k", "x")
			if got != tc.want || ok != tc.ok || (err != nil) != tc.hasErr {
				t.Errorf("GetAs = %+v, %v, %v; want %+v, %v, error %v", got, ok, err, tc.want, tc.ok, tc.hasErr)
			}
		})
	}
}

// BenchmarkGetAsObject reads a decoded record, as every request reads
// its access key from the view.
func BenchmarkGetAsObject(b *testing.B) {
	tx := &oneRecord{r: Record{Kind: "k", ID: "x", Object: &typedDoc{A: "o", N: 1}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, _ := GetAs[typedDoc](tx, "k", "x"); !ok {
			b.Fatal("not found")
		}
	}
}
