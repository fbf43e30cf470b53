package dispatch

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/schema"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
)

// executorCache keeps one Executor per host, rebuilt when the host changes.
type executorCache struct {
	client *ent.Client
	mu     sync.Mutex
	byHost map[uuid.UUID]cachedExec
}

type cachedExec struct {
	exec    executors.Executor
	host    *ent.ExecutorHost
	updated time.Time
}

func newExecutorCache(c *ent.Client) *executorCache {
	return &executorCache{client: c, byHost: map[uuid.UUID]cachedExec{}}
}

// get returns the executor of host id, loading the host when needed.
func (c *executorCache) get(ctx context.Context, id uuid.UUID) (executors.Executor, error) {
	ce, err := c.entry(ctx, id)
	return ce.exec, err
}

// host returns host id's row as last loaded (at most 5 s old).
func (c *executorCache) host(ctx context.Context, id uuid.UUID) (*ent.ExecutorHost, error) {
	ce, err := c.entry(ctx, id)
	return ce.host, err
}

func (c *executorCache) entry(ctx context.Context, id uuid.UUID) (cachedExec, error) {
	c.mu.Lock()
	ce, ok := c.byHost[id]
	c.mu.Unlock()
	if ok && time.Since(ce.updated) < 5*time.Second {
		return ce, nil
	}
	h, err := c.client.ExecutorHost.Get(ctx, id)
	if err != nil {
		return cachedExec{}, fmt.Errorf("load host %s: %w", id, err)
	}
	ex := ce.exec
	// Rebuild the executor only when what it was built from changed, not
	// on every health-check stamp.
	if !ok || !reflect.DeepEqual(HostOf(h), HostOf(ce.host)) {
		if ex, err = executors.New(HostOf(h)); err != nil {
			return cachedExec{}, executors.PermanentError(fmt.Errorf("host %s: %w", h.Name, err))
		}
		retire(ce.exec)
	}
	ce = cachedExec{exec: ex, host: h, updated: time.Now()}
	c.mu.Lock()
	c.byHost[id] = ce
	c.mu.Unlock()
	return ce, nil
}

// retireAfter is how long a replaced executor stays open for the calls
// still using it before its connections are closed.
const retireAfter = time.Minute

// retire closes a replaced executor's connections (API clients, gRPC
// channels) once the calls in flight on it have had time to finish.
func retire(old executors.Executor) {
	if c, ok := old.(io.Closer); ok {
		time.AfterFunc(retireAfter, func() { _ = c.Close() })
	}
}

// Executor returns the executor of a host, as the dispatcher uses it.
func (d *Dispatcher) Executor(ctx context.Context, host uuid.UUID) (executors.Executor, error) {
	return d.execs.get(ctx, host)
}

// HostOf converts a host row for executors.
func HostOf(h *ent.ExecutorHost) executors.Host {
	return executors.Host{ID: h.ID, Name: h.Name, Type: h.ExecutorType, ConnectionString: h.ConnectionString,
		TLSEnabled: h.TLSEnabled, TLSVerify: h.TLSVerify, AutoPullImages: h.AutoPullImages, Config: h.ExecutorConfig}
}

// SpecOf is a job attempt's container spec.
func SpecOf(j *ent.ContainerJob) executors.Spec {
	s := executors.Spec{JobID: j.ID, Attempt: j.RetryCount, Name: j.Name, Image: j.Image, Command: j.Command,
		WorkingDir: j.WorkingDirectory, Env: j.Environment, Timeout: time.Duration(j.TimeoutSeconds) * time.Second, Labels: j.Labels}
	if j.MemoryLimit != nil {
		s.MemoryMB = *j.MemoryLimit
	}
	if j.CPULimit != nil {
		s.CPU = *j.CPULimit
	}
	return s
}

// outcome is a change the completer applies, with work to do after commit.
type outcome struct {
	change Change
	after  func()
}

// startLaunch launches j outside any transaction, bounded by LaunchConcurrency.
func (d *Dispatcher) startLaunch(ctx context.Context, j *ent.ContainerJob) {
	d.mu.Lock()
	if d.launching[j.ID] {
		d.mu.Unlock()
		return
	}
	d.launching[j.ID] = true
	d.mu.Unlock()
	go func() {
		select {
		case d.launchSem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-d.launchSem }()
		d.send(ctx, d.launch(ctx, j))
	}()
}

func (d *Dispatcher) send(ctx context.Context, o outcome) {
	select {
	case d.outcomes <- o:
	case <-ctx.Done():
	}
}

func (d *Dispatcher) doneLaunching(id uuid.UUID) {
	d.mu.Lock()
	delete(d.launching, id)
	d.settledAt[id] = time.Now()
	d.mu.Unlock()
}

// launch runs the executor and turns its answer into the job's next change.
func (d *Dispatcher) launch(ctx context.Context, j *ent.ContainerJob) outcome {
	after := func() { d.doneLaunching(j.ID) }
	ex, err := d.execs.get(ctx, *j.DockerHostID)
	if err != nil {
		return outcome{change: d.failure(j, err, "launch"), after: after}
	}
	start := time.Now()
	spec := SpecOf(j)
	id, err := ex.Launch(ctx, spec)
	if err != nil {
		d.tripBreaker(ctx, *j.DockerHostID, err)
		return outcome{change: d.failure(j, err, "launch"), after: after}
	}
	d.noteStartup(*j.DockerHostID, time.Since(start))
	d.log.Debug("launched", "job", j.ID, "attempt", j.RetryCount, "host", *j.DockerHostID, "execution", id, "took", time.Since(start))
	now := d.now()
	meta := described(j, ex, spec, id)
	return outcome{
		change: Change{Job: j, To: st.StatusRunning, ExecutionID: id, Reason: "launched on " + string(j.ExecutorType),
			Set: func(u *ent.ContainerJobUpdate) {
				u.SetLaunchedAt(now)
				if meta != nil {
					u.SetExecutorMetadata(meta)
				}
			}},
		after: after,
	}
}

// described is j's executor_metadata with where the execution lives (region,
// resource names, console URL) under "execution", for backends that say.
func described(j *ent.ContainerJob, ex executors.Executor, spec executors.Spec, id string) map[string]any {
	dsc, ok := ex.(executors.Describer)
	if !ok {
		return nil
	}
	meta := make(map[string]any, len(j.ExecutorMetadata)+1)
	for k, v := range j.ExecutorMetadata {
		meta[k] = v
	}
	meta["execution"] = dsc.Describe(spec, id)
	return meta
}

// tripBreaker counts an infrastructure-class launch failure against the
// host, like a failed health check: after three in a row routing stops
// sending it jobs (they spill to other hosts) until a health check passes.
func (d *Dispatcher) tripBreaker(ctx context.Context, host uuid.UUID, err error) {
	if executors.ClassOf(err) != executors.Transient {
		return // the job's fault, not the host's
	}
	if uerr := d.client.ExecutorHost.UpdateOneID(host).AddHealthCheckFailures(1).Exec(ctx); uerr != nil {
		d.log.Warn("record launch failure on host", "host", host, "err", uerr)
	}
}

// failure turns an error into a retry (transient, retries left) or a
// failure, with the reason in last_error.
func (d *Dispatcher) failure(j *ent.ContainerJob, err error, stage string) Change {
	class := executors.ClassOf(err)
	msg := fmt.Sprintf("%s failed (%s): %v", stage, class, err)
	now := d.now()
	setErr := func(u *ent.ContainerJobUpdate) { u.SetLastError(truncate(msg, 4000)).SetLastErrorAt(now) }
	if class == executors.Transient && j.RetryCount < j.MaxRetries {
		return Change{Job: j, To: st.StatusRetrying, Reason: msg, Set: setErr}
	}
	if class == executors.Transient {
		msg = fmt.Sprintf("%s; no retries left (%d of %d)", msg, j.RetryCount, j.MaxRetries)
	}
	return Change{Job: j, To: st.StatusFailed, Reason: msg, Set: setErr}
}

// completeLoop applies outcomes in batches: one transaction carries many
// jobs' transitions, which is what lets PostgreSQL keep up.
func (d *Dispatcher) completeLoop(ctx context.Context) error {
	const maxBatch = 256
	for {
		var batch []outcome
		select {
		case <-ctx.Done():
			return nil
		case o := <-d.outcomes:
			batch = append(batch, o)
		}
		deadline := time.After(2 * time.Millisecond)
	fill:
		for len(batch) < maxBatch {
			select {
			case o := <-d.outcomes:
				batch = append(batch, o)
			case <-deadline:
				break fill
			}
		}
		d.flush(ctx, batch)
	}
}

// flush applies a batch in one transaction. Outcomes whose job moved
// meanwhile are skipped, not allowed to roll back the others, and resolved
// after the commit.
func (d *Dispatcher) flush(ctx context.Context, batch []outcome) {
	defer d.settled(batch)
	var stale []Change
	_, err := d.transition(ctx, expand(batch, d), &stale)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("batch transition failed", "jobs", len(batch), "err", err)
		}
		return
	}
	for _, c := range stale {
		d.resolveConflict(ctx, c)
	}
	runAfter(batch)
}

// settled records that the batch's outcomes are applied. The time is kept:
// a watcher pass whose read began before it must not act on the old rows.
func (d *Dispatcher) settled(batch []outcome) {
	now := time.Now()
	d.mu.Lock()
	for _, o := range batch {
		delete(d.settling, o.change.Job.ID)
		d.settledAt[o.change.Job.ID] = now
	}
	d.mu.Unlock()
}

func runAfter(batch []outcome) {
	for _, o := range batch {
		if o.after != nil {
			o.after()
		}
	}
}

// expand adds the implied second step of a retry: retrying -> queued with
// the backoff as scheduled_for and the attempt counted.
func expand(batch []outcome, d *Dispatcher) []Change {
	out := make([]Change, 0, len(batch))
	for _, o := range batch {
		c := o.change
		out = append(out, c)
		if c.To == st.StatusRetrying {
			out = append(out, d.requeue(c.Job))
		}
	}
	return out
}

// requeue is the retrying -> queued step.
func (d *Dispatcher) requeue(j *ent.ContainerJob) Change {
	delay := Backoff(j.RetryStrategy.String(), j.RetryCount, d.opts.RetryBase)
	at := d.now().Add(delay)
	next := j.RetryCount + 1
	pinned := j.ExecutorMetadata[metaPinnedHost] != nil
	// The next attempt prefers another host than the one that just failed
	// (a spill to the next eligible backend), unless the job is pinned.
	meta := make(map[string]any, len(j.ExecutorMetadata)+1)
	for k, v := range j.ExecutorMetadata {
		meta[k] = v
	}
	if j.DockerHostID != nil {
		meta[metaAvoidHost] = j.DockerHostID.String()
	}
	return Change{Job: j, To: st.StatusQueued, Reason: fmt.Sprintf("retry %d of %d in %s", next, j.MaxRetries, delay.Round(time.Millisecond)),
		Set: func(u *ent.ContainerJobUpdate) {
			u.SetRetryCount(next).SetScheduledFor(at).SetContainerID("").SetExternalExecutionID("").ClearExitCode().
				SetExecutorMetadata(meta)
			if !pinned {
				u.ClearDockerHostID()
			}
		}}
}

// resolveConflict handles an outcome whose job moved meanwhile. The one
// case that matters: a launch finished after the job was cancelled — the
// execution id must still be recorded so the watcher can stop it.
func (d *Dispatcher) resolveConflict(ctx context.Context, c Change) {
	if c.ExecutionID == "" {
		d.log.Debug("stale transition dropped", "job", c.Job.ID, "to", c.To)
		return
	}
	u := d.client.ContainerJob.UpdateOneID(c.Job.ID)
	if c.Job.ExecutorType == st.ExecutorDocker {
		u.SetContainerID(c.ExecutionID)
	} else {
		u.SetExternalExecutionID(c.ExecutionID)
	}
	if err := u.Exec(schema.Trusted(ctx)); err != nil {
		d.log.Error("record execution id of a cancelled launch", "job", c.Job.ID, "err", err)
	}
}
