package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/schematype"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/routing"
)

// watchLoop follows the jobs this replica owns until they end.
func (d *Dispatcher) watchLoop(ctx context.Context) error {
	return every(ctx, d.opts.PollInterval, func() {
		if err := d.watchOnce(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("watch failed", "err", err)
		}
	})
}

func (d *Dispatcher) watchOnce(ctx context.Context) error {
	since := time.Now()
	d.forgetSettled(since.Add(-time.Minute))
	jobs, err := d.watched(ctx)
	if err != nil {
		return err
	}
	d.pace.keep(jobs)
	// Checks call the executor (inspect, logs): run them side by side so
	// one slow host or harvest does not hold up the rest.
	var g errgroup.Group
	g.SetLimit(16)
	for _, j := range jobs {
		if d.busy(j, since) {
			continue
		}
		d.settle(j)
		g.Go(func() error {
			if o, ok := d.check(ctx, j); ok {
				d.send(ctx, o)
			} else {
				d.unsettle(j)
			}
			return nil
		})
	}
	return g.Wait()
}

func (d *Dispatcher) unsettle(j *ent.ContainerJob) {
	d.mu.Lock()
	delete(d.settling, j.ID)
	d.mu.Unlock()
}

// busy reports whether j has a launch in flight, an outcome waiting for the
// completer, or one applied after this pass read its row: checking it would
// only produce a stale duplicate.
func (d *Dispatcher) busy(j *ent.ContainerJob, since time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.launching[j.ID] || d.settling[j.ID] || !d.settledAt[j.ID].Before(since)
}

func (d *Dispatcher) forgetSettled(before time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, t := range d.settledAt {
		if t.Before(before) {
			delete(d.settledAt, id)
		}
	}
}

func (d *Dispatcher) settle(j *ent.ContainerJob) {
	d.mu.Lock()
	d.settling[j.ID] = true
	d.mu.Unlock()
}

// check decides a watched job's next step, if it has one now.
func (d *Dispatcher) check(ctx context.Context, j *ent.ContainerJob) (outcome, bool) {
	execID := j.ExecutionIdentifier()
	if j.Status == st.StatusLaunching {
		// Taken over from a replica that died mid-launch: launching again
		// is safe, executors find the attempt's existing execution.
		d.startLaunch(ctx, j)
		return outcome{}, false
	}
	if execID == "" {
		if j.Status == st.StatusCancelling {
			return outcome{change: Change{Job: j, To: st.StatusCancelled, Reason: "cancelled before launch"}}, true
		}
		return outcome{change: d.failure(j, errors.New("no execution id recorded"), "watch")}, true
	}
	ex, err := d.execs.get(ctx, *j.DockerHostID)
	if err != nil {
		return outcome{change: d.failure(j, err, "watch")}, true
	}
	_, paced := ex.(executors.RateLimited)
	if paced && !d.pace.due(j, d.now()) {
		return outcome{}, false
	}
	status, err := ex.Status(ctx, execID)
	if errors.Is(err, executors.ErrNotFound) {
		return d.vanished(j), true
	}
	if after, ok := executors.IsThrottled(err); ok {
		pause := d.pace.throttled(*j.DockerHostID, d.now(), after)
		d.log.Warn("provider throttled status checks; pausing the host's checks", "host", j.DockerHostID, "pause", pause, "err", err)
		return outcome{}, false
	}
	if err != nil {
		d.log.Warn("status check failed", "job", j.ID, "err", err)
		return outcome{}, false
	}
	if status.Ended() {
		return d.finished(ctx, j, ex, execID, status), true
	}
	if paced {
		d.pace.checked(j, d.now(), d.deadline(j))
	}
	d.sampleUsage(ctx, j.ID, ex, execID)
	d.enforce(ctx, j, ex, execID)
	return outcome{}, false
}

// vanished handles an execution the executor no longer knows.
func (d *Dispatcher) vanished(j *ent.ContainerJob) outcome {
	if j.Status == st.StatusCancelling {
		return outcome{change: Change{Job: j, To: st.StatusCancelled, Reason: "execution gone"}}
	}
	return outcome{change: d.failure(j, executors.TransientError(errors.New("execution vanished")), "watch")}
}

// deadline is when j's timeout falls due (zero when it is not running).
func (d *Dispatcher) deadline(j *ent.ContainerJob) time.Time {
	if j.Status != st.StatusRunning || j.StartedAt == nil {
		return time.Time{}
	}
	return j.StartedAt.Add(time.Duration(j.TimeoutSeconds) * time.Second)
}

// enforce stops executions that were cancelled or ran past their timeout.
func (d *Dispatcher) enforce(ctx context.Context, j *ent.ContainerJob, ex executors.Executor, execID string) {
	dl := d.deadline(j)
	timedOut := !dl.IsZero() && d.now().After(dl)
	if j.Status != st.StatusCancelling && !timedOut {
		return
	}
	d.mu.Lock()
	last, asked := d.stopping[j.ID]
	// Ask again after the grace period in case the first request was lost.
	if asked && time.Since(last) < d.opts.StopGrace+5*time.Second {
		d.mu.Unlock()
		return
	}
	d.stopping[j.ID] = time.Now()
	d.mu.Unlock()
	go func() {
		if err := ex.Stop(ctx, execID, d.opts.StopGrace); err != nil && !errors.Is(err, executors.ErrNotFound) {
			d.log.Warn("stop failed", "job", j.ID, "err", err)
		}
	}()
}

// finished harvests an ended execution and picks the job's final status.
// Cancel and timeout become final only now, with proof the execution ended.
func (d *Dispatcher) finished(ctx context.Context, j *ent.ContainerJob, ex executors.Executor, execID string, s executors.Status) outcome {
	logs, err := ex.Logs(ctx, execID)
	if err != nil {
		d.log.Warn("harvest logs failed", "job", j.ID, "err", err)
	}
	if peak, cpu := d.takeUsage(j.ID); peak > s.PeakMemoryBytes || (s.CPUPercent == 0 && cpu > 0) {
		s.PeakMemoryBytes = max(s.PeakMemoryBytes, peak)
		if s.CPUPercent == 0 {
			s.CPUPercent = cpu
		}
	}
	set := func(u *ent.ContainerJobUpdate) {
		u.SetStdoutLog(tail(logs.Stdout, d.opts.LogCap)).SetStderrLog(tail(logs.Stderr, d.opts.LogCap)).SetOomKilled(s.OOMKilled)
		if s.ExitCode != nil {
			u.SetExitCode(*s.ExitCode)
		}
		if s.PeakMemoryBytes > 0 {
			u.SetMaxMemoryUsage(s.PeakMemoryBytes)
		}
		if s.CPUPercent > 0 {
			u.SetCPUUsagePercent(s.CPUPercent)
		}
	}
	c := d.endChange(j, s)
	// Cleanup policy: remove at once on success (and cancel); keep a failed
	// or timed-out execution for the host's keep period so it can be
	// inspected — the orphan sweep removes it afterwards.
	keep := (c.To == st.StatusFailed || c.To == st.StatusTimeout) && d.keepFailed(ctx, *j.DockerHostID) > 0
	after := func() {
		d.mu.Lock()
		delete(d.stopping, j.ID)
		d.mu.Unlock()
		if keep {
			return
		}
		if err := ex.Cleanup(context.WithoutCancel(ctx), execID); err != nil {
			d.log.Warn("cleanup failed", "job", j.ID, "err", err)
		}
	}
	prev := c.Set
	cost := d.actualCost(ctx, j, s)
	c.Set = func(u *ent.ContainerJobUpdate) {
		set(u)
		if cost.Valid {
			u.SetActualCost(cost)
		}
		if prev != nil {
			prev(u)
		}
	}
	return outcome{change: c, after: after}
}

func (d *Dispatcher) endChange(j *ent.ContainerJob, s executors.Status) Change {
	d.mu.Lock()
	_, stopped := d.stopping[j.ID]
	d.mu.Unlock()
	switch {
	case j.Status == st.StatusCancelling:
		return Change{Job: j, To: st.StatusCancelled, Reason: "cancelled: execution ended"}
	case stopped:
		return Change{Job: j, To: st.StatusTimeout, Reason: fmt.Sprintf("timed out after %ds", j.TimeoutSeconds)}
	case s.State == executors.StateFailed:
		return d.failure(j, &executors.ClassError{Class: orTransient(s.Class), Err: errors.New(s.Reason)}, "execution")
	case s.ExitCode != nil && *s.ExitCode == 0:
		return Change{Job: j, To: st.StatusCompleted, Reason: "exited 0"}
	}
	reason := "exited without a code"
	if s.ExitCode != nil {
		reason = fmt.Sprintf("exited %d", *s.ExitCode)
	}
	if s.OOMKilled {
		reason += " (OOM killed)"
	}
	return Change{Job: j, To: st.StatusFailed, Reason: reason, Set: func(u *ent.ContainerJobUpdate) {
		u.SetLastError(reason).SetLastErrorAt(d.now())
	}}
}

// actualCost prices the measured run time at the host's prices.
func (d *Dispatcher) actualCost(ctx context.Context, j *ent.ContainerJob, s executors.Status) schematype.Decimal {
	h, err := d.execs.host(ctx, *j.DockerHostID)
	if err != nil {
		return schematype.Decimal{}
	}
	start, end := s.StartedAt, s.FinishedAt
	if start.IsZero() && j.StartedAt != nil {
		start = *j.StartedAt
	}
	if end.IsZero() || end.Before(start) {
		end = d.now()
	}
	secs := int(end.Sub(start).Round(time.Second) / time.Second)
	if end.Sub(start) > 0 && secs == 0 {
		secs = 1 // bill started seconds
	}
	cores, mem := requested(j)
	return routing.EstimateJob(d.routingHost(h), cores, mem, secs)
}

func orTransient(c executors.FailureClass) executors.FailureClass {
	if c == "" {
		return executors.Transient
	}
	return c
}

// tail keeps the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
