package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
	"ariga.io/atlas/sql/sqltool"
)

// fixDown rewrites the down file of the newest migration as the real
// reverse: the plan that takes the database from "after the newest file" back
// to "after the one before". Atlas's own down files undo the up statements
// one by one, which is wrong for SQLite table rebuilds (they drop the
// temporary table that no longer exists); planning from inspected states
// is right by construction.
func fixDown(ctx context.Context, dialectName, dev string, dir *sqltool.GolangMigrateDir) error {
	files, err := dir.Files()
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return nil
	}
	newest := files[len(files)-1]
	prev, err := realmAfter(ctx, dialectName, dev, files[:len(files)-1])
	if err != nil {
		return fmt.Errorf("state before %s: %w", newest.Name(), err)
	}
	cur, err := realmAfter(ctx, dialectName, dev, files)
	if err != nil {
		return fmt.Errorf("state after %s: %w", newest.Name(), err)
	}
	down, err := plan(ctx, dialectName, dev, cur, prev)
	if err != nil {
		return err
	}
	name := strings.TrimSuffix(newest.Name(), ".up.sql") + ".down.sql"
	if err := os.WriteFile(filepath.Join(dir.Path(), name), []byte(down), 0o644); err != nil {
		return err
	}
	sum, err := dir.Checksum()
	if err != nil {
		return err
	}
	return migrate.WriteSumFile(dir, sum)
}

// realmAfter replays files into a fresh dev database and inspects the result.
func realmAfter(ctx context.Context, dialectName, dev string, files []migrate.File) (*schema.Realm, error) {
	db, drv, err := openAtlas(ctx, dialectName, dev)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	for _, f := range files {
		stmts, err := f.Stmts()
		if err != nil {
			return nil, err
		}
		for _, s := range stmts {
			if _, err := db.ExecContext(ctx, s); err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name(), err)
			}
		}
	}
	return drv.InspectRealm(ctx, nil)
}

// plan renders the statements that turn from into to.
func plan(ctx context.Context, dialectName, dev string, from, to *schema.Realm) (string, error) {
	db, drv, err := openAtlas(ctx, dialectName, dev)
	if err != nil {
		return "", err
	}
	defer db.Close()
	changes, err := drv.RealmDiff(from, to)
	if err != nil {
		return "", fmt.Errorf("diff: %w", err)
	}
	p, err := drv.PlanChanges(ctx, "down", changes)
	if err != nil {
		return "", fmt.Errorf("plan: %w", err)
	}
	var b strings.Builder
	for _, c := range p.Changes {
		if c.Comment != "" {
			fmt.Fprintf(&b, "-- %s\n", c.Comment)
		}
		fmt.Fprintf(&b, "%s;\n", c.Cmd)
	}
	return b.String(), nil
}

func openAtlas(ctx context.Context, dialectName, dev string) (*sql.DB, migrate.Driver, error) {
	drv, cleanup, err := openDev(ctx, dialectName, dev)
	if err != nil {
		return nil, nil, err
	}
	_ = cleanup
	db := drv.DB()
	var ad migrate.Driver
	if dialectName == "sqlite" {
		ad, err = sqlite.Open(db)
	} else {
		ad, err = postgres.Open(db)
	}
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, ad, nil
}
