package store

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listen calls notify for every PostgreSQL NOTIFY on channel, and once
// after each (re)connect (anything sent while not listening), until ctx
// ends. It reconnects after errors; callers keep a periodic fallback, so a
// notification lost in between only delays work.
func Listen(ctx context.Context, dsn, channel string, notify func(), log *slog.Logger) {
	for ctx.Err() == nil {
		if err := listenOnce(ctx, dsn, channel, notify); err != nil && ctx.Err() == nil {
			log.Warn("listen connection lost; reconnecting", "channel", channel, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func listenOnce(ctx context.Context, dsn, channel string, notify func()) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	notify()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		notify()
	}
}
