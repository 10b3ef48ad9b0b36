package trail

import (
	"encoding/json"
	"fmt"
	"time"
)

// A packed row keeps in its data only what its columns do not give, under
// one-letter names: about half an event's bytes, and as much less for
// SQLite to write (twice: its WAL, then the file). The writer packs every
// event whose left-out fields are exactly what unpack makes of the row
// (every event EventOf makes); any other event is stored whole
// (appendEvent), as every row was before packing.

// row is the columns of an event's row beside its data.
type row struct {
	time                                                 int64
	account, key, action, rw, service, eventID, res, typ string
}

// rowOf is the columns of ev's row; res and typ are its resources and
// their types as stored (",a,b,").
func rowOf(ev *Event, res, typ string) row {
	return row{time: ev.Time.UnixNano(), account: ev.UserIdentity.AccountID, key: ev.UserIdentity.AccessKeyID, action: ev.EventName,
		rw: ev.EventRW, service: ev.ServiceName, eventID: ev.EventID, res: res, typ: typ}
}

// packable reports whether the fields appendPacked always leaves out are
// what unpack gives back from the row's columns.
func packable(ev *Event) bool {
	return ev.EventVersion == "1" && ev.EventType == "ApiCall" && ev.EventCategory == "Management" && !ev.IsGlobal &&
		ev.RecipientAccountID == ev.UserIdentity.AccountID &&
		ev.UserIdentity == identityOf(ev.UserIdentity.AccountID, ev.UserIdentity.AccessKeyID)
}

// identityOf is the caller an event names for account and key (none
// when the signature did not verify: account "").
func identityOf(account, key string) Identity {
	if account == "" {
		return Identity{}
	}
	return Identity{Type: "root-account", AccountID: account, PrincipalID: account, UserName: "root", AccessKeyID: key}
}

// eventTime is the eventTime of an event at t (UnixNano), in buf.
func eventTime(buf []byte, t int64) []byte {
	return appendTime(buf, time.Unix(0, t).UTC())
}

// resourceTextOf is resourceName and resourceType as the resources and
// types columns give them when the resources are all of one type, as for
// most calls (the IDs, and the type, without the outer commas). Of
// resources of several types the text differs (";" between types) and is
// kept in the data.
func resourceTextOf(res, typ string) (names, types string) {
	if len(res) >= 2 {
		names = res[1 : len(res)-1]
	}
	if len(typ) >= 2 {
		types = typ[1 : len(typ)-1]
	}
	return names, types
}

// packed is a packed row's data. A pointer left out (nil) is a field the
// row's columns give.
type packed struct {
	Source     string  `json:"s"`
	Time       *string `json:"t,omitempty"`
	Region     string  `json:"g"`
	APIVersion string  `json:"v"`
	RequestID  string  `json:"q"`
	Params     Params  `json:"p"`
	// Derived lists by code the parameters left out of Params that
	// have the value derivedParams gives them.
	Derived  string         `json:"d,omitempty"`
	Response map[string]any `json:"r,omitempty"`
	// SameID: the answer's RequestId, left out of Response, is RequestID
	// (as in every answer the server gives).
	SameID     bool           `json:"e,omitempty"`
	ResName    *string        `json:"n,omitempty"`
	ResType    *string        `json:"y,omitempty"`
	ErrCode    string         `json:"c,omitempty"`
	ErrMessage string         `json:"m,omitempty"`
	SourceIP   string         `json:"i"`
	UserAgent  string         `json:"a,omitempty"`
	Additional map[string]any `json:"x,omitempty"`
}

// derivedParams are parameters whose usual value the rest of a packed
// row gives (or a constant: most calls are signed the same way). One with
// that value is left out of the row's parameters and named by its code in
// Derived. The codes are stored: never change or reuse one.
var derivedParams = [...]struct {
	code  byte
	name  string
	value func(ev *Event) string
}{
	{'a', "Action", func(ev *Event) string { return ev.EventName }},
	{'k', "AccessKeyId", func(ev *Event) string { return ev.UserIdentity.AccessKeyID }},
	{'v', "Version", func(ev *Event) string { return ev.APIVersion }},
	{'r', "RegionId", func(ev *Event) string { return ev.AcsRegion }},
	{'s', "Signature", func(*Event) string { return Redacted }},
	{'m', "SignatureMethod", func(*Event) string { return "HMAC-SHA1" }},
	{'n', "SignatureVersion", func(*Event) string { return "1.0" }},
	{'f', "Format", func(*Event) string { return "JSON" }},
}

// derivedByName is the index in derivedParams of the parameter name, -1
// if none.
func derivedByName(name string) int {
	for i, d := range derivedParams {
		if d.name == name {
			return i
		}
	}
	return -1
}

// appendPacked appends the packed data of ev (packable) in row r. It
// writes what json.Marshal of the packed struct would, as appendEvent
// does for an Event.
func appendPacked(b []byte, ev *Event, r *row) ([]byte, error) {
	b = append(b, '{')
	b = appendField(b, "s", ev.EventSource, true)
	var tb [32]byte
	if string(eventTime(tb[:0], r.time)) != ev.EventTime {
		b = appendField(b, "t", ev.EventTime, false)
	}
	b = appendField(b, "g", ev.AcsRegion, false)
	b = appendField(b, "v", ev.APIVersion, false)
	b = appendField(b, "q", ev.RequestID, false)
	b = append(b, `,"p":`...)
	// The parameters the row's other fields give (derivedParams, bit i
	// the ith) are left out, and named in "d".
	ps := ev.RequestParameters.sorted()
	var derived uint16
	b = ps.appendJSON(b, func(i int) bool {
		j := derivedByName(ps[i].Name)
		if j < 0 || ps[i].Value != derivedParams[j].value(ev) {
			return false
		}
		derived |= 1 << j
		return true
	})
	if derived != 0 {
		b = append(b, `,"d":"`...)
		for i, d := range derivedParams {
			if derived&(1<<i) != 0 {
				b = append(b, d.code)
			}
		}
		b = append(b, '"')
	}
	var err error
	rest, sameID := len(ev.ResponseElements), false
	if id, ok := ev.ResponseElements["RequestId"].(string); ok && id == ev.RequestID {
		rest, sameID = rest-1, true
	}
	if rest > 0 {
		b = append(b, `,"r":`...)
		if b, err = appendAnyMap(b, ev.ResponseElements, func(k string) bool { return sameID && k == "RequestId" }); err != nil {
			return nil, err
		}
	}
	if sameID {
		b = append(b, `,"e":true`...)
	}
	if names, types := resourceTextOf(r.res, r.typ); names != ev.ResourceName || types != ev.ResourceType {
		b = appendField(b, "n", ev.ResourceName, false)
		b = appendField(b, "y", ev.ResourceType, false)
	}
	if ev.ErrorCode != "" {
		b = appendField(b, "c", ev.ErrorCode, false)
	}
	if ev.ErrorMessage != "" {
		b = appendField(b, "m", ev.ErrorMessage, false)
	}
	b = appendField(b, "i", ev.SourceIPAddress, false)
	if ev.UserAgent != "" {
		b = appendField(b, "a", ev.UserAgent, false)
	}
	if len(ev.AdditionalData) > 0 {
		b = append(b, `,"x":`...)
		if b, err = appendAnyMap(b, ev.AdditionalData, nil); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// derivedIndex is the index in derivedParams of code, -1 if none.
func derivedIndex(code byte) int {
	for i, d := range derivedParams {
		if d.code == code {
			return i
		}
	}
	return -1
}

// unpack is the event of a packed row.
func unpack(data []byte, r *row) (Event, error) {
	var p packed
	if err := json.Unmarshal(data, &p); err != nil {
		return Event{}, err
	}
	ev := Event{
		EventID: r.eventID, EventVersion: "1", EventName: r.action, EventType: "ApiCall", EventCategory: "Management", EventRW: r.rw,
		EventSource: p.Source, AcsRegion: p.Region, ServiceName: r.service, APIVersion: p.APIVersion, RequestID: p.RequestID,
		RequestParameters: p.Params, ResponseElements: p.Response, ErrorCode: p.ErrCode, ErrorMessage: p.ErrMessage,
		SourceIPAddress: p.SourceIP, UserAgent: p.UserAgent, RecipientAccountID: r.account, UserIdentity: identityOf(r.account, r.key),
		AdditionalData: p.Additional,
	}
	for i := range len(p.Derived) {
		j := derivedIndex(p.Derived[i])
		if j < 0 {
			return Event{}, fmt.Errorf("event trail: a packed row names a derived parameter %q this server does not know", p.Derived[i])
		}
		ev.RequestParameters = ev.RequestParameters.set(derivedParams[j].name, derivedParams[j].value(&ev))
	}
	if p.SameID {
		if ev.ResponseElements == nil {
			ev.ResponseElements = map[string]any{}
		}
		ev.ResponseElements["RequestId"] = p.RequestID
	}
	if p.Time != nil {
		ev.EventTime = *p.Time
	} else {
		ev.EventTime = string(eventTime(nil, r.time))
	}
	ev.ResourceName, ev.ResourceType = resourceTextOf(r.res, r.typ)
	if p.ResName != nil {
		ev.ResourceName = *p.ResName
	}
	if p.ResType != nil {
		ev.ResourceType = *p.ResType
	}
	return ev, nil
}
