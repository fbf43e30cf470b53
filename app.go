package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/events"
	_ "github.com/gantry/gantry/executors/cloudrun" // executor backends register themselves
	_ "github.com/gantry/gantry/executors/docker"
	_ "github.com/gantry/gantry/executors/fargate"
	_ "github.com/gantry/gantry/executors/mock"
	_ "github.com/gantry/gantry/executors/scaleway"
	"github.com/gantry/gantry/graph"
	"github.com/gantry/gantry/migrations"
	"github.com/gantry/gantry/routing"
	"github.com/gantry/gantry/store"
)

// app is the wired server: database, migrations, dispatcher, resolvers.
type app struct {
	db     *store.DB
	mg     *migrations.Migrator
	disp   *dispatch.Dispatcher
	broker *events.Broker
}

// openApp migrates the database to the latest version and connects.
func openApp(ctx context.Context, databaseURL string, prices routing.PriceTable) (*app, error) {
	cfg, err := store.Parse(databaseURL)
	if err != nil {
		return nil, err
	}
	mg, err := migrations.Open(cfg)
	if err != nil {
		return nil, err
	}
	if err := mg.Up(ctx); err != nil {
		mg.Close()
		return nil, fmt.Errorf("migrate %s: %w", cfg.Display, err)
	}
	db, err := store.Open(ctx, databaseURL)
	if err != nil {
		mg.Close()
		return nil, err
	}
	slog.Info("database ready", "database", cfg.Display)
	broker := events.NewBroker(db, slog.Default())
	disp := dispatch.New(db, dispatch.Options{Prices: prices, Publish: func([]*ent.JobEvent) { broker.Notify() }})
	return &app{db: db, mg: mg, disp: disp, broker: broker}, nil
}

func (a *app) resolver() *graph.Resolver {
	return &graph.Resolver{Client: a.db.Client, Dispatcher: a.disp, Broker: a.broker}
}

// ready reports whether the database answers and its schema is current.
func (a *app) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := a.db.SQL.PingContext(ctx); err != nil {
		return errors.New("database unreachable")
	}
	st, err := a.mg.Status(ctx)
	if err != nil {
		return errors.New("cannot read migration status")
	}
	if !st.Current() {
		return fmt.Errorf("migrations at version %d of %d (dirty=%v)", st.Version, st.Latest, st.Dirty)
	}
	return nil
}

func (a *app) Close() {
	a.mg.Close()
	a.db.Close()
}

// logRequests logs each HTTP request at debug level (websocket upgrades
// included, once, when they end).
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		slog.Debug("http request", "method", r.Method, "path", r.URL.Path, "duration", time.Since(start))
	})
}
