// Package migrations holds the versioned SQL migrations (diffed by Atlas
// from the Ent schema, see migrategen) for each dialect, and applies them
// with golang-migrate: up, down N, status, with atlas.sum verified first.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/sqltool"
	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	sqlitemigrate "github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/gantry/gantry/store"
)

//go:embed sqlite/*.sql sqlite/atlas.sum postgres/*.sql postgres/atlas.sum
var files embed.FS

// FS returns the migration directory of a dialect.
func FS(dialect string) (fs.FS, error) {
	return fs.Sub(files, dialect)
}

// Validate checks the directory against its atlas.sum, so an edited or
// half-copied migration is refused before anything runs.
func Validate(dialect string) error {
	sub, err := FS(dialect)
	if err != nil {
		return err
	}
	if err := atlasmigrate.Validate(&sqltool.GolangMigrateDir{FS: sub}); err != nil {
		return fmt.Errorf("migrations/%s fail the atlas.sum check: %w", dialect, err)
	}
	return nil
}

// Latest is the newest version in the directory.
func Latest(dialect string) (uint, error) {
	sub, err := FS(dialect)
	if err != nil {
		return 0, err
	}
	src, err := iofs.New(sub, ".")
	if err != nil {
		return 0, err
	}
	defer src.Close()
	v, err := src.First()
	for err == nil {
		next, nerr := src.Next(v)
		if nerr != nil {
			break
		}
		v = next
	}
	return v, err
}

// Migrator applies migrations to one database.
type Migrator struct {
	cfg store.Config
	db  *sql.DB
	m   *migrate.Migrate
}

// Open prepares a migrator. It uses a connection of its own: SQLite's
// PRAGMA foreign_keys is per connection and must hold across a whole file.
func Open(cfg store.Config) (*Migrator, error) {
	if err := Validate(cfg.Dialect); err != nil {
		return nil, err
	}
	db, err := sql.Open(cfg.DriverName(), cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.Display, err)
	}
	db.SetMaxOpenConns(1)
	drv, err := driver(cfg, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migration driver for %s: %w", cfg.Display, err)
	}
	sub, _ := FS(cfg.Dialect)
	src, err := iofs.New(sub, ".")
	if err != nil {
		db.Close()
		return nil, err
	}
	m, err := migrate.NewWithInstance("iofs", src, cfg.Dialect, drv)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrator: %w", err)
	}
	return &Migrator{cfg: cfg, db: db, m: m}, nil
}

func driver(cfg store.Config, db *sql.DB) (database.Driver, error) {
	if cfg.Dialect == store.SQLite {
		// NoTxWrap: inside a transaction SQLite ignores PRAGMA
		// foreign_keys=off, and a table rebuild's DROP TABLE would then
		// fire ON DELETE SET NULL and silently unlink rows.
		return sqlitemigrate.WithInstance(db, &sqlitemigrate.Config{NoTxWrap: true})
	}
	// golang-migrate takes a PostgreSQL advisory lock: when replicas start
	// together, one migrates and the others wait.
	return pgxmigrate.WithInstance(db, &pgxmigrate.Config{})
}

// Up applies every pending migration.
func (mg *Migrator) Up(ctx context.Context) error {
	return mg.locked(func() error { return ignoreNoChange(mg.m.Up()) })
}

// Down rolls back n migrations.
func (mg *Migrator) Down(ctx context.Context, n int) error {
	if n <= 0 {
		return fmt.Errorf("down: want a positive number of steps, got %d", n)
	}
	return mg.locked(func() error { return ignoreNoChange(mg.m.Steps(-n)) })
}

// Goto migrates up or down to version v.
func (mg *Migrator) Goto(ctx context.Context, v uint) error {
	return mg.locked(func() error { return ignoreNoChange(mg.m.Migrate(v)) })
}

// Status is a database's migration state.
type Status struct {
	Version uint
	Dirty   bool
	Latest  uint
}

// Current reports whether the database is at the latest version, clean.
func (s Status) Current() bool { return !s.Dirty && s.Version == s.Latest }

// Status reads the applied version.
func (mg *Migrator) Status(ctx context.Context) (Status, error) {
	latest, err := Latest(mg.cfg.Dialect)
	if err != nil {
		return Status{}, err
	}
	v, dirty, err := mg.m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return Status{Latest: latest}, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("read migration version: %w", err)
	}
	return Status{Version: v, Dirty: dirty, Latest: latest}, nil
}

// Close releases the migrator's connection.
func (mg *Migrator) Close() error {
	serr, derr := mg.m.Close()
	return errors.Join(serr, derr)
}

// locked runs f holding a file lock beside an SQLite database, so two
// processes starting at once do not both migrate; golang-migrate's SQLite
// lock is only in-process. PostgreSQL locks itself.
func (mg *Migrator) locked(f func() error) error {
	if mg.cfg.Dialect != store.SQLite {
		return f()
	}
	lf, err := os.OpenFile(mg.cfg.Path+".migrate-lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	return f()
}

func ignoreNoChange(err error) error {
	if errors.Is(err, migrate.ErrNoChange) {
		return nil
	}
	return err
}
