package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations is the ordered schema history. Migration i (0-based) has
// version i+1. Append only: never edit or reorder an entry that has shipped,
// because existing databases record which versions they have applied.
var migrations = []string{
	// 1: initial schema.
	//
	// resources and client_tokens are rowid tables because their rows carry
	// documents of arbitrary size (WITHOUT ROWID suits small rows only).
	// IDs compare with the default BINARY collation, i.e. byte order, which
	// matches Go string ordering.
	`
CREATE TABLE resources (
	kind     TEXT    NOT NULL,
	id       TEXT    NOT NULL,
	account  TEXT    NOT NULL,
	region   TEXT    NOT NULL,
	data     BLOB    NOT NULL,
	revision INTEGER NOT NULL,
	PRIMARY KEY (kind, id)
);
CREATE INDEX resources_scope ON resources (kind, account, region, id);

CREATE TABLE changes (
	revision INTEGER NOT NULL,
	seq      INTEGER NOT NULL,
	kind     TEXT    NOT NULL,
	id       TEXT    NOT NULL,
	account  TEXT    NOT NULL,
	region   TEXT    NOT NULL,
	op       TEXT    NOT NULL,
	PRIMARY KEY (revision, seq)
) WITHOUT ROWID;

CREATE TABLE meta (
	key   TEXT    PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('revision', 0);

CREATE TABLE client_tokens (
	account     TEXT    NOT NULL,
	token       TEXT    NOT NULL,
	action      TEXT    NOT NULL,
	params_hash TEXT    NOT NULL,
	response    BLOB    NOT NULL,
	created     INTEGER NOT NULL, -- Unix microseconds
	PRIMARY KEY (account, token)
);
`,
	// 2: documents may be stored compressed (pack.go). Nothing changes in
	// the schema; the version makes a binary from before refuse the file
	// rather than read compressed documents as JSON.
	`INSERT INTO meta (key, value) VALUES ('packed', 1) ON CONFLICT (key) DO NOTHING;`,
}

// migrate applies the migrations db has not seen yet, all in one
// transaction so a failure leaves the schema as it was. The write
// connection uses BEGIN IMMEDIATE, so two processes opening the same new
// file cannot both apply a migration.
func migrate(ctx context.Context, db *sql.DB, list []string) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	applied INTEGER NOT NULL -- Unix seconds
)`); err != nil {
		return err
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	if current > len(list) {
		// Written by a newer Palisade; running old code on it could corrupt it.
		return fmt.Errorf("database schema version %d is newer than this binary supports (%d)", current, len(list))
	}
	for i := current; i < len(list); i++ {
		if _, err := tx.ExecContext(ctx, list[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`, i+1, time.Now().Unix()); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	return tx.Commit()
}
