package api

import (
	"bytes"
	"encoding/json"
)

// The answers that write their JSON themselves (rpc.RawJSON) write it as
// the rpc encoder would: compact, HTML characters as they are, fields in
// the order of their struct: strings with jsontext.AppendString, other
// values with appendJSONValue.

// appendJSONValue appends v as encoding/json writes it with HTML escaping
// off, without the encoder's newline.
func appendJSONValue(b []byte, v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return b, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}
