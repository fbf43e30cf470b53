package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/executorhost"
	"github.com/gantry/gantry/errs"
	"github.com/gantry/gantry/graph/model"
	"github.com/gantry/gantry/routing"
)

var errNoDispatcher = errs.New(errs.Internal, "this server runs without a dispatcher")

func submitInput(in model.SubmitJobInput) dispatch.SubmitInput {
	out := dispatch.SubmitInput{
		TemplateID: in.TemplateID, Image: in.Image, Command: in.Command, Environment: in.Environment,
		WorkingDirectory: in.WorkingDirectory, MemoryLimit: in.MemoryLimit, CPULimit: in.CPULimit,
		TimeoutSeconds: in.TimeoutSeconds, Priority: in.Priority, MaxRetries: in.MaxRetries,
		ScheduledFor: in.ScheduledFor, HostID: in.HostID, IdempotencyKey: in.IdempotencyKey, Labels: in.Labels,
		MaxCost: in.MaxCost, MaxStartupSeconds: in.MaxStartupSeconds,
	}
	if in.Name != nil {
		out.Name = *in.Name
	}
	if in.RetryStrategy != nil {
		s := in.RetryStrategy.String()
		out.RetryStrategy = &s
	}
	if in.PreferredExecutor != nil {
		s := string(*in.PreferredExecutor)
		out.PreferredExecutor = &s
	}
	return out
}

// decision turns a routing decision into its GraphQL form, with host rows.
func (r *Resolver) decision(ctx context.Context, d routing.Decision) (*model.RoutingDecision, error) {
	ids := make([]uuid.UUID, len(d.Candidates))
	for i, c := range d.Candidates {
		ids[i] = c.Host.ID
	}
	hosts, err := r.Client.ExecutorHost.Query().Where(executorhost.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]*ent.ExecutorHost, len(hosts))
	for _, h := range hosts {
		byID[h.ID] = h
	}
	out := &model.RoutingDecision{Reason: d.Reason, Candidates: make([]*model.RouteCandidate, 0, len(d.Candidates))}
	if d.Host != nil {
		out.Host = byID[d.Host.ID]
	}
	for _, c := range d.Candidates {
		if h := byID[c.Host.ID]; h != nil {
			cost := c.EstimatedCost()
			rc := &model.RouteCandidate{Host: h, Eligible: c.Eligible, Reason: c.Reason, Score: c.Score, RuleWeight: c.Bias}
			if cost.Valid {
				rc.EstimatedCost = &cost
			}
			out.Candidates = append(out.Candidates, rc)
		}
	}
	return out, nil
}
