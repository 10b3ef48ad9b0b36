package rpc

import (
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// parseParamsRef is the parser as it was, over url.ParseQuery: the
// reference the faster one must agree with.
func parseParamsRef(r *http.Request, body []byte) (Params, url.Values, *ecserr.Error) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, nil, ecserr.BadRequest("InvalidParameter", "The query string is not valid URL encoding: %v.", err)
	}
	sources := []url.Values{query}
	if len(body) > 0 {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, nil, ecserr.BadRequest("InvalidParameter", "The form body is not valid URL encoding: %v.", err)
			}
			sources = append(sources, form)
		}
	}
	params := Params{}
	for _, src := range sources {
		for k, vs := range src {
			for _, v := range vs {
				if old, ok := params[k]; ok && old != v {
					return nil, nil, ecserr.InvalidParameter(k, "it is given more than once with different values; send it once")
				}
				params[k] = v
			}
		}
	}
	signed := url.Values{}
	for k, v := range params {
		signed[k] = []string{v}
	}
	return params, signed, nil
}

func checkSameParse(t *testing.T, query, body, contentType string) {
	t.Helper()
	r := httptestRequest("POST", "/?"+query, body)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	// The pooled set is released after each check: a set reused must not
	// carry values of an earlier request.
	p, set, err := parseSigned(r, []byte(body))
	var signed url.Values
	if set != nil {
		signed = set.values
		defer set.release()
	}
	wp, wsigned, werr := parseParamsRef(r, []byte(body))
	switch {
	case (err == nil) != (werr == nil):
		t.Fatalf("%q %q: err %v, reference %v", query, body, err, werr)
	case err != nil:
		// Which of two conflicting names is named depends on map order
		// in the reference; the rest must be the same.
		if err.Code != werr.Code || err.Status != werr.Status ||
			!strings.Contains(werr.Message, "more than once") && err.Message != werr.Message {
			t.Fatalf("%q %q: err %v, reference %v", query, body, err, werr)
		}
	case !maps.Equal(p, wp):
		t.Fatalf("%q %q: params %v, reference %v", query, body, p, wp)
	case !maps.EqualFunc(signed, wsigned, func(a, b []string) bool { return len(a) == 1 && len(b) == 1 && a[0] == b[0] }):
		t.Fatalf("%q %q: signed %v, reference %v", query, body, signed, wsigned)
	}
}

func TestParseParamsAsReference(t *testing.T) {
	for _, tc := range []struct{ query, body, contentType string }{
		{"Action=A&Version=V", "RegionId=cn&Tag.1.Key=k", ""},
		{"a=1&a=1", "a=1", ""},
		{"a=1&a=2", "", ""},
		{"a=1", "a=2", ""},
		{"%zz=1", "", ""},
		{"a=1", "b=%z", ""},
		{"a=1;b=2", "", ""},
		{"a=1", "b=2;c", ""},
		{"a=%41+b&&=x&c", "d=%20", ""},
		{"a=1", "b=2", "application/x-www-form-urlencoded"},
		{"a=1", "b=2", "Application/X-WWW-Form-Urlencoded ; charset=utf-8"},
		{"a=1", "b=2", "application/json"},
		{"a=1", "b=2", "text/plain"},
		{strings.Repeat("a=1&", maxParams), "", ""},
		{"a=1", strings.Repeat("b=1&", maxParams-1) + "b=1", ""},
		{"a=1", strings.Repeat("b=1&", maxParams) + "b=1", ""},
		{strings.Repeat("c=1&", 300) + "d=2", "", ""},
		{"e=1", "", ""},
		// Names and values unescaped, into one buffer: a pair dropped for
		// a malformed escape leaves nothing of its name behind.
		{"T=2024-01-01T00%3A00%3A00Z&S=ab%2Bc%3D&C=10.0.0.0%2F8", "D=a+b%20c&%E4%B8%AD=%e4%b8%ad", ""},
		{"a%41=%zz&b%42=1&c=%4", "d%=1&e=+&f=%2", ""},
		{"x=%41", "x=A", ""},
		{"a=1&b%41=%z", "", ""},
		{"x=%41", "x=B", ""},
	} {
		checkSameParse(t, tc.query, tc.body, tc.contentType)
	}
}

// FuzzParseParamsAsReference: on any input the parser answers as the
// reference does.
func FuzzParseParamsAsReference(f *testing.F) {
	f.Add("Action=A&Version=V", "RegionId=cn&Tag.1.Key=k", "")
	f.Add("a=1&a=2", "", "")
	f.Add("%zz", "a=%", "text/plain")
	f.Add("a=1;", "a=1", "application/x-www-form-urlencoded")
	f.Fuzz(func(t *testing.T, query, body, contentType string) {
		checkSameParse(t, query, body, contentType)
	})
}
