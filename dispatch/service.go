package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/containertemplate"
	"github.com/gantry/gantry/ent/schematype"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/errs"
	"github.com/gantry/gantry/routing"
)

// SubmitInput describes a job: a template, an inline spec, or a template
// with overrides. Nil fields keep the template's value (or the default).
type SubmitInput struct {
	TemplateID        *uuid.UUID
	Name              string
	Image             *string
	Command           []string
	Environment       map[string]string
	WorkingDirectory  *string
	MemoryLimit       *int
	CPULimit          *float64
	TimeoutSeconds    *int
	Priority          *int
	MaxRetries        *int
	RetryStrategy     *string
	ScheduledFor      *time.Time
	PreferredExecutor *string
	HostID            *uuid.UUID
	IdempotencyKey    *string
	Labels            map[string]string
	MaxCost           *schematype.Decimal
	MaxStartupSeconds *int
}

// Submit creates a queued job; it reports created=false when the
// idempotency key named an existing job, which it returns instead.
func (d *Dispatcher) Submit(ctx context.Context, in SubmitInput) (*ent.ContainerJob, bool, error) {
	if in.IdempotencyKey != nil {
		if j, err := d.byKey(ctx, *in.IdempotencyKey); err == nil {
			return j, false, nil
		}
	}
	create, err := d.resolve(ctx, in)
	if err != nil {
		return nil, false, err
	}
	if err := d.checkBudgets(ctx, create); err != nil {
		return nil, false, err
	}
	if in.IdempotencyKey == nil {
		j, err := d.submitBatched(ctx, create)
		return j, err == nil, err
	}
	job, err := d.submitOne(ctx, create)
	if ent.IsConstraintError(err) {
		// A concurrent submit with the same key won the race.
		if j, kerr := d.byKey(ctx, *in.IdempotencyKey); kerr == nil {
			return j, false, nil
		}
	}
	if err != nil {
		return nil, false, err
	}
	return job, true, nil
}

// submitOne creates one job in a transaction of its own.
func (d *Dispatcher) submitOne(ctx context.Context, spec jobSpec) (*ent.ContainerJob, error) {
	var job *ent.ContainerJob
	_, err := d.inTx(ctx, func(tx *ent.Tx) ([]*ent.JobEvent, error) {
		jobs, evs, err := d.enqueue(ctx, tx, []*ent.ContainerJobCreate{spec.builder(tx)})
		if err == nil {
			job = jobs[0]
		}
		return evs, err
	})
	return job, err
}

func (d *Dispatcher) byKey(ctx context.Context, key string) (*ent.ContainerJob, error) {
	return d.client.ContainerJob.Query().Where(containerjob.IdempotencyKey(key)).Only(ctx)
}

// jobSpec is a job's resolved fields before it is created.
type jobSpec struct {
	TemplateID        *uuid.UUID
	Name              *string
	Image             string
	Command           []string
	Environment       st.StringMap
	WorkingDirectory  *string
	MemoryLimit       *int
	CPULimit          *float64
	TimeoutSeconds    *int
	Priority          *int
	MaxRetries        *int
	RetryStrategy     *containerjob.RetryStrategy
	ScheduledFor      *time.Time
	PreferredExecutor *string
	ExecutorType      *st.ExecutorType
	IdempotencyKey    *string
	Labels            st.StringMap
	ExecutorMetadata  map[string]any
	MaxCost           *st.Decimal
	MaxStartupSeconds *int
}

func (c jobSpec) builder(tx *ent.Tx) *ent.ContainerJobCreate {
	b := tx.ContainerJob.Create().SetImage(c.Image).SetNillableTemplateID(c.TemplateID).SetNillableName(c.Name).
		SetNillableWorkingDirectory(c.WorkingDirectory).SetNillableMemoryLimit(c.MemoryLimit).SetNillableCPULimit(c.CPULimit).
		SetNillableTimeoutSeconds(c.TimeoutSeconds).SetNillablePriority(c.Priority).SetNillableMaxRetries(c.MaxRetries).
		SetNillableRetryStrategy(c.RetryStrategy).SetNillableScheduledFor(c.ScheduledFor).
		SetNillablePreferredExecutor(c.PreferredExecutor).SetNillableExecutorType(c.ExecutorType).
		SetNillableIdempotencyKey(c.IdempotencyKey)
	if c.Command != nil {
		b.SetCommand(c.Command)
	}
	if c.Environment != nil {
		b.SetEnvironment(c.Environment)
	}
	if c.Labels != nil {
		b.SetLabels(c.Labels)
	}
	if c.ExecutorMetadata != nil {
		b.SetExecutorMetadata(c.ExecutorMetadata)
	}
	if c.MaxCost != nil {
		b.SetMaxCost(*c.MaxCost)
	}
	b.SetNillableMaxStartupSeconds(c.MaxStartupSeconds)
	return b
}

// resolve copies the template's spec and applies the overrides, so later
// template edits never change this job.
func (d *Dispatcher) resolve(ctx context.Context, in SubmitInput) (jobSpec, error) {
	var c jobSpec
	if in.TemplateID != nil {
		t, err := d.client.ContainerTemplate.Query().Where(containertemplate.ID(*in.TemplateID)).Only(ctx)
		if ent.IsNotFound(err) {
			return c, errs.New(errs.NotFound, "template %s does not exist", *in.TemplateID)
		}
		if err != nil {
			return c, err
		}
		c = jobSpec{TemplateID: &t.ID, Image: t.Image, Command: t.Command, Environment: t.Environment,
			WorkingDirectory: &t.WorkingDirectory, MemoryLimit: t.MemoryLimit, CPULimit: t.CPULimit,
			TimeoutSeconds: &t.TimeoutSeconds, Priority: &t.Priority, MaxRetries: &t.MaxRetries}
	}
	override(&c, in)
	if strings.TrimSpace(c.Image) == "" {
		return c, errs.Invalid("image", "an image is required (or a templateID whose template has one)")
	}
	return c, d.placement(ctx, &c, in)
}

func override(c *jobSpec, in SubmitInput) {
	if in.Name != "" {
		c.Name = &in.Name
	}
	if in.Image != nil {
		c.Image = *in.Image
	}
	if in.Command != nil {
		c.Command = in.Command
	}
	if in.Environment != nil {
		env := st.StringMap{}
		for k, v := range c.Environment {
			env[k] = v
		}
		for k, v := range in.Environment {
			env[k] = v
		}
		c.Environment = env
	}
	set := func(dst **int, v *int) {
		if v != nil {
			*dst = v
		}
	}
	if in.WorkingDirectory != nil {
		c.WorkingDirectory = in.WorkingDirectory
	}
	set(&c.MemoryLimit, in.MemoryLimit)
	set(&c.TimeoutSeconds, in.TimeoutSeconds)
	set(&c.Priority, in.Priority)
	set(&c.MaxRetries, in.MaxRetries)
	if in.CPULimit != nil {
		c.CPULimit = in.CPULimit
	}
	if in.ScheduledFor != nil {
		t := in.ScheduledFor.UTC()
		c.ScheduledFor = &t
	}
	if in.IdempotencyKey != nil {
		c.IdempotencyKey = in.IdempotencyKey
	}
	if in.Labels != nil {
		c.Labels = in.Labels
	}
	if in.MaxCost != nil && in.MaxCost.Valid {
		c.MaxCost = in.MaxCost
	}
	c.MaxStartupSeconds = in.MaxStartupSeconds
	if in.RetryStrategy != nil {
		rs := containerjob.RetryStrategy(*in.RetryStrategy)
		c.RetryStrategy = &rs
	}
}

// placement applies preferredExecutor and hostID, checking they agree.
func (d *Dispatcher) placement(ctx context.Context, c *jobSpec, in SubmitInput) error {
	if in.PreferredExecutor != nil && *in.PreferredExecutor != "" {
		t, err := st.ParseExecutorType(*in.PreferredExecutor)
		if err != nil {
			return errs.Invalid("preferredExecutor", "%v", err)
		}
		c.PreferredExecutor = in.PreferredExecutor
		c.ExecutorType = &t
	}
	if in.HostID == nil {
		return nil
	}
	h, err := d.client.ExecutorHost.Get(ctx, *in.HostID)
	if ent.IsNotFound(err) {
		return errs.New(errs.NotFound, "executor host %s does not exist", *in.HostID)
	}
	if err != nil {
		return err
	}
	if c.PreferredExecutor != nil && *c.PreferredExecutor != "" && *c.PreferredExecutor != string(h.ExecutorType) {
		return errs.Invalid("hostID", "host %s is %s but the job prefers %s", h.Name, h.ExecutorType, *c.PreferredExecutor)
	}
	c.ExecutorMetadata = map[string]any{metaPinnedHost: h.ID.String()}
	return nil
}

// Cancel stops a job: a queued job is cancelled at once; a launched one goes
// to cancelling and becomes cancelled when the executor confirms the
// execution is gone (its host slot is freed only then).
func (d *Dispatcher) Cancel(ctx context.Context, id uuid.UUID, reason string) (*ent.ContainerJob, error) {
	if reason == "" {
		reason = "cancelled by request"
	}
	return d.retryStale(ctx, id, func(j *ent.ContainerJob) (*Change, error) {
		switch {
		case j.Status == st.StatusCancelling:
			return nil, nil // already on its way
		case j.Status == st.StatusPending || j.Status == st.StatusQueued:
			return &Change{Job: j, To: st.StatusCancelled, Reason: reason}, nil
		case holdsSlot(j.Status) || j.Status == st.StatusRetrying:
			return &Change{Job: j, To: st.StatusCancelling, Reason: reason}, nil
		}
		return nil, errs.New(errs.InvalidTransition, "job %s is %s and cannot be cancelled", j.ID, j.Status)
	})
}

// Retry starts a new attempt of a failed, timed-out or cancelled job.
func (d *Dispatcher) Retry(ctx context.Context, id uuid.UUID) (*ent.ContainerJob, error) {
	return d.retryStale(ctx, id, func(j *ent.ContainerJob) (*Change, error) {
		if !Allowed(j.Status, st.StatusQueued, true) {
			return nil, errs.New(errs.InvalidTransition, "job %s is %s; only failed, timeout and cancelled jobs can be retried", j.ID, j.Status)
		}
		next := j.RetryCount + 1
		pinned := j.ExecutorMetadata[metaPinnedHost] != nil
		return &Change{Job: j, To: st.StatusQueued, Explicit: true, Reason: "retried by request",
			Set: func(u *ent.ContainerJobUpdate) {
				u.SetRetryCount(next).ClearExitCode().SetContainerID("").SetExternalExecutionID("").ClearScheduledFor().SetOomKilled(false)
				if !pinned {
					u.ClearDockerHostID()
				}
			}}, nil
	})
}

// retryStale reads the job, asks decide for its change and applies it,
// re-reading when another writer moved the job in between.
func (d *Dispatcher) retryStale(ctx context.Context, id uuid.UUID, decide func(*ent.ContainerJob) (*Change, error)) (*ent.ContainerJob, error) {
	for range 5 {
		j, err := d.client.ContainerJob.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, errs.New(errs.NotFound, "job %s does not exist", id)
		}
		if err != nil {
			return nil, err
		}
		c, err := decide(j)
		if err != nil || c == nil {
			return j, err
		}
		if _, err := d.Transition(ctx, *c); errors.Is(err, ErrStale) {
			continue
		} else if err != nil {
			return nil, err
		}
		return d.client.ContainerJob.Get(ctx, id)
	}
	return nil, errs.New(errs.Conflict, "job %s keeps changing; try again", id)
}

// RouteInput asks to (re)route a queued job: to HostID, or automatically.
type RouteInput struct {
	JobID  uuid.UUID
	HostID *uuid.UUID
	DryRun bool
}

// Route explains where a queued job would go and, unless DryRun, pins it
// to the chosen host (explicit) or unpins it (automatic). Nothing changes
// on a dry run.
func (d *Dispatcher) Route(ctx context.Context, in RouteInput) (*ent.ContainerJob, routing.Decision, error) {
	j, err := d.client.ContainerJob.Query().Where(containerjob.ID(in.JobID)).WithTemplate().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, routing.Decision{}, errs.New(errs.NotFound, "job %s does not exist", in.JobID)
	}
	if err != nil {
		return nil, routing.Decision{}, err
	}
	if j.Status != st.StatusQueued && j.Status != st.StatusPending {
		return nil, routing.Decision{}, errs.New(errs.InvalidTransition, "job %s is %s; only queued jobs can be routed", j.ID, j.Status)
	}
	dec, err := d.decide(ctx, j, in.HostID)
	if err != nil || in.DryRun {
		return j, dec, err
	}
	if in.HostID != nil && dec.Host == nil && !strings.HasPrefix(dec.Reason, "requested host") {
		return nil, dec, errs.Invalid("hostID", "%s", dec.Reason)
	}
	meta := map[string]any{}
	for k, v := range j.ExecutorMetadata {
		meta[k] = v
	}
	delete(meta, metaPinnedHost)
	if in.HostID != nil {
		meta[metaPinnedHost] = in.HostID.String()
	}
	j, err = j.Update().SetExecutorMetadata(meta).SetRoutingReason(truncate(dec.Reason, 200)).Save(ctx)
	if err != nil {
		return nil, dec, fmt.Errorf("route job %s: %w", in.JobID, err)
	}
	d.Wake()
	return j, dec, nil
}

// decide runs the router on the current hosts without changing anything.
func (d *Dispatcher) decide(ctx context.Context, j *ent.ContainerJob, host *uuid.UUID) (routing.Decision, error) {
	tx, err := d.client.Tx(ctx)
	if err != nil {
		return routing.Decision{}, err
	}
	defer tx.Rollback()
	hosts, err := d.hostSnapshot(ctx, tx)
	if err != nil {
		return routing.Decision{}, err
	}
	if host != nil {
		if _, err := tx.ExecutorHost.Get(ctx, *host); ent.IsNotFound(err) {
			return routing.Decision{}, errs.New(errs.NotFound, "executor host %s does not exist", *host)
		}
	}
	rj := routingJob(j)
	rj.HostID = host                    // nil: let the router choose, ignoring any earlier pin
	router, err := d.router(ctx, tx, 0) // a dry run explains every host
	if err != nil {
		return routing.Decision{}, err
	}
	return router.Route(rj, hosts), nil
}
