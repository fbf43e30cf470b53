package dispatch

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/jobevent"
	"github.com/gantry/gantry/store"
)

// sequencer numbers events on PostgreSQL after their transactions commit.
// Requests coalesce: at most one pass runs per replica, and a request made
// during a pass causes one more pass, which covers every commit before it.
type sequencer struct {
	mu      sync.Mutex
	running bool
	again   bool
	idle    *sync.Cond
}

func newSequencer() *sequencer {
	s := &sequencer{}
	s.idle = sync.NewCond(&s.mu)
	return s
}

// kick asks for a pass soon, without waiting.
func (d *Dispatcher) kickSequencer() {
	if d.dialect != store.Postgres {
		return
	}
	s := d.seq
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		s.again = true
		return
	}
	s.running = true
	go d.sequenceLoop()
}

func (d *Dispatcher) sequenceLoop() {
	s := d.seq
	for {
		if _, err := d.sequencePass(context.Background()); err != nil {
			d.log.Error("sequence events failed", "err", err)
		}
		s.mu.Lock()
		if !s.again {
			s.running = false
			s.idle.Broadcast()
			s.mu.Unlock()
			return
		}
		s.again = false
		s.mu.Unlock()
	}
}

// Sequence numbers every committed event now and waits for it; on SQLite
// events are numbered at commit and this does nothing.
func (d *Dispatcher) Sequence(ctx context.Context) error {
	if d.dialect != store.Postgres {
		return nil
	}
	s := d.seq
	s.mu.Lock()
	for s.running {
		s.idle.Wait()
	}
	s.mu.Unlock()
	for {
		n, err := d.sequencePass(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
}

// sequencePass numbers a batch of pending events, then publishes them.
func (d *Dispatcher) sequencePass(ctx context.Context) (int, error) {
	total := 0
	for {
		ids, err := d.numberBatch(ctx)
		if err != nil || len(ids) == 0 {
			return total, err
		}
		total += len(ids)
		evs, err := d.client.JobEvent.Query().Where(jobevent.IDIn(ids...)).Order(jobevent.BySequence()).All(ctx)
		if err != nil {
			return total, fmt.Errorf("load sequenced events: %w", err)
		}
		d.publish(evs)
	}
}

func (d *Dispatcher) numberBatch(ctx context.Context) ([]uuid.UUID, error) {
	tx, err := d.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, sequenceLockPG); err != nil {
		return nil, fmt.Errorf("sequence lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, sequencePlanPG); err != nil {
		return nil, fmt.Errorf("sequence plan: %w", err)
	}
	rows, err := tx.QueryContext(ctx, sequenceSQL)
	if err != nil {
		return nil, fmt.Errorf("number events: %w", err)
	}
	var ids []uuid.UUID
	var last int64
	for rows.Next() {
		var id uuid.UUID
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
		last = max(last, seq)
	}
	rows.Close()
	if len(ids) == 0 {
		return nil, nil
	}
	// Other replicas' brokers catch up to this number from the database.
	if _, err := tx.ExecContext(ctx, `SELECT pg_notify('`+chanEvents+`', $1)`, strconv.FormatInt(last, 10)); err != nil {
		return nil, fmt.Errorf("notify events: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit sequence: %w", err)
	}
	return ids, nil
}
