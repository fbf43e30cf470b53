package graph

import (
	"context"
	"time"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/jobevent"
	"github.com/gantry/gantry/ent/predicate"
	st "github.com/gantry/gantry/ent/schematype"
)

// drainWindow is how far back the launch rate is measured.
const drainWindow = 5 * time.Minute

// queuePosition counts the queued jobs the claim order puts before j
// (higher priority, or equal priority and queued earlier), plus one.
func (r *Resolver) queuePosition(ctx context.Context, j *ent.ContainerJob) (*int, error) {
	if j.Status != st.StatusQueued || j.QueuedAt == nil {
		return nil, nil
	}
	ahead, err := r.Client.ContainerJob.Query().Where(
		containerjob.QueuedAtNotNil(),
		containerjob.Or(
			containerjob.PriorityGT(j.Priority),
			containerjob.And(containerjob.Priority(j.Priority), containerjob.QueuedAtLT(*j.QueuedAt)),
		)).Count(ctx)
	if err != nil {
		return nil, err
	}
	pos := ahead + 1
	return &pos, nil
}

// drainScope narrows the launch rate to where j can run: the host it is
// pinned to, the executor type it prefers, or its template's supported
// types (none: every launch counts).
func (r *Resolver) drainScope(ctx context.Context, j *ent.ContainerJob) ([]predicate.JobEvent, error) {
	if id, ok := dispatch.PinnedHost(j); ok {
		return []predicate.JobEvent{jobevent.HostID(id)}, nil
	}
	if j.PreferredExecutor != "" {
		return []predicate.JobEvent{jobevent.ExecutorTypeEQ(st.ExecutorType(j.PreferredExecutor))}, nil
	}
	if j.TemplateID == nil {
		return nil, nil
	}
	t, err := r.Client.ContainerTemplate.Get(ctx, *j.TemplateID)
	if err != nil || len(t.SupportedExecutors) == 0 {
		return nil, err
	}
	types := make([]st.ExecutorType, len(t.SupportedExecutors))
	for i, s := range t.SupportedExecutors {
		types[i] = st.ExecutorType(s)
	}
	return []predicate.JobEvent{jobevent.ExecutorTypeIn(types...)}, nil
}

// estimatedStartAt divides the queue ahead by the recent launch rate onto
// the hosts the job can run on.
func (r *Resolver) estimatedStartAt(ctx context.Context, j *ent.ContainerJob) (*time.Time, error) {
	pos, err := r.queuePosition(ctx, j)
	if err != nil || pos == nil {
		return nil, err
	}
	now := time.Now().UTC()
	start := now
	if j.ScheduledFor != nil && j.ScheduledFor.After(start) {
		start = *j.ScheduledFor
	}
	scope, err := r.drainScope(ctx, j)
	if err != nil {
		return nil, err
	}
	launched, err := r.Client.JobEvent.Query().Where(append(scope, jobevent.ToStatusEQ(st.StatusLaunching),
		jobevent.CreatedAtGT(now.Add(-drainWindow)))...).Count(ctx)
	if err != nil || launched == 0 {
		return nil, err
	}
	perJob := drainWindow / time.Duration(launched)
	at := start.Add(perJob * time.Duration(*pos-1))
	return &at, nil
}
