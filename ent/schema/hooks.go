package schema

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	gen "github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/executorhost"
	"github.com/gantry/gantry/ent/hook"
	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/errs"
	"github.com/gantry/gantry/routing"
)

// jobState is the part of a job that seed 000's validation rules read.
type jobState struct {
	executorType schematype.ExecutorType
	hostID       *uuid.UUID
	status       schematype.JobStatus
	externalID   string
}

// validateJob enforces seed 000's clean(): the job's executor type matches
// its host's, and a running non-docker job has an external execution id.
func validateJob(ctx context.Context, c *gen.Client, s jobState) error {
	if s.hostID != nil {
		h, err := c.ExecutorHost.Query().Where(executorhost.ID(*s.hostID)).
			Select(executorhost.FieldExecutorType).Only(ctx)
		if gen.IsNotFound(err) {
			return errs.Invalid("docker_host", "executor host %s does not exist", *s.hostID)
		}
		if err != nil {
			return fmt.Errorf("load host executor type: %w", err)
		}
		if schematype.ExecutorType(h.ExecutorType) != s.executorType {
			return errs.Invalid("executor_type", "job executor type '%s' doesn't match host executor type '%s'", s.executorType, h.ExecutorType)
		}
	}
	if s.executorType != schematype.ExecutorDocker && s.status == schematype.StatusRunning && s.externalID == "" {
		return errs.Invalid("external_execution_id", "external_execution_id required for %s executor", s.executorType)
	}
	return nil
}

// touchesValidatedFields says whether m changes a field validateJob reads.
func touchesValidatedFields(m *gen.ContainerJobMutation) bool {
	_, et := m.ExecutorType()
	_, h := m.DockerHostID()
	_, st := m.Status()
	_, ext := m.ExternalExecutionID()
	return et || h || st || ext || m.DockerHostIDCleared()
}

// stateAfter overlays m's changes on a job's current state.
func stateAfter(m *gen.ContainerJobMutation, s jobState) jobState {
	if v, ok := m.ExecutorType(); ok {
		s.executorType = schematype.ExecutorType(v)
	}
	if v, ok := m.DockerHostID(); ok {
		s.hostID = &v
	}
	if m.DockerHostIDCleared() {
		s.hostID = nil
	}
	if v, ok := m.Status(); ok {
		s.status = schematype.JobStatus(v)
	}
	if v, ok := m.ExternalExecutionID(); ok {
		s.externalID = v
	}
	return s
}

type trustedKey struct{}

// Trusted marks ctx as coming from the dispatcher's transition function,
// which enforces seed 000's rules itself on values it already holds; the
// hook's extra queries would otherwise sit on the dispatcher's hot path.
func Trusted(ctx context.Context) context.Context {
	return context.WithValue(ctx, trustedKey{}, true)
}

// jobValidationHook runs validateJob on every create and update of a job.
func jobValidationHook(next gen.Mutator) gen.Mutator {
	return hook.ContainerJobFunc(func(ctx context.Context, m *gen.ContainerJobMutation) (gen.Value, error) {
		if ctx.Value(trustedKey{}) != nil {
			return next.Mutate(ctx, m)
		}
		if err := validateJobMutation(ctx, m); err != nil {
			return nil, err
		}
		return next.Mutate(ctx, m)
	})
}

func validateJobMutation(ctx context.Context, m *gen.ContainerJobMutation) error {
	if m.Op().Is(gen.OpCreate) {
		base := jobState{executorType: schematype.ExecutorType(containerjob.DefaultExecutorType), status: schematype.JobStatus(containerjob.DefaultStatus)}
		return validateJob(ctx, m.Client(), stateAfter(m, base))
	}
	if !m.Op().Is(gen.OpUpdate|gen.OpUpdateOne) || !touchesValidatedFields(m) {
		return nil
	}
	ids, err := m.IDs(ctx)
	if err != nil {
		return fmt.Errorf("list jobs to validate: %w", err)
	}
	jobs, err := m.Client().ContainerJob.Query().Where(containerjob.IDIn(ids...)).
		Select(containerjob.FieldExecutorType, containerjob.FieldDockerHostID, containerjob.FieldStatus, containerjob.FieldExternalExecutionID).
		All(ctx)
	if err != nil {
		return fmt.Errorf("load jobs to validate: %w", err)
	}
	for _, j := range jobs {
		cur := jobState{executorType: schematype.ExecutorType(j.ExecutorType), hostID: j.DockerHostID, status: schematype.JobStatus(j.Status), externalID: j.ExternalExecutionID}
		if err := validateJob(ctx, m.Client(), stateAfter(m, cur)); err != nil {
			return err
		}
	}
	return nil
}

// Hooks of the ContainerJob.
func (ContainerJob) Hooks() []gen.Hook {
	return []gen.Hook{jobValidationHook}
}

// ruleValidationHook compiles a rule's condition on every write (so an
// invalid rule is refused with the position of its error) and requires
// exactly one target: an executor type or a host.
func ruleValidationHook(next gen.Mutator) gen.Mutator {
	return hook.RoutingRuleFunc(func(ctx context.Context, m *gen.RoutingRuleMutation) (gen.Value, error) {
		if cond, ok := m.Condition(); ok {
			if _, err := routing.Compile(cond); err != nil {
				return nil, errs.Invalid("condition", "%v", err)
			}
		}
		if w, ok := m.Weight(); ok && w == 0 {
			return nil, errs.Invalid("weight", "a weighting rule needs a non-zero weight (-1000..1000); clear it to make the rule decide")
		}
		_, hasType := m.TargetExecutorType()
		_, hasHost := m.TargetHostID()
		if m.Op().Is(gen.OpCreate) {
			if hasType == hasHost {
				return nil, errs.Invalid("target", "give exactly one of targetExecutorType and targetHostID")
			}
			return next.Mutate(ctx, m)
		}
		if hasType && hasHost {
			return nil, errs.Invalid("target", "give exactly one of targetExecutorType and targetHostID")
		}
		// Setting one target clears the other.
		if hasType {
			m.ClearTargetHostID()
		}
		if hasHost {
			m.ClearTargetExecutorType()
		}
		return next.Mutate(ctx, m)
	})
}

// Hooks of the RoutingRule.
func (RoutingRule) Hooks() []gen.Hook {
	return []gen.Hook{ruleValidationHook}
}

// budgetValidationHook requires a positive limit and exactly one scope: a
// template, or a label key with its value.
func budgetValidationHook(next gen.Mutator) gen.Mutator {
	return hook.BudgetFunc(func(ctx context.Context, m *gen.BudgetMutation) (gen.Value, error) {
		if v, ok := m.LimitUsd(); ok && (!v.Valid || !v.Decimal.IsPositive()) {
			return nil, errs.Invalid("limitUsd", "a budget needs a positive limit")
		}
		if !m.Op().Is(gen.OpCreate) {
			return next.Mutate(ctx, m)
		}
		if _, ok := m.LimitUsd(); !ok {
			return nil, errs.Invalid("limitUsd", "a budget needs a positive limit")
		}
		_, byTemplate := m.TemplateID()
		key, _ := m.LabelKey()
		val, _ := m.LabelValue()
		if byTemplate == (key != "") || (key != "") != (val != "") {
			return nil, errs.Invalid("scope", "give either templateID or labelKey with labelValue")
		}
		return next.Mutate(ctx, m)
	})
}

// Hooks of the Budget.
func (Budget) Hooks() []gen.Hook {
	return []gen.Hook{budgetValidationHook}
}
