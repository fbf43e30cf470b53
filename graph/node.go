package graph

import (
	"context"
	"fmt"
	"sort"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/budget"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/containertemplate"
	"github.com/gantry/gantry/ent/executorhost"
	"github.com/gantry/gantry/ent/jobevent"
	"github.com/gantry/gantry/ent/routingrule"
	"github.com/gantry/gantry/errs"
)

// nodeType finds the table of a global id. Ids are random UUIDs, unique
// across tables, so at most one primary-key probe per table answers it;
// jobs come first because clients ask for them most.
func (r *Resolver) nodeType(ctx context.Context, id uuid.UUID) (string, error) {
	probes := []struct {
		table string
		exist func() (bool, error)
	}{
		{containerjob.Table, func() (bool, error) { return r.Client.ContainerJob.Query().Where(containerjob.ID(id)).Exist(ctx) }},
		{executorhost.Table, func() (bool, error) { return r.Client.ExecutorHost.Query().Where(executorhost.ID(id)).Exist(ctx) }},
		{containertemplate.Table, func() (bool, error) {
			return r.Client.ContainerTemplate.Query().Where(containertemplate.ID(id)).Exist(ctx)
		}},
		{jobevent.Table, func() (bool, error) { return r.Client.JobEvent.Query().Where(jobevent.ID(id)).Exist(ctx) }},
		{budget.Table, func() (bool, error) { return r.Client.Budget.Query().Where(budget.ID(id)).Exist(ctx) }},
		{routingrule.Table, func() (bool, error) { return r.Client.RoutingRule.Query().Where(routingrule.ID(id)).Exist(ctx) }},
	}
	for _, p := range probes {
		ok, err := p.exist()
		if err != nil {
			return "", fmt.Errorf("resolve node %s: %w", id, err)
		}
		if ok {
			return p.table, nil
		}
	}
	return "", errs.New(errs.NotFound, "no node with id %s", id)
}

// configKeys lists the keys of an executor_config, never its values.
func configKeys(cfg map[string]any) []string {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// updateHost applies input to host id.
func (r *Resolver) updateHost(ctx context.Context, id uuid.UUID, input ent.UpdateExecutorHostInput) (*ent.ExecutorHost, error) {
	cur, err := r.Client.ExecutorHost.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if input.ExecutorType != nil || input.ExecutorConfig != nil {
		t := cur.ExecutorType
		if input.ExecutorType != nil {
			t = *input.ExecutorType
		}
		cfg := cur.ExecutorConfig
		if input.ExecutorConfig != nil || input.ClearExecutorConfig {
			cfg = input.ExecutorConfig
		}
		if err := r.checkHostConfig(ctx, &t, cfg); err != nil {
			return nil, err
		}
	}
	return r.Client.ExecutorHost.UpdateOneID(id).SetInput(input).Save(ctx)
}
