package routing

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
)

// Vars is what a rule condition sees of a job.
type Vars struct {
	Name           string            `expr:"name"`
	Image          string            `expr:"image"`
	Template       string            `expr:"template"`
	Labels         map[string]string `expr:"labels"`
	Env            []string          `expr:"env"` // variable names only: values may be secrets
	Priority       int               `expr:"priority"`
	MemoryMB       int               `expr:"memoryMB"`
	CPU            float64           `expr:"cpu"`
	TimeoutSeconds int               `expr:"timeoutSeconds"`
}

// Rule routes jobs whose condition holds to a type or a host. A rule with
// a Weight does not decide: it ranks its target hosts up (or down) for the
// jobs it matches, and all matching weighting rules add up.
type Rule struct {
	ID         uuid.UUID
	Name       string
	Condition  *vm.Program
	TargetType *schematype.ExecutorType
	TargetHost *uuid.UUID
	Weight     *int
}

// weighting returns the bias each host gets from the weighting rules that
// match v, and the names of those rules per host (for the reason).
func weighting(machine *vm.VM, rules []Rule, v Vars, hosts []Host) (bias []int, by [][]string) {
	for _, r := range rules {
		if r.Weight == nil {
			continue
		}
		if ok, err := r.matches(machine, v); err != nil || !ok {
			continue
		}
		if bias == nil {
			bias, by = make([]int, len(hosts)), make([][]string, len(hosts))
		}
		for i := range hosts {
			if r.targets(hosts[i]) {
				bias[i] += *r.Weight
				by[i] = append(by[i], r.Name)
			}
		}
	}
	return bias, by
}

// Compile type-checks a condition against Vars; the error says where.
func Compile(condition string) (*vm.Program, error) {
	p, err := expr.Compile(condition, expr.Env(Vars{}), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("invalid condition: %w", err)
	}
	return p, nil
}

// matches runs the rule's condition; a runtime error counts as no match.
func (r Rule) matches(machine *vm.VM, v Vars) (bool, error) {
	out, err := machine.Run(r.Condition, v)
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}

// targets reports whether h is where the rule sends jobs.
func (r Rule) targets(h Host) bool {
	if r.TargetHost != nil {
		return h.ID == *r.TargetHost
	}
	return r.TargetType != nil && h.Type == *r.TargetType
}

func (r Rule) target() string {
	if r.TargetHost != nil {
		return "host " + r.TargetHost.String()
	}
	if r.TargetType != nil {
		return string(*r.TargetType)
	}
	return "nowhere"
}
