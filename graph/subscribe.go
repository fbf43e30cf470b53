package graph

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/executorhost"
	"github.com/gantry/gantry/ent/jobevent"
	"github.com/gantry/gantry/errs"
	"github.com/gantry/gantry/events"
)

var errNoBroker = errs.New(errs.Internal, "this server runs without an event broker")

// eventCursor is the resumable position of an event: its sequence.
func eventCursor(ev *ent.JobEvent) *entgql.Cursor[uuid.UUID] {
	if ev.Sequence == nil {
		return nil
	}
	return &entgql.Cursor[uuid.UUID]{ID: ev.ID, Value: *ev.Sequence}
}

// cursorSequence reads the sequence out of a cursor: its value when it
// carries one, else the sequence of the event it names.
func (r *Resolver) cursorSequence(ctx context.Context, c *entgql.Cursor[uuid.UUID]) (int64, error) {
	if v := reflect.ValueOf(c.Value); v.IsValid() {
		switch {
		case v.CanInt():
			return v.Int(), nil
		case v.CanUint():
			return int64(v.Uint()), nil
		case v.CanFloat():
			return int64(v.Float()), nil
		}
		return 0, errs.Invalid("after", "cursor does not hold an event position")
	}
	ev, err := r.Client.JobEvent.Get(ctx, c.ID)
	if ent.IsNotFound(err) {
		return 0, errs.New(errs.NotFound, "cursor names an unknown event %s", c.ID)
	}
	if err != nil {
		return 0, err
	}
	if ev.Sequence == nil {
		return 0, errs.Invalid("after", "cursor names an event that is not yet sequenced")
	}
	return *ev.Sequence, nil
}

// streamEvents serves jobEvents: an optional replay from the database, then
// live events from the broker, deduplicated by sequence at the seam.
func (r *Resolver) streamEvents(ctx context.Context, where *ent.JobEventWhereInput, after *entgql.Cursor[uuid.UUID]) (<-chan *ent.JobEvent, error) {
	if r.Broker == nil {
		return nil, errNoBroker
	}
	match, err := events.Matcher(where)
	if err != nil {
		return nil, err
	}
	var from *int64
	if after != nil {
		seq, err := r.cursorSequence(ctx, after)
		if err != nil {
			return nil, err
		}
		from = &seq
	}
	out := make(chan *ent.JobEvent)
	go r.pumpEvents(ctx, where, match, from, out)
	return out, nil
}

func (r *Resolver) pumpEvents(ctx context.Context, where *ent.JobEventWhereInput, match func(*ent.JobEvent) bool, from *int64, out chan<- *ent.JobEvent) {
	defer close(out)
	for ctx.Err() == nil {
		// Register before replaying: live delivery then covers everything
		// after the replay's end, and the sequence check drops the overlap.
		sub := r.Broker.SubscribeJob(watchedJob(where), match)
		cursor := sub.Start
		if from != nil {
			var ok bool
			if cursor, ok = r.replay(ctx, where, *from, out); !ok {
				sub.Close()
				return
			}
		}
		cursor, ok := live(ctx, sub, cursor, out)
		sub.Close()
		if !ok {
			return
		}
		// Dropped for lagging: catch up from the database and go on.
		from = &cursor
	}
}

// watchedJob is the job a filter is limited to (jobID at its top level).
func watchedJob(w *ent.JobEventWhereInput) *uuid.UUID {
	if w == nil {
		return nil
	}
	return w.JobID
}

// replay sends stored events after seq; it returns the last position sent.
func (r *Resolver) replay(ctx context.Context, where *ent.JobEventWhereInput, seq int64, out chan<- *ent.JobEvent) (int64, bool) {
	for {
		q := r.Client.JobEvent.Query().Where(jobevent.SequenceGT(seq)).Order(ent.Asc(jobevent.FieldSequence)).Limit(500)
		if where != nil {
			var err error
			if q, err = where.Filter(q); err != nil {
				return seq, false
			}
		}
		evs, err := q.All(ctx)
		if err != nil || len(evs) == 0 {
			return seq, err == nil
		}
		for _, ev := range evs {
			if !send(ctx, out, ev) {
				return seq, false
			}
			seq = *ev.Sequence
		}
	}
}

// live forwards broker events after cursor until the subscriber is closed;
// ok is false when the stream should end (context done).
func live(ctx context.Context, sub *events.Sub, cursor int64, out chan<- *ent.JobEvent) (int64, bool) {
	for {
		select {
		case <-ctx.Done():
			return cursor, false
		case ev, open := <-sub.C:
			if !open {
				return cursor, ctx.Err() == nil && sub.Dropped()
			}
			if *ev.Sequence <= cursor {
				continue
			}
			if !send(ctx, out, ev) {
				return cursor, false
			}
			cursor = *ev.Sequence
		}
	}
}

func send[T any](ctx context.Context, out chan<- T, v T) bool {
	select {
	case out <- v:
		return true
	case <-ctx.Done():
		return false
	}
}

// streamJob serves jobUpdated: the job now, then after each of its events.
func (r *Resolver) streamJob(ctx context.Context, id uuid.UUID) (<-chan *ent.ContainerJob, error) {
	if r.Broker == nil {
		return nil, errNoBroker
	}
	j, err := r.loadJob(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make(chan *ent.ContainerJob)
	go func() {
		defer close(out)
		if !send(ctx, out, j) {
			return
		}
		for ctx.Err() == nil {
			sub := r.Broker.SubscribeJob(&id, func(ev *ent.JobEvent) bool { return ev.JobID == id })
			ok := r.forwardJob(ctx, sub, id, out)
			sub.Close()
			if !ok {
				return
			}
		}
	}()
	return out, nil
}

func (r *Resolver) forwardJob(ctx context.Context, sub *events.Sub, id uuid.UUID, out chan<- *ent.ContainerJob) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case _, open := <-sub.C:
			j, err := r.Client.ContainerJob.Get(ctx, id)
			if err != nil || !send(ctx, out, j) {
				return false
			}
			if !open {
				return sub.Dropped() // resubscribe after a drop; the reload above covered the gap
			}
		}
	}
}

// hostPollEvery bounds how stale a health change can be in hostUpdated:
// capacity changes arrive with job events, health checks do not.
const hostPollEvery = 2 * time.Second

// streamHosts serves hostUpdated for one host (id) or all (nil).
func (r *Resolver) streamHosts(ctx context.Context, id *uuid.UUID) (<-chan *ent.ExecutorHost, error) {
	if r.Broker == nil {
		return nil, errNoBroker
	}
	if id != nil {
		if ok, err := r.Client.ExecutorHost.Query().Where(executorhost.ID(*id)).Exist(ctx); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			return nil, errs.New(errs.NotFound, "executor host %s does not exist", *id)
		}
	}
	out := make(chan *ent.ExecutorHost)
	go r.pumpHosts(ctx, id, out)
	return out, nil
}

func (r *Resolver) pumpHosts(ctx context.Context, id *uuid.UUID, out chan<- *ent.ExecutorHost) {
	defer close(out)
	sub := r.Broker.Subscribe(func(ev *ent.JobEvent) bool {
		return ev.HostID != nil && (id == nil || *ev.HostID == *id)
	})
	defer func() { sub.Close() }()
	tick := time.NewTicker(hostPollEvery)
	defer tick.Stop()
	seen := map[uuid.UUID]string{}
	for {
		if !r.sendChangedHosts(ctx, id, seen, out) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case _, open := <-sub.C:
			if !open {
				sub = r.Broker.SubscribeJob(sub.Job(), sub.Match())
			}
		}
	}
}

func (r *Resolver) sendChangedHosts(ctx context.Context, id *uuid.UUID, seen map[uuid.UUID]string, out chan<- *ent.ExecutorHost) bool {
	q := r.Client.ExecutorHost.Query()
	if id != nil {
		q = q.Where(executorhost.ID(*id))
	}
	hosts, err := q.All(ctx)
	if err != nil {
		return ctx.Err() == nil
	}
	for _, h := range hosts {
		fp := fmt.Sprint(h.UpdatedAt.UnixNano(), h.CurrentJobCount, h.MaxConcurrentJobs, h.HealthCheckFailures, h.LastHealthCheck, h.IsActive)
		if seen[h.ID] == fp {
			continue
		}
		seen[h.ID] = fp
		if !send(ctx, out, h) {
			return false
		}
	}
	return true
}

// loadJob reads a job, NOT_FOUND when there is none.
func (r *Resolver) loadJob(ctx context.Context, id uuid.UUID) (*ent.ContainerJob, error) {
	j, err := r.Client.ContainerJob.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, errs.New(errs.NotFound, "job %s does not exist", id)
	}
	return j, err
}
