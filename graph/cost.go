package graph

import (
	"context"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/graph/model"
)

// costSummary sums costs in Go with decimals: SQLite keeps numeric as REAL,
// and money is never summed in floating point.
func (r *Resolver) costSummary(ctx context.Context, by model.CostGroupBy, from, to *time.Time) ([]*model.CostGroup, error) {
	q := r.Client.ContainerJob.Query().Where(containerjob.CompletedAtNotNil())
	if from != nil {
		q = q.Where(containerjob.CompletedAtGTE(from.UTC()))
	}
	if to != nil {
		q = q.Where(containerjob.CompletedAtLT(to.UTC()))
	}
	jobs, err := q.Select(containerjob.FieldExecutorType, containerjob.FieldDockerHostID, containerjob.FieldTemplateID,
		containerjob.FieldEstimatedCost, containerjob.FieldActualCost).All(ctx)
	if err != nil {
		return nil, err
	}
	names, err := r.groupNames(ctx, by)
	if err != nil {
		return nil, err
	}
	groups := map[string]*model.CostGroup{}
	for _, j := range jobs {
		key := groupKey(by, j, names)
		g := groups[key]
		if g == nil {
			g = &model.CostGroup{Key: key}
			groups[key] = g
		}
		g.Jobs++
		g.EstimatedCost = add(g.EstimatedCost, j.EstimatedCost)
		g.ActualCost = add(g.ActualCost, j.ActualCost)
	}
	out := make([]*model.CostGroup, 0, len(groups))
	for _, g := range groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func add(sum *schematype.Decimal, v schematype.Decimal) *schematype.Decimal {
	if !v.Valid {
		return sum
	}
	total := decimal.Zero
	if sum != nil {
		total = sum.NullDecimal.Decimal
	}
	d := schematype.NewDecimal(total.Add(v.NullDecimal.Decimal))
	return &d
}

// groupNames maps host or template ids to names.
func (r *Resolver) groupNames(ctx context.Context, by model.CostGroupBy) (map[uuid.UUID]string, error) {
	names := map[uuid.UUID]string{}
	switch by {
	case model.CostGroupByHost:
		hs, err := r.Client.ExecutorHost.Query().All(ctx)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			names[h.ID] = h.Name
		}
	case model.CostGroupByTemplate:
		ts, err := r.Client.ContainerTemplate.Query().All(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			names[t.ID] = t.Name
		}
	}
	return names, nil
}

func groupKey(by model.CostGroupBy, j *ent.ContainerJob, names map[uuid.UUID]string) string {
	switch by {
	case model.CostGroupByHost:
		if j.DockerHostID != nil {
			return names[*j.DockerHostID]
		}
	case model.CostGroupByTemplate:
		if j.TemplateID != nil {
			return names[*j.TemplateID]
		}
	default:
		return string(j.ExecutorType)
	}
	return ""
}
