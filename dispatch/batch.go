package dispatch

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"entgo.io/ent/schema/field"
	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/migrate"
)

// applyBatched applies changes on PostgreSQL with one guarded UPDATE per
// group of changes that set the same columns (UPDATE … FROM (VALUES …)
// WHERE id = v.id AND status = v.from), instead of one statement per job:
// statements, not rows, were most of the database's work per job. Each
// change is built exactly as applyOne builds it; only the round trips
// differ. A job changed twice in one batch (retrying, then queued) is
// changed in two waves, in order.
func (d *Dispatcher) applyBatched(ctx context.Context, tx *ent.Tx, changes []Change, now time.Time, release map[uuid.UUID]int, stale *[]Change) ([]*ent.JobEventCreate, error) {
	events := make([]*ent.JobEventCreate, len(changes))
	for _, wave := range waves(changes) {
		if err := d.applyWave(ctx, tx, changes, wave, now, events, release, stale); err != nil {
			return nil, err
		}
	}
	return slices.DeleteFunc(events, func(e *ent.JobEventCreate) bool { return e == nil }), nil
}

// maxBatchRows bounds the rows of one batched UPDATE (each takes about 15
// parameters).
const maxBatchRows = 1000

// waves splits change indexes so that no job appears twice in a wave: the
// n-th change of a job goes in wave n.
func waves(changes []Change) [][]int {
	seen := make(map[uuid.UUID]int, len(changes))
	var out [][]int
	for i, c := range changes {
		w := seen[c.Job.ID]
		seen[c.Job.ID]++
		if w == len(out) {
			out = append(out, nil)
		}
		out[w] = append(out[w], i)
	}
	return out
}

// applyWave builds, runs and records the changes at idx.
func (d *Dispatcher) applyWave(ctx context.Context, tx *ent.Tx, changes []Change, idx []int, now time.Time, events []*ent.JobEventCreate, release map[uuid.UUID]int, stale *[]Change) error {
	rows := make(map[int]batchRow, len(idx))
	groups := map[string][]int{}
	var order []string
	for _, i := range idx {
		c := changes[i]
		u, err := buildUpdate(tx, c, eventTime(now, i))
		if err != nil {
			return err
		}
		r, err := rowOf(u.Mutation(), time.Now())
		if err != nil {
			return fmt.Errorf("job %s %s -> %s: %w", c.Job.ID, c.Job.Status, c.To, err)
		}
		rows[i] = r
		if _, ok := groups[r.key]; !ok {
			order = append(order, r.key)
		}
		groups[r.key] = append(groups[r.key], i)
	}
	matched := make(map[uuid.UUID]bool, len(idx))
	for _, key := range order {
		// Chunks keep a statement well under PostgreSQL's 65,535 parameters.
		for chunk := range slices.Chunk(groups[key], maxBatchRows) {
			if err := updateGroup(ctx, tx, changes, rows, chunk, matched); err != nil {
				return err
			}
		}
	}
	for _, i := range idx {
		c := changes[i]
		if !matched[c.Job.ID] {
			if stale == nil {
				return fmt.Errorf("job %s %s -> %s: %w", c.Job.ID, c.Job.Status, c.To, ErrStale)
			}
			*stale = append(*stale, c)
			continue
		}
		from := c.Job.Status
		events[i] = applied(tx, c, eventTime(now, i))
		countRelease(release, from, c)
	}
	return nil
}

// batchRow is one change's update as columns and values.
type batchRow struct {
	key     string   // the set and cleared columns: rows with one key share a statement
	columns []string // set, sorted
	values  []any
	cleared []string // set to NULL, sorted
}

// rowOf reads an update's mutation. updated_at is stamped here: ent adds
// it only inside Save.
func rowOf(m *ent.ContainerJobMutation, at time.Time) (batchRow, error) {
	if len(m.AddedFields()) > 0 {
		return batchRow{}, errors.New("batched update cannot add to a column")
	}
	var r batchRow
	r.columns = slices.Sorted(slices.Values(append(m.Fields(), containerjob.FieldUpdatedAt)))
	r.columns = slices.Compact(r.columns)
	for _, col := range r.columns {
		v, ok := m.Field(col)
		if col == containerjob.FieldUpdatedAt && !ok {
			v = at
		}
		enc, err := encode(col, v)
		if err != nil {
			return batchRow{}, fmt.Errorf("column %s: %w", col, err)
		}
		r.values = append(r.values, enc)
	}
	r.cleared = slices.Sorted(slices.Values(m.ClearedFields()))
	r.key = strings.Join(r.columns, ",") + "|" + strings.Join(r.cleared, ",")
	return r, nil
}

// updateGroup runs one UPDATE for the rows at idx (same key) and marks the
// jobs it matched.
func updateGroup(ctx context.Context, tx *ent.Tx, changes []Change, rows map[int]batchRow, idx []int, matched map[uuid.UUID]bool) error {
	first := rows[idx[0]]
	var q strings.Builder
	q.WriteString(`UPDATE container_jobs AS j SET `)
	sets := make([]string, 0, len(first.columns)+len(first.cleared))
	for _, col := range first.columns {
		sets = append(sets, fmt.Sprintf(`%q = v.%q`, col, col))
	}
	for _, col := range first.cleared {
		sets = append(sets, fmt.Sprintf(`%q = NULL`, col))
	}
	q.WriteString(strings.Join(sets, ", "))
	q.WriteString(` FROM (VALUES `)
	args := make([]any, 0, len(idx)*(len(first.columns)+2))
	for n, i := range idx {
		if n > 0 {
			q.WriteString(", ")
		}
		args = append(args, changes[i].Job.ID, string(changes[i].Job.Status))
		fmt.Fprintf(&q, "($%d::uuid, $%d::text", len(args)-1, len(args))
		for k, col := range first.columns {
			args = append(args, rows[i].values[k])
			fmt.Fprintf(&q, ", $%d::%s", len(args), pgCast[col])
		}
		q.WriteString(")")
	}
	cols := make([]string, 0, len(first.columns)+2)
	cols = append(cols, "id", "from_status")
	for _, col := range first.columns {
		cols = append(cols, fmt.Sprintf("%q", col))
	}
	fmt.Fprintf(&q, `) AS v(%s) WHERE j.id = v.id AND j.status = v.from_status RETURNING j.id`, strings.Join(cols, ", "))
	res, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("update %d jobs: %w", len(idx), err)
	}
	defer res.Close()
	for res.Next() {
		var id uuid.UUID
		if err := res.Scan(&id); err != nil {
			return err
		}
		matched[id] = true
	}
	return res.Err()
}

// encode turns a mutation value into what the driver sends: JSON columns
// as their JSON text, Valuers (ids, money) by their value, enums as text.
func encode(col string, v any) (any, error) {
	if pgCast[col] == "" {
		return nil, errors.New("unknown column")
	}
	if pgCast[col] == "jsonb" {
		b, err := json.Marshal(v)
		return string(b), err
	}
	if dv, ok := v.(driver.Valuer); ok {
		return dv.Value()
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
		return rv.String(), nil
	}
	return v, nil
}

// pgCast is the PostgreSQL type each container_jobs column's parameter is
// cast to in a VALUES list (which has no column types of its own).
var pgCast = func() map[string]string {
	casts := map[field.Type]string{field.TypeUUID: "uuid", field.TypeTime: "timestamptz", field.TypeString: "text",
		field.TypeEnum: "text", field.TypeInt: "int8", field.TypeInt64: "int8", field.TypeFloat64: "float8",
		field.TypeJSON: "jsonb", field.TypeBool: "bool", field.TypeOther: "numeric"}
	out := map[string]string{}
	for _, c := range migrate.ContainerJobsTable.Columns {
		out[c.Name] = casts[c.Type]
	}
	return out
}()
