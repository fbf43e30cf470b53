// Command migrategen writes versioned migrations by diffing the Ent schema
// (Atlas, through Ent's versioned-migration support) against the state that
// the existing migration directory replays into a dev database.
//
//	go run ./migrations/migrategen -dialect sqlite [-name add_thing]
//	go run ./migrations/migrategen -dialect postgres -dev postgres://.../scratch [-name add_thing]
//
// An empty directory is filled with the staged history (see stages.go); a
// current directory gets nothing new. Files use golang-migrate's layout
// (NNN_name.up.sql / .down.sql) and atlas.sum.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/gantry/gantry/ent/migrate"
)

func main() {
	dialectName := flag.String("dialect", "sqlite", "sqlite or postgres")
	dev := flag.String("dev", "", "dev database URL (postgres: an empty scratch database; sqlite: in-memory by default)")
	name := flag.String("name", "changes", "name of a new migration")
	root := flag.String("dir", "migrations", "root of the migration directories")
	flag.Parse()
	if err := run(context.Background(), *dialectName, *dev, *name, *root); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, dialectName, dev, name, root string) error {
	path := filepath.Join(root, dialectName)
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	dir, err := sqltool.NewGolangMigrateDir(path)
	if err != nil {
		return fmt.Errorf("open migration dir: %w", err)
	}
	files, err := dir.Files()
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	if len(files) > 0 {
		return diffAndFix(ctx, dialectName, dev, dir, name, migrate.Tables)
	}
	for i, s := range stages {
		if err := diffAndFix(ctx, dialectName, dev, dir, s.name, tablesAt(migrate.Tables, i)); err != nil {
			return fmt.Errorf("stage %s: %w", s.name, err)
		}
	}
	return nil
}

// diffAndFix writes the migration to tables, if any, with a correct down file.
func diffAndFix(ctx context.Context, dialectName, dev string, dir *sqltool.GolangMigrateDir, name string, tables []*schema.Table) error {
	before, err := dir.Files()
	if err != nil {
		return err
	}
	if err := diff(ctx, dialectName, dev, dir, name, tables); err != nil {
		return err
	}
	after, err := dir.Files()
	if err != nil || len(after) == len(before) {
		return err
	}
	return fixDown(ctx, dialectName, dev, dir)
}

// diff writes the migration that brings the replayed directory to tables.
func diff(ctx context.Context, dialectName, dev string, dir *sqltool.GolangMigrateDir, name string, tables []*schema.Table) error {
	files, err := dir.Files()
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	f, err := formatter(len(files) + 1)
	if err != nil {
		return err
	}
	drv, cleanup, err := openDev(ctx, dialectName, dev)
	if err != nil {
		return err
	}
	defer cleanup()
	m, err := schema.NewMigrate(drv,
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(entDialect(dialectName)),
		schema.WithFormatter(f),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	)
	if err != nil {
		return fmt.Errorf("new migrate: %w", err)
	}
	return m.NamedDiff(ctx, name, tables...)
}

// openDev opens a clean dev database for one diff.
func openDev(ctx context.Context, dialectName, dev string) (*entsql.Driver, func(), error) {
	switch dialectName {
	case "sqlite":
		if dev == "" {
			dev = "file:migrategen?mode=memory&_pragma=foreign_keys(1)"
		}
		db, err := sql.Open("sqlite", dev)
		if err != nil {
			return nil, nil, err
		}
		db.SetMaxOpenConns(1)
		return entsql.OpenDB(dialect.SQLite, db), func() { db.Close() }, nil
	case "postgres":
		if dev == "" {
			return nil, nil, fmt.Errorf("postgres needs -dev with an empty scratch database URL")
		}
		db, err := sql.Open("pgx", dev)
		if err != nil {
			return nil, nil, err
		}
		// Replay needs an empty schema each time.
		if _, err := db.ExecContext(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
			db.Close()
			return nil, nil, fmt.Errorf("reset dev database: %w", err)
		}
		return entsql.OpenDB(dialect.Postgres, db), func() { db.Close() }, nil
	}
	return nil, nil, fmt.Errorf("unknown dialect %q (want sqlite or postgres)", dialectName)
}

// entDialect maps a migration directory name to Ent's dialect name.
func entDialect(name string) string {
	if name == "sqlite" {
		return dialect.SQLite
	}
	return dialect.Postgres
}
