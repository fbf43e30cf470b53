package schematype

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ExecutorType names an executor backend. One spelling (seed 000's,
// lowercase) is used in the database, in Go and in GraphQL.
type ExecutorType string

// The executor types of seed 000.
const (
	ExecutorDocker   ExecutorType = "docker"
	ExecutorCloudRun ExecutorType = "cloudrun"
	ExecutorFargate  ExecutorType = "fargate"
	ExecutorScaleway ExecutorType = "scaleway"
	ExecutorMock     ExecutorType = "mock"
)

var executorTypes = []string{"docker", "cloudrun", "fargate", "scaleway", "mock"}

// Values lists every executor type (Ent enum contract).
func (ExecutorType) Values() []string { return slices.Clone(executorTypes) }

// ParseExecutorType validates s.
func ParseExecutorType(s string) (ExecutorType, error) {
	if !slices.Contains(executorTypes, s) {
		return "", fmt.Errorf("unknown executor type %q (want one of %s)", s, strings.Join(executorTypes, ", "))
	}
	return ExecutorType(s), nil
}

// MarshalGQL writes the enum value.
func (e ExecutorType) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(e))) }

// UnmarshalGQL reads and validates the enum value.
func (e *ExecutorType) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("executor type must be a string, got %T", v)
	}
	t, err := ParseExecutorType(s)
	if err != nil {
		return err
	}
	*e = t
	return nil
}

// JobStatus is a job's lifecycle status (DESIGN.md state machine).
type JobStatus string

// The job statuses.
const (
	StatusPending    JobStatus = "pending"
	StatusQueued     JobStatus = "queued"
	StatusLaunching  JobStatus = "launching"
	StatusRunning    JobStatus = "running"
	StatusCompleted  JobStatus = "completed"
	StatusFailed     JobStatus = "failed"
	StatusTimeout    JobStatus = "timeout"
	StatusCancelling JobStatus = "cancelling"
	StatusCancelled  JobStatus = "cancelled"
	StatusRetrying   JobStatus = "retrying"
)

var jobStatuses = []string{
	"pending", "queued", "launching", "running", "completed", "failed",
	"timeout", "cancelling", "cancelled", "retrying",
}

// Values lists every status (Ent enum contract).
func (JobStatus) Values() []string { return slices.Clone(jobStatuses) }

// Terminal reports whether a job in this status never changes again
// (except through an explicit retry).
func (s JobStatus) Terminal() bool {
	switch s {
	case StatusCompleted, StatusFailed, StatusTimeout, StatusCancelled:
		return true
	}
	return false
}

// MarshalGQL writes the enum value.
func (s JobStatus) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL reads and validates the enum value.
func (s *JobStatus) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("job status must be a string, got %T", v)
	}
	if !slices.Contains(jobStatuses, str) {
		return fmt.Errorf("unknown job status %q (want one of %s)", str, strings.Join(jobStatuses, ", "))
	}
	*s = JobStatus(str)
	return nil
}
