package dispatch

// All SQL the dispatcher runs for claiming, counting, sequencing and leases
// lives in this file, so it can be read, EXPLAINed and benchmarked in one
// place. Queries are written with "?" and rebound to "$n" for PostgreSQL.

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/store"
)

// claimSQL picks ready jobs in priority order. The ORDER BY and the
// queued_at predicate match seed 004's partial index
// idx_containerjob_priority_queue (priority DESC, queued_at) WHERE queued_at
// IS NOT NULL, which holds exactly the queued jobs (queued_at is cleared when
// a job leaves the queue). PostgreSQL skips rows other replicas hold.
const claimSQL = `SELECT id FROM container_jobs%s
WHERE queued_at IS NOT NULL AND status = 'queued' AND (scheduled_for IS NULL OR scheduled_for <= ?)
ORDER BY priority DESC, queued_at ASC
LIMIT ?`

const claimLockPG = ` FOR UPDATE SKIP LOCKED`

// claimQuery is claimSQL for the dialect. SQLite's planner prefers
// idx_containerjob_status_queue and then sorts every queued row; naming the
// partial priority index keeps a claim at a few index steps at any depth.
func (d *Dispatcher) claimQuery() string {
	if d.dialect == store.Postgres {
		return rebind(d.dialect, fmt.Sprintf(claimSQL, "")+claimLockPG)
	}
	return fmt.Sprintf(claimSQL, " INDEXED BY idx_containerjob_priority_queue")
}

// nextScheduledSQL finds when the earliest future job becomes ready
// (idx_containerjob_scheduled).
const nextScheduledSQL = `SELECT min(scheduled_for) FROM container_jobs
WHERE scheduled_for IS NOT NULL AND scheduled_for > ? AND queued_at IS NOT NULL`

// reserveSQL takes n slots on a host with one conditional UPDATE: it never
// reads then writes, so concurrent replicas cannot overfill a host.
const reserveSQL = `UPDATE executor_hosts SET current_job_count = current_job_count + ?
WHERE id = ? AND is_active AND current_job_count + ? <= max_concurrent_jobs`

// releaseSQL frees n slots and never goes below zero.
const releaseSQL = `UPDATE executor_hosts SET current_job_count =
CASE WHEN current_job_count >= ? THEN current_job_count - ? ELSE 0 END WHERE id = ?`

// renewSQL extends this replica's leases on the jobs it watches.
// Rows are locked in id order, like every other multi-row job update, so
// renewals cannot deadlock with the completer.
const renewSQL = `UPDATE container_jobs SET lease_expires_at = ?
WHERE id IN (SELECT id FROM container_jobs
  WHERE lease_owner = ? AND status IN ('launching', 'running', 'cancelling') ORDER BY id%s)`

// takeoverSQL adopts active jobs whose owner stopped renewing.
const takeoverSQL = `UPDATE container_jobs SET lease_owner = ?, lease_expires_at = ?
WHERE id IN (SELECT id FROM container_jobs
  WHERE status IN ('launching', 'running', 'cancelling') AND (lease_expires_at IS NULL OR lease_expires_at < ?)
  ORDER BY id LIMIT 500%s)`

// recountSQL recomputes every host's counter from the jobs holding slots.
// Run after locking the host rows, so no reservation interleaves.
const recountSQL = `UPDATE executor_hosts SET current_job_count = (
  SELECT count(*) FROM container_jobs j
  WHERE j.docker_host_id = executor_hosts.id AND j.status IN ('launching', 'running', 'cancelling'))`

// Host rows are always locked in id order (claims reserve in that order
// too), so recounts and claims cannot deadlock.
const lockHostsPG = `SELECT id FROM executor_hosts ORDER BY id FOR UPDATE`

// rebind turns "?" placeholders into "$1, $2, …" for PostgreSQL.
func rebind(dialect, q string) string {
	if dialect != store.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (d *Dispatcher) exec(ctx context.Context, q execQuerier, query string, args ...any) (int64, error) {
	res, err := q.ExecContext(ctx, rebind(d.dialect, query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// claimIDs returns up to n ready job ids, locked on PostgreSQL.
func (d *Dispatcher) claimIDs(ctx context.Context, tx *ent.Tx, n int, now time.Time) ([]uuid.UUID, error) {
	rows, err := tx.QueryContext(ctx, d.claimQuery(), now, n)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	defer rows.Close()
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// nextScheduled returns when the next scheduled job becomes ready, if any.
func (d *Dispatcher) nextScheduled(ctx context.Context, now time.Time) (time.Time, bool, error) {
	rows, err := d.client.QueryContext(ctx, rebind(d.dialect, nextScheduledSQL), now)
	if err != nil {
		return time.Time{}, false, err
	}
	defer rows.Close()
	var t sql.Null[time.Time]
	if rows.Next() {
		if err := rows.Scan(&t); err != nil {
			// SQLite returns min() of a datetime column as text.
			return d.nextScheduledText(ctx, now)
		}
	}
	return t.V, t.Valid, rows.Err()
}

func (d *Dispatcher) nextScheduledText(ctx context.Context, now time.Time) (time.Time, bool, error) {
	rows, err := d.client.QueryContext(ctx, rebind(d.dialect, nextScheduledSQL), now)
	if err != nil {
		return time.Time{}, false, err
	}
	defer rows.Close()
	var s sql.NullString
	if rows.Next() {
		if err := rows.Scan(&s); err != nil {
			return time.Time{}, false, err
		}
	}
	if !s.Valid {
		return time.Time{}, false, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s.String); err == nil {
			return t, true, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("parse scheduled_for %q", s.String)
}

// reserve takes n slots on host; false if they are not all free.
func (d *Dispatcher) reserve(ctx context.Context, tx *ent.Tx, host uuid.UUID, n int) (bool, error) {
	got, err := d.exec(ctx, tx, reserveSQL, n, host, n)
	if err != nil {
		return false, fmt.Errorf("reserve %d slot(s) on %s: %w", n, host, err)
	}
	return got == 1, nil
}

func (d *Dispatcher) releaseSlots(ctx context.Context, tx *ent.Tx, host uuid.UUID, n int) error {
	if _, err := d.exec(ctx, tx, releaseSQL, n, n, host); err != nil {
		return fmt.Errorf("release %d slot(s) on %s: %w", n, host, err)
	}
	return nil
}

// appendEvents inserts events as the last step of a transaction. SQLite
// has one writer at a time, so events are numbered right here. PostgreSQL
// inserts them unnumbered: numbering inside the transaction would need a
// lock held through every commit and serialise all writers; the sequencer
// (sequence.go) numbers them after commit instead.
func (d *Dispatcher) appendEvents(ctx context.Context, tx *ent.Tx, evs []*ent.JobEventCreate) ([]*ent.JobEvent, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	if d.dialect == store.SQLite {
		last, err := maxSequence(ctx, tx)
		if err != nil {
			return nil, err
		}
		for i, ev := range evs {
			ev.SetSequence(last + int64(i) + 1)
		}
	}
	out, err := tx.JobEvent.CreateBulk(evs...).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	return out, nil
}

const maxSeqSQL = `SELECT coalesce(max(sequence), 0) FROM job_events`

func maxSequence(ctx context.Context, q execQuerier) (int64, error) {
	var last int64
	rows, err := q.QueryContext(ctx, maxSeqSQL)
	if err != nil {
		return 0, fmt.Errorf("event sequence: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&last); err != nil {
			return 0, fmt.Errorf("event sequence: %w", err)
		}
	}
	return last, rows.Err()
}

// sequenceSQL numbers committed, unnumbered events in creation order, after
// the highest number handed out so far. It runs under sequenceLockPG in a
// transaction of its own, so numbers become visible strictly in order: a
// reader that has seen N never later finds a new event numbered below N.
const sequenceSQL = `WITH base AS (SELECT coalesce(max(sequence), 0) AS m FROM job_events),
pending AS (
  SELECT id, row_number() OVER (ORDER BY created_at, id) AS rn FROM job_events
  WHERE sequence IS NULL ORDER BY created_at, id LIMIT 5000)
UPDATE job_events SET sequence = base.m + pending.rn FROM base, pending
WHERE job_events.id = pending.id
RETURNING job_events.id, job_events.sequence`

const sequenceLockPG = `SELECT pg_advisory_xact_lock(727274)`

// sequencePlanPG keeps the numbering pass proportional to the events it
// numbers, not to the table: with statistics from before the last events
// were numbered (as between autovacuum runs) the planner would scan all of
// job_events and hash-join it, or bitmap-scan the partial index through
// every entry numbered since the last vacuum — a pass grew linearly with
// the table (1.5 ms → 8 ms at 40k events). Index lookups by id and a plain index scan (which marks dead
// entries so later scans skip them) stay flat. SET LOCAL: this
// transaction only.
const sequencePlanPG = `SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true),
  set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)`

// renewLeases extends this replica's leases.
func (d *Dispatcher) renewLeases(ctx context.Context, until time.Time) error {
	lock := ""
	if d.dialect == store.Postgres {
		lock = " FOR UPDATE"
	}
	_, err := d.exec(ctx, d.client, fmt.Sprintf(renewSQL, lock), until, d.id)
	return err
}

// takeOver adopts jobs whose lease expired; it returns how many.
func (d *Dispatcher) takeOver(ctx context.Context, now, until time.Time) (int64, error) {
	lock := ""
	if d.dialect == store.Postgres {
		lock = claimLockPG
	}
	return d.exec(ctx, d.client, fmt.Sprintf(takeoverSQL, lock), d.id, until, now)
}

// recount recomputes host counters from the jobs that hold slots.
func (d *Dispatcher) recount(ctx context.Context) error {
	tx, err := d.client.Tx(ctx)
	if err != nil {
		return err
	}
	if d.dialect == store.Postgres {
		if _, err := tx.ExecContext(ctx, lockHostsPG); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("lock hosts: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, recountSQL); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("recount hosts: %w", err)
	}
	return tx.Commit()
}

// notifyWork tells other replicas, on commit, that there is work.
func (d *Dispatcher) notifyWork(ctx context.Context, tx *ent.Tx) error {
	if d.dialect != store.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_notify('`+chanWork+`', '')`); err != nil {
		return fmt.Errorf("notify work: %w", err)
	}
	return nil
}

// ProbeClaim times one claim query of a full batch inside a transaction
// that is rolled back: it changes nothing. For benchmarks.
func (d *Dispatcher) ProbeClaim(ctx context.Context) (time.Duration, int, error) {
	tx, err := d.client.Tx(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	start := time.Now()
	ids, err := d.claimIDs(ctx, tx, d.opts.BatchSize, d.now())
	return time.Since(start), len(ids), err
}

// ExplainClaim returns the database's plan for the claim query.
func (d *Dispatcher) ExplainClaim(ctx context.Context) (string, error) {
	prefix := "EXPLAIN QUERY PLAN "
	if d.dialect == store.Postgres {
		prefix = "EXPLAIN "
	}
	rows, err := d.client.QueryContext(ctx, prefix+d.claimQuery(), d.now(), d.opts.BatchSize)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		fmt.Fprintln(&b, vals[len(vals)-1])
	}
	return b.String(), rows.Err()
}
