// Package graph is Gantry's GraphQL layer: hand-written schema files, the
// schema entgql generates (ent.graphql), and the resolvers.
package graph

import (
	"context"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/events"
)

// HostConfigChecker validates an executor host's type and executor_config
// before it is stored. Its errors name keys, never values.
type HostConfigChecker func(ctx context.Context, t schematype.ExecutorType, cfg map[string]any) error

// Resolver is the root resolver; it holds the application's dependencies.
type Resolver struct {
	Client     *ent.Client
	Dispatcher *dispatch.Dispatcher
	Broker     *events.Broker
	// CheckHostConfig, when set, validates host configuration on create/update.
	CheckHostConfig HostConfigChecker
}

func (r *Resolver) checkHostConfig(ctx context.Context, t *schematype.ExecutorType, cfg map[string]any) error {
	if r.CheckHostConfig == nil {
		return nil
	}
	typ := schematype.ExecutorDocker
	if t != nil {
		typ = *t
	}
	return r.CheckHostConfig(ctx, typ, cfg)
}

// wake tells the dispatcher routing changed: waiting jobs may now be placed.
func (r *Resolver) wake() {
	if r.Dispatcher != nil {
		r.Dispatcher.Wake()
	}
}
