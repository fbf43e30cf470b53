// Package events fans job events out to subscribers. The job_events table
// is the source of truth: the broker tails it by sequence, woken by
// in-process publishes and, on PostgreSQL, by NOTIFY from any replica, with
// a periodic read as the safety net. So a lost notification or a listener
// reconnect can delay an event, never lose it.
package events

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/jobevent"
	"github.com/gantry/gantry/store"
)

// Buffer is how many events a subscriber may lag before it is dropped.
const Buffer = 256

// Broker is one replica's fan-out.
type Broker struct {
	db     *store.DB
	log    *slog.Logger
	signal chan struct{}
	ready  chan struct{}

	mu    sync.Mutex
	subs  map[*Sub]struct{}
	byJob map[uuid.UUID]map[*Sub]struct{} // subscribers that watch one job
	any   map[*Sub]struct{}               // the others
	last  int64                           // highest sequence fanned out
}

// NewBroker returns a broker over db; Run starts it.
func NewBroker(db *store.DB, log *slog.Logger) *Broker {
	if log == nil {
		log = slog.Default()
	}
	return &Broker{db: db, log: log, signal: make(chan struct{}, 1), ready: make(chan struct{}),
		subs: map[*Sub]struct{}{}, byJob: map[uuid.UUID]map[*Sub]struct{}{}, any: map[*Sub]struct{}{}}
}

// Sub is one subscriber. C is closed when the subscriber is dropped for
// lagging or closed.
type Sub struct {
	C       <-chan *ent.JobEvent
	ch      chan *ent.JobEvent
	match   func(*ent.JobEvent) bool
	b       *Broker
	job     *uuid.UUID // set when the subscriber only wants this job's events
	once    sync.Once
	dropped bool
	// Start is the broker's position at registration: live delivery
	// covers every event after it.
	Start int64
}

// Job is the one job the subscriber watches, if any.
func (s *Sub) Job() *uuid.UUID { return s.job }

// Match is the subscriber's filter, to subscribe again after a drop.
func (s *Sub) Match() func(*ent.JobEvent) bool { return s.match }

// Dropped reports whether the broker dropped the subscriber for lagging.
func (s *Sub) Dropped() bool {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.dropped
}

// Close unregisters the subscriber.
func (s *Sub) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.closeLocked()
}

func (s *Sub) closeLocked() {
	s.once.Do(func() {
		delete(s.b.subs, s)
		delete(s.b.any, s)
		if s.job != nil {
			delete(s.b.byJob[*s.job], s)
			if len(s.b.byJob[*s.job]) == 0 {
				delete(s.b.byJob, *s.job)
			}
		}
		close(s.ch)
	})
}

// Subscribe registers a subscriber for events match accepts (nil: all).
func (b *Broker) Subscribe(match func(*ent.JobEvent) bool) *Sub {
	return b.SubscribeJob(nil, match)
}

// SubscribeJob is Subscribe for a subscriber that only wants events of job
// (when not nil): fan-out then finds it by job id instead of testing every
// subscriber against every event.
func (b *Broker) SubscribeJob(job *uuid.UUID, match func(*ent.JobEvent) bool) *Sub {
	<-b.ready
	ch := make(chan *ent.JobEvent, Buffer)
	s := &Sub{C: ch, ch: ch, match: match, b: b, job: job}
	b.mu.Lock()
	s.Start = b.last
	b.subs[s] = struct{}{}
	if job != nil {
		if b.byJob[*job] == nil {
			b.byJob[*job] = map[*Sub]struct{}{}
		}
		b.byJob[*job][s] = struct{}{}
	} else {
		b.any[s] = struct{}{}
	}
	b.mu.Unlock()
	return s
}

// Subscribers is the number of registered subscribers.
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Notify says new events may have been committed.
func (b *Broker) Notify() {
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

// Run tails the event table until ctx ends.
func (b *Broker) Run(ctx context.Context) error {
	last, err := b.maxSequence(ctx)
	if err != nil {
		return fmt.Errorf("events: read position: %w", err)
	}
	b.mu.Lock()
	b.last = last
	b.mu.Unlock()
	close(b.ready)
	if b.db.Dialect == store.Postgres {
		go store.Listen(ctx, b.db.DSN, "gantry_events", b.Notify, b.log)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			b.closeAll()
			return nil
		case <-b.signal:
		case <-tick.C:
		}
		if err := b.drain(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn("events: tail failed", "err", err)
		}
	}
}

func (b *Broker) maxSequence(ctx context.Context) (int64, error) {
	ev, err := b.db.Client.JobEvent.Query().Where(jobevent.SequenceNotNil()).
		Order(ent.Desc(jobevent.FieldSequence)).First(ctx)
	if ent.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return *ev.Sequence, nil
}

// drain reads and fans out every event after the broker's position.
func (b *Broker) drain(ctx context.Context) error {
	for {
		b.mu.Lock()
		last := b.last
		b.mu.Unlock()
		evs, err := b.db.Client.JobEvent.Query().Where(jobevent.SequenceGT(last)).
			Order(ent.Asc(jobevent.FieldSequence)).Limit(1000).All(ctx)
		if err != nil || len(evs) == 0 {
			return err
		}
		b.fanout(evs)
	}
}

// fanout delivers without ever blocking: a subscriber whose buffer is
// full is dropped (its channel closed) so it cannot slow the others.
func (b *Broker) fanout(evs []*ent.JobEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ev := range evs {
		b.deliver(ev, b.byJob[ev.JobID])
		b.deliver(ev, b.any)
		b.last = *ev.Sequence
	}
}

func (b *Broker) deliver(ev *ent.JobEvent, subs map[*Sub]struct{}) {
	for s := range subs {
		if s.match != nil && !s.match(ev) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			s.dropped = true
			s.closeLocked()
		}
	}
}

func (b *Broker) closeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.closeLocked()
	}
}
