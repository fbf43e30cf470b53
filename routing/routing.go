// Package routing decides which executor host a job runs on. It is pure:
// it sees snapshots of a job and the hosts, touches no database, and
// explains every decision (each candidate, eligible or not, and why).
package routing

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr/vm"
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
	AvgStartup  int     // seconds
	MemoryMB    int     // largest job memory accepted; 0: no limit
	CPU         float64 // most cores per job; 0: no limit
	// Price is the provider's price model, used when the host has no fixed
	// prices (cost_per_hour / cost_per_job).
	Price *Price
	// Size is the size the provider runs (and bills) a request at: the
	// smallest offered size that fits, the host's default for unset (0)
	// limits. Nil: as requested, 1 core and 512 MiB when unset.
	Size func(cores float64, memoryMB int) (float64, int)

	// Prices in 1/10000 USD, filled in once per snapshot by Route.
	prepared          bool
	priced            bool
	perHour4, perJob4 int64
}

// prepare converts the host's decimal prices to integers once, so deciding
// for many jobs over one snapshot does no decimal arithmetic per host.
func (h *Host) prepare() {
	if h.prepared {
		return
	}
	h.prepared = true
	h.priced = h.CostPerHour.Valid || h.CostPerJob.Valid
	if h.CostPerHour.Valid {
		h.perHour4 = h.CostPerHour.NullDecimal.Decimal.Shift(4).IntPart()
	}
	if h.CostPerJob.Valid {
		h.perJob4 = h.CostPerJob.NullDecimal.Decimal.Shift(4).IntPart()
	}
}

// costKey is the estimate for seconds of run time in 1/10000 USD (rounded).
func (h *Host) costKey(seconds int) int64 {
	return h.perJob4 + (h.perHour4*int64(seconds)+1800)/3600
}

// EstimateJob is what a job asking for cores and memoryMB (0: unset) costs
// on h if it runs for seconds: the host's fixed prices when it has them,
// else its provider's price model at the size the provider bills, else
// unknown (invalid).
func EstimateJob(h Host, cores float64, memoryMB, seconds int) schematype.Decimal {
	if !h.CostPerHour.Valid && !h.CostPerJob.Valid && h.Price != nil {
		c, m := h.billed(cores, memoryMB)
		return schematype.NewDecimal(h.Price.Cost(c, m, seconds))
	}
	return Estimate(h, seconds)
}

// billed is the size h's provider bills a request at.
func (h *Host) billed(cores float64, memoryMB int) (float64, int) {
	if h.Size != nil {
		return h.Size(cores, memoryMB)
	}
	return cpuOf(Vars{CPU: cores}), memOf(Vars{MemoryMB: memoryMB})
}

func cpuOf(v Vars) float64 {
	if v.CPU > 0 {
		return v.CPU
	}
	return 1
}

func memOf(v Vars) int {
	if v.MemoryMB > 0 {
		return v.MemoryMB
	}
	return 512
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
	Vars               Vars     // what rule conditions see
	// MaxCost excludes hosts whose estimate is higher (invalid: no bound).
	MaxCost schematype.Decimal
	// MaxStartup excludes hosts whose average startup is longer (seconds; 0: no bound).
	MaxStartup int
	// AvoidHost is where the previous attempt failed to launch: it ranks
	// after every other eligible host, so the retry spills elsewhere.
	AvoidHost *uuid.UUID
	// CPU and MemoryMB are the limits as the job set them (0: unset), for
	// providers that size unset limits their own way (Host.Size).
	CPU      float64
	MemoryMB int
}

// Candidate is one host considered for a job.
type Candidate struct {
	Host     *Host // points into the snapshot given to Route
	Eligible bool
	Reason   string
	Score    float64
	// Bias is the sum of the matching weighting rules' weights for this
	// host; it ranks ahead of cost.
	Bias    int
	avoided bool // the previous attempt failed to launch here
	priced  bool
	costKey int64 // the estimate in 1/10000 USD
}

// EstimatedCost is what the job would cost on this host (at its timeout);
// invalid when the host has no prices. Built on demand: deciding needs only
// the integer key.
func (c Candidate) EstimatedCost() schematype.Decimal {
	if !c.priced {
		return schematype.Decimal{}
	}
	return schematype.NewDecimal(decimal.New(c.costKey, -4))
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

// Policy is Gantry's routing: an explicit host, else the preferred
// executor type, else the first matching rule (highest priority first),
// else any usable host. Among eligible hosts the cheapest estimate wins,
// then the fastest average startup, then most free slots, then weight, then
// name and id, so decisions are deterministic. A rule whose targets cannot
// take the job now (full, unhealthy) falls back to the default policy, and
// says so.
type Policy struct {
	Rules []Rule // in evaluation order
	// Top keeps only the best Top candidates in a decision (0: all, sorted).
	// The choice is the same either way; the claim loop, which stores a
	// short table, is spared sorting every host for every job.
	Top int
}

// Simple is the policy without rules.
type Simple = Policy

// Route implements Router. It converts the hosts' prices in place the
// first time it sees a snapshot, so later calls over it are cheaper.
func (p Policy) Route(job Job, hosts []Host) Decision {
	cands := make([]Candidate, 0, len(hosts))
	// One VM runs every condition of this decision (expr.Run would make
	// one per rule).
	machine := &vm.VM{}
	bias, biasBy := weighting(machine, p.Rules, job.Vars, hosts)
	for i := range hosts {
		hosts[i].prepare()
		h := &hosts[i]
		reason := ineligible(job, *h)
		c := Candidate{Host: h, Eligible: reason == "", Reason: reason}
		switch {
		case h.priced:
			c.priced, c.costKey = true, h.costKey(job.Vars.TimeoutSeconds)
		case h.Price != nil:
			cores, mem := h.billed(job.CPU, job.MemoryMB)
			cost := h.Price.Cost(cores, mem, job.Vars.TimeoutSeconds)
			c.priced, c.costKey = true, cost.Shift(4).Round(0).IntPart()
		}
		if c.Eligible && job.AvoidHost != nil && *job.AvoidHost == h.ID {
			c.avoided, c.Reason = true, "eligible, but the previous attempt failed to launch here"
		}
		if c.Eligible && c.priced && job.MaxCost.Valid && c.EstimatedCost().NullDecimal.Decimal.GreaterThan(job.MaxCost.NullDecimal.Decimal) {
			c.Eligible = false
			c.Reason = fmt.Sprintf("estimate %s over the job's maxCost %s", c.EstimatedCost(), job.MaxCost)
		}
		if c.Eligible {
			c.Score = float64(h.Free())*1000 + float64(h.Weight)
			c.Reason = "eligible" // detailed in placedReason for the chosen host
			if bias != nil && bias[i] != 0 {
				c.Bias = bias[i]
				c.Reason = fmt.Sprintf("eligible, weighted %+d by rule %s", c.Bias, strings.Join(biasBy[i], ", "))
			}
		}
		cands = append(cands, c)
	}
	d := Decision{}
	prefix := ""
	if job.HostID == nil && job.PreferredExecutor == "" {
		var chosen *Host
		chosen, prefix = p.byRule(machine, job, cands)
		if chosen != nil {
			d.Host, d.Reason, d.Candidates = chosen, prefix, p.ranked(cands)
			return d
		}
	}
	best := bestOf(cands, func(c *Candidate) bool { return true })
	if best < 0 || !cands[best].Eligible {
		slices.SortStableFunc(cands, compare)
		d.Reason, d.Candidates = prefix+noHostReason(job, cands), p.ranked(cands)
		return d
	}
	d.Host = cands[best].Host
	d.Reason = prefix + placedReason(job, *d.Host) + weighted(cands, best) + passedOver(cands)
	d.Candidates = p.ranked(cands)
	return d
}

// bestOf is the index of the best candidate that keep accepts (-1: none):
// the first of them in compare order, found without sorting.
func bestOf(cands []Candidate, keep func(*Candidate) bool) int {
	best := -1
	for i := range cands {
		if keep(&cands[i]) && (best < 0 || compare(cands[i], cands[best]) < 0) {
			best = i
		}
	}
	return best
}

// ranked is the candidates best first: all of them, or the best Top.
func (p Policy) ranked(cands []Candidate) []Candidate {
	if p.Top <= 0 || len(cands) <= p.Top {
		slices.SortStableFunc(cands, compare)
		return cands
	}
	top := make([]Candidate, 0, p.Top+1)
	for _, c := range cands {
		if len(top) == p.Top && compare(c, top[p.Top-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, c, compare)
		top = slices.Insert(top, i, c)
		if len(top) > p.Top {
			top = top[:p.Top]
		}
	}
	return top
}

// byRule applies the first matching rule. It returns the host it chose, or
// nil and a note for the reason when a rule matched but cannot be served.
func (p Policy) byRule(machine *vm.VM, job Job, cands []Candidate) (*Host, string) {
	for _, r := range p.Rules {
		if r.Weight != nil {
			continue // weighting rules rank, they do not decide
		}
		ok, err := r.matches(machine, job.Vars)
		if err != nil || !ok {
			continue
		}
		if i := bestOf(cands, func(c *Candidate) bool { return c.Eligible && r.targets(*c.Host) }); i >= 0 {
			return cands[i].Host, fmt.Sprintf("rule %s → %s: %s", r.Name, r.target(), cands[i].Host.Name)
		}
		return nil, fmt.Sprintf("rule %s matched but no %s host can take the job now; fallback: ", r.Name, r.target())
	}
	return nil, ""
}

// weighted notes the weighting rules behind the ranking, if any: the
// chosen host's own, or the ones that ranked cheaper hosts below it.
func weighted(cands []Candidate, chosen int) string {
	if c := cands[chosen]; c.Bias != 0 {
		return "; " + strings.TrimPrefix(c.Reason, "eligible, ")
	}
	if i := bestOf(cands, func(c *Candidate) bool { return c.Eligible && c.Bias < 0 }); i >= 0 {
		return fmt.Sprintf("; %s %s", cands[i].Host.Name, strings.TrimPrefix(cands[i].Reason, "eligible, "))
	}
	return ""
}

// compare orders candidates best first: eligible, not where the last
// attempt failed, weighted by rules, cheapest estimate (hosts
// without prices count as free), fastest average startup, most free slots
// and weight (the score), then name and id.
func compare(a, b Candidate) int {
	if a.Eligible != b.Eligible {
		if a.Eligible {
			return -1
		}
		return 1
	}
	if a.avoided != b.avoided {
		if b.avoided {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(b.Bias, a.Bias); c != 0 {
		return c
	}
	if c := cmp.Compare(a.costKey, b.costKey); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Host.AvgStartup, b.Host.AvgStartup); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	if c := strings.Compare(a.Host.Name, b.Host.Name); c != 0 {
		return c
	}
	return bytes.Compare(a.Host.ID[:], b.Host.ID[:])
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
	case h.MemoryMB > 0 && job.Vars.MemoryMB > h.MemoryMB:
		return fmt.Sprintf("job needs %d MB, host takes at most %d MB", job.Vars.MemoryMB, h.MemoryMB)
	case h.CPU > 0 && job.Vars.CPU > h.CPU:
		return fmt.Sprintf("job needs %g cores, host takes at most %g", job.Vars.CPU, h.CPU)
	case job.MaxStartup > 0 && h.AvgStartup > job.MaxStartup:
		return fmt.Sprintf("average startup %ds over the job's bound of %ds", h.AvgStartup, job.MaxStartup)
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
	return fmt.Sprintf("default policy: %s (%s), cheapest and readiest, %d free slots", h.Name, h.Type, h.Free())
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
		if strings.HasPrefix(c.Reason, "at capacity") && c.Host.Runnable && !typeMismatch(c.Reason) {
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

// passedOver names the first usable host that was skipped for capacity,
// health, cost or failures, so a spill says why it spilled.
func passedOver(cands []Candidate) string {
	i := bestOf(cands, func(c *Candidate) bool {
		return !c.Eligible && c.Host.Runnable && c.Host.Active && !typeMismatch(c.Reason) && c.Reason != "not the requested host"
	})
	if i < 0 {
		return ""
	}
	return fmt.Sprintf("; passed over %s (%s)", cands[i].Host.Name, cands[i].Reason)
}

func typeMismatch(reason string) bool {
	return strings.HasPrefix(reason, "job prefers") || strings.HasPrefix(reason, "template supports")
}
