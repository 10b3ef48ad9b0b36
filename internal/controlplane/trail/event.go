// Package trail is the event trail: a record of every call that changes
// state, and of every refused call, in the shape of ActionTrail's
// management events, kept in a SQLite file of its own beside the store
// (not in the store or its change log: events are this server's local
// history, not state that agents follow or other servers replicate), with
// retention by age and count. Tenants read their own events with
// ActionTrail's LookupEvents (2020-07-06); the operator reads all.
package trail

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/signature"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Event is one management event, field for field as ActionTrail writes
// them (camelCase JSON); see docs/architecture.md for what Palisade fills.
type Event struct {
	EventID            string         `json:"eventId"`
	EventVersion       string         `json:"eventVersion"`
	EventName          string         `json:"eventName"`
	EventType          string         `json:"eventType"`
	EventCategory      string         `json:"eventCategory"`
	EventRW            string         `json:"eventRW"`
	EventSource        string         `json:"eventSource"`
	EventTime          string         `json:"eventTime"`
	AcsRegion          string         `json:"acsRegion"`
	ServiceName        string         `json:"serviceName"`
	APIVersion         string         `json:"apiVersion"`
	RequestID          string         `json:"requestId"`
	RequestParameters  Params         `json:"requestParameters"`
	ResponseElements   map[string]any `json:"responseElements,omitempty"`
	ResourceName       string         `json:"resourceName"`
	ResourceType       string         `json:"resourceType"`
	ErrorCode          string         `json:"errorCode"`
	ErrorMessage       string         `json:"errorMessage"`
	SourceIPAddress    string         `json:"sourceIpAddress"`
	UserAgent          string         `json:"userAgent"`
	IsGlobal           bool           `json:"isGlobal"`
	RecipientAccountID string         `json:"recipientAccountId"`
	UserIdentity       Identity       `json:"userIdentity"`
	// AdditionalData is shared by the events EventOf makes with the same
	// HTTP status and method: read it, never change it.
	AdditionalData map[string]any `json:"additionalEventData,omitempty"`

	// Time is EventTime at full precision, for ordering.
	Time time.Time `json:"-"`
	// Resources are the resources the call named or made, by type.
	Resources []Resource `json:"-"`
}

// Identity is the caller (ActionTrail's userIdentity). Palisade has no RAM
// users: a verified key's caller is its account's root identity; a call
// whose signature did not verify has no account.
type Identity struct {
	Type        string `json:"type"`
	AccountID   string `json:"accountId"`
	PrincipalID string `json:"principalId"`
	UserName    string `json:"userName"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
}

// Resource is one resource a call named, with its ActionTrail type.
type Resource struct{ Type, ID string }

// Bounds on what one event keeps of a hostile request.
const (
	maxParams     = 200  // parameters kept per event
	maxValueBytes = 1024 // a longer value is cut and marked
	// maxParamBytes bounds the parameter text of one event, so that a
	// full queue of events made from hostile 1 MiB requests stays small.
	maxParamBytes = 8 << 10
	maxResources  = 100
	maxIDBytes    = 128
)

// Redacted is the value that replaces a secret parameter.
const Redacted = "******"

// Secret reports whether a parameter holds a secret that the trail must
// not keep: signatures, security tokens, an instance's user data (a boot
// script, which often holds passwords), and any name with Secret,
// Password or PrivateKey in it (AccessKeySecret, Password,
// CreateKeyPair's PrivateKeyBody, …), in any letter case and at any
// depth (Foo.1.Password).
func Secret(name string) bool {
	n := name
	if i := strings.LastIndexByte(n, '.'); i >= 0 {
		n = n[i+1:]
	}
	// ASCII case folding without a lowered copy, in one pass that looks
	// further only at an s or a p (the names of every recorded call pass
	// here): a name with other letters is not one of these anyway.
	if (len(n) == len("signature") || len(n) == len("securitytoken") || len(n) == len("userdata")) &&
		(strings.EqualFold(n, "signature") || strings.EqualFold(n, "securitytoken") || strings.EqualFold(n, "userdata")) {
		return true
	}
	for i := 0; i < len(n); i++ {
		switch n[i] | 0x20 {
		case 's':
			if hasFoldAt(n, i, "secret") {
				return true
			}
		case 'p':
			if hasFoldAt(n, i, "password") || hasFoldAt(n, i, "privatekey") {
				return true
			}
		}
	}
	return false
}

// hasFoldAt reports whether s holds sub (lower-case ASCII letters) at i,
// in any letter case.
func hasFoldAt(s string, i int, sub string) bool {
	if len(s)-i < len(sub) {
		return false
	}
	for j := range len(sub) {
		if s[i+j]|0x20 != sub[j] {
			return false
		}
	}
	return true
}

// sortedParams lists the parameters sorted by name (one pass over the
// map: no lookup per name later).
func sortedParams(params rpc.Params) Params {
	ps := make(Params, 0, len(params))
	for k, v := range params {
		ps = append(ps, Param{Name: k, Value: v})
	}
	if len(ps) > 32 {
		slices.SortFunc(ps, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
		return ps
	}
	// A request's few parameters: an insertion sort on the names' first
	// eight bytes, the whole names compared only when those are equal,
	// costs a fraction of a general sort's calls to compare strings.
	var keys [32]uint64
	for i := range ps {
		keys[i] = prefix(ps[i].Name)
	}
	for i := 1; i < len(ps); i++ {
		k, p := keys[i], ps[i]
		j := i
		for ; j > 0 && (keys[j-1] > k || keys[j-1] == k && ps[j-1].Name > p.Name); j-- {
			keys[j], ps[j] = keys[j-1], ps[j-1]
		}
		keys[j], ps[j] = k, p
	}
	return ps
}

// prefix is s's first eight bytes as a big-endian number (zeros after a
// shorter s): of two strings, the one with the smaller prefix sorts first.
func prefix(s string) uint64 {
	var k uint64
	for i := range 8 {
		k <<= 8
		if i < len(s) {
			k |= uint64(s[i])
		}
	}
	return k
}

// sanitize makes the parameters an event keeps of ps (sorted by name),
// in place: secrets masked, long values cut, at most maxParams of them
// and maxParamBytes of text (by name; the rest are left out, and a "…"
// entry says so). What it returns is sorted by name with each name once,
// as a map's keys are.
func sanitize(ps Params) Params {
	kept := ps[:0]
	size := 0
	sorted := true
	for _, p := range ps {
		k, v := p.Name, p.Value
		if Secret(k) {
			v = Redacted
		}
		clipped := len(k) > maxValueBytes
		k, v = clip(k), clip(v)
		if size += len(k) + len(v); len(kept) == maxParams || size > maxParamBytes {
			kept = kept.put("…", "more parameters were left out")
			sorted = false
			break
		}
		if clipped {
			// Two long names cut to one: the later value is kept (as
			// a map keeps it); a cut name may sort before the last.
			kept = kept.put(k, v)
			sorted = false
			continue
		}
		kept = append(kept, Param{k, v})
	}
	if !sorted {
		slices.SortFunc(kept, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
	}
	return kept
}

// clip cuts s to maxValueBytes on a rune boundary.
func clip(s string) string { return model.Cut(s, maxValueBytes, "…(cut)") }

// ReadOnly reports whether an action only reads: reads are recorded only
// when refused. The agents' status reports are live telemetry (every few
// seconds from every host) and count as reads too.
func ReadOnly(action string) bool {
	for _, p := range []string{"Describe", "List", "Get", "Lookup", "Query", "Check",
		"PalisadeDescribe", "PalisadeGet", "PalisadeList", "PalisadeWatch", "PalisadeVerify", "PalisadePlan", "PalisadeAudit"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return action == "PalisadeReportHostStatus" || action == "PalisadeReportFlowRecords"
}

// Wanted reports whether a finished call is recorded: every write, and
// every refused call.
func Wanted(c *rpc.Call) bool {
	return c.Code != "" || !ReadOnly(c.Request.Action)
}

// services names the product of each API version, as ActionTrail's
// serviceName does.
var services = map[string]string{
	"2014-05-26": "Ecs",
	"2016-04-28": "Vpc",
	"2015-05-01": "Ram",
	"2015-04-01": "Sts",
	"2017-12-14": "BssOpenApi",
	"2015-06-12": "Location",
	Version:      "Actiontrail",
}

// resourceParams are the parameters that name the resource a call acts
// on (a peer group such as SourceGroupId is referenced, not acted on),
// with the ActionTrail type of the resource.
var resourceParams = map[string]string{
	"SecurityGroupId":    "ACS::ECS::SecurityGroup",
	"SecurityGroupIds":   "ACS::ECS::SecurityGroup",
	"InstanceId":         "ACS::ECS::Instance",
	"NetworkInterfaceId": "ACS::ECS::NetworkInterface",
	"PrefixListId":       "ACS::VPC::PrefixList",
	"PortRangeListId":    "ACS::ECS::PortRangeList",
	"VpcId":              "ACS::VPC::VPC",
	"VSwitchId":          "ACS::VPC::VSwitch",
	"AllocationId":       "ACS::VPC::EIP",
	"KeyPairName":        "ACS::ECS::KeyPair",
}

// tagResourceTypes maps the tag actions' ResourceType (TagResources,
// AddTags, ...) to ActionTrail's.
var tagResourceTypes = map[string]string{
	"securitygroup": "ACS::ECS::SecurityGroup",
	"instance":      "ACS::ECS::Instance",
	"eni":           "ACS::ECS::NetworkInterface",
	"prefixlist":    "ACS::VPC::PrefixList", // as PrefixListId
	"vpc":           "ACS::VPC::VPC",
	"vswitch":       "ACS::VPC::VSwitch",
	"keypair":       "ACS::ECS::KeyPair",
}

// resourceType is the ActionTrail type of the resource a parameter (or
// an answer's field) of that name names, "" if none.
func resourceType(name string) string { return resourceParams[name] }

// EventOf makes the event of a finished call; account is the account of
// the verified key ("" when the signature did not verify).
func EventOf(c *rpc.Call, account string) Event {
	req := c.Request
	ps := sortedParams(req.Params) // once, for the parameters and the resources
	start := c.Start.UTC()
	ev := Event{
		EventID:            rpc.NewRequestID(), // a random upper-case UUID, as ActionTrail's
		EventVersion:       "1",
		EventName:          clip(req.Action),
		EventType:          "ApiCall",
		EventCategory:      "Management",
		EventRW:            "Write",
		EventSource:        clip(req.Host),
		Time:               start,
		EventTime:          formatTime(start),
		AcsRegion:          clip(req.Params.Get("RegionId")),
		ServiceName:        services[req.Version],
		APIVersion:         clip(req.Version),
		RequestID:          req.RequestID,
		ErrorCode:          c.Code,
		ErrorMessage:       clip(trailMessage(c.Message)),
		SourceIPAddress:    rpc.ClientHost(c.RemoteAddr),
		UserAgent:          clip(c.UserAgent),
		RecipientAccountID: account,
		UserIdentity:       identityOf(account, req.AccessKeyID),
		AdditionalData:     additionalData(c.Status, c.Method),
	}
	if ReadOnly(req.Action) {
		ev.EventRW = "Read"
	}
	if ev.ServiceName == "" {
		ev.ServiceName = req.Product
	}
	ev.Resources = resourcesOf(ps, req.Params)
	// After resourcesOf: sanitize writes over ps.
	ev.RequestParameters = sanitize(ps)
	if c.Code == "" {
		ev.ResponseElements = responseElements(c.Body)
		for k, v := range ev.ResponseElements {
			if t := resourceType(k); t != "" {
				if s, ok := v.(string); ok {
					ev.Resources = addResource(ev.Resources, t, s)
				}
			}
		}
		for _, id := range instanceIDSets(c.Body) {
			ev.Resources = addResource(ev.Resources, "ACS::ECS::Instance", id)
		}
	}
	ev.ResourceName, ev.ResourceType = resourceText(ev.Resources)
	return ev
}

const timeFormat = "2006-01-02T15:04:05Z"

// additionalData is an event's additionalEventData. The maps of the usual
// statuses and methods are made once and shared by the events that have
// them: no one changes an event's maps.
func additionalData(status int, method string) map[string]any {
	type key struct {
		status int
		post   bool
	}
	if 100 <= status && status < 600 && (method == "POST" || method == "GET") {
		k := key{status, method == "POST"}
		if m, ok := sharedAdditional.Load(k); ok {
			return m.(map[string]any)
		}
		m, _ := sharedAdditional.LoadOrStore(k, map[string]any{"HttpStatus": status, "HttpMethod": method})
		return m.(map[string]any)
	}
	return map[string]any{"HttpStatus": status, "HttpMethod": method}
}

// sharedAdditional holds additionalData's shared maps (at most 1,000).
var sharedAdditional sync.Map

// formatTime is t (UTC) in timeFormat, written by hand for the years
// that take four digits (every event's: time.Format costs several times
// as much).
func formatTime(t time.Time) string {
	var b [20]byte
	return string(appendTime(b[:0], t))
}

// appendTime appends t (UTC) in timeFormat.
func appendTime(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeFormat)
	}
	hour, min, sec := t.Clock()
	d2 := func(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }
	b = d2(d2(b, year/100), year%100)
	b = d2(append(b, '-'), int(month))
	b = d2(append(b, '-'), day)
	b = d2(append(b, 'T'), hour)
	b = d2(append(b, ':'), min)
	b = d2(append(b, ':'), sec)
	return append(b, 'Z')
}

// resourcesOf reads the resources a request names (ps: its parameters,
// sorted by name; p: the same, by name).
func resourcesOf(ps Params, p rpc.Params) []Resource {
	var out []Resource
	tagType, tagTypeRead := "", false
	for _, kv := range ps {
		base, _, _ := strings.Cut(kv.Name, ".")
		if t := resourceType(base); t != "" {
			if base == "InstanceId" && strings.HasPrefix(kv.Value, "eni-") {
				t = "ACS::ECS::NetworkInterface" // an EIP's (InstanceType NetworkInterface)
			}
			out = addResource(out, t, kv.Value)
		} else if base == "ResourceId" {
			if !tagTypeRead {
				tagType, tagTypeRead = tagResourceTypes[strings.ToLower(p.Get("ResourceType"))], true
			}
			if tagType != "" {
				out = addResource(out, tagType, kv.Value)
			}
		}
	}
	return out
}

func addResource(rs []Resource, typ, id string) []Resource {
	if id == "" || len(id) > maxIDBytes || strings.ContainsAny(id, ",;") || len(rs) >= maxResources || !utf8.ValidString(id) {
		return rs
	}
	r := Resource{Type: typ, ID: id}
	if slices.Contains(rs, r) {
		return rs
	}
	return append(rs, r)
}

// resourceText is ActionTrail's resourceName and resourceType: IDs of one
// type joined by ",", types separated by ";", in the same order.
func resourceText(rs []Resource) (names, types string) {
	switch {
	case len(rs) == 0:
		return "", ""
	case len(rs) == 1:
		return rs[0].ID, rs[0].Type
	case !slices.ContainsFunc(rs[1:], func(r Resource) bool { return r.Type != rs[0].Type }):
		var b strings.Builder
		for i, r := range rs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(r.ID)
		}
		return b.String(), rs[0].Type
	}
	var order []string
	byType := map[string][]string{}
	for _, r := range rs {
		if byType[r.Type] == nil {
			order = append(order, r.Type)
		}
		byType[r.Type] = append(byType[r.Type], r.ID)
	}
	var n []string
	for _, t := range order {
		n = append(n, strings.Join(byType[t], ","))
	}
	return strings.Join(n, ";"), strings.Join(order, ";")
}

// responseElements are the scalar top-level fields of a JSON answer, a
// secret's value (a new account's or host's AccessKeySecret) Redacted: it
// is shown once, in the answer, and the trail is read again later (by the
// operator, every account's).
func responseElements(body []byte) map[string]any {
	if id, ok := onlyRequestID(body); ok {
		return map[string]any{"RequestId": id}
	}
	// Every write's answer passes here: the body (the server's own JSON) is
	// checked whole, then its top level read by hand, nested values
	// skipped, not decoded, and a string copied as it is unless it needs
	// json's unquoting.
	if !json.Valid(body) {
		return nil
	}
	i := skipSpace(body, 0)
	if body[i] != '{' {
		if body[i] == 'n' { // null decodes to no fields
			return map[string]any{}
		}
		return nil
	}
	out := make(map[string]any, 2)
	for i = skipSpace(body, i+1); body[i] != '}'; {
		end := stringEnd(body, i)
		k, known := answerKeys[string(body[i+1:end-1])] // no copy of the usual names
		if !known {
			k = unquote(body[i:end])
		}
		i = skipSpace(body, skipSpace(body, end)+1) // past ':'
		end = valueEnd(body, i)
		v := body[i:end]
		switch c := v[0]; {
		case Secret(k) && c != 'n' && c != '{' && c != '[':
			out[k] = Redacted
		case c == '"':
			out[k] = clip(unquote(v))
		case c == 't' || c == 'f':
			out[k] = c == 't'
		case c == '-' || '0' <= c && c <= '9':
			out[k] = json.Number(v)
		default: // null, an object or an array: a later value replaces an earlier one
			delete(out, k)
		}
		if i = skipSpace(body, end); body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return out
}

// redactAnswer redacts the secrets of an event read from the store: rows
// written before responseElements redacted them still hold them.
func redactAnswer(ev *Event) {
	for k, v := range ev.ResponseElements {
		if v != nil && Secret(k) {
			ev.ResponseElements[k] = Redacted
		}
	}
}

// onlyRequestID reads the answer of most writes, {"RequestId":"…"} as
// the server writes it (printable ASCII, nothing to unquote or cut, and
// the newline json.Encoder ends it with), without the whole reading of
// responseElements.
func onlyRequestID(body []byte) (string, bool) {
	const head, tail = `{"RequestId":"`, `"}`
	body = bytes.TrimSuffix(body, []byte("\n"))
	if len(body) < len(head)+len(tail) || len(body) > len(head)+maxValueBytes+len(tail) ||
		string(body[:len(head)]) != head || string(body[len(body)-len(tail):]) != tail {
		return "", false
	}
	id := body[len(head) : len(body)-len(tail)]
	for _, c := range id {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(id), true
}

// answerKeys are the names of an answer's fields that matter most (the
// request ID, and the resources a call made).
var answerKeys = func() map[string]string {
	m := map[string]string{"RequestId": "RequestId"}
	for k := range resourceParams {
		m[k] = k
	}
	return m
}()

// The helpers of responseElements read JSON that json.Valid accepted.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd is the index after the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// valueEnd is the index after the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) && !strings.ContainsRune(",}] \t\n\r", rune(b[i])) {
		i++
	}
	return i
}

// unquote decodes a JSON string (with its quotes).
func unquote(q []byte) string {
	raw := q[1 : len(q)-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw)
	}
	var s string
	json.Unmarshal(q, &s)
	return s
}

// instanceIDSets reads RunInstances' InstanceIdSets.InstanceIdSet.
func instanceIDSets(body []byte) []string {
	if !bytes.Contains(body, []byte(`"InstanceIdSets"`)) {
		return nil
	}
	var r struct {
		InstanceIdSets struct{ InstanceIdSet []string }
	}
	json.Unmarshal(body, &r)
	return r.InstanceIdSets.InstanceIdSet
}

// trailMessage is the error message the trail keeps: a signature refusal's
// echo of the string to sign is left out, since it repeats the secret
// parameters (passwords, user data) that the trail masks by name. The
// client, who sent them, still gets the whole message.
func trailMessage(msg string) string {
	if before, _, found := strings.Cut(msg, signature.StringToSignEcho); found {
		return before + signature.StringToSignEcho + " (left out of the trail)"
	}
	return msg
}
