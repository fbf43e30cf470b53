package dispatch

import (
	"context"

	"github.com/gantry/gantry/ent"
)

// Concurrent submits are committed together: one goroutine takes every
// request waiting at that moment and writes them in one transaction (one
// multi-row INSERT). Under load the batches grow by themselves; at idle a
// batch is a single job and nothing waits for a timer.

type submitReq struct {
	ctx  context.Context
	spec jobSpec
	done chan submitRes
}

type submitRes struct {
	job *ent.ContainerJob
	err error
}

// maxSubmitBatch bounds a batch (SQLite allows 32766 bound values).
const maxSubmitBatch = 200

func (d *Dispatcher) submitBatched(ctx context.Context, spec jobSpec) (*ent.ContainerJob, error) {
	d.submitOnce.Do(func() { go d.submitLoop() })
	req := submitReq{ctx: ctx, spec: spec, done: make(chan submitRes, 1)}
	select {
	case d.submits <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-req.done:
		return r.job, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (d *Dispatcher) submitLoop() {
	for req := range d.submits {
		batch := []submitReq{req}
	fill:
		for len(batch) < maxSubmitBatch {
			select {
			case r := <-d.submits:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		d.flushSubmits(batch)
	}
}

// flushSubmits writes a batch; if the batch fails as a whole, each request
// gets a transaction of its own, so one bad row fails only its own submit.
func (d *Dispatcher) flushSubmits(batch []submitReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if r.ctx.Err() == nil {
			live = append(live, r)
		} else {
			r.done <- submitRes{err: r.ctx.Err()}
		}
	}
	if len(live) == 0 {
		return
	}
	ctx := context.WithoutCancel(live[0].ctx)
	var jobs []*ent.ContainerJob
	_, err := d.inTx(ctx, func(tx *ent.Tx) ([]*ent.JobEvent, error) {
		creates := make([]*ent.ContainerJobCreate, len(live))
		for i, r := range live {
			creates[i] = r.spec.builder(tx)
		}
		js, evs, err := d.enqueue(ctx, tx, creates)
		jobs = js
		return evs, err
	})
	if err == nil {
		for i, r := range live {
			r.done <- submitRes{job: jobs[i]}
		}
		return
	}
	for _, r := range live {
		j, err := d.submitOne(context.WithoutCancel(r.ctx), r.spec)
		r.done <- submitRes{job: j, err: err}
	}
}
