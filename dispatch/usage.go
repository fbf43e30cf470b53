package dispatch

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/executors"
)

// usageEvery spaces resource readings of one running execution.
const usageEvery = time.Second

// usageTrack is what the watcher learned of a running execution's usage.
type usageTrack struct {
	peak        int64
	first, last executors.Usage
}

// sampleUsage reads usage from backends that report it, at most every
// usageEvery per job, keeping the peak memory and the CPU time span.
func (d *Dispatcher) sampleUsage(ctx context.Context, job uuid.UUID, ex executors.Executor, execID string) {
	ur, ok := ex.(executors.UsageReader)
	if !ok {
		return
	}
	d.mu.Lock()
	tr := d.usage[job]
	due := tr == nil || time.Since(tr.last.At) >= usageEvery
	d.mu.Unlock()
	if !due {
		return
	}
	u, err := ur.Usage(ctx, execID)
	if err != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if tr = d.usage[job]; tr == nil {
		tr = &usageTrack{first: u}
		d.usage[job] = tr
	}
	tr.last = u
	tr.peak = max(tr.peak, u.MemoryBytes)
}

// takeUsage returns and forgets a job's peak memory and average CPU use
// (percent of one core) between its first and last readings.
func (d *Dispatcher) takeUsage(job uuid.UUID) (peak int64, cpuPercent float64) {
	d.mu.Lock()
	tr := d.usage[job]
	delete(d.usage, job)
	d.mu.Unlock()
	if tr == nil {
		return 0, 0
	}
	if span := tr.last.At.Sub(tr.first.At); span > 0 && tr.last.CPUNanos > tr.first.CPUNanos {
		cpuPercent = float64(tr.last.CPUNanos-tr.first.CPUNanos) / float64(span.Nanoseconds()) * 100
	}
	return tr.peak, cpuPercent
}
