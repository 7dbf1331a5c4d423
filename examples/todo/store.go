package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
)

// Item is one todo as the API and the front end see it.
type Item struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Completed bool   `json:"completed"`
}

// ErrNotFound is returned when no item has the given id.
var ErrNotFound = errors.New("item not found")

// createTable is the workshop app's schema, so a database it made works here and the other way round.
// MySQL gets " DEFAULT CHARSET utf8mb4" after it: a database created with the server's default
// (latin1 on many servers) could not store most names otherwise.
const createTable = `CREATE TABLE IF NOT EXISTS todo_items (id varchar(36), name varchar(255), completed boolean)`

// Store keeps the todo list in a SQL database. SQLite and MySQL take the same statements ("?"
// placeholders, boolean stored as 0/1); only opening the database differs.
type Store struct {
	db *sql.DB
	// Kind says which database this is, for the start-up log and /healthz ("sqlite" or "mysql").
	Kind string
	// order is appended to the list query: SQLite has rowid for insertion order; MySQL's InnoDB
	// returns a table without a primary key in insertion order already.
	order string
}

// newStore creates the table if missing (createTable with tableOptions appended) and returns the store.
func newStore(ctx context.Context, db *sql.DB, kind, tableOptions, order string) (*Store, error) {
	if _, err := db.ExecContext(ctx, createTable+tableOptions); err != nil {
		return nil, fmt.Errorf("%s: create table todo_items: %w", kind, err)
	}
	return &Store{db: db, Kind: kind, order: order}, nil
}

// List returns every item, oldest first.
func (s *Store) List(ctx context.Context) ([]Item, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, completed FROM todo_items`+s.order)
	if err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	defer rows.Close()
	items := []Item{}
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.ID, &it.Name, &it.Completed); err != nil {
			return nil, fmt.Errorf("list items: %w", err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	return items, nil
}

// Get returns the item with the given id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Item, error) {
	var it Item
	err := s.db.QueryRowContext(ctx, `SELECT id, name, completed FROM todo_items WHERE id = ?`, id).
		Scan(&it.ID, &it.Name, &it.Completed)
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, ErrNotFound
	}
	if err != nil {
		return Item{}, fmt.Errorf("get item %s: %w", id, err)
	}
	return it, nil
}

// Add stores a new, not completed item with a fresh random id.
func (s *Store) Add(ctx context.Context, name string) (Item, error) {
	id, err := newID()
	if err != nil {
		return Item{}, err
	}
	it := Item{ID: id, Name: name}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO todo_items (id, name, completed) VALUES (?, ?, ?)`,
		it.ID, it.Name, it.Completed); err != nil {
		return Item{}, fmt.Errorf("add item: %w", err)
	}
	return it, nil
}

// Update replaces the name and completed flag of an existing item.
func (s *Store) Update(ctx context.Context, it Item) error {
	// Check existence first: MySQL reports 0 affected rows for an update that changes nothing.
	if _, err := s.Get(ctx, it.ID); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE todo_items SET name = ?, completed = ? WHERE id = ?`,
		it.Name, it.Completed, it.ID); err != nil {
		return fmt.Errorf("update item %s: %w", it.ID, err)
	}
	return nil
}

// Remove deletes the item with the given id, or returns ErrNotFound.
func (s *Store) Remove(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM todo_items WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("remove item %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("remove item %s: %w", id, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Ping tells whether the database still answers, for the health check.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// newID returns a random (version 4) UUID in its usual 36-character form, as the workshop app's
// uuid package does; a dependency for these few lines is not worth it.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new item id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
