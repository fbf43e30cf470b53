// Package routing decides which executor host a job runs on. It is pure:
// it sees snapshots of a job and the hosts, touches no database, and
// explains every decision (each candidate, eligible or not, and why).
package routing

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/gantry/gantry/ent/schematype"
)

// Host is a snapshot of an executor host.
type Host struct {
	ID             uuid.UUID
	Name           string
	Type           schematype.ExecutorType
	Active         bool
	Current        int
	Max            int
	HealthFailures int
	Weight         int
	// Runnable says this server has a backend for the host's type.
	Runnable    bool
	CostPerHour schematype.Decimal
	CostPerJob  schematype.Decimal
}

// Estimate is what a job costs on h if it runs for seconds: the host's
// per-job price plus its hourly price pro rata. Invalid (unknown) when the
// host has no prices.
func Estimate(h Host, seconds int) schematype.Decimal {
	if !h.CostPerHour.Valid && !h.CostPerJob.Valid {
		return schematype.Decimal{}
	}
	total := decimal.Zero
	if h.CostPerJob.Valid {
		total = total.Add(h.CostPerJob.Decimal)
	}
	if h.CostPerHour.Valid {
		total = total.Add(h.CostPerHour.Decimal.Mul(decimal.NewFromInt(int64(seconds))).Div(decimal.NewFromInt(3600)))
	}
	return schematype.NewDecimal(total)
}

// Free is the number of open slots.
func (h Host) Free() int { return max(0, h.Max-h.Current) }

// Job is what routing needs to know about a job.
type Job struct {
	ID                 uuid.UUID
	HostID             *uuid.UUID // explicit placement
	PreferredExecutor  string
	SupportedExecutors []string // from the template; empty: any
}

// Candidate is one host considered for a job.
type Candidate struct {
	Host     Host
	Eligible bool
	Reason   string
	Score    float64
}

// Decision is where a job goes, or why it goes nowhere yet.
type Decision struct {
	Host       *Host
	Reason     string
	Candidates []Candidate
}

// Router chooses a host for a job.
type Router interface {
	Route(job Job, hosts []Host) Decision
}

// UnhealthyAfter consecutive failed health checks exclude a host.
const UnhealthyAfter = 3

// Simple is the default policy: an explicit host, else hosts of the
// preferred executor type, else any usable host; among eligible hosts the
// one with most free slots wins, then higher weight, then name and id, so
// decisions are deterministic.
type Simple struct{}

// Route implements Router.
func (Simple) Route(job Job, hosts []Host) Decision {
	cands := make([]Candidate, 0, len(hosts))
	for _, h := range hosts {
		reason := ineligible(job, h)
		c := Candidate{Host: h, Eligible: reason == "", Reason: reason}
		if c.Eligible {
			c.Score = float64(h.Free())*1000 + float64(h.Weight)
			c.Reason = fmt.Sprintf("eligible: %d free of %d, weight %d", h.Free(), h.Max, h.Weight)
		}
		cands = append(cands, c)
	}
	sort.SliceStable(cands, func(i, j int) bool { return better(cands[i], cands[j]) })
	d := Decision{Candidates: cands}
	if len(cands) == 0 || !cands[0].Eligible {
		d.Reason = noHostReason(job, cands)
		return d
	}
	best := cands[0].Host
	d.Host = &best
	d.Reason = placedReason(job, best)
	return d
}

func better(a, b Candidate) bool {
	if a.Eligible != b.Eligible {
		return a.Eligible
	}
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if a.Host.Name != b.Host.Name {
		return a.Host.Name < b.Host.Name
	}
	return a.Host.ID.String() < b.Host.ID.String()
}

// ineligible returns why h cannot take job now, or "".
func ineligible(job Job, h Host) string {
	switch {
	case job.HostID != nil && *job.HostID != h.ID:
		return "not the requested host"
	case job.PreferredExecutor != "" && job.PreferredExecutor != string(h.Type):
		return fmt.Sprintf("job prefers %s, host is %s", job.PreferredExecutor, h.Type)
	case job.PreferredExecutor == "" && len(job.SupportedExecutors) > 0 && !slices.Contains(job.SupportedExecutors, string(h.Type)):
		return fmt.Sprintf("template supports %s, not %s", strings.Join(job.SupportedExecutors, ", "), h.Type)
	case !h.Runnable:
		return fmt.Sprintf("no %s backend on this server", h.Type)
	case !h.Active:
		return "host is inactive"
	case h.HealthFailures >= UnhealthyAfter:
		return fmt.Sprintf("unhealthy: %d consecutive failed health checks", h.HealthFailures)
	case h.Free() == 0:
		return fmt.Sprintf("at capacity: %d of %d slots in use", h.Current, h.Max)
	}
	return ""
}

func placedReason(job Job, h Host) string {
	switch {
	case job.HostID != nil:
		return fmt.Sprintf("explicit host %s", h.Name)
	case job.PreferredExecutor != "":
		return fmt.Sprintf("preferred executor %s: %s has %d free slots", job.PreferredExecutor, h.Name, h.Free())
	}
	return fmt.Sprintf("default policy: %s (%s) has the most free slots (%d)", h.Name, h.Type, h.Free())
}

func noHostReason(job Job, cands []Candidate) string {
	if len(cands) == 0 {
		return "no executor hosts registered"
	}
	if job.HostID != nil {
		for _, c := range cands {
			if c.Host.ID == *job.HostID {
				return fmt.Sprintf("requested host %s: %s", c.Host.Name, c.Reason)
			}
		}
		return "requested host does not exist"
	}
	full := 0
	for _, c := range cands {
		if strings.HasPrefix(c.Reason, "at capacity") && c.Host.Runnable {
			full++
		}
	}
	if full > 0 {
		return fmt.Sprintf("waiting for capacity: %d usable host(s) full", full)
	}
	for _, c := range cands {
		if !typeMismatch(c.Reason) {
			return fmt.Sprintf("no eligible host: %s: %s", c.Host.Name, c.Reason)
		}
	}
	return "no eligible host: " + cands[0].Reason
}

func typeMismatch(reason string) bool {
	return strings.HasPrefix(reason, "job prefers") || strings.HasPrefix(reason, "template supports")
}
