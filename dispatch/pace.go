package dispatch

import (
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	st "github.com/gantry/gantry/ent/schematype"
)

// pacer spaces out status checks of executions at cloud providers, whose
// APIs are rate-limited: a job is checked again after a gap that doubles
// from RemotePoll up to RemotePollMax (a job whose status changed, such as
// a cancel request, is checked at once), and a host whose API throttled is
// left alone until its pause ends.
type pacer struct {
	first, max time.Duration

	mu    sync.Mutex
	jobs  map[uuid.UUID]jobPace
	hosts map[uuid.UUID]hostPause
}

type jobPace struct {
	next   time.Time
	gap    time.Duration
	status st.JobStatus // the job's status when last checked
}

type hostPause struct {
	until time.Time
	gap   time.Duration
}

// Host pauses after throttling double from 1 s up to a minute.
const (
	minThrottlePause = time.Second
	maxThrottlePause = time.Minute
)

func newPacer(first, max time.Duration) *pacer {
	return &pacer{first: first, max: max, jobs: map[uuid.UUID]jobPace{}, hosts: map[uuid.UUID]hostPause{}}
}

// due reports whether j should be checked now.
func (p *pacer) due(j *ent.ContainerJob, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if j.DockerHostID != nil && now.Before(p.hosts[*j.DockerHostID].until) {
		return false
	}
	jp, ok := p.jobs[j.ID]
	return !ok || jp.status != j.Status || !now.Before(jp.next)
}

// checked records a check that found j still running. The next check
// comes no later than deadline (the job's timeout), so it is enforced on
// time; a job being stopped (cancelling, or past its deadline) is checked
// every first gap, so the stop is confirmed promptly.
func (p *pacer) checked(j *ent.ContainerJob, now, deadline time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	jp := p.jobs[j.ID]
	stopping := j.Status == st.StatusCancelling || (!deadline.IsZero() && !now.Before(deadline))
	gap := p.first
	if jp.status == j.Status && jp.gap > 0 && !stopping {
		gap = min(p.max, jp.gap*2)
	}
	next := now.Add(gap)
	if deadline.After(now) && next.After(deadline) {
		next = deadline
	}
	p.jobs[j.ID] = jobPace{next: next, gap: gap, status: j.Status}
	if j.DockerHostID != nil {
		h := p.hosts[*j.DockerHostID]
		h.gap = 0 // the host answers again: the next throttle starts small
		p.hosts[*j.DockerHostID] = h
	}
}

// throttled pauses every check on host, for at least after.
func (p *pacer) throttled(host uuid.UUID, now time.Time, after time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.hosts[host]
	h.gap = min(maxThrottlePause, max(minThrottlePause, h.gap*2))
	pause := max(h.gap, after)
	h.until = now.Add(pause)
	p.hosts[host] = h
	return pause
}

// keep forgets the jobs not in watched (they ended or moved elsewhere).
func (p *pacer) keep(watched []*ent.ContainerJob) {
	ids := make(map[uuid.UUID]bool, len(watched))
	for _, j := range watched {
		ids[j.ID] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for id := range p.jobs {
		if !ids[id] {
			delete(p.jobs, id)
		}
	}
}
