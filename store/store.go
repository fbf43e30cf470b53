// Package store opens Gantry's database: embedded SQLite (the zero-setup
// default) or PostgreSQL through pgx. Both run the same Ent code.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/gantry/gantry/ent"
	_ "github.com/gantry/gantry/ent/runtime" // schema defaults, validators and hooks
)

// Dialects, as the migrations directory names them.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Config says where the database is.
type Config struct {
	Dialect string // SQLite or Postgres
	DSN     string // driver data source name
	Path    string // SQLite file path
	Display string // URL safe to print: password redacted
}

// DB is an open database with its Ent client.
type DB struct {
	Config
	SQL    *sql.DB
	Client *ent.Client
}

// Parse reads a database URL: "sqlite:PATH" or "postgres://user:pass@host/db".
func Parse(raw string) (Config, error) {
	switch {
	case strings.HasPrefix(raw, "sqlite:"):
		return parseSQLite(strings.TrimPrefix(raw, "sqlite:"))
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return parsePostgres(raw)
	}
	scheme, _, _ := strings.Cut(raw, ":")
	return Config{}, fmt.Errorf("unsupported database URL scheme %q: want sqlite:PATH or postgres://USER:PASSWORD@HOST/DB", scheme)
}

func parseSQLite(path string) (Config, error) {
	path = strings.TrimPrefix(path, "//")
	if path == "" || strings.ContainsAny(path, "?#") {
		return Config{}, fmt.Errorf("bad sqlite URL: want sqlite:PATH, e.g. sqlite:gantry.db")
	}
	// WAL lets readers run beside the writer; busy_timeout makes writers
	// queue instead of failing; _txlock=immediate takes the write lock at
	// BEGIN so two writers never deadlock upgrading a read lock.
	dsn := "file:" + filepath.ToSlash(path) +
		"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_txlock=immediate"
	return Config{Dialect: SQLite, DSN: dsn, Path: path, Display: "sqlite:" + path}, nil
}

func parsePostgres(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("bad postgres URL: %v", redactErr(err, raw))
	}
	if u.Host == "" {
		return Config{}, fmt.Errorf("bad postgres URL %s: no host", u.Redacted())
	}
	return Config{Dialect: Postgres, DSN: raw, Display: u.Redacted()}, nil
}

// redactErr keeps a URL's password out of an error message.
func redactErr(err error, raw string) string {
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// DriverName is the database/sql driver for a dialect.
func (c Config) DriverName() string {
	if c.Dialect == SQLite {
		return "sqlite"
	}
	return "pgx"
}

// Open connects and checks the database is reachable.
func Open(ctx context.Context, raw string) (*DB, error) {
	cfg, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(cfg.DriverName(), cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("open %s: %v", cfg.Display, redactErr(err, raw))
	}
	tune(db, cfg.Dialect)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot reach database %s: %v", cfg.Display, redactErr(err, raw))
	}
	drv := entsql.OpenDB(entDialect(cfg.Dialect), db)
	return &DB{Config: cfg, SQL: db, Client: ent.NewClient(ent.Driver(drv))}, nil
}

func tune(db *sql.DB, d string) {
	if d == SQLite {
		// One writer at a time anyway; a few connections serve readers.
		db.SetMaxOpenConns(4)
		return
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
}

func entDialect(d string) string {
	if d == SQLite {
		return dialect.SQLite
	}
	return dialect.Postgres
}

// Close closes the client and the pool.
func (db *DB) Close() error { return db.Client.Close() }
