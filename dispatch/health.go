package dispatch

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/executorhost"
	"github.com/gantry/gantry/ent/schema"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
)

// healthLoop checks every active host, records startup times measured by
// launches, and removes orphaned executions, every HealthEvery.
func (d *Dispatcher) healthLoop(ctx context.Context) error {
	return every(ctx, d.opts.HealthEvery, func() {
		if err := d.checkHosts(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("health checks failed", "err", err)
		}
		if err := d.removeOrphans(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("orphan sweep failed", "err", err)
		}
	})
}

// runnableHosts lists the active hosts this server has a backend for.
func (d *Dispatcher) runnableHosts(ctx context.Context) ([]*ent.ExecutorHost, error) {
	hosts, err := d.client.ExecutorHost.Query().Where(executorhost.IsActive(true)).All(ctx)
	if err != nil {
		return nil, err
	}
	reg := executors.Registered()
	return slices.DeleteFunc(hosts, func(h *ent.ExecutorHost) bool { return !slices.Contains(reg, h.ExecutorType) }), nil
}

// checkHosts runs each host's health check: success stamps
// last_health_check and resets health_check_failures; failure counts one
// more consecutive failure (routing skips a host after three).
func (d *Dispatcher) checkHosts(ctx context.Context) error {
	hosts, err := d.runnableHosts(ctx)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		u := d.client.ExecutorHost.UpdateOneID(h.ID)
		if err := d.health(ctx, h.ID); err != nil {
			d.log.Warn("host unhealthy", "host", h.Name, "err", err)
			u.AddHealthCheckFailures(1)
		} else {
			u.SetLastHealthCheck(d.now()).SetHealthCheckFailures(0)
		}
		if avg, ok := d.takeStartupAverage(h.ID, h.AverageStartupTime); ok {
			u.SetAverageStartupTime(avg)
		}
		if err := u.Exec(ctx); err != nil {
			return fmt.Errorf("record health of %s: %w", h.Name, err)
		}
	}
	return nil
}

func (d *Dispatcher) health(ctx context.Context, host uuid.UUID) error {
	ex, err := d.execs.get(ctx, host)
	if err != nil {
		return err
	}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return ex.Health(hctx)
}

// noteStartup records how long a launch took on host.
func (d *Dispatcher) noteStartup(host uuid.UUID, took time.Duration) {
	d.mu.Lock()
	d.startups[host] = append(d.startups[host], took)
	d.mu.Unlock()
}

// takeStartupAverage folds the launches measured since the last call into
// the host's average (whole seconds, as seed 000 stores it), weighting the
// old average as four samples.
func (d *Dispatcher) takeStartupAverage(host uuid.UUID, old *int) (int, bool) {
	d.mu.Lock()
	samples := d.startups[host]
	delete(d.startups, host)
	d.mu.Unlock()
	if len(samples) == 0 {
		return 0, false
	}
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	avg := sum.Seconds() / float64(len(samples))
	if old != nil {
		avg = (float64(*old)*4 + avg*float64(len(samples))) / float64(4+len(samples))
	}
	return int(avg + 0.5), true
}

// removeOrphans stops and removes executions carrying Gantry labels that no
// live attempt owns: their job is gone, ended, or on another attempt.
func (d *Dispatcher) removeOrphans(ctx context.Context) error {
	hosts, err := d.runnableHosts(ctx)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		ex, err := d.execs.get(ctx, h.ID)
		if err != nil {
			continue
		}
		_, remote := ex.(executors.RateLimited)
		if remote && !d.sweepDue(h.ID) {
			continue
		}
		list, err := ex.List(ctx, nil)
		if err != nil {
			d.log.Warn("list executions failed", "host", h.Name, "err", err)
			continue
		}
		for _, e := range list {
			// A provider keeps ended executions as history and expires
			// them itself: stopping them again only spends API quota.
			if remote && e.Status.Ended() {
				continue
			}
			if d.orphan(ctx, e, keepFailedOf(h, d.opts.KeepFailed)) {
				d.log.Info("removing orphaned execution", "host", h.Name, "execution", e.ID, "job", e.JobID)
				_ = ex.Stop(ctx, e.ID, d.opts.StopGrace)
				if err := ex.Cleanup(ctx, e.ID); err != nil {
					d.log.Warn("remove orphan failed", "execution", e.ID, "err", err)
				}
			}
		}
	}
	return nil
}

// orphan reports whether no live attempt owns execution e. Ended
// executions of ended jobs are left to the watcher's cleanup; those of
// failed jobs are kept for keep.
func (d *Dispatcher) orphan(ctx context.Context, e executors.Execution, keep time.Duration) bool {
	j, err := d.client.ContainerJob.Query().Where(containerjob.ID(e.JobID)).
		Select(containerjob.FieldStatus, containerjob.FieldRetryCount, containerjob.FieldUpdatedAt).Only(schema.Trusted(ctx))
	if ent.IsNotFound(err) {
		return true
	}
	if err != nil {
		return false
	}
	if holdsSlot(j.Status) && j.RetryCount == e.Attempt {
		return false
	}
	// Give the watcher time to harvest an attempt that just ended, and keep
	// failed executions for inspection as long as configured.
	grace := d.opts.HealthEvery
	if (j.Status == st.StatusFailed || j.Status == st.StatusTimeout) && j.RetryCount == e.Attempt {
		grace = max(grace, keep)
	}
	return j.Status != st.StatusRetrying && time.Since(j.UpdatedAt) > grace
}

// cloudSweepEvery is how many health periods pass between orphan sweeps of
// a cloud host: listing a provider's executions spends API quota, and an
// orphan there costs money slowly, not a local slot.
const cloudSweepEvery = 10

// sweepDue reports whether a cloud host's orphan sweep is due, and if so
// records it as done now.
func (d *Dispatcher) sweepDue(host uuid.UUID) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if last, ok := d.swept[host]; ok && time.Since(last) < cloudSweepEvery*d.opts.HealthEvery {
		return false
	}
	d.swept[host] = time.Now()
	return true
}

// keepFailedOf is h's keep period: its executor_config override, else def.
func keepFailedOf(h *ent.ExecutorHost, def time.Duration) time.Duration {
	secs, err := executors.Number(h.ExecutorConfig, executors.KeepFailedKey)
	if err != nil || h.ExecutorConfig[executors.KeepFailedKey] == nil {
		return def
	}
	return time.Duration(secs * float64(time.Second))
}

// keepFailed is the keep period of host id.
func (d *Dispatcher) keepFailed(ctx context.Context, id uuid.UUID) time.Duration {
	h, err := d.execs.host(ctx, id)
	if err != nil {
		return d.opts.KeepFailed
	}
	return keepFailedOf(h, d.opts.KeepFailed)
}
