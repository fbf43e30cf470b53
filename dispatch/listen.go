package dispatch

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notification channels on PostgreSQL.
const (
	chanWork   = "gantry_work"   // a job became ready or a slot was freed
	chanEvents = "gantry_events" // events committed; payload: newest sequence
)

// listen wakes the claim loop on NOTIFYs from any replica. It reconnects
// after errors; the idle tick covers notifications lost meanwhile.
func (d *Dispatcher) listen(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := d.listenOnce(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("listen connection lost; reconnecting", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

func (d *Dispatcher) listenOnce(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, d.db.DSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+chanWork); err != nil {
		return err
	}
	d.Wake() // anything queued while we were not listening
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Channel == chanWork {
			d.Wake()
		}
	}
}
