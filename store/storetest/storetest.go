// Package storetest gives tests fresh databases of every dialect: SQLite
// always, PostgreSQL when GANTRY_TEST_POSTGRES_URL is set (CI sets it, and
// a PostgreSQL that cannot be reached then fails the test, never skips it).
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/gantry/gantry/migrations"
	"github.com/gantry/gantry/store"
)

// PostgresEnv names the variable holding an admin URL of a test PostgreSQL.
const PostgresEnv = "GANTRY_TEST_POSTGRES_URL"

// Dialects lists the dialects this run tests.
func Dialects() []string {
	if os.Getenv(PostgresEnv) != "" {
		return []string{store.SQLite, store.Postgres}
	}
	return []string{store.SQLite}
}

// Each runs f as a subtest once per dialect.
func Each(t *testing.T, f func(t *testing.T, dialect string)) {
	t.Helper()
	for _, d := range Dialects() {
		t.Run(d, func(t *testing.T) { f(t, d) })
	}
}

var seq atomic.Int64

// URL returns the URL of a fresh, empty database of the dialect, dropped
// when the test ends.
func URL(t testing.TB, dialect string) string {
	t.Helper()
	if dialect == store.SQLite {
		return "sqlite:" + filepath.Join(t.TempDir(), "gantry.db")
	}
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		t.Fatalf("%s is not set", PostgresEnv)
	}
	name := fmt.Sprintf("gantry_t%d_%d", os.Getpid(), seq.Add(1))
	exec(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("bad %s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

func exec(t testing.TB, dsn, stmt string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open test postgres: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		t.Fatalf("test postgres: %s: %v", strings.Fields(stmt)[0], err)
	}
}

// Open returns a migrated database of the dialect, closed when the test ends.
func Open(t testing.TB, dialect string) *store.DB {
	t.Helper()
	return OpenURL(t, URL(t, dialect))
}

// OpenURL migrates the database at raw up and opens it.
func OpenURL(t testing.TB, raw string) *store.DB {
	t.Helper()
	Migrate(t, raw)
	db, err := store.Open(context.Background(), raw)
	if err != nil {
		t.Fatalf("open %s: %v", raw, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Migrate applies every migration to the database at raw.
func Migrate(t testing.TB, raw string) {
	t.Helper()
	cfg, err := store.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	mg, err := migrations.Open(cfg)
	if err != nil {
		t.Fatalf("migrations: %v", err)
	}
	defer mg.Close()
	if err := mg.Up(context.Background()); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
}
