package dispatch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/routingrule"
	"github.com/gantry/gantry/routing"
)

// ruleCache keeps compiled rule conditions, recompiled when a rule changes.
type ruleCache struct {
	mu       sync.Mutex
	programs map[uuid.UUID]compiled
}

type compiled struct {
	updated time.Time
	program *vm.Program
}

// router is the configured Router, or the rule-driven policy over the
// enabled rules as they are now, keeping the best top candidates of each
// decision (0: all).
func (d *Dispatcher) router(ctx context.Context, tx *ent.Tx, top int) (routing.Router, error) {
	if d.opts.Router != nil {
		return d.opts.Router, nil
	}
	rows, err := tx.RoutingRule.Query().Where(routingrule.Enabled(true)).
		Order(ent.Desc(routingrule.FieldPriority), ent.Asc(routingrule.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load routing rules: %w", err)
	}
	p := routing.Policy{Rules: make([]routing.Rule, 0, len(rows)), Top: top}
	for _, r := range rows {
		prog, err := d.rules.program(r)
		if err != nil {
			d.log.Warn("routing rule does not compile; skipped", "rule", r.Name, "err", err)
			continue
		}
		p.Rules = append(p.Rules, routing.Rule{ID: r.ID, Name: r.Name, Condition: prog, TargetType: r.TargetExecutorType, TargetHost: r.TargetHostID, Weight: r.Weight})
	}
	return p, nil
}

func (c *ruleCache) program(r *ent.RoutingRule) (*vm.Program, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.programs[r.ID]; ok && p.updated.Equal(r.UpdatedAt) {
		return p.program, nil
	}
	prog, err := routing.Compile(r.Condition)
	if err != nil {
		return nil, err
	}
	c.programs[r.ID] = compiled{updated: r.UpdatedAt, program: prog}
	return prog, nil
}

// varsOf is what rule conditions see of a job. Environment values are
// left out: they may be secrets.
func varsOf(j *ent.ContainerJob) routing.Vars {
	v := routing.Vars{Name: j.Name, Image: j.Image, Labels: j.Labels, Priority: j.Priority,
		MemoryMB: j.EstimateResources().MemoryMB, CPU: j.EstimateResources().CPUCores, TimeoutSeconds: j.TimeoutSeconds}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	for k := range j.Environment {
		v.Env = append(v.Env, k)
	}
	slices.Sort(v.Env)
	if j.Edges.Template != nil {
		v.Template = j.Edges.Template.Name
	}
	return v
}
