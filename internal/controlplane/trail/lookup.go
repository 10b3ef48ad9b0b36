package trail

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/peers"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// Version is ActionTrail's API version that LookupEvents is served under.
const Version = "2020-07-06"

// Paging and window defaults of LookupEvents. ActionTrail documents
// MaxResults up to 50 and leaves its default unstated; 20 is ours.
const (
	DefaultMaxResults = 20
	MaxMaxResults     = 50
	// MaxPartResults bounds a page of one server's own part
	// (peers.LocalParam) and of the console's reads (Lookup): they scan
	// more than a client's page at a time, but an event may encode to
	// tens of KiB (a hostile caller's parameters), so a page stays well
	// under a peer's answer limit (peers.maxAnswer, 16 MiB).
	MaxPartResults = 200
	defaultWindow  = 7 * 24 * time.Hour
	maxAttrs       = 2
)

// Caller resolves a request to the caller's account and whether it is the
// operator (who reads every account's events).
type Caller func(ctx context.Context, req *rpc.Request) (account string, operator bool, err error)

// Routes returns LookupEvents (ActionTrail 2020-07-06).
func (t *Trail) Routes(caller Caller) map[rpc.RouteKey]rpc.Handler {
	return map[rpc.RouteKey]rpc.Handler{{Version: Version, Action: "LookupEvents"}: t.lookupHandler(caller)}
}

// LookupResponse is LookupEvents' answer: Events is a bare array.
type LookupResponse struct {
	rpc.Base
	StartTime string
	EndTime   string
	NextToken string `json:",omitempty"`
	Events    []Event
	// PalisadeMissingServers, on an installation of several servers, are
	// those that did not give their events in time: the answer lacks
	// theirs (and its NextToken resumes them, where they had begun).
	PalisadeMissingServers []string `json:",omitempty"`
	// PalisadeCursors, in the answer to a server's own part
	// (peers.LocalParam), continue after each event.
	PalisadeCursors []string `json:",omitempty"`
	// PalisadeServerId, in the answer to a server's own part, names the
	// server that gave it (peers.ServerParam).
	PalisadeServerId string `json:",omitempty"`
}

// SetPeers makes LookupEvents answer with the events of every live server
// of the installation (peers.Fanin), not this one's alone. Call it before
// serving.
func (t *Trail) SetPeers(f *peers.Fanin) { t.peers = f }

func (t *Trail) lookupHandler(caller Caller) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		account, operator, err := caller(ctx, req)
		if err != nil {
			return nil, err
		}
		if req.Format == "XML" {
			return nil, ecserr.InvalidParameter("Format", "LookupEvents answers in JSON only; leave Format out")
		}
		maxPage := MaxMaxResults
		if peers.Local(req.Params) {
			maxPage = MaxPartResults
		}
		return t.lookup(ctx, req, account, operator, maxPage)
	}
}

// Lookup answers LookupEvents with params, up to MaxPartResults events a
// page, for account's holder of the key ctx carries (rpc.AccessKeyID): on
// an installation of several servers, with every live server's events,
// each asked with that key as the API's own answer asks them. The
// console's events page reads the trail through it.
func (t *Trail) Lookup(ctx context.Context, account string, params rpc.Params) (*LookupResponse, error) {
	req := &rpc.Request{Version: Version, Action: "LookupEvents", AccessKeyID: rpc.AccessKeyID(ctx), Params: params}
	return t.lookup(ctx, req, account, false, MaxPartResults)
}

// lookup answers req for account (every account's events for the
// operator), with pages of at most maxPage events.
func (t *Trail) lookup(ctx context.Context, req *rpc.Request, account string, operator bool, maxPage int) (*LookupResponse, error) {
	self, err := t.peers.Asked(req.Params)
	if err != nil {
		return nil, err
	}
	merged := t.peers != nil && !peers.Local(req.Params)
	p := req.Params
	var tok peers.Token
	if merged {
		var ok bool
		if tok, ok = peers.DecodeToken(p.Get("NextToken")); !ok {
			return nil, invalidToken()
		}
		p = maps.Clone(p) // this server's own part continues from its position
		p["NextToken"] = tok[t.peers.Self].After
	}
	q, err := parseLookup(p, t.now(), maxPage)
	if err != nil {
		return nil, err
	}
	q.Account, q.All = account, operator
	// Events of calls just answered may still be queued: a caller
	// reads its own writes.
	if err := t.Flush(ctx); err != nil {
		return nil, err
	}
	out := &LookupResponse{StartTime: q.Start.Format(timeFormat), EndTime: q.End.Format(timeFormat)}
	if merged {
		if err := t.lookupMerged(ctx, req, q, tok, out); err != nil {
			return nil, err
		}
	} else {
		evs, pos, next, err := t.find(ctx, q)
		if err != nil {
			return nil, err
		}
		out.Events = evs
		if next != nil {
			out.NextToken = encodeToken(*next)
		}
		if peers.Local(req.Params) {
			out.PalisadeServerId = self
			for _, c := range pos {
				out.PalisadeCursors = append(out.PalisadeCursors, encodeToken(c))
			}
		}
	}
	if out.Events == nil {
		out.Events = []Event{}
	}
	return out, nil
}

func invalidToken() error {
	return ecserr.New(http.StatusBadRequest, "InvalidNextToken", "NextToken is not one this server returned; repeat the call without it.")
}

// located is an event with its position on its server.
type located struct {
	ev Event
	c  Cursor
}

// lookupMerged answers q with the events of every live server: this
// one's from its file, the others' asked for (as the caller, so each
// filters as for the caller's own call), merged by time and then by
// server, each server's part continuing from its position in tok.
func (t *Trail) lookupMerged(ctx context.Context, req *rpc.Request, q Query, tok peers.Token, out *LookupResponse) error {
	f := t.peers
	var parts []peers.Part[located]
	if !tok[f.Self].Done {
		evs, pos, next, err := t.find(ctx, q)
		if err != nil {
			return err
		}
		p := peers.Part[located]{Server: f.Self, More: next != nil}
		for i := range evs {
			p.Items = append(p.Items, located{evs[i], pos[i]})
			p.Cursors = append(p.Cursors, encodeToken(pos[i]))
		}
		parts = append(parts, p)
	}
	// A server done is not asked again: its events only come after the
	// start.
	theirs, named, missing, err := peers.Gather(ctx, f, req, tok, false, func(a peers.Answer) (peers.Part[located], error) { return remotePart(a, q.Max) })
	if err != nil {
		return err
	}
	parts = append(parts, theirs...)
	out.PalisadeMissingServers = named
	before := func(a, b located) bool { return a.c.Time > b.c.Time }
	if q.Forward {
		before = func(a, b located) bool { return a.c.Time < b.c.Time }
	}
	items, next, more := peers.Merge(tok, parts, q.Max, before, missing...)
	for _, it := range items {
		out.Events = append(out.Events, it.ev)
	}
	if more {
		out.NextToken = next.Encode()
	}
	return nil
}

// remotePart reads a server's answer to its part of a query.
func remotePart(a peers.Answer, max int) (peers.Part[located], error) {
	p := peers.Part[located]{Server: a.Server}
	var r LookupResponse
	if err := peers.Decode(a, &r, &r.PalisadeServerId); err != nil {
		return p, err
	}
	if len(r.PalisadeCursors) != len(r.Events) || len(r.Events) > max {
		return p, errors.New("an answer without a position for each event")
	}
	for i, ev := range r.Events {
		c, ok := decodeToken(r.PalisadeCursors[i])
		if !ok {
			return p, errors.New("an answer with a bad position")
		}
		ev.Time = time.Unix(0, c.Time).UTC()
		p.Items = append(p.Items, located{ev, c})
	}
	p.Cursors, p.More = r.PalisadeCursors, r.NextToken != ""
	return p, nil
}

// parseLookup reads LookupEvents' parameters, MaxResults up to maxPage.
func parseLookup(p rpc.Params, now time.Time, maxPage int) (Query, error) {
	q := Query{Max: DefaultMaxResults}
	now = now.UTC()
	start, end := p.Get("StartTime"), p.Get("EndTime")
	q.End = now
	if end != "" {
		e, err := time.Parse(timeFormat, end)
		if err != nil {
			return q, ecserr.InvalidParameter("EndTime", "use UTC ISO 8601 such as 2026-01-02T15:04:05Z")
		}
		// Times have whole seconds: the end second is included whole.
		q.End = e.Add(time.Second - time.Nanosecond)
	}
	q.Start = q.End.Add(-defaultWindow).Truncate(time.Second)
	if start != "" {
		s, err := time.Parse(timeFormat, start)
		if err != nil {
			return q, ecserr.InvalidParameter("StartTime", "use UTC ISO 8601 such as 2026-01-02T15:04:05Z")
		}
		q.Start = s
	}
	if q.Start.After(q.End) {
		return q, ecserr.InvalidParameter("StartTime", "it is after EndTime; give a StartTime before EndTime")
	}
	if s := p.Get("MaxResults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPage {
			return q, ecserr.InvalidParameter("MaxResults", "it must be a number from 1 to "+strconv.Itoa(maxPage))
		}
		q.Max = n
	}
	switch d := strings.ToUpper(p.Get("Direction")); d {
	case "", "BACKWARD":
	case "FORWARD":
		q.Forward = true
	default:
		return q, ecserr.InvalidParameter("Direction", "use BACKWARD (newest first, the default) or FORWARD")
	}
	for _, a := range p.Structs("LookupAttribute") {
		k, v := a.Get("Key"), a.Get("Value")
		if k == "" && v == "" {
			continue
		}
		if _, ok := attrConds[k]; !ok {
			return q, ecserr.InvalidParameter("LookupAttribute.N.Key", "use one of ServiceName, EventName, User, EventId, ResourceType, ResourceName, EventRW, EventAccessKeyId")
		}
		if v == "" {
			return q, ecserr.InvalidParameter("LookupAttribute.N.Value", "give a value for "+k)
		}
		q.Attrs = append(q.Attrs, Attr{Key: k, Value: v})
	}
	if len(q.Attrs) > maxAttrs {
		return q, ecserr.InvalidParameter("LookupAttribute.N", "give at most 2 conditions per call")
	}
	if tok := p.Get("NextToken"); tok != "" {
		c, ok := decodeToken(tok)
		if !ok {
			return q, invalidToken()
		}
		q.After = &c
	}
	return q, nil
}

// A NextToken is the position of the last event returned; the query's
// other conditions come again with the next call, as ActionTrail requires,
// and the account is always the caller's, so a token names no data.
func encodeToken(c Cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string) (Cursor, bool) {
	var c Cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 200 || json.Unmarshal(b, &c) != nil || c.Event == "" || len(c.Event) > maxIDBytes {
		return c, false
	}
	return c, true
}
