package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	// The cgo SQLite driver: the image builds it statically (see the Dockerfile).
	_ "github.com/mattn/go-sqlite3"
)

// defaultSQLitePath is where the workshop app keeps its database; the image declares it a volume.
const defaultSQLitePath = "/etc/todos/todo.db"

// openSQLite opens (creating it and its directory if missing) the SQLite database at path.
func openSQLite(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// A busy timeout rather than "database is locked" if another process holds the file briefly.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_busy_timeout=5000"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	// One connection: SQLite serialises writers anyway, and this keeps writes from failing busy.
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	s, err := newStore(ctx, db, "sqlite", "", " ORDER BY rowid")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (database %s)", err, path)
	}
	return s, nil
}
