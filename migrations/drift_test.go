package migrations_test

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	"github.com/gantry/gantry/ent/migrate"
	"github.com/gantry/gantry/migrations"
	"github.com/gantry/gantry/store"
	"github.com/gantry/gantry/store/storetest"
)

// copyDir writes the embedded migrations of dialect to a temporary directory.
func copyDir(t *testing.T, dialect string) string {
	t.Helper()
	src, err := migrations.FS(dialect)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	err = fs.WalkDir(src, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, path), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestNoDrift replays each migration directory into a dev database and
// diffs it against the Ent schema: any difference (a schema change without
// its migration) writes a file, and fails the test.
func TestNoDrift(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		path := copyDir(t, dialect)
		dir, err := sqltool.NewGolangMigrateDir(path)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadDir(path)
		cfg, _ := store.Parse(storetest.URL(t, dialect))
		db, err := sql.Open(cfg.DriverName(), cfg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		defer db.Close()
		d := dialect
		if d == store.SQLite {
			d = dialect3
		}
		m, err := schema.NewMigrate(entsql.OpenDB(d, db),
			schema.WithDir(dir), schema.WithMigrationMode(schema.ModeReplay), schema.WithDialect(d),
			schema.WithFormatter(sqltool.GolangMigrateFormatter), schema.WithDropColumn(true), schema.WithDropIndex(true))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.NamedDiff(context.Background(), "drift", migrate.Tables...); err != nil {
			t.Fatalf("diff: %v", err)
		}
		after, _ := os.ReadDir(path)
		if len(after) != len(before) {
			for _, e := range after {
				if b, _ := os.ReadFile(filepath.Join(path, e.Name())); strings.Contains(e.Name(), "drift") {
					t.Logf("%s:\n%s", e.Name(), b)
				}
			}
			t.Fatalf("the Ent schema differs from migrations/%s: run `make migrations NAME=…`", dialect)
		}
	})
}

const dialect3 = dialect.SQLite

// TestTamperedDirFailsSum proves the atlas.sum check catches an edited file.
func TestTamperedDirFailsSum(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		path := copyDir(t, d)
		dir, err := sqltool.NewGolangMigrateDir(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := atlasmigrate.Validate(dir); err != nil {
			t.Fatalf("%s: pristine copy fails: %v", d, err)
		}
		f := filepath.Join(path, "000003_seed004_queue.up.sql")
		b, _ := os.ReadFile(f)
		if err := os.WriteFile(f, append(b, []byte("\n-- edited\nSELECT 1;\n")...), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := atlasmigrate.Validate(dir); err == nil {
			t.Errorf("%s: an edited migration passes the atlas.sum check", d)
		}
	}
}
