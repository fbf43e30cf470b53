package dispatch

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/containertemplate"
	"github.com/gantry/gantry/ent/schema"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/routing"
)

// metaPinnedHost is the executor_metadata key of a host the user asked for
// (submitJob hostID or routeJob); the router treats it as explicit.
const metaPinnedHost = "pinned_host_id"

// metaAvoidHost names the host the previous attempt failed on.
const metaAvoidHost = "avoid_host_id"

// claimAll claims batches until one comes back short; it reports whether
// the last batch was full (more work may be waiting).
func (d *Dispatcher) claimAll(ctx context.Context) (bool, error) {
	for {
		claimed, placed, err := d.claimOnce(ctx)
		if err != nil {
			return false, err
		}
		if claimed < d.opts.BatchSize || placed == 0 {
			return false, nil
		}
		if ctx.Err() != nil {
			return false, nil
		}
	}
}

// claimOnce claims one batch: ready jobs in priority order, each routed and
// given a reserved host slot, moved to launching under this replica's lease
// in one transaction; launches start after the commit.
func (d *Dispatcher) claimOnce(ctx context.Context) (claimed, placed int, err error) {
	var started []*ent.ContainerJob
	_, err = d.inTx(ctx, func(tx *ent.Tx) ([]*ent.JobEvent, error) {
		now := d.now()
		ids, err := d.claimIDs(ctx, tx, d.opts.BatchSize, now)
		if err != nil || len(ids) == 0 {
			return nil, err
		}
		claimed = len(ids)
		jobs, err := loadClaimed(ctx, tx, ids)
		if err != nil {
			return nil, err
		}
		hosts, err := d.hostSnapshot(ctx, tx)
		if err != nil {
			return nil, err
		}
		changes, err := d.place(ctx, tx, jobs, hosts, now)
		if err != nil {
			return nil, err
		}
		for _, c := range changes {
			started = append(started, c.Job)
		}
		return d.apply(ctx, tx, changes)
	})
	if err != nil {
		return claimed, 0, err
	}
	for _, j := range started {
		d.startLaunch(ctx, j)
	}
	return claimed, len(started), nil
}

func loadClaimed(ctx context.Context, tx *ent.Tx, ids []uuid.UUID) ([]*ent.ContainerJob, error) {
	jobs, err := tx.ContainerJob.Query().Where(containerjob.IDIn(ids...)).
		WithTemplate(func(q *ent.ContainerTemplateQuery) {
			q.Select(containertemplate.FieldSupportedExecutors, containertemplate.FieldName)
		}).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load claimed jobs: %w", err)
	}
	sort.Slice(jobs, func(i, j int) bool {
		a, b := jobs[i], jobs[j]
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return a.QueuedAt.Before(*b.QueuedAt)
	})
	return jobs, nil
}

// hostSnapshot reads every host for routing.
func (d *Dispatcher) hostSnapshot(ctx context.Context, tx *ent.Tx) ([]routing.Host, error) {
	hs, err := tx.ExecutorHost.Query().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load hosts: %w", err)
	}
	runnable := map[st.ExecutorType]bool{}
	for _, t := range executors.Registered() {
		runnable[t] = true
	}
	out := make([]routing.Host, len(hs))
	for i, h := range hs {
		out[i] = d.routingHost(h)
		out[i].Runnable = runnable[h.ExecutorType]
	}
	return out, nil
}

// routingHost is the router's view of a host row.
func (d *Dispatcher) routingHost(h *ent.ExecutorHost) routing.Host {
	rh := routing.Host{ID: h.ID, Name: h.Name, Type: h.ExecutorType, Active: h.IsActive, Current: h.CurrentJobCount,
		Max: h.MaxConcurrentJobs, HealthFailures: h.HealthCheckFailures, Weight: h.Weight,
		CostPerHour: h.CostPerHour, CostPerJob: h.CostPerJob, AvgStartup: derefInt(h.AverageStartupTime),
		MemoryMB: derefInt(h.MemoryCapacityMB)}
	if h.CPUCapacity != nil {
		rh.CPU = *h.CPUCapacity
	}
	region, _ := h.ExecutorConfig["region"].(string)
	if p, ok := d.prices.Lookup(h.ExecutorType, region); ok && !h.CostPerHour.Valid && !h.CostPerJob.Valid {
		rh.Price = &p
		rh.Size = d.sizes.of(h)
	}
	return rh
}

// requested is j's CPU and memory limits as set (0: unset).
func requested(j *ent.ContainerJob) (float64, int) {
	cores := 0.0
	if j.CPULimit != nil {
		cores = *j.CPULimit
	}
	return cores, derefInt(j.MemoryLimit)
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// routingJob is what the router sees of a job.
func routingJob(j *ent.ContainerJob) routing.Job {
	rj := routing.Job{ID: j.ID, PreferredExecutor: j.PreferredExecutor, Vars: varsOf(j), MaxCost: j.MaxCost, MaxStartup: derefInt(j.MaxStartupSeconds),
		MemoryMB: derefInt(j.MemoryLimit)}
	if j.CPULimit != nil {
		rj.CPU = *j.CPULimit
	}
	if s, ok := j.ExecutorMetadata[metaPinnedHost].(string); ok {
		if id, err := uuid.Parse(s); err == nil {
			rj.HostID = &id
		}
	}
	if s, ok := j.ExecutorMetadata[metaAvoidHost].(string); ok {
		if id, err := uuid.Parse(s); err == nil {
			rj.AvoidHost = &id
		}
	}
	if j.Edges.Template != nil {
		rj.SupportedExecutors = j.Edges.Template.SupportedExecutors
	}
	return rj
}

// place routes jobs, reserves their slots and returns their changes to
// launching. Jobs that cannot be placed stay queued (their routing_reason
// says why) and are unlocked at commit.
func (d *Dispatcher) place(ctx context.Context, tx *ent.Tx, jobs []*ent.ContainerJob, hosts []routing.Host, now time.Time) ([]Change, error) {
	router, err := d.router(ctx, tx, maxPersistedCandidates)
	if err != nil {
		return nil, err
	}
	byID := map[uuid.UUID]*routing.Host{}
	for i := range hosts {
		byID[hosts[i].ID] = &hosts[i]
	}
	chosen := map[uuid.UUID][]*ent.ContainerJob{}
	reasons := map[*ent.ContainerJob]string{}
	tables := map[*ent.ContainerJob][]map[string]any{}
	budgets := &holds{d: d, tx: tx, spent: map[uuid.UUID]decimal.Decimal{}}
	var order []uuid.UUID
	for _, j := range jobs {
		dec := router.Route(routingJob(j), hosts)
		reasons[j] = dec.Reason
		if dec.Host != nil {
			why, err := budgets.held(ctx, j, *dec.Host)
			if err != nil {
				return nil, err
			}
			if why != "" {
				dec.Host, dec.Reason = nil, why
			}
		}
		if dec.Host == nil {
			if err := noteReason(ctx, tx, j, dec.Reason); err != nil {
				return nil, err
			}
			continue
		}
		tables[j] = candidateTable(dec, maxPersistedCandidates)
		if len(chosen[dec.Host.ID]) == 0 {
			order = append(order, dec.Host.ID)
		}
		chosen[dec.Host.ID] = append(chosen[dec.Host.ID], j)
		byID[dec.Host.ID].Current++ // later jobs in the batch see the slot taken
	}
	// Reserve in host id order: every transaction locks hosts in that order.
	slices.SortFunc(order, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	var changes []Change
	for _, hid := range order {
		js, err := d.reserveFor(ctx, tx, hid, chosen[hid])
		if err != nil {
			return nil, err
		}
		h := byID[hid]
		for _, j := range js {
			changes = append(changes, d.toLaunching(j, h, reasons[j], tables[j], now))
		}
	}
	return changes, nil
}

// reserveFor reserves slots on host for as many of js as fit, in order.
func (d *Dispatcher) reserveFor(ctx context.Context, tx *ent.Tx, host uuid.UUID, js []*ent.ContainerJob) ([]*ent.ContainerJob, error) {
	ok, err := d.reserve(ctx, tx, host, len(js))
	if err != nil || ok {
		return js, err
	}
	// Another replica took slots since the snapshot: take them one by one.
	for i := range js {
		ok, err := d.reserve(ctx, tx, host, 1)
		if err != nil {
			return nil, err
		}
		if !ok {
			return js[:i], nil
		}
	}
	return js, nil
}

// maxPersistedCandidates bounds the candidate table stored with a job.
const maxPersistedCandidates = 20

// candidateTable is the decision's best candidates, for executor_metadata.
func candidateTable(dec routing.Decision, n int) []map[string]any {
	out := make([]map[string]any, 0, min(n, len(dec.Candidates)))
	for _, c := range dec.Candidates[:min(n, len(dec.Candidates))] {
		row := map[string]any{"host": c.Host.Name, "hostID": c.Host.ID.String(), "eligible": c.Eligible, "reason": c.Reason, "score": c.Score}
		if cost := c.EstimatedCost(); cost.Valid {
			row["estimatedCost"] = cost.String()
		}
		if c.Bias != 0 {
			row["ruleWeight"] = c.Bias
		}
		out = append(out, row)
	}
	return out
}

func (d *Dispatcher) toLaunching(j *ent.ContainerJob, h *routing.Host, reason string, table []map[string]any, now time.Time) Change {
	j.DockerHostID = &h.ID
	j.ExecutorType = h.Type
	j.LeaseOwner = d.id
	// The estimate is an upper bound: the job's timeout at the host's prices.
	cores, mem := requested(j)
	estimate := routing.EstimateJob(*h, cores, mem, j.TimeoutSeconds)
	// The full explanation goes with the job: the reason line, and the
	// best candidates in executor_metadata["routing"].
	meta := make(map[string]any, len(j.ExecutorMetadata)+1)
	for k, v := range j.ExecutorMetadata {
		meta[k] = v
	}
	meta["routing"] = map[string]any{"reason": reason, "candidates": table, "decidedAt": now.Format(time.RFC3339Nano)}
	return Change{Job: j, To: st.StatusLaunching, Reason: reason, Set: func(u *ent.ContainerJobUpdate) {
		u.SetDockerHostID(h.ID).SetExecutorType(h.Type).SetRoutingReason(truncate(reason, 200)).
			SetLeaseOwner(d.id).SetLeaseExpiresAt(now.Add(d.opts.LeaseTTL)).SetEstimatedCost(estimate).SetExecutorMetadata(meta)
	}}
}

// noteReason records why a job waits, when that changed.
func noteReason(ctx context.Context, tx *ent.Tx, j *ent.ContainerJob, reason string) error {
	reason = truncate(reason, 200)
	if j.RoutingReason == reason {
		return nil
	}
	err := tx.ContainerJob.UpdateOneID(j.ID).SetRoutingReason(reason).Exec(schema.Trusted(ctx))
	if err != nil {
		return fmt.Errorf("note routing reason: %w", err)
	}
	return nil
}

// PinnedHost is the host a job was pinned to with routeJob, if any.
func PinnedHost(j *ent.ContainerJob) (uuid.UUID, bool) {
	s, ok := j.ExecutorMetadata[metaPinnedHost].(string)
	if !ok {
		return uuid.UUID{}, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil
}
