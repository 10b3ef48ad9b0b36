package trail

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

// stored is what a reader of the trail gets of ev: its JSON, and the
// fields that are not in it.
func stored(ev Event) Event {
	var out Event
	b, _ := json.Marshal(ev)
	json.Unmarshal(b, &out)
	out.Time = ev.Time
	return out
}

// Every event reads back as it was recorded, whether its row is packed
// (EventOf's events: the columns give back what the row leaves out) or
// not (an event whose fields the columns do not give).
func TestStoredEventsReadBack(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	withAccount := EventOf(call("AuthorizeSecurityGroup", rpc.Params{"AccessKeyId": "LTAIk", "SecurityGroupId": "sg-1"}, "", `{"RequestId":"R"}`), "1000000000000001")
	refused := EventOf(call("DescribeSecurityGroups", rpc.Params{"AccessKeyId": "LTAIforged"}, "InvalidAccessKeyId.NotFound", "{}"), "")
	noKey := EventOf(call("AuthorizeSecurityGroup", rpc.Params{}, "MissingAccessKeyId", "{}"), "")
	odd := func(change func(*Event)) Event {
		ev := EventOf(call("RevokeSecurityGroup", rpc.Params{"AccessKeyId": "LTAIk"}, "", "{}"), "1000000000000002")
		change(&ev)
		return ev
	}
	evs := []Event{withAccount, refused, noKey,
		odd(func(ev *Event) { ev.IsGlobal = true }),
		odd(func(ev *Event) { ev.EventVersion = "2" }),
		odd(func(ev *Event) { ev.EventType, ev.EventCategory = "ConsoleSignin", "" }),
		odd(func(ev *Event) { ev.RecipientAccountID = "1000000000000009" }),
		odd(func(ev *Event) { ev.UserIdentity.UserName = "alice" }),
		odd(func(ev *Event) { ev.UserIdentity = Identity{AccessKeyID: "LTAInoaccount"} }),
		odd(func(ev *Event) { ev.UserIdentity.AccountID, ev.RecipientAccountID = "", "" }),
		{EventID: "bare", Time: now},
	}
	// Packed, but with fields the columns do not give: stored in the data.
	evs = append(evs,
		EventOf(call("CreateSecurityGroup", rpc.Params{"AccessKeyId": "LTAIk", "VpcId": "vpc-1", "SecurityGroupIds.1": "sg-a"}, "",
			`{"SecurityGroupId":"sg-b","RequestId":"R"}`), "1000000000000001"), // resources of two types
		odd(func(ev *Event) { ev.EventTime = "2001-01-01T00:00:00Z" }),
		odd(func(ev *Event) { ev.EventTime = "" }),
		odd(func(ev *Event) { ev.ResourceName, ev.ResourceType = "sg-x", "" }),
		odd(func(ev *Event) { ev.ResourceName, ev.ResourceType = "", "ACS::ECS::SecurityGroup" }),
		odd(func(ev *Event) {
			ev.Resources = []Resource{{"T", "a,b"}}
			ev.ResourceName, ev.ResourceType = "a,b", "T"
		}),
		odd(func(ev *Event) {
			ev.RequestParameters, ev.ResponseElements, ev.AdditionalData = Params{}, map[string]any{}, map[string]any{}
		}),
		odd(func(ev *Event) {
			ev.RequestParameters, ev.ErrorCode, ev.ErrorMessage, ev.UserAgent, ev.EventSource = nil, "Forbidden", "no \"", "", ""
		}),
		odd(func(ev *Event) {
			ev.AdditionalData = map[string]any{"N": json.Number("1.5"), "S": "x", "B": true, "Z": nil}
		}),
		// The answer's RequestId, the call's as the server answers, or not.
		odd(func(ev *Event) { ev.ResponseElements = map[string]any{"RequestId": ev.RequestID} }),
		odd(func(ev *Event) {
			ev.ResponseElements = map[string]any{"RequestId": ev.RequestID, "Success": true, "Z": "z"}
		}),
		odd(func(ev *Event) { ev.ResponseElements = map[string]any{"RequestId": "other", "A": "a"} }),
		odd(func(ev *Event) { ev.ResponseElements = map[string]any{"RequestId": json.Number("1")} }),
		odd(func(ev *Event) { ev.RequestID, ev.ResponseElements = "", map[string]any{"RequestId": ""} }),
		// Parameters the row gives, with those values or others.
		odd(func(ev *Event) {
			ev.RequestParameters = ParamsOf(map[string]string{"Action": ev.EventName, "AccessKeyId": "LTAIk", "Version": ev.APIVersion,
				"RegionId": "", "Signature": Redacted, "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "Format": "JSON"})
		}),
		odd(func(ev *Event) {
			ev.RequestParameters = ParamsOf(map[string]string{"Action": "Other", "AccessKeyId": "LTAIother", "Version": "2016-04-28",
				"RegionId": "cn-x", "Signature": "abc", "SignatureMethod": "HMAC-SHA256", "SignatureVersion": "", "Format": "XML", "Z": "z"})
		}),
		EventOf(call("CreateSecurityGroup", rpc.Params{"AccessKeyId": "LTAIforged", "Signature": "s", "Format": "JSON"}, "InvalidAccessKeyId.NotFound", "{}"), ""),
	)
	for name, ev := range map[string]Event{"withAccount": withAccount, "refused": refused, "noKey": noKey} {
		if !packable(&ev) {
			t.Errorf("packable(%s) = false, want true", name)
		}
	}
	// An event as EventOf makes it packs to under half its bytes: nothing
	// the columns give is kept twice.
	r := rowOf(&withAccount, ",sg-1,", ",ACS::ECS::SecurityGroup,")
	r.time = withAccount.Time.UnixNano()
	whole, _ := appendEvent(nil, &withAccount)
	if p, _ := appendPacked(nil, &withAccount, &r); len(p) > len(whole)/2 {
		t.Errorf("an event of %d bytes packs to %d: %s", len(whole), len(p), p)
	}
	tr := openTrail(t, Options{Now: func() time.Time { return now.Add(time.Hour) }})
	for i := range evs {
		evs[i].Time = now.Add(time.Duration(i) * time.Second)
		if i > 2 && i < 11 && packable(&evs[i]) {
			t.Errorf("event %d is packable: %+v", i, evs[i])
		}
		tr.Record(evs[i])
	}
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	q := all(now.Add(-time.Hour), now.Add(time.Hour))
	q.Forward = true
	got, _, err := tr.Find(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(evs) {
		t.Fatalf("%d events read, %d recorded", len(got), len(evs))
	}
	for i := range evs {
		if want := stored(evs[i]); !reflect.DeepEqual(got[i], want) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], want)
		}
	}
}

// A trail file made before rows were packed (no packed column) opens: its
// rows read as they were, new ones are added beside them, and filters and
// order take both.
func TestOpensOlderFile(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "db.events")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// The schema and rows as the trail wrote them before.
	if _, err := db.Exec(`CREATE TABLE events (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	time      INTEGER NOT NULL,
	account   TEXT NOT NULL,
	key_id    TEXT NOT NULL,
	action    TEXT NOT NULL,
	rw        TEXT NOT NULL,
	service   TEXT NOT NULL,
	event_id  TEXT NOT NULL,
	resources TEXT NOT NULL,
	types     TEXT NOT NULL,
	data      TEXT NOT NULL
);
CREATE INDEX events_time ON events (time, seq);
CREATE INDEX events_account_time ON events (account, time, seq);`); err != nil {
		t.Fatal(err)
	}
	old := EventOf(call("CreateSecurityGroup", rpc.Params{"AccessKeyId": "LTAIold", "VpcId": "vpc-1"}, "", `{"SecurityGroupId":"sg-old"}`), "1000000000000001")
	old.Time = now
	data, _ := json.Marshal(old)
	if _, err := db.Exec(`INSERT INTO events (time, account, key_id, action, rw, service, event_id, resources, types, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		now.UnixNano(), "1000000000000001", "LTAIold", old.EventName, old.EventRW, old.ServiceName, old.EventID,
		",vpc-1,sg-old,", ",ACS::VPC::VPC,ACS::ECS::SecurityGroup,", string(data)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for round := range 2 { // migrated, then opened again
		tr, err := Open(path, Options{Now: func() time.Time { return now.Add(time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			c := call("DeleteSecurityGroup", rpc.Params{"AccessKeyId": "LTAInew", "SecurityGroupId": "sg-old"}, "", "{}")
			c.Start = now.Add(time.Second)
			tr.Record(EventOf(c, "1000000000000001"))
		}
		ctx := context.Background()
		if err := tr.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		q := all(now.Add(-time.Hour), now.Add(time.Hour))
		q.Attrs = []Attr{{"ResourceName", "sg-old"}}
		evs, _, err := tr.Find(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].EventName != "DeleteSecurityGroup" || evs[0].UserIdentity.AccessKeyID != "LTAInew" {
			t.Fatalf("round %d: %d events %+v", round, len(evs), evs)
		}
		if want := stored(old); !reflect.DeepEqual(evs[1], want) {
			t.Errorf("round %d: the older row reads\n %+v\nwant %+v", round, evs[1], want)
		}
		q.Attrs = []Attr{{"EventAccessKeyId", "LTAIold"}}
		if evs, _, _ := tr.Find(ctx, q); len(evs) != 1 || evs[0].EventID != old.EventID {
			t.Errorf("round %d: by the older row's key: %+v", round, evs)
		}
		tr.Close()
	}
}

// A batch the file refuses is counted and lost, and the writer goes on
// with the next on a clean connection: no transaction is left open to
// hold the readers' view or the next batch's lock.
func TestWriterRecoversFromAFailedBatch(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	tr := openTrail(t, Options{Now: func() time.Time { return now.Add(time.Hour) }})
	ctx := context.Background()
	record(t, tr, "a", "CreateSecurityGroup", now, 3) // the writer's connection is prepared
	bad := EventOf(call("CreateSecurityGroup", rpc.Params{}, "", "{}"), "a")
	bad.AdditionalData = map[string]any{"NaN": math.NaN()} // JSON cannot encode it
	bad.Time = now.Add(10 * time.Second)
	for i := range rowsPerInsert + 1 { // a first statement is written before the bad event's
		ev := EventOf(call("CreateSecurityGroup", rpc.Params{}, "", "{}"), "a")
		ev.Time = now.Add(time.Duration(20+i) * time.Second)
		tr.Record(ev)
	}
	tr.Record(bad)
	if err := tr.Flush(ctx); err == nil {
		t.Fatal("a batch with an event JSON cannot encode was written")
	}
	record(t, tr, "a", "DeleteSecurityGroup", now.Add(time.Minute), 2)
	evs, _, err := tr.Find(ctx, all(now.Add(-time.Hour), now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 5 || evs[0].EventName != "DeleteSecurityGroup" {
		t.Fatalf("%d events after the failed batch (%v); want the 3 before and the 2 after", len(evs), evs)
	}
	if s := tr.Stats(); s.Failed != rowsPerInsert+2 || s.Recorded != 5 {
		t.Errorf("stats %+v", s)
	}
}

// TestOlderRowsKeepNoSecret: a new key's secret in the answer of the call
// that made it (PalisadeCreateAccount, PalisadeRegisterHost) was kept in
// the event's responseElements before they were redacted; such rows, in
// either form, read back redacted.
func TestOlderRowsKeepNoSecret(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	full, _ := json.Marshal(Event{EventID: "EV-full", EventName: "PalisadeRegisterHost", EventRW: "Write", Time: now,
		ResponseElements: map[string]any{"AccessKeySecret": "old-secret", "AccessKeyId": "LTAIhost", "HostName": "h1"}})
	for _, tc := range []struct {
		name   string
		data   string
		packed bool
	}{
		{"packed", `{"q":"REQ","r":{"AccessKeySecret":"old-secret","AccessKeyId":"LTAIhost","HostName":"h1"}}`, true},
		{"whole event", string(full), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := openTrail(t, Options{Now: func() time.Time { return now.Add(time.Hour) }})
			if _, err := tr.st.db.Exec(`INSERT INTO events (time, account, key_id, action, rw, service, event_id, resources, types, data, packed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				now.UnixNano(), "1000000000000001", "LTAIop", "PalisadeRegisterHost", "Write", "Ecs", "EV-"+tc.name, "", "", tc.data, tc.packed); err != nil {
				t.Fatal(err)
			}
			evs, _, err := tr.Find(context.Background(), all(now.Add(-time.Hour), now.Add(time.Hour)))
			if err != nil || len(evs) != 1 {
				t.Fatalf("%d events, %v", len(evs), err)
			}
			got := evs[0].ResponseElements
			if got["AccessKeySecret"] != Redacted || got["AccessKeyId"] != "LTAIhost" || got["HostName"] != "h1" {
				t.Errorf("responseElements read back as %v, want the secret %s and the rest as written", got, Redacted)
			}
		})
	}
}

// TestTokensAtOneTime: a NextToken names its event by time and ID, which
// place it among events of the same nanosecond (the row order) as the
// row number did; a token whose event was pruned since continues after
// that event's time.
func TestTokensAtOneTime(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		forward bool
		account string // "" for the operator
		pruned  bool   // the token's event is deleted before the next page
		want    []int  // the events of account "a" read (by their order of recording)
	}{
		{"newest first", false, "a", false, []int{5, 4, 3, 2, 1, 0}},
		{"oldest first", true, "a", false, []int{0, 1, 2, 3, 4, 5}},
		{"operator, newest first", false, "", false, []int{5, 4, 3, 2, 1, 0}},
		{"operator, oldest first", true, "", false, []int{0, 1, 2, 3, 4, 5}},
		// Pages of one: each token names the first of a's two events of
		// its time, whose other is then left out.
		{"token's event pruned, newest first", false, "a", true, []int{5, 3, 1}},
		{"token's event pruned, oldest first", true, "a", true, []int{0, 2, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := openTrail(t, Options{Now: func() time.Time { return now.Add(time.Hour) }})
			// Two accounts' events interleaved, all at one nanosecond
			// but the first two of a's and the last two of a's.
			for i := range 6 {
				for _, acct := range []string{"a", "b"} {
					c := call("CreateSecurityGroup", rpc.Params{"SecurityGroupId": fmt.Sprintf("sg-%s%d", acct, i)}, "", "{}")
					switch c.Start = now.Add(time.Second); {
					case i < 2:
						c.Start = now
					case i > 3:
						c.Start = now.Add(2 * time.Second)
					}
					tr.Record(EventOf(c, acct))
				}
			}
			if err := tr.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			var got []int
			tok := ""
			for range 20 {
				p := rpc.Params{"MaxResults": "2", "NextToken": tok}
				if tc.pruned {
					p["MaxResults"] = "1"
				}
				if tc.forward {
					p["Direction"] = "FORWARD"
				}
				q, err := parseLookup(p, tr.now(), MaxMaxResults)
				if err != nil {
					t.Fatal(err)
				}
				q.Account, q.All = tc.account, tc.account == ""
				evs, next, err := tr.Find(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					var i int
					if _, err := fmt.Sscanf(ev.ResourceName, "sg-a%d", &i); err == nil {
						got = append(got, i)
					}
				}
				if next == nil {
					break
				}
				tok = encodeToken(*next)
				if tc.pruned {
					c, _ := decodeToken(tok)
					if _, err := tr.st.db.Exec(`DELETE FROM events WHERE event_id = ?`, c.Event); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("a's events over the pages %v, want %v", got, tc.want)
			}
		})
	}
}
