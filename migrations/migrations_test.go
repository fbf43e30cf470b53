package migrations_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gantry/gantry/migrations"
	"github.com/gantry/gantry/store"
	"github.com/gantry/gantry/store/storetest"
)

// Stage versions, as migrategen's stages number them.
const (
	vBase    = 1
	vSeed000 = 2
	vSeed004 = 3
)

var seedIndexes = map[string][]string{
	// index name -> fragments its definition must contain (columns, order, WHERE)
	"idx_containerjob_queue_ready":    {"queued_at", "launched_at", "queued_at IS NOT NULL", "launched_at IS NULL"},
	"idx_containerjob_scheduled":      {"scheduled_for", "queued_at", "scheduled_for IS NOT NULL"},
	"idx_containerjob_priority_queue": {"priority", "DESC", "queued_at", "queued_at IS NOT NULL"},
	"idx_containerjob_queued_at":      {"queued_at"},
	"idx_containerjob_launched_at":    {"launched_at"},
	"idx_containerjob_scheduled_for":  {"scheduled_for"},
	"idx_containerjob_priority":       {"priority"},
	"idx_containerjob_queue_retry":    {"queued_at", "retry_count"},
	"idx_containerjob_status_queue":   {"status", "queued_at"},
}

var seedChecks = []string{"check_priority_range", "check_retry_count_positive", "check_max_retries_positive"}

func open(t *testing.T, dialect string) (store.Config, *migrations.Migrator, *sql.DB) {
	t.Helper()
	raw := storetest.URL(t, dialect)
	cfg, err := store.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	mg, err := migrations.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mg.Close() })
	db, err := sql.Open(cfg.DriverName(), cfg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return cfg, mg, db
}

func TestEmbeddedDirsPassAtlasSum(t *testing.T) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		if err := migrations.Validate(d); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
}

func TestUpIntrospectDownUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		_, mg, db := open(t, dialect)
		if err := mg.Up(ctx); err != nil {
			t.Fatalf("up: %v", err)
		}
		st, err := mg.Status(ctx)
		if err != nil || !st.Current() {
			t.Fatalf("status after up = %+v, %v; want current", st, err)
		}
		checkSchema(t, db, dialect)

		for v := st.Latest; v > 0; v-- {
			if err := mg.Down(ctx, 1); err != nil {
				t.Fatalf("down from %d: %v", v, err)
			}
			got, _ := mg.Status(ctx)
			if got.Version != v-1 || got.Dirty {
				t.Fatalf("after down from %d: status %+v", v, got)
			}
		}
		if n := countTables(t, db, dialect); n != 0 {
			t.Fatalf("after down to zero, %d Gantry tables remain", n)
		}
		if err := mg.Up(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
		checkSchema(t, db, dialect)
	})
}

// checkSchema confirms seed 000 and 004's columns, defaults, indexes and checks.
func checkSchema(t *testing.T, db *sql.DB, dialect string) {
	t.Helper()
	defaults := map[string]map[string]string{
		"container_jobs": {"executor_type": "docker", "priority": "50", "max_retries": "3", "retry_count": "0",
			"external_execution_id": "", "preferred_executor": "", "routing_reason": "", "status": "pending"},
		"executor_hosts": {"executor_type": "docker", "max_concurrent_jobs": "10", "current_job_count": "0", "health_check_failures": "0"},
	}
	nullable := map[string][]string{
		"container_jobs": {"estimated_cost", "actual_cost", "queued_at", "scheduled_for", "launched_at"},
		"executor_hosts": {"cost_per_hour", "cost_per_job", "average_startup_time", "last_health_check"},
	}
	for table, cols := range defaults {
		info := columns(t, db, dialect, table)
		for col, want := range cols {
			c, ok := info[col]
			if !ok {
				t.Errorf("%s.%s missing", table, col)
				continue
			}
			if c.nullable || !strings.Contains(c.def, want) {
				t.Errorf("%s.%s: nullable=%v default=%q, want NOT NULL default %q", table, col, c.nullable, c.def, want)
			}
		}
		for _, col := range nullable[table] {
			if c, ok := info[col]; !ok || !c.nullable {
				t.Errorf("%s.%s: want a nullable column, got %+v (present=%v)", table, col, c, ok)
			}
		}
	}
	for _, money := range []string{"estimated_cost", "actual_cost"} {
		if typ := columns(t, db, dialect, "container_jobs")[money].typ; !strings.Contains(strings.ToLower(typ), "numeric") {
			t.Errorf("container_jobs.%s type %q, want numeric(10,4)", money, typ)
		}
	}
	idx := indexes(t, db, dialect)
	for name, frags := range seedIndexes {
		def, ok := idx[name]
		if !ok {
			t.Errorf("index %s missing", name)
			continue
		}
		norm := strings.NewReplacer("(", "", ")", "", `"`, "", "`", "").Replace(def)
		for _, f := range frags {
			if !strings.Contains(norm, f) {
				t.Errorf("index %s = %q, want it to contain %q", name, def, f)
			}
		}
	}
	checks := checkNames(t, db, dialect)
	for _, c := range seedChecks {
		if !strings.Contains(checks, c) {
			t.Errorf("CHECK constraint %s missing", c)
		}
	}
}

type column struct {
	typ      string
	def      string
	nullable bool
}

func columns(t *testing.T, db *sql.DB, dialect, table string) map[string]column {
	t.Helper()
	q := `SELECT column_name, data_type || coalesce('(' || numeric_precision || ',' || numeric_scale || ')', ''), coalesce(column_default, ''), is_nullable = 'YES'
		FROM information_schema.columns WHERE table_name = $1`
	if dialect == store.SQLite {
		q = `SELECT name, type, coalesce(dflt_value, ''), "notnull" = 0 FROM pragma_table_info(?)`
	}
	rows, err := db.Query(q, table)
	if err != nil {
		t.Fatalf("columns of %s: %v", table, err)
	}
	defer rows.Close()
	out := map[string]column{}
	for rows.Next() {
		var name string
		var c column
		if err := rows.Scan(&name, &c.typ, &c.def, &c.nullable); err != nil {
			t.Fatal(err)
		}
		out[name] = c
	}
	return out
}

func indexes(t *testing.T, db *sql.DB, dialect string) map[string]string {
	t.Helper()
	q := `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'container_jobs'`
	if dialect == store.SQLite {
		q = `SELECT name, coalesce(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name = 'container_jobs'`
	}
	return stringMap(t, db, q)
}

func checkNames(t *testing.T, db *sql.DB, dialect string) string {
	t.Helper()
	q := `SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c'`
	if dialect == store.SQLite {
		q = `SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name = 'container_jobs'`
	}
	var b strings.Builder
	for k, v := range stringMap(t, db, q) {
		b.WriteString(k + " " + v + "\n")
	}
	return b.String()
}

func stringMap(t *testing.T, db *sql.DB, q string) map[string]string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

func countTables(t *testing.T, db *sql.DB, dialect string) int {
	t.Helper()
	q := `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('container_jobs','executor_hosts','container_templates','job_events')`
	if dialect == store.SQLite {
		q = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('container_jobs','executor_hosts','container_templates','job_events')`
	}
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStagedDataSurvives inserts rows as the base schema knew them and checks
// they come through seed 000 and 004 (and back down) with links intact and
// the seeds' defaults filled in. On SQLite this is the test that catches
// table rebuilds firing ON DELETE SET NULL, and wrong down files.
func TestStagedDataSurvives(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		_, mg, db := open(t, dialect)
		if err := mg.Goto(ctx, vBase); err != nil {
			t.Fatalf("goto base: %v", err)
		}
		p := placeholders(dialect)
		mustExec(t, db, `INSERT INTO executor_hosts (id, created_at, updated_at, name, host_type, connection_string, is_active, tls_enabled, tls_verify, auto_pull_images)
			VALUES (`+p(10)+`)`, hostID, now, now, "old-host", "unix", "unix:///var/run/docker.sock", true, false, false, true)
		mustExec(t, db, `INSERT INTO container_templates (id, created_at, updated_at, name, description, image, working_directory, timeout_seconds)
			VALUES (`+p(8)+`)`, tplID, now, now, "old-template", "", "alpine", "", 60)
		mustExec(t, db, `INSERT INTO container_jobs (id, created_at, updated_at, name, status, container_id, stdout_log, stderr_log, image, working_directory, timeout_seconds, template_id, docker_host_id)
			VALUES (`+p(13)+`)`, jobID, now, now, "old-job", "completed", "abc", "", "", "alpine", "", 60, tplID, hostID)

		latest, _ := migrations.Latest(dialect)
		for v := uint(vBase + 1); v <= latest; v++ {
			if err := mg.Goto(ctx, v); err != nil {
				t.Fatalf("up to %d: %v", v, err)
			}
			checkLinks(t, db, dialect, v)
		}
		var execType string
		var priority, maxRetries, retryCount int
		if err := db.QueryRow(`SELECT executor_type, priority, max_retries, retry_count FROM container_jobs WHERE id = `+p(1), jobID).
			Scan(&execType, &priority, &maxRetries, &retryCount); err != nil {
			t.Fatal(err)
		}
		if execType != "docker" || priority != 50 || maxRetries != 3 || retryCount != 0 {
			t.Fatalf("old job after seeds: executor_type=%q priority=%d max_retries=%d retry_count=%d; want docker/50/3/0", execType, priority, maxRetries, retryCount)
		}
		for v := latest - 1; v >= vBase; v-- {
			if err := mg.Goto(ctx, v); err != nil {
				t.Fatalf("down to %d: %v", v, err)
			}
			checkLinks(t, db, dialect, v)
		}
	})
}

const (
	hostID = "11111111-1111-1111-1111-111111111111"
	tplID  = "22222222-2222-2222-2222-222222222222"
	jobID  = "33333333-3333-3333-3333-333333333333"
	now    = "2026-01-02 03:04:05+00:00"
)

func checkLinks(t *testing.T, db *sql.DB, dialect string, v uint) {
	t.Helper()
	var tpl, host sql.NullString
	err := db.QueryRow(`SELECT template_id, docker_host_id FROM container_jobs WHERE id = `+placeholders(dialect)(1), jobID).Scan(&tpl, &host)
	if err != nil {
		t.Fatalf("version %d: job row: %v", v, err)
	}
	if !strings.EqualFold(tpl.String, tplID) || !strings.EqualFold(host.String, hostID) {
		t.Fatalf("version %d: job lost its links: template=%v host=%v", v, tpl, host)
	}
	if dialect == store.SQLite {
		rows, err := db.Query(`PRAGMA foreign_key_check`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		if rows.Next() {
			t.Fatalf("version %d: foreign_key_check reports violations", v)
		}
	}
}

func placeholders(dialect string) func(n int) string {
	return func(n int) string {
		ps := make([]string, n)
		for i := range ps {
			ps[i] = "?"
			if dialect == store.Postgres {
				ps[i] = fmt.Sprintf("$%d", i+1)
			}
		}
		return strings.Join(ps, ", ")
	}
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestCheckConstraintsEnforcedByDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		_, mg, db := open(t, dialect)
		if err := mg.Up(context.Background()); err != nil {
			t.Fatal(err)
		}
		p := placeholders(dialect)
		cases := map[string][]any{
			"check_priority_range":       {101, 0, 3},
			"check_retry_count_positive": {50, -1, 3},
			"check_max_retries_positive": {50, 0, -1},
		}
		for name, vals := range cases {
			_, err := db.Exec(`INSERT INTO container_jobs (id, created_at, updated_at, name, status, container_id, stdout_log, stderr_log, image, working_directory, timeout_seconds,
				executor_type, external_execution_id, preferred_executor, routing_reason, priority, retry_count, max_retries, retry_strategy, last_error, oom_killed, lease_owner)
				VALUES (`+p(22)+`)`, jobID, now, now, "", "pending", "", "", "", "img", "", 60, "docker", "", "", "", vals[0], vals[1], vals[2], "default", "", false, "")
			if err == nil || !strings.Contains(err.Error(), name) && !strings.Contains(strings.ToLower(err.Error()), "check") {
				t.Errorf("%s: insert err = %v, want a CHECK violation", name, err)
			}
		}
	})
}

func TestConcurrentUpMigratesOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		raw := storetest.URL(t, dialect)
		cfg, _ := store.Parse(raw)
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mg, err := migrations.Open(cfg)
				if err != nil {
					errs[i] = err
					return
				}
				defer mg.Close()
				errs[i] = mg.Up(context.Background())
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		}
		mg, err := migrations.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer mg.Close()
		if st, err := mg.Status(context.Background()); err != nil || !st.Current() {
			t.Fatalf("status %+v, %v", st, err)
		}
	})
}
