package dispatch

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/predicate"
	st "github.com/gantry/gantry/ent/schematype"
)

// watchedRows keeps the full rows of the jobs this replica watches. A
// watch pass runs every poll interval over every running job; reading
// whole rows (logs, metadata, environment) each time was a fifth of the
// dispatcher's CPU. Each pass now reads (id, status, updated_at) and
// fetches a full row only when it changed (every ent write stamps
// updated_at; the status is compared too).
type watchedRows struct {
	mu   sync.Mutex
	rows map[uuid.UUID]*ent.ContainerJob
}

func newWatchedRows() *watchedRows { return &watchedRows{rows: map[uuid.UUID]*ent.ContainerJob{}} }

// watched returns the jobs this replica watches, as copies: the cached
// rows are never handed out, so the completer can update a copy in place.
func (d *Dispatcher) watched(ctx context.Context) ([]*ent.ContainerJob, error) {
	mine := []predicate.ContainerJob{containerjob.LeaseOwner(d.id),
		containerjob.StatusIn(st.StatusLaunching, st.StatusRunning, st.StatusCancelling)}
	light, err := d.client.ContainerJob.Query().Where(mine...).
		Select(containerjob.FieldID, containerjob.FieldStatus, containerjob.FieldUpdatedAt).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list watched jobs: %w", err)
	}
	w := d.watchedRows
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*ent.ContainerJob, 0, len(light))
	var stale []uuid.UUID
	seen := make(map[uuid.UUID]bool, len(light))
	for _, l := range light {
		seen[l.ID] = true
		if c, ok := w.rows[l.ID]; ok && c.Status == l.Status && c.UpdatedAt.Equal(l.UpdatedAt) {
			cp := *c
			out = append(out, &cp)
			continue
		}
		stale = append(stale, l.ID)
	}
	for id := range w.rows {
		if !seen[id] {
			delete(w.rows, id)
		}
	}
	if len(stale) == 0 {
		return out, nil
	}
	full, err := d.client.ContainerJob.Query().Where(append(mine, containerjob.IDIn(stale...))...).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load watched jobs: %w", err)
	}
	for _, j := range full {
		w.rows[j.ID] = j
		cp := *j
		out = append(out, &cp)
	}
	return out, nil
}
