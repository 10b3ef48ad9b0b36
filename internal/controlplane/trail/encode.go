package trail

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/palisade-sg/palisade/internal/controlplane/jsontext"
)

// appendEvent appends ev's JSON to b: what json.Marshal(ev) gives, field
// for field and in the same order, without reflection (the trail's writer
// encodes every event it stores). Strings are escaped as json.Marshal
// escapes them (invalid UTF-8 becomes U+FFFD), except that <, > and & are
// kept as they are, which decodes the same. A map value of a type the
// trail does not make is encoded by json.Marshal.
func appendEvent(b []byte, ev *Event) ([]byte, error) {
	b = append(b, '{')
	b = appendField(b, "eventId", ev.EventID, true)
	b = appendField(b, "eventVersion", ev.EventVersion, false)
	b = appendField(b, "eventName", ev.EventName, false)
	b = appendField(b, "eventType", ev.EventType, false)
	b = appendField(b, "eventCategory", ev.EventCategory, false)
	b = appendField(b, "eventRW", ev.EventRW, false)
	b = appendField(b, "eventSource", ev.EventSource, false)
	b = appendField(b, "eventTime", ev.EventTime, false)
	b = appendField(b, "acsRegion", ev.AcsRegion, false)
	b = appendField(b, "serviceName", ev.ServiceName, false)
	b = appendField(b, "apiVersion", ev.APIVersion, false)
	b = appendField(b, "requestId", ev.RequestID, false)
	b = append(b, `,"requestParameters":`...)
	b = ev.RequestParameters.sorted().appendJSON(b, nil)
	var err error
	if len(ev.ResponseElements) > 0 {
		b = append(b, `,"responseElements":`...)
		if b, err = appendAnyMap(b, ev.ResponseElements, nil); err != nil {
			return nil, err
		}
	}
	b = appendField(b, "resourceName", ev.ResourceName, false)
	b = appendField(b, "resourceType", ev.ResourceType, false)
	b = appendField(b, "errorCode", ev.ErrorCode, false)
	b = appendField(b, "errorMessage", ev.ErrorMessage, false)
	b = appendField(b, "sourceIpAddress", ev.SourceIPAddress, false)
	b = appendField(b, "userAgent", ev.UserAgent, false)
	b = append(b, `,"isGlobal":`...)
	b = strconv.AppendBool(b, ev.IsGlobal)
	b = appendField(b, "recipientAccountId", ev.RecipientAccountID, false)
	u := &ev.UserIdentity
	b = append(b, `,"userIdentity":{`...)
	b = appendField(b, "type", u.Type, true)
	b = appendField(b, "accountId", u.AccountID, false)
	b = appendField(b, "principalId", u.PrincipalID, false)
	b = appendField(b, "userName", u.UserName, false)
	if u.AccessKeyID != "" {
		b = appendField(b, "accessKeyId", u.AccessKeyID, false)
	}
	b = append(b, '}')
	if len(ev.AdditionalData) > 0 {
		b = append(b, `,"additionalEventData":`...)
		if b, err = appendAnyMap(b, ev.AdditionalData, nil); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendField appends "name":"value", after a comma unless first.
func appendField(b []byte, name, value string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":`...)
	return jsontext.AppendString(b, value)
}

// appendAnyMap appends m with its keys sorted, without the keys skip
// reports (nil: none); values of the types events hold are encoded here,
// others by json.Marshal.
func appendAnyMap(b []byte, m map[string]any, skip func(string) bool) ([]byte, error) {
	if len(m) == 2 && skip == nil { // additionalEventData as EventOf makes it: no sort
		method, ok1 := m["HttpMethod"].(string)
		status, ok2 := m["HttpStatus"].(int)
		if ok1 && ok2 {
			b = append(b, `{"HttpMethod":`...)
			b = jsontext.AppendString(b, method)
			b = append(b, `,"HttpStatus":`...)
			b = strconv.AppendInt(b, int64(status), 10)
			return append(b, '}'), nil
		}
	}
	return appendMap(b, m, skip, func(b []byte, v any) ([]byte, error) {
		switch v := v.(type) {
		case string:
			return jsontext.AppendString(b, v), nil
		case bool:
			return strconv.AppendBool(b, v), nil
		case int:
			return strconv.AppendInt(b, int64(v), 10), nil
		}
		// json.Number (checked by json.Marshal), floats, nil, anything.
		j, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return append(b, j...), nil
	})
}

// appendMap appends m as a JSON object, its keys sorted as json.Marshal
// sorts them, each value by value, without the keys skip reports (nil:
// none).
func appendMap[V any](b []byte, m map[string]V, skip func(string) bool, value func([]byte, V) ([]byte, error)) ([]byte, error) {
	var small [8]string // the maps of most events: keys sorted without an allocation
	keys := small[:0]
	if len(m) > len(small) {
		keys = make([]string, 0, len(m))
	}
	for k := range m {
		if skip == nil || !skip(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsontext.AppendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = value(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}
