package dispatch

import (
	"context"

	"github.com/gantry/gantry/ent"
)

// Watched exposes the watcher's job list to tests.
func (d *Dispatcher) Watched(ctx context.Context) ([]*ent.ContainerJob, error) { return d.watched(ctx) }

// ExplainSequence is the PostgreSQL plan of one numbering pass, with the
// pass's planner settings, in a transaction that is rolled back.
func (d *Dispatcher) ExplainSequence(ctx context.Context) (string, error) {
	tx, err := d.db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, sequencePlanPG); err != nil {
		return "", err
	}
	rows, err := tx.QueryContext(ctx, "EXPLAIN "+sequenceSQL)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		plan += line + "\n"
	}
	return plan, rows.Err()
}
