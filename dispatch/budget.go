package dispatch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/budget"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/hook"
	"github.com/gantry/gantry/errs"
	"github.com/gantry/gantry/routing"
)

// BudgetExceeded is the error code of a submit refused by a budget.
const BudgetExceeded errs.Code = "BUDGET_EXCEEDED"

// periodStart is the start (UTC) of the budget period containing now.
func periodStart(p budget.Period, now time.Time) time.Time {
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch p {
	case budget.PeriodDay:
		return day
	case budget.PeriodWeek:
		return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // weeks start on Monday
	case budget.PeriodMonth:
		return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Time{}
}

// covers reports whether budget b applies to a job of template tpl with labels.
func covers(b *ent.Budget, tpl *uuid.UUID, labels map[string]string) bool {
	if b.TemplateID != nil {
		return tpl != nil && *tpl == *b.TemplateID
	}
	return b.LabelKey != "" && labels[b.LabelKey] == b.LabelValue
}

// covering is the budgets of all that cover a job.
func covering(all []*ent.Budget, tpl *uuid.UUID, labels map[string]string) []*ent.Budget {
	var out []*ent.Budget
	for _, b := range all {
		if covers(b, tpl, labels) {
			out = append(out, b)
		}
	}
	return out
}

func loadBudgets(ctx context.Context, q *ent.BudgetClient) ([]*ent.Budget, error) {
	all, err := q.Query().Where(budget.Enabled(true)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load budgets: %w", err)
	}
	return all, nil
}

// budgetTTL bounds how long submits use a cached list of budgets. Loading
// it for every submit was a query per job; a budget written in this
// process drops the cache at once (a hook), one written on another
// replica applies here within budgetTTL.
const budgetTTL = time.Second

type budgetCache struct {
	mu  sync.Mutex
	at  time.Time
	all []*ent.Budget
}

func (c *budgetCache) drop() {
	c.mu.Lock()
	c.at = time.Time{}
	c.mu.Unlock()
}

// enabledBudgets is the enabled budgets, as of at most budgetTTL ago.
func (d *Dispatcher) enabledBudgets(ctx context.Context) ([]*ent.Budget, error) {
	c := d.budgets
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < budgetTTL {
		return c.all, nil
	}
	all, err := loadBudgets(ctx, d.client.Budget)
	if err != nil {
		return nil, err
	}
	c.all, c.at = all, time.Now()
	return all, nil
}

// dropBudgetsOnWrite empties the submit cache whenever this process
// writes a budget.
func (d *Dispatcher) dropBudgetsOnWrite() {
	d.client.Budget.Use(func(next ent.Mutator) ent.Mutator {
		return hook.BudgetFunc(func(ctx context.Context, m *ent.BudgetMutation) (ent.Value, error) {
			v, err := next.Mutate(ctx, m)
			d.budgets.drop()
			return v, err
		})
	})
}

// Spent is what a budget's jobs created in its current period cost: the
// actual cost where known, else the estimate made at routing.
func (d *Dispatcher) Spent(ctx context.Context, b *ent.Budget) (decimal.Decimal, error) {
	q := d.client.ContainerJob.Query().Where(containerjob.CreatedAtGTE(periodStart(b.Period, d.now())),
		containerjob.Or(containerjob.ActualCostNotNil(), containerjob.EstimatedCostNotNil()))
	if b.TemplateID != nil {
		q = q.Where(containerjob.TemplateID(*b.TemplateID))
	}
	jobs, err := q.Select(containerjob.FieldTemplateID, containerjob.FieldLabels, containerjob.FieldActualCost, containerjob.FieldEstimatedCost).All(ctx)
	if err != nil {
		return decimal.Zero, fmt.Errorf("budget %s: %w", b.Name, err)
	}
	total := decimal.Zero
	for _, j := range jobs {
		if !covers(b, j.TemplateID, j.Labels) {
			continue
		}
		switch {
		case j.ActualCost.Valid:
			total = total.Add(j.ActualCost.NullDecimal.Decimal)
		case j.EstimatedCost.Valid:
			total = total.Add(j.EstimatedCost.NullDecimal.Decimal)
		}
	}
	return total, nil
}

// checkBudgets refuses a submit that would take a reject-policy budget
// over its limit, counting the job at the cheapest host it could use.
func (d *Dispatcher) checkBudgets(ctx context.Context, spec jobSpec) error {
	all, err := d.enabledBudgets(ctx)
	if err != nil {
		return err
	}
	bs := covering(all, spec.TemplateID, spec.Labels)
	if len(bs) == 0 {
		return nil
	}
	est, err := d.cheapestEstimate(ctx, spec)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if b.Policy != budget.PolicyReject {
			continue
		}
		spent, err := d.Spent(ctx, b)
		if err != nil {
			return err
		}
		if limit := b.LimitUsd.NullDecimal.Decimal; spent.Add(est).GreaterThan(limit) {
			return errs.New(BudgetExceeded, "budget %q would be exceeded: spent %s of %s this %s, job estimated at %s",
				b.Name, spent.StringFixed(4), limit.StringFixed(4), b.Period, est.StringFixed(4))
		}
	}
	return nil
}

// cheapestEstimate is the lowest estimate among the hosts the job may use.
func (d *Dispatcher) cheapestEstimate(ctx context.Context, spec jobSpec) (decimal.Decimal, error) {
	hosts, err := d.client.ExecutorHost.Query().All(ctx)
	if err != nil {
		return decimal.Zero, err
	}
	timeout := 3600
	if spec.TimeoutSeconds != nil {
		timeout = *spec.TimeoutSeconds
	}
	best, found := decimal.Zero, false
	for _, h := range hosts {
		if !h.IsActive || (spec.PreferredExecutor != nil && *spec.PreferredExecutor != "" && *spec.PreferredExecutor != string(h.ExecutorType)) {
			continue
		}
		cores, mem := 0.0, 0
		if spec.CPULimit != nil {
			cores = *spec.CPULimit
		}
		if spec.MemoryLimit != nil {
			mem = *spec.MemoryLimit
		}
		e := routing.EstimateJob(d.routingHost(h), cores, mem, timeout)
		v := decimal.Zero
		if e.Valid {
			v = e.NullDecimal.Decimal
		}
		if !found || v.LessThan(best) {
			best, found = v, true
		}
	}
	return best, nil
}

// holds tracks hold-policy budgets during one claim: what each has spent,
// including the jobs placed so far in the batch.
type holds struct {
	d     *Dispatcher
	tx    *ent.Tx
	spent map[uuid.UUID]decimal.Decimal
	all   []*ent.Budget // enabled budgets, loaded once per claim
	ready bool
}

// held says whether placing j on h would take a hold-policy budget over its
// limit; if not, it books the job's estimate against its budgets.
func (hs *holds) held(ctx context.Context, j *ent.ContainerJob, h routing.Host) (string, error) {
	if !hs.ready {
		all, err := loadBudgets(ctx, hs.tx.Budget)
		if err != nil {
			return "", err
		}
		hs.all, hs.ready = all, true
	}
	bs := covering(hs.all, j.TemplateID, j.Labels)
	if len(bs) == 0 {
		return "", nil
	}
	est := decimal.Zero
	cores, mem := requested(j)
	if e := routing.EstimateJob(h, cores, mem, j.TimeoutSeconds); e.Valid {
		est = e.NullDecimal.Decimal
	}
	var hold []*ent.Budget
	for _, b := range bs {
		if b.Policy != budget.PolicyHold {
			continue
		}
		spent, ok := hs.spent[b.ID]
		if !ok {
			var err error
			if spent, err = hs.d.Spent(ctx, b); err != nil {
				return "", err
			}
		}
		hs.spent[b.ID] = spent
		if limit := b.LimitUsd.NullDecimal.Decimal; spent.Add(est).GreaterThan(limit) {
			return fmt.Sprintf("held by budget %s: spent %s of %s this %s", b.Name, spent.StringFixed(4), limit.StringFixed(4), b.Period), nil
		}
		hold = append(hold, b)
	}
	for _, b := range hold {
		hs.spent[b.ID] = hs.spent[b.ID].Add(est)
	}
	return "", nil
}
