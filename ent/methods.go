package ent

// Seed 000's model methods, on the generated types. This file is
// hand-written; entc leaves it alone.

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/executorhost"
	"github.com/gantry/gantry/ent/predicate"
	"github.com/gantry/gantry/ent/schematype"
)

// Defaults used when a job does not say how much it needs.
const (
	DefaultMemoryMB = 512
	DefaultCPUCores = 1.0
	// UnhealthyAfter consecutive failed health checks make a host unavailable.
	UnhealthyAfter = 3
)

// ExecutionIdentifier is the id of the job's execution on its executor:
// the container id for Docker, the provider's id otherwise.
func (j *ContainerJob) ExecutionIdentifier() string {
	if j.ExecutorType == schematype.ExecutorDocker {
		return j.ContainerID
	}
	return j.ExternalExecutionID
}

// SetExecutionIdentifier stores id where ExecutionIdentifier reads it.
func (j *ContainerJob) SetExecutionIdentifier(id string) {
	if j.ExecutorType == schematype.ExecutorDocker {
		j.ContainerID = id
		return
	}
	j.ExternalExecutionID = id
}

// SetExecutionIdentifier sets the column that holds an execution id of
// executor type t on the update.
func (u *ContainerJobUpdateOne) SetExecutionIdentifier(t schematype.ExecutorType, id string) *ContainerJobUpdateOne {
	if t == schematype.ExecutorDocker {
		return u.SetContainerID(id)
	}
	return u.SetExternalExecutionID(id)
}

// CanUseExecutor reports whether the job may run on executor type t: a
// preferred executor wins; otherwise the template's supported executors
// (when the template edge is loaded and the list is not empty) decide.
func (j *ContainerJob) CanUseExecutor(t schematype.ExecutorType) bool {
	if j.PreferredExecutor != "" {
		return j.PreferredExecutor == string(t)
	}
	if tpl := j.Edges.Template; tpl != nil && len(tpl.SupportedExecutors) > 0 {
		for _, s := range tpl.SupportedExecutors {
			if s == string(t) {
				return true
			}
		}
		return false
	}
	return true
}

// Resources is what a job needs, for routing decisions.
type Resources struct {
	MemoryMB        int
	CPUCores        float64
	TimeoutSeconds  int
	StorageRequired bool
}

// EstimateResources returns the job's resource needs with defaults filled in.
func (j *ContainerJob) EstimateResources() Resources {
	r := Resources{MemoryMB: DefaultMemoryMB, CPUCores: DefaultCPUCores, TimeoutSeconds: j.TimeoutSeconds, StorageRequired: j.WorkingDirectory != ""}
	if j.MemoryLimit != nil && *j.MemoryLimit > 0 {
		r.MemoryMB = *j.MemoryLimit
	}
	if j.CPULimit != nil && *j.CPULimit > 0 {
		r.CPUCores = *j.CPULimit
	}
	return r
}

// DisplayName is the seed's __str__: name (or template name), status, and
// the executor when it is not Docker. (Ent generates String as a debug dump.)
func (j *ContainerJob) DisplayName() string {
	name := j.Name
	if name == "" && j.Edges.Template != nil {
		name = j.Edges.Template.Name
	}
	if name == "" {
		name = j.ID.String()
	}
	s := fmt.Sprintf("%s (%s)", name, j.Status)
	if j.ExecutorType != schematype.ExecutorDocker {
		s += fmt.Sprintf(" (%s)", j.ExecutorType)
	}
	return s
}

// IsAvailable reports whether the host can take a new job: active, below
// capacity, and fewer than UnhealthyAfter consecutive health failures.
func (h *ExecutorHost) IsAvailable() bool {
	if !h.IsActive {
		return false
	}
	if h.CurrentJobCount >= h.MaxConcurrentJobs {
		return false
	}
	return h.HealthCheckFailures < UnhealthyAfter
}

// CapacityInfo is a host's capacity (seed 000 get_capacity_info).
type CapacityInfo struct {
	CurrentJobs        int
	MaxJobs            int
	AvailableSlots     int
	UtilizationPercent float64
}

// CapacityInfo reports the host's load; a host with no slots is 100% used
// when it runs anything and 0% otherwise (never a division by zero).
func (h *ExecutorHost) CapacityInfo() CapacityInfo {
	c := CapacityInfo{CurrentJobs: h.CurrentJobCount, MaxJobs: h.MaxConcurrentJobs, AvailableSlots: max(0, h.MaxConcurrentJobs-h.CurrentJobCount)}
	switch {
	case h.MaxConcurrentJobs > 0:
		c.UtilizationPercent = float64(h.CurrentJobCount) / float64(h.MaxConcurrentJobs) * 100
	case h.CurrentJobCount > 0:
		c.UtilizationPercent = 100
	}
	return c
}

// DisplayName is the seed's __str__ for a host.
func (h *ExecutorHost) DisplayName() string {
	if h.ExecutorType != schematype.ExecutorDocker {
		return fmt.Sprintf("%s (%s) (%s)", h.Name, h.ExecutorType, h.ConnectionString)
	}
	return fmt.Sprintf("%s (%s)", h.Name, h.ConnectionString)
}

// belowCapacity matches hosts whose counter is below their maximum.
func belowCapacity() predicate.ExecutorHost {
	return predicate.ExecutorHost(sql.FieldsLT(executorhost.FieldCurrentJobCount, executorhost.FieldMaxConcurrentJobs))
}

// IncrementJobCount takes a slot on host id with one conditional UPDATE
// (never read-modify-write). It reports false when the host is full.
func (c *ExecutorHostClient) IncrementJobCount(ctx context.Context, id uuid.UUID) (bool, error) {
	n, err := c.Update().
		Where(executorhost.ID(id), belowCapacity()).
		AddCurrentJobCount(1).
		Save(ctx)
	if err != nil {
		return false, fmt.Errorf("increment job count of host %s: %w", id, err)
	}
	return n == 1, nil
}

// DecrementJobCount frees a slot on host id; it never goes below zero and
// reports false when the counter was already zero.
func (c *ExecutorHostClient) DecrementJobCount(ctx context.Context, id uuid.UUID) (bool, error) {
	n, err := c.Update().
		Where(executorhost.ID(id), executorhost.CurrentJobCountGT(0)).
		AddCurrentJobCount(-1).
		Save(ctx)
	if err != nil {
		return false, fmt.Errorf("decrement job count of host %s: %w", id, err)
	}
	return n == 1, nil
}
