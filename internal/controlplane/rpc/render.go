package rpc

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"reflect"
	"sync"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

const (
	contentTypeJSON = "application/json;charset=utf-8"
	contentTypeXML  = "text/xml;charset=utf-8" // exactly what darabonba checks for
)

// The Content-Type header values of the two types, shared by every answer
// (net/http only reads them).
var (
	contentTypeJSONValue = []string{contentTypeJSON}
	contentTypeXMLValue  = []string{contentTypeXML}
)

func contentTypeValue(ct string) []string {
	switch ct {
	case contentTypeJSON:
		return contentTypeJSONValue
	case contentTypeXML:
		return contentTypeXMLValue
	}
	return []string{ct}
}

type requestIDSetter interface{ SetRequestID(string) }

// encodeResult renders a handler's result. nil renders just the RequestId.
// A struct value is copied to a pointer so SetRequestID (pointer receiver on
// Base) reaches it.
func encodeResult(req *Request, result any) (body []byte, contentType string, err error) {
	if result == nil {
		result = &Base{}
	}
	if v := reflect.ValueOf(result); v.Kind() == reflect.Struct {
		p := reflect.New(v.Type())
		p.Elem().Set(v)
		result = p.Interface()
	}
	if s, ok := result.(requestIDSetter); ok {
		s.SetRequestID(req.RequestID)
	}
	if req.Format == "XML" {
		body, err = encodeXML(req.Action+"Response", result)
		return body, contentTypeXML, err
	}
	if r, ok := result.(RawJSON); ok {
		body, err = r.RawJSON()
		return append(body, '\n'), contentTypeJSON, err
	}
	if !slicesComplete(result) {
		result = withEmptySlices(result)
	}
	body, err = encodeJSON(result)
	return body, contentTypeJSON, err
}

// RawJSON is a response that encodes itself as a whole and compact JSON
// object, empty lists as [] (as the encoder would write it, without the
// newline): its bytes are written as they are. The agents' watch answers
// use it, so that an answer encoded once for many agents is not parsed
// and copied again for each one (as json.Marshaler's output is). It must
// append to nothing it returned before: the result is extended.
type RawJSON interface{ RawJSON() ([]byte, error) }

// Complete is a response whose slices are all non-nil by construction, so
// that they encode as [] as ECS writes them: the encoder skips the
// reflective pass (withEmptySlices) that would make them so. A type must
// declare it itself; embedding a Complete type does not make one (see
// slicesComplete).
type Complete interface{ SlicesComplete() }

// slicesComplete reports whether result needs no withEmptySlices pass: a
// bare *Base, or a type whose own SlicesComplete method is declared on it
// (a method promoted from an embedded field does not count, since the
// embedding type may add slices).
func slicesComplete(result any) bool {
	if _, ok := result.(*Base); ok {
		return true
	}
	if _, ok := result.(Complete); !ok {
		return false
	}
	t := reflect.TypeOf(result)
	if v, ok := completeTypes.Load(t); ok {
		return v.(bool)
	}
	own := !promoted(t, "SlicesComplete")
	completeTypes.Store(t, own)
	return own
}

// completeTypes caches slicesComplete's answer by type.
var completeTypes sync.Map

// promoted reports whether method name of t comes from an embedded field.
func promoted(t reflect.Type, name string) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.Anonymous {
			continue
		}
		if _, ok := f.Type.MethodByName(name); ok {
			return true
		}
		if _, ok := reflect.PointerTo(f.Type).MethodByName(name); ok {
			return true
		}
	}
	return false
}

// errorBody is the ECS error envelope.
type errorBody struct {
	XMLName   xml.Name `json:"-" xml:"Error"`
	RequestId string
	HostId    string
	Code      string
	Message   string
	Recommend string
}

// maxErrorMessage and maxHostID bound what an error answer repeats of a
// request (an unknown Action quoted in its message, the Host): quoted
// control bytes take five times their size, so an unsigned 1 MiB form
// was otherwise answered with 5 MiB. The message bound leaves room for
// SignatureDoesNotMatch's string to sign, which package signature bounds.
const (
	maxErrorMessage = 20 << 10
	maxHostID       = 255
)

// cut returns the start of s, at most n bytes and whole characters,
// marked as cut.
func cut(s string, n int) string { return model.Cut(s, n, "…(cut)") }

func encodeError(req *Request, hostID string, e *ecserr.Error) (body []byte, contentType string) {
	eb := errorBody{
		RequestId: req.RequestID,
		HostId:    cut(hostID, maxHostID),
		Code:      e.Code,
		Message:   cut(e.Message, maxErrorMessage),
		Recommend: "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(e.Code) +
			"&product=" + url.QueryEscape(req.Product) + "&requestId=" + req.RequestID,
	}
	var err error
	if req.Format == "XML" {
		body, err = encodeXML("Error", eb)
		contentType = contentTypeXML
	} else {
		body, err = encodeJSON(eb)
		contentType = contentTypeJSON
	}
	if err != nil { // plain strings cannot fail to encode
		panic(err)
	}
	return body, contentType
}

// errorStatus keeps statuses in the error range: a zero or 2xx status on an
// *ecserr.Error is a bug and must not look like success.
func errorStatus(e *ecserr.Error) int {
	if e.Status < 400 || e.Status > 599 {
		return http.StatusInternalServerError
	}
	return e.Status
}

// jsonEncoder is a buffer with its encoder, reused across answers.
type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonEncoders = sync.Pool{New: func() any {
	e := &jsonEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false) // descriptions may hold < > &; keep them readable
	return e
}}

// maxPooledJSON bounds the buffer kept for reuse: a rare large answer's
// does not stay held.
const maxPooledJSON = 256 << 10

// encodeJSON encodes v into a pooled buffer and returns a copy of exactly
// its size: one allocation per answer, where a fresh buffer grew (and
// copied) by doubling, and the answer may be kept (Call.Body) after.
func encodeJSON(v any) ([]byte, error) {
	e := jsonEncoders.Get().(*jsonEncoder)
	defer func() {
		if e.buf.Cap() <= maxPooledJSON {
			e.buf.Reset()
			jsonEncoders.Put(e)
		}
	}()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

func encodeXML(root string, v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: root}}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
