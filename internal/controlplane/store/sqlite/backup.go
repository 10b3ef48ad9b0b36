package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// Backup writes a consistent copy of the store at src to the new file dst
// with VACUUM INTO: one read transaction, so a server may keep writing
// meanwhile (the copy is the store at one revision, which it returns).
// The copy is a store of its own, compacted; open it with Open or serve it
// with --db.
func Backup(ctx context.Context, src, dst string) (int64, error) {
	if _, err := os.Stat(src); err != nil {
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	if _, err := os.Stat(dst); err == nil {
		return 0, fmt.Errorf("sqlite: backup: %s exists: give a new file", dst)
	}
	db, err := sql.Open("sqlite", FileURI(src)+fmt.Sprintf("?_pragma=busy_timeout(%d)", busyTimeoutMS))
	if err != nil {
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	defer db.Close()
	// Fail on a file that is not a Palisade store before writing a copy.
	if err := db.QueryRowContext(ctx, selectRevision).Scan(new(int64)); err != nil {
		return 0, fmt.Errorf("sqlite: backup: %s is not a Palisade store: %w", src, err)
	}
	// The copy holds the keys' secrets too. VACUUM INTO writes into an
	// empty file.
	// Made here, not merely there: a failure below removes it.
	f, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("sqlite: backup to %s: %w", dst, err)
	}
	f.Close()
	// VACUUM INTO copies in one read transaction; the copy's revision is
	// then read from the copy itself.
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		os.Remove(dst)
		return 0, fmt.Errorf("sqlite: backup to %s: %w", dst, err)
	}
	return revisionOf(ctx, dst)
}

func revisionOf(ctx context.Context, path string) (int64, error) {
	db, err := sql.Open("sqlite", FileURI(path)+"?_pragma=query_only(1)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var rev int64
	err = db.QueryRowContext(ctx, selectRevision).Scan(&rev)
	return rev, err
}

// FileURI is a "file:" URI of path, so that any path is accepted
// (what URIs reserve is escaped); query parameters may follow it.
func FileURI(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// Dump reads the whole store at one revision (store.Dump), for copying it
// to another backend.
func (s *Store) Dump(ctx context.Context) (*store.Dump, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: dump: %w", err)
	}
	defer tx.Rollback()
	d := &store.Dump{}
	if err := tx.QueryRowContext(ctx, selectRevision).Scan(&d.Revision); err != nil {
		return nil, fmt.Errorf("sqlite: dump: %w", err)
	}
	if err := s.awaitSynced(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: dump: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT kind, id, account, region, data, revision FROM resources ORDER BY kind, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: dump: %w", err)
	}
	for rows.Next() {
		var r store.Record
		err := rows.Scan(&r.Kind, &r.ID, &r.Account, &r.Region, &r.Data, &r.Revision)
		if err == nil {
			r.Data, err = unpack(r.Data)
		}
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: dump: %w", err)
		}
		d.Records = append(d.Records, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sqlite: dump: %w", err)
	}
	rows, err = tx.QueryContext(ctx, `SELECT account, token, action, params_hash, response, created FROM client_tokens ORDER BY account, token`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: dump: %w", err)
	}
	for rows.Next() {
		var t store.Token
		var created int64
		if err := rows.Scan(&t.Account, &t.Token, &t.Action, &t.ParamsHash, &t.Response, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: dump: %w", err)
		}
		t.Created = time.UnixMicro(created)
		d.Tokens = append(d.Tokens, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sqlite: dump: %w", err)
	}
	rows, err = tx.QueryContext(ctx, `SELECT revision, kind, id, account, region, op FROM changes ORDER BY revision, seq`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: dump: %w", err)
	}
	for rows.Next() {
		var c store.Change
		if err := rows.Scan(&c.Revision, &c.Kind, &c.ID, &c.Account, &c.Region, &c.Op); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: dump: %w", err)
		}
		d.Changes = append(d.Changes, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sqlite: dump: %w", err)
	}
	return d, nil
}
