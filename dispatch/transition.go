package dispatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/schema"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/errs"
	"github.com/gantry/gantry/store"
)

// Change is one status change of one job.
type Change struct {
	Job      *ent.ContainerJob // the job as read; Job.Status is the expected current status
	To       st.JobStatus
	Reason   string
	Explicit bool // an explicit retryJob out of a terminal status
	// ExecutionID, when set, is recorded as the job's execution identifier.
	ExecutionID string
	// Set adds fields to the job's update.
	Set func(u *ent.ContainerJobUpdate)
}

// ErrStale means the job changed since it was read (another replica or
// request moved it first); the change was not applied.
var ErrStale = errors.New("job changed concurrently")

// apply performs changes inside tx: each is checked against the state
// machine, applied with a status guard (UPDATE … WHERE status = from), its
// timestamps set and its host slot released when it stops holding one; the
// JobEvents are appended last, under the sequence lock. Nothing else in
// Gantry writes a job's status.
//
// Rows are locked in a fixed order — jobs by id, then hosts by id, then the
// event lock — so concurrent transactions on PostgreSQL cannot deadlock.
func (d *Dispatcher) apply(ctx context.Context, tx *ent.Tx, changes []Change) ([]*ent.JobEvent, error) {
	return d.applyTolerant(ctx, tx, changes, nil)
}

// applyTolerant is apply that, when stale is not nil, skips changes whose
// job moved meanwhile (collecting them) instead of failing the whole batch.
func (d *Dispatcher) applyTolerant(ctx context.Context, tx *ent.Tx, changes []Change, stale *[]Change) ([]*ent.JobEvent, error) {
	ctx = schema.Trusted(ctx)
	changes = slices.Clone(changes)
	slices.SortStableFunc(changes, func(a, b Change) int { return bytes.Compare(a.Job.ID[:], b.Job.ID[:]) })
	now := d.now()
	release := map[uuid.UUID]int{}
	var events []*ent.JobEventCreate
	var err error
	if d.dialect == store.Postgres {
		events, err = d.applyBatched(ctx, tx, changes, now, release, stale)
	} else {
		events, err = applyEach(ctx, tx, changes, now, release, stale)
	}
	if err != nil {
		return nil, err
	}
	for _, host := range sortedIDs(release) {
		if err := d.releaseSlots(ctx, tx, host, release[host]); err != nil {
			return nil, err
		}
	}
	if len(release) > 0 || queues(changes) {
		// (Stale changes in a tolerant batch may be counted here; a
		// spurious wake-up costs one empty claim.)
		if err := d.notifyWork(ctx, tx); err != nil {
			return nil, err
		}
	}
	return d.appendEvents(ctx, tx, events)
}

// applyEach applies changes one guarded UPDATE at a time, counting the
// slots to release.
func applyEach(ctx context.Context, tx *ent.Tx, changes []Change, now time.Time, release map[uuid.UUID]int, stale *[]Change) ([]*ent.JobEventCreate, error) {
	events := make([]*ent.JobEventCreate, 0, len(changes))
	for i, c := range changes {
		from := c.Job.Status
		// Events of one transaction get distinct, increasing times (µs, what
		// PostgreSQL keeps), so the sequencer numbers them in this order.
		ev, err := applyOne(ctx, tx, c, eventTime(now, i))
		if stale != nil && errors.Is(err, ErrStale) {
			*stale = append(*stale, c)
			continue
		}
		if err != nil {
			return nil, err
		}
		countRelease(release, from, c)
		events = append(events, ev)
	}
	return events, nil
}

func eventTime(now time.Time, i int) time.Time { return now.Add(time.Duration(i) * time.Microsecond) }

// countRelease notes a slot to give back when c stops holding one.
func countRelease(release map[uuid.UUID]int, from st.JobStatus, c Change) {
	if holdsSlot(from) && !holdsSlot(c.To) && c.Job.DockerHostID != nil {
		release[*c.Job.DockerHostID]++
	}
}

func sortedIDs(m map[uuid.UUID]int) []uuid.UUID {
	ids := make([]uuid.UUID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

// enqueue creates jobs directly in queued (pending -> queued in one step,
// one event each): a submit is then part of a single multi-row INSERT,
// not an INSERT and an UPDATE.
func (d *Dispatcher) enqueue(ctx context.Context, tx *ent.Tx, creates []*ent.ContainerJobCreate) ([]*ent.ContainerJob, []*ent.JobEvent, error) {
	now := d.now()
	for _, c := range creates {
		c.SetStatus(st.StatusQueued).SetQueuedAt(now)
	}
	jobs, err := tx.ContainerJob.CreateBulk(creates...).Save(ctx)
	if err != nil {
		return nil, nil, err
	}
	evs := make([]*ent.JobEventCreate, len(jobs))
	for i, j := range jobs {
		evs[i] = tx.JobEvent.Create().SetJobID(j.ID).SetFromStatus(st.StatusPending).SetToStatus(st.StatusQueued).
			SetReason("submitted").SetExecutorType(j.ExecutorType).SetAttempt(j.RetryCount).
			SetCreatedAt(now.Add(time.Duration(i) * time.Microsecond)).SetNillableHostID(j.DockerHostID)
	}
	if err := d.notifyWork(ctx, tx); err != nil {
		return nil, nil, err
	}
	out, err := d.appendEvents(ctx, tx, evs)
	return jobs, out, err
}

// queues reports whether a change puts a job in the queue.
func queues(changes []Change) bool {
	for _, c := range changes {
		if c.To == st.StatusQueued {
			return true
		}
	}
	return false
}

// wakes reports whether committed events mean new work for a claim loop.
func wakes(evs []*ent.JobEvent) bool {
	for _, e := range evs {
		if e.ToStatus == st.StatusQueued || (e.FromStatus != nil && holdsSlot(*e.FromStatus) && !holdsSlot(e.ToStatus)) {
			return true
		}
	}
	return false
}

func applyOne(ctx context.Context, tx *ent.Tx, c Change, now time.Time) (*ent.JobEventCreate, error) {
	u, err := buildUpdate(tx, c, now)
	if err != nil {
		return nil, err
	}
	n, err := u.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("job %s %s -> %s: %w", c.Job.ID, c.Job.Status, c.To, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("job %s %s -> %s: %w", c.Job.ID, c.Job.Status, c.To, ErrStale)
	}
	return applied(tx, c, now), nil
}

// buildUpdate checks c against the state machine and builds its guarded
// update (UPDATE … WHERE id = ? AND status = from).
func buildUpdate(tx *ent.Tx, c Change, now time.Time) (*ent.ContainerJobUpdate, error) {
	j, from := c.Job, c.Job.Status
	if !Allowed(from, c.To, c.Explicit) {
		return nil, errs.New(errs.InvalidTransition, "job %s cannot go from %s to %s", j.ID, from, c.To)
	}
	if c.To == st.StatusRunning && j.ExecutorType != st.ExecutorDocker && c.ExecutionID == "" && j.ExternalExecutionID == "" {
		return nil, errs.Invalid("external_execution_id", "external_execution_id required for %s executor", j.ExecutorType)
	}
	u := tx.ContainerJob.Update().Where(containerjob.ID(j.ID), containerjob.StatusEQ(from)).SetStatus(c.To)
	stamp(u, j, c.To, now)
	if c.ExecutionID != "" {
		if j.ExecutorType == st.ExecutorDocker {
			u.SetContainerID(c.ExecutionID)
		} else {
			u.SetExternalExecutionID(c.ExecutionID)
		}
	}
	if c.Set != nil {
		c.Set(u)
	}
	return u, nil
}

// applied is c's event, once its update matched; the caller's copy of the
// job follows the row.
func applied(tx *ent.Tx, c Change, now time.Time) *ent.JobEventCreate {
	j, from := c.Job, c.Job.Status
	attempt := j.RetryCount
	if c.Explicit {
		attempt++
	}
	ev := tx.JobEvent.Create().SetJobID(j.ID).SetFromStatus(from).SetToStatus(c.To).
		SetReason(truncate(c.Reason, 2000)).SetExecutorType(j.ExecutorType).SetAttempt(attempt).SetCreatedAt(now).
		SetNillableHostID(j.DockerHostID)
	j.Status = c.To
	return ev
}

// stamp sets the timestamps and bookkeeping a status implies.
func stamp(u *ent.ContainerJobUpdate, j *ent.ContainerJob, to st.JobStatus, now time.Time) {
	if j.Status == st.StatusQueued {
		// queued_at means "waiting in the queue since": seed 004's partial
		// indexes then hold exactly the claimable jobs.
		u.ClearQueuedAt()
	}
	switch {
	case to == st.StatusQueued:
		u.SetQueuedAt(now).ClearLaunchedAt().ClearStartedAt().ClearCompletedAt().
			SetLeaseOwner("").ClearLeaseExpiresAt()
	case to == st.StatusRunning && j.StartedAt == nil:
		u.SetStartedAt(now)
	case to.Terminal():
		u.SetCompletedAt(now).SetLeaseOwner("").ClearLeaseExpiresAt()
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// inTx runs f in a transaction and publishes the events it returns after
// the commit, so subscribers never see a change that was rolled back.
func (d *Dispatcher) inTx(ctx context.Context, f func(tx *ent.Tx) ([]*ent.JobEvent, error)) ([]*ent.JobEvent, error) {
	tx, err := d.client.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	evs, err := f(tx)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if d.dialect == store.Postgres {
		d.kickSequencer() // numbers and then publishes the events
	} else {
		d.publish(evs)
	}
	if wakes(evs) {
		d.Wake()
	}
	return evs, nil
}

// Transition applies changes in one transaction (for callers outside the loop).
// On failure the jobs' in-memory statuses are restored, so the same changes
// can be retried one by one.
func (d *Dispatcher) Transition(ctx context.Context, changes ...Change) ([]*ent.JobEvent, error) {
	return d.transition(ctx, changes, nil)
}

func (d *Dispatcher) transition(ctx context.Context, changes []Change, stale *[]Change) ([]*ent.JobEvent, error) {
	before := make([]st.JobStatus, len(changes))
	for i, c := range changes {
		before[i] = c.Job.Status
	}
	evs, err := d.inTx(ctx, func(tx *ent.Tx) ([]*ent.JobEvent, error) { return d.applyTolerant(ctx, tx, changes, stale) })
	if err != nil {
		for i := len(changes) - 1; i >= 0; i-- {
			changes[i].Job.Status = before[i]
		}
	}
	return evs, err
}
