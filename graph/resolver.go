// Package graph is Gantry's GraphQL layer: hand-written schema files, the
// schema entgql generates (ent.graphql), and the resolvers.
package graph

import (
	"context"
	"slices"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/errs"
	"github.com/gantry/gantry/events"
	"github.com/gantry/gantry/executors"
)

// HostConfigChecker validates an executor host's type and executor_config
// before it is stored. Its errors name keys, never values.
type HostConfigChecker func(ctx context.Context, t schematype.ExecutorType, cfg map[string]any) error

// Resolver is the root resolver; it holds the application's dependencies.
type Resolver struct {
	Client     *ent.Client
	Dispatcher *dispatch.Dispatcher
	Broker     *events.Broker
	// CheckHostConfig validates host configuration on create/update
	// (nil: CheckWithBackend).
	CheckHostConfig HostConfigChecker
}

func (r *Resolver) checkHostConfig(ctx context.Context, t *schematype.ExecutorType, cfg map[string]any) error {
	check := r.CheckHostConfig
	if check == nil {
		check = CheckWithBackend
	}
	typ := schematype.ExecutorDocker
	if t != nil {
		typ = *t
	}
	return check(ctx, typ, cfg)
}

// CheckWithBackend validates a host's executor_config with its backend, at
// creation rather than at the first launch. Types without a backend on this
// server are accepted (routing explains they cannot run here).
func CheckWithBackend(_ context.Context, t schematype.ExecutorType, cfg map[string]any) error {
	if v, err := executors.Number(cfg, executors.KeepFailedKey); err != nil || v < 0 {
		return errs.Invalid("executorConfig", "%s must be a number of seconds, 0 or more", executors.KeepFailedKey)
	}
	if !slices.Contains(executors.Registered(), t) {
		return nil
	}
	if _, err := executors.New(executors.Host{Name: "new host", Type: t, Config: cfg}); err != nil {
		return errs.Invalid("executorConfig", "%v", err)
	}
	return nil
}

// wake tells the dispatcher routing changed: waiting jobs may now be placed.
func (r *Resolver) wake() {
	if r.Dispatcher != nil {
		r.Dispatcher.Wake()
	}
}
