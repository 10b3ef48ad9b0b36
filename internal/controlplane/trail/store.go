package trail

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
)

// schema is the events table. The event is kept as JSON; the columns
// beside it are what LookupEvents filters on. resources and types hold
// ",a,b," so one ID or type matches with instr. A packed row's data lacks
// what its columns give (pack.go); files made before packing have no
// packed column until opened (migrate), and their rows are whole.
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
	data      TEXT NOT NULL,
	packed    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_time ON events (time, seq);
CREATE INDEX IF NOT EXISTS events_account_time ON events (account, time, seq);
`

// store is the events file.
type store struct {
	db     *sql.DB // the readers
	tmpDir string  // backing directory of a ":memory:" trail
	w      writer  // the writer goroutine's own connection
}

// writer is the connection the trail's writer goroutine alone uses to
// insert: its statements are prepared once (not per transaction), it
// binds the driver's values directly (no database/sql conversions per
// argument), and its page cache stays warm (no other connection writes
// the file: the pruning, once a minute, runs on this one too).
type writer struct {
	conn  *sql.Conn
	stmts map[string]driver.Stmt // by SQL text
	args  []driver.NamedValue
	buf   []byte // the text of a statement's rows; see insertRows
	// boxed are the column values of the last row bound, as the driver
	// takes them (an interface each): a row's account, key, action and
	// service are mostly the last row's, and are not boxed again.
	boxed [4]boxedText
}

// boxedText is a string and the driver.Value holding it.
type boxedText struct {
	s string
	v driver.Value
}

// box returns s as a driver.Value, the one b holds when it is b's string.
func (b *boxedText) box(s string) driver.Value {
	if b.v == nil || b.s != s {
		b.s, b.v = s, s
	}
	return b.v
}

// boxRW is an event's rw column as a driver.Value; the two usual values
// are boxed once.
func boxRW(rw string) driver.Value {
	switch rw {
	case "Write":
		return driver.Value("Write")
	case "Read":
		return driver.Value("Read")
	}
	return rw
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
	// Readable by its owner only, as the store is: events name accounts,
	// keys and addresses.
	if err := sqlite.CreatePrivate(path); err != nil {
		s.removeTmp()
		return nil, err
	}
	uri := sqlite.FileURI(path)
	// synchronous=NORMAL: in WAL mode a crash may lose the last batch of
	// events but never corrupts the file; the trail does not hold writes up
	// with an fsync of its own.
	db, err := sql.Open("sqlite", uri+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(5) // the writer's and four readers'
	if err := migrate(db); err != nil {
		db.Close()
		s.removeTmp()
		return nil, fmt.Errorf("event trail %s: %w", path, err)
	}
	s.db = db
	return s, nil
}

// migrate makes the events table, or brings an older file's up to date.
func migrate(db *sql.DB) error {
	if _, err := db.Exec(schema); err != nil {
		return err
	}
	var packed int
	if err := db.QueryRow(`SELECT count(*) FROM pragma_table_info('events') WHERE name = 'packed'`).Scan(&packed); err != nil {
		return err
	}
	if packed == 0 {
		// Adding a column with a default rewrites no row.
		if _, err := db.Exec(`ALTER TABLE events ADD COLUMN packed INTEGER NOT NULL DEFAULT 0`); err != nil {
			return err
		}
	}
	return nil
}

func (s *store) removeTmp() {
	if s.tmpDir != "" {
		os.RemoveAll(s.tmpDir)
	}
}

func (s *store) close() error {
	s.dropWriter()
	err := s.db.Close()
	s.removeTmp()
	return err
}

// dropWriter closes the writer's statements and its connection (not
// given back to the pool: it may be left inside a transaction); the next
// insert takes a connection anew.
func (s *store) dropWriter() {
	w := &s.w
	if w.conn == nil {
		return
	}
	w.conn.Raw(func(any) error {
		for _, st := range w.stmts {
			st.Close()
		}
		return driver.ErrBadConn // database/sql closes the connection
	})
	w.conn.Close()
	*w = writer{}
}

// rowSizes are the numbers of events one INSERT statement writes, largest
// first: a batch is written with as few statements as these make (a
// statement per event cost about as much again as the row itself).
var rowSizes = [...]int{rowsPerInsert, 16, 4, 1}

// rowsPerInsert is the most events one INSERT statement writes.
const rowsPerInsert = 64

// insertQuery inserts n events.
func insertQuery(n int) string {
	return `INSERT INTO events (time, account, key_id, action, rw, service, event_id, resources, types, data, packed) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), `, n), ", ")
}

// insertQueries are insertQuery of each of rowSizes.
var insertQueries = func() map[int]string {
	m := map[int]string{}
	for _, n := range rowSizes {
		m[n] = insertQuery(n)
	}
	return m
}()

// insert writes a batch in one transaction and returns the last seq.
func (s *store) insert(ctx context.Context, evs []Event) (int64, error) {
	if err := s.writer(ctx); err != nil {
		return 0, err
	}
	var last int64
	err := s.w.conn.Raw(func(dc any) error {
		var err error
		last, err = s.w.insert(ctx, dc, evs)
		return err
	})
	if err != nil {
		// Start again on a connection sure to be outside a transaction
		// (the statements are prepared again: errors are rare).
		s.dropWriter()
	}
	return last, err
}

// writer makes sure s.w has a connection.
func (s *store) writer(ctx context.Context) error {
	if s.w.conn != nil {
		return nil
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	s.w = writer{conn: c, stmts: map[string]driver.Stmt{}}
	return nil
}

// stmt returns the statement of query on c, preparing it the first time.
func (w *writer) stmt(ctx context.Context, c driver.ConnPrepareContext, query string) (driver.Stmt, error) {
	if st := w.stmts[query]; st != nil {
		return st, nil
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

// exec runs query with args on c.
func (w *writer) exec(ctx context.Context, c driver.ConnPrepareContext, query string, args []driver.NamedValue) (driver.Result, error) {
	st, err := w.stmt(ctx, c, query)
	if err != nil {
		return nil, err
	}
	ex, ok := st.(driver.StmtExecContext)
	if !ok {
		return nil, errors.New("event trail: the SQLite driver cannot run a prepared statement")
	}
	return ex.ExecContext(ctx, args)
}

// insert is store.insert on the driver's connection dc.
func (w *writer) insert(ctx context.Context, dc any, evs []Event) (last int64, err error) {
	c, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return 0, errors.New("event trail: the SQLite driver cannot prepare statements")
	}
	if _, err := w.exec(ctx, c, "BEGIN", nil); err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			w.exec(ctx, c, "ROLLBACK", nil)
		}
	}()
	for len(evs) > 0 {
		n := rowSizes[len(rowSizes)-1]
		for _, size := range rowSizes {
			if size <= len(evs) {
				n = size
				break
			}
		}
		if err := w.bindRows(evs[:n]); err != nil {
			return 0, err
		}
		res, err := w.exec(ctx, c, insertQueries[n], w.args)
		clear(w.args) // the arguments' text is in w.buf, written over next
		if err != nil {
			return 0, err
		}
		if last, err = res.LastInsertId(); err != nil {
			return 0, err
		}
		evs = evs[n:]
	}
	if _, err := w.exec(ctx, c, "COMMIT", nil); err != nil {
		return 0, err
	}
	return last, nil
}

// bindRows sets w.args to the columns of evs. The text made here (each
// event's JSON, its resources and types) is written into one buffer and
// passed as strings over it, without a copy per value: the driver copies
// what it binds, and the buffer is only written over for the next
// statement, after this one has run.
func (w *writer) bindRows(evs []Event) error {
	w.args = w.args[:0]
	w.buf = w.buf[:0]
	type span struct {
		res, typ, data [2]int
		packed         bool
	}
	var spans [rowsPerInsert]span
	// First all the text (the buffer may move while it grows) …
	for i := range evs {
		ev := &evs[i]
		sp := &spans[i]
		sp.res[0] = len(w.buf)
		w.buf = append(w.buf, ',')
		for _, r := range ev.Resources {
			w.buf = append(append(w.buf, r.ID...), ',')
		}
		if len(ev.Resources) == 0 {
			w.buf = append(w.buf, ',') // ",," as before
		}
		sp.res[1] = len(w.buf)
		sp.typ[0] = len(w.buf)
		w.buf = append(w.buf, ',')
		for j, r := range ev.Resources {
			if !seenType(ev.Resources[:j], r.Type) {
				w.buf = append(append(w.buf, r.Type...), ',')
			}
		}
		sp.typ[1] = len(w.buf)
		sp.data[0] = len(w.buf)
		var err error
		if sp.packed = packable(ev); sp.packed {
			r := rowOf(ev, unsafe.String(&w.buf[sp.res[0]], sp.res[1]-sp.res[0]), unsafe.String(&w.buf[sp.typ[0]], sp.typ[1]-sp.typ[0]))
			w.buf, err = appendPacked(w.buf, ev, &r)
		} else {
			w.buf, err = appendEvent(w.buf, ev)
		}
		if err != nil {
			return err
		}
		sp.data[1] = len(w.buf)
	}
	// … then the arguments over it.
	text := func(s [2]int) string {
		if s[0] == s[1] {
			return ""
		}
		return unsafe.String(&w.buf[s[0]], s[1]-s[0])
	}
	for i := range evs {
		ev, sp := &evs[i], &spans[i]
		for _, v := range [...]driver.Value{ev.Time.UnixNano(), w.boxed[0].box(ev.UserIdentity.AccountID), w.boxed[1].box(ev.UserIdentity.AccessKeyID),
			w.boxed[2].box(ev.EventName), boxRW(ev.EventRW), w.boxed[3].box(ev.ServiceName), ev.EventID, text(sp.res), text(sp.typ), text(sp.data), sp.packed} {
			w.args = append(w.args, driver.NamedValue{Ordinal: len(w.args) + 1, Value: v})
		}
	}
	return nil
}

// seenType reports whether a resource of rs has type t.
func seenType(rs []Resource, t string) bool {
	for _, r := range rs {
		if r.Type == t {
			return true
		}
	}
	return false
}

// onWriter runs fn on the writer's connection (no other connection's
// write empties its page cache), dropping a connection that broke.
func (s *store) onWriter(ctx context.Context, fn func() error) (err error) {
	if err := s.writer(ctx); err != nil {
		return err
	}
	defer func() {
		if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
			s.dropWriter()
		}
	}()
	return fn()
}

// pruneAge deletes the events older than before; it returns how many.
func (s *store) pruneAge(ctx context.Context, before time.Time) (n int64, err error) {
	err = s.onWriter(ctx, func() error {
		res, err := s.w.conn.ExecContext(ctx, `DELETE FROM events WHERE time < ?`, before.UnixNano())
		if err == nil {
			n, _ = res.RowsAffected()
		}
		return err
	})
	return n, err
}

// fairCuts says how many of its oldest events each account must lose for
// the trail to hold at most target: the accounts holding the most are cut
// to one level (max-min fair), so that one account's flood of calls
// (refused ones too) ages out its own history first, never a quieter
// account's while it holds more.
func (s *store) fairCuts(ctx context.Context, target int64) (cuts []accountCount, err error) {
	var counts []accountCount
	err = s.onWriter(ctx, func() error {
		counts, err = s.accountCounts(ctx)
		return err
	})
	level := fairLevel(counts, target)
	for _, c := range counts {
		if c.n > level {
			cuts = append(cuts, accountCount{c.account, c.n - level})
		}
	}
	return cuts, err
}

// deleteOldest deletes up to n of account's oldest events; it returns how
// many.
func (s *store) deleteOldest(ctx context.Context, account string, n int64) (d int64, err error) {
	err = s.onWriter(ctx, func() error {
		res, err := s.w.conn.ExecContext(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE account = ? ORDER BY time, seq LIMIT ?)`, account, n)
		if err == nil {
			d, _ = res.RowsAffected()
		}
		return err
	})
	return d, err
}

type accountCount struct {
	account string
	n       int64
}

// accountCounts is how many events each account holds.
func (s *store) accountCounts(ctx context.Context) ([]accountCount, error) {
	rows, err := s.w.conn.QueryContext(ctx, `SELECT account, count(*) FROM events GROUP BY account`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []accountCount
	for rows.Next() {
		var c accountCount
		if err := rows.Scan(&c.account, &c.n); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// fairLevel is the largest level L such that the accounts, each cut to
// at most L events, hold at most target in all.
func fairLevel(counts []accountCount, target int64) int64 {
	held := func(l int64) int64 {
		var sum int64
		for _, c := range counts {
			sum += min(c.n, l)
		}
		return sum
	}
	lo, hi := int64(0), int64(0)
	for _, c := range counts {
		hi = max(hi, c.n)
	}
	for lo < hi { // held(lo) <= target; find the largest such
		mid := lo + (hi-lo+1)/2
		if held(mid) <= target {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// count is how many events the trail holds.
func (s *store) count(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n)
	return n, err
}

// Attr is one LookupAttribute condition.
type Attr struct{ Key, Value string }

// AttrKeys are the LookupAttribute keys served, with the column test each
// makes (each ? is the value). User is ActionTrail's user name, which is
// "root" in every event an account signed (userIdentity.userName:
// Palisade has no RAM users); an account ID also matches its events.
var attrConds = map[string]string{
	"EventName":        "action = ?",
	"ServiceName":      "service = ? COLLATE NOCASE",
	"User":             "(account = ? OR ? = 'root' AND account <> '')",
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

// Cursor is the position of an event in the order of a Query: its time
// and ID (a NextToken's), or its time and row (Seq, this file's own).
// Tokens name the event by ID, not by its row: rows are numbered across
// every account, so a tenant reading the row of its own events would
// learn how many events the others made between two of them.
type Cursor struct {
	Time  int64  `json:"t"`
	Event string `json:"e"`
	Seq   int64  `json:"-"`
}

// Outside these, a time's Unix nanoseconds do not fit an int64.
var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// nanos is t in Unix nanoseconds, saturated: a query's bound in year 0001
// or 9999 (both valid ECS times) must not wrap around.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minNanoTime):
		return math.MinInt64
	case t.After(maxNanoTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// find returns up to q.Max events, the position of each, and the cursor
// of the last one when more follow.
func (s *store) find(ctx context.Context, q Query) ([]Event, []Cursor, *Cursor, error) {
	where := []string{"time >= ?", "time <= ?"}
	args := []any{nanos(q.Start), nanos(q.End)}
	if !q.All {
		where, args = append(where, "account = ?"), append(args, q.Account)
	}
	for _, a := range q.Attrs {
		cond := attrConds[a.Key]
		where = append(where, cond)
		for range strings.Count(cond, "?") {
			args = append(args, a.Value)
		}
	}
	cmp, order := "<", "DESC"
	if q.Forward {
		cmp, order = ">", "ASC"
	}
	if q.After != nil {
		// A token's event is found again by its time and ID (among the
		// caller's); one pruned since leaves its time's other events out.
		edge := int64(0) // newest first: every row of that time comes before it
		if q.Forward {
			edge = math.MaxInt64
		}
		seq, seqArgs := "?", []any{q.After.Seq}
		switch {
		case q.After.Seq != 0: // a cursor of this file's (Find)
		case q.All:
			seq, seqArgs = "coalesce((SELECT seq FROM events WHERE time = ? AND event_id = ?), ?)", []any{q.After.Time, q.After.Event, edge}
		default:
			seq, seqArgs = "coalesce((SELECT seq FROM events WHERE time = ? AND event_id = ? AND account = ?), ?)", []any{q.After.Time, q.After.Event, q.Account, edge}
		}
		where = append(where, fmt.Sprintf("(time %[1]s ? OR (time = ? AND seq %[1]s %[2]s))", cmp, seq))
		args = append(append(args, q.After.Time, q.After.Time), seqArgs...)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT seq, time, data, packed, event_id, action, rw, service, account, key_id, resources, types FROM events WHERE "+strings.Join(where, " AND ")+
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
		var (
			data   []byte
			packed bool
			r      row
		)
		if err := rows.Scan(&last.Seq, &last.Time, &data, &packed, &r.eventID, &r.action, &r.rw, &r.service, &r.account, &r.key, &r.res, &r.typ); err != nil {
			return nil, nil, nil, err
		}
		last.Event = r.eventID
		var ev Event
		var err error
		if packed {
			r.time = last.Time
			ev, err = unpack(data, &r)
		} else {
			err = json.Unmarshal(data, &ev)
		}
		if err != nil {
			return nil, nil, nil, err
		}
		redactAnswer(&ev)
		ev.Time = time.Unix(0, last.Time).UTC()
		out = append(out, ev)
		pos = append(pos, last)
	}
	return out, pos, next, rows.Err()
}
