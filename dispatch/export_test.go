package dispatch

import (
	"context"

	"github.com/gantry/gantry/ent"
)

// Watched exposes the watcher's job list to tests.
func (d *Dispatcher) Watched(ctx context.Context) ([]*ent.ContainerJob, error) { return d.watched(ctx) }
