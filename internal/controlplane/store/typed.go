package store

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// GetAs reads record (kind, id) and decodes its JSON document into a T (or
// copies its Object, shallowly: the copy shares slices with the view).
// ok is false (and v the zero T) if the record does not exist.
func GetAs[T any](tx ReadTx, kind Kind, id string) (v T, ok bool, err error) {
	r, ok, err := tx.Get(kind, id)
	if err != nil || !ok {
		return v, false, err
	}
	if o, isT := r.Object.(*T); isT {
		return *o, true, nil
	}
	// Declared here: taken by json.Unmarshal, it moves to the heap, and
	// most reads (the view's) return the decoded value above.
	var d T
	if err := json.Unmarshal(r.Data, &d); err != nil {
		return d, false, fmt.Errorf("store: decode %s/%s: %w", kind, id, err)
	}
	return d, true, nil
}

// ListAs lists the records of kind matching q (ordered by ID) and decodes
// each JSON document into a T.
func ListAs[T any](tx ReadTx, kind Kind, q Query) ([]T, error) {
	rs, err := tx.List(kind, q)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(rs))
	for i, r := range rs {
		if o, isT := r.Object.(*T); isT {
			out[i] = *o
			continue
		}
		if err := json.Unmarshal(r.Data, &out[i]); err != nil {
			return nil, fmt.Errorf("store: decode %s/%s: %w", kind, r.ID, err)
		}
	}
	return out, nil
}

// PutAs encodes v as JSON and stores it as record (kind, id), with v (a
// pointer to it, if v is not one) as the record's Object: the caller must
// not modify v, or what it shares, afterwards.
func PutAs[T any](tx Tx, kind Kind, id, account, region string, v T) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s/%s: %w", kind, id, err)
	}
	var obj any = v
	if t := reflect.TypeOf(v); t == nil || t.Kind() != reflect.Pointer {
		obj = &v
	}
	return tx.Put(Record{Kind: kind, ID: id, Account: account, Region: region, Data: data, Object: obj})
}
