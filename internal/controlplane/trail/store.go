package trail

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// schema is the events table. The event is kept whole as JSON; the
// columns beside it are what LookupEvents filters on. resources and types
// hold ",a,b," so one ID or type matches with instr.
const schema = `
CREATE TABLE IF NOT EXISTS events (
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
CREATE INDEX IF NOT EXISTS events_time ON events (time, seq);
CREATE INDEX IF NOT EXISTS events_account_time ON events (account, time, seq);
`

// store is the events file.
type store struct {
	db     *sql.DB
	tmpDir string // backing directory of a ":memory:" trail
}

// File is where the trail of the store at db is kept.
func File(db string) string { return db + ".events" }

func openStore(path string) (*store, error) {
	s := &store{}
	if path == ":memory:" || strings.HasPrefix(path, ":memory:") {
		dir, err := os.MkdirTemp("", "palisade-events-")
		if err != nil {
			return nil, err
		}
		s.tmpDir, path = dir, filepath.Join(dir, "events.db")
	}
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	// synchronous=NORMAL: in WAL mode a crash may lose the last batch of
	// events but never corrupts the file; the trail does not hold writes up
	// with an fsync of its own.
	db, err := sql.Open("sqlite", uri+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		s.removeTmp()
		return nil, fmt.Errorf("event trail %s: %w", path, err)
	}
	s.db = db
	return s, nil
}

func (s *store) removeTmp() {
	if s.tmpDir != "" {
		os.RemoveAll(s.tmpDir)
	}
}

func (s *store) close() error {
	err := s.db.Close()
	s.removeTmp()
	return err
}

// rowsPerInsert is how many events one INSERT statement writes: a
// statement per event cost about as much again as the row itself.
const rowsPerInsert = 16

// insertQuery inserts n events.
func insertQuery(n int) string {
	return `INSERT INTO events (time, account, key_id, action, rw, service, event_id, resources, types, data) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), `, n), ", ")
}

// insert writes a batch in one transaction and returns the last seq.
func (s *store) insert(ctx context.Context, evs []Event) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	prepare := func(n int) (*sql.Stmt, error) { return tx.PrepareContext(ctx, insertQuery(n)) }
	one, err := prepare(1)
	if err != nil {
		return 0, err
	}
	defer one.Close()
	var many *sql.Stmt
	if len(evs) >= rowsPerInsert {
		if many, err = prepare(rowsPerInsert); err != nil {
			return 0, err
		}
		defer many.Close()
	}
	var last int64
	var buf []byte
	args := make([]any, 0, 10*rowsPerInsert)
	for len(evs) > 0 {
		st, n := one, 1
		if len(evs) >= rowsPerInsert {
			st, n = many, rowsPerInsert
		}
		args = args[:0]
		for i := range evs[:n] {
			ev := &evs[i]
			buf, err = appendEvent(buf[:0], ev)
			if err != nil {
				return 0, err
			}
			ids, types := []string{}, []string{}
			for _, r := range ev.Resources {
				ids = append(ids, r.ID)
				if !contains(types, r.Type) {
					types = append(types, r.Type)
				}
			}
			args = append(args, ev.Time.UnixNano(), ev.UserIdentity.AccountID, ev.UserIdentity.AccessKeyID, ev.EventName,
				ev.EventRW, ev.ServiceName, ev.EventID, ","+strings.Join(ids, ",")+",", ","+strings.Join(types, ",")+",", string(buf))
		}
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return 0, err
		}
		if last, err = res.LastInsertId(); err != nil {
			return 0, err
		}
		evs = evs[n:]
	}
	return last, tx.Commit()
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// prune deletes events older than before (when not zero) and all but the
// newest keep (when positive) below lastSeq. Sequence numbers have no
// gaps above the oldest kept event (deletes take only the oldest), so
// "seq <= lastSeq-keep" leaves exactly keep.
func (s *store) prune(ctx context.Context, before time.Time, lastSeq int64, keep int) (int64, error) {
	var n int64
	if !before.IsZero() {
		res, err := s.db.ExecContext(ctx, `DELETE FROM events WHERE time < ?`, before.UnixNano())
		if err != nil {
			return 0, err
		}
		d, _ := res.RowsAffected()
		n += d
	}
	if keep > 0 && lastSeq > int64(keep) {
		res, err := s.db.ExecContext(ctx, `DELETE FROM events WHERE seq <= ?`, lastSeq-int64(keep))
		if err != nil {
			return n, err
		}
		d, _ := res.RowsAffected()
		n += d
	}
	return n, nil
}

// lastSeq is the newest event's sequence number, 0 when there is none.
func (s *store) lastSeq(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT max(seq) FROM events`).Scan(&n)
	return n.Int64, err
}

// Attr is one LookupAttribute condition.
type Attr struct{ Key, Value string }

// AttrKeys are the LookupAttribute keys served, with the column test each
// makes. User matches the account ID: Palisade has no RAM users.
var attrConds = map[string]string{
	"EventName":        "action = ?",
	"ServiceName":      "service = ? COLLATE NOCASE",
	"User":             "account = ?",
	"EventId":          "event_id = ?",
	"ResourceType":     "instr(types, ',' || ? || ',') > 0",
	"ResourceName":     "instr(resources, ',' || ? || ',') > 0",
	"EventRW":          "rw = ? COLLATE NOCASE",
	"EventAccessKeyId": "key_id = ?",
}

// Query selects events.
type Query struct {
	Account string // the caller's account; ignored with All
	All     bool   // the operator: every account's events, and those of no account
	// Start and End bound the event time, both included.
	Start, End time.Time
	Attrs      []Attr
	Max        int     // events per page
	After      *Cursor // continue after this event
	Forward    bool    // oldest first; default newest first
}

// Cursor is the position of an event in the order of a Query.
type Cursor struct {
	Time int64 `json:"t"`
	Seq  int64 `json:"s"`
}

// find returns up to q.Max events, the position of each, and the cursor
// of the last one when more follow.
func (s *store) find(ctx context.Context, q Query) ([]Event, []Cursor, *Cursor, error) {
	where := []string{"time >= ?", "time <= ?"}
	args := []any{q.Start.UnixNano(), q.End.UnixNano()}
	if !q.All {
		where, args = append(where, "account = ?"), append(args, q.Account)
	}
	for _, a := range q.Attrs {
		where, args = append(where, attrConds[a.Key]), append(args, a.Value)
	}
	cmp, order := "<", "DESC"
	if q.Forward {
		cmp, order = ">", "ASC"
	}
	if q.After != nil {
		where = append(where, fmt.Sprintf("(time %[1]s ? OR (time = ? AND seq %[1]s ?))", cmp))
		args = append(args, q.After.Time, q.After.Time, q.After.Seq)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT seq, time, data FROM events WHERE "+strings.Join(where, " AND ")+
		fmt.Sprintf(" ORDER BY time %[1]s, seq %[1]s LIMIT ?", order), append(args, q.Max+1)...)
	if err != nil {
		return nil, nil, nil, err
	}
	defer rows.Close()
	var (
		out  []Event
		pos  []Cursor
		last Cursor
		next *Cursor
	)
	for rows.Next() {
		if len(out) == q.Max {
			next = &last
			break
		}
		var data string
		if err := rows.Scan(&last.Seq, &last.Time, &data); err != nil {
			return nil, nil, nil, err
		}
		var ev Event
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return nil, nil, nil, err
		}
		ev.Time = time.Unix(0, last.Time).UTC()
		out = append(out, ev)
		pos = append(pos, last)
	}
	return out, pos, next, rows.Err()
}
