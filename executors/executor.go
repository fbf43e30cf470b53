// Package executors defines the seam between the dispatcher and the places
// containers run. Each backend lives in a sub-package and passes the shared
// conformance suite (executors/conformance). Nothing here imports dispatch/
// or graph/.
package executors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
)

// Label keys every backend attaches to an execution, so reconcile can map
// what runs back to a job attempt.
const (
	LabelJobID    = "gantry.job-id"
	LabelAttempt  = "gantry.attempt"
	LabelHostID   = "gantry.host-id"
	LabelInstance = "gantry.instance"
)

// Host is what an executor needs to know about the executor host it serves.
type Host struct {
	ID               uuid.UUID
	Name             string
	Type             schematype.ExecutorType
	ConnectionString string
	TLSEnabled       bool
	TLSVerify        bool
	AutoPullImages   bool
	// Config is the host's executor_config. It may hold credentials:
	// never log it, never put it in an error.
	Config map[string]any
}

// Spec is a job attempt's resolved container spec.
type Spec struct {
	JobID      uuid.UUID
	Attempt    int
	Name       string
	Image      string
	Command    []string
	WorkingDir string
	Env        map[string]string
	MemoryMB   int           // 0: no limit
	CPU        float64       // cores; 0: no limit
	Timeout    time.Duration // the dispatcher enforces it; backends may pass it on
	Labels     map[string]string
}

// ExecutionName is the deterministic name of a job attempt's execution. A
// repeated Launch for the same attempt finds the existing execution by it
// instead of starting a second one.
func (s Spec) ExecutionName() string {
	return fmt.Sprintf("gantry-%s-%d", s.JobID, s.Attempt)
}

// BaseLabels are the labels every execution of s carries.
func (s Spec) BaseLabels(host Host, instance string) map[string]string {
	l := make(map[string]string, len(s.Labels)+4)
	for k, v := range s.Labels {
		l[k] = v
	}
	l[LabelJobID] = s.JobID.String()
	l[LabelAttempt] = fmt.Sprint(s.Attempt)
	l[LabelHostID] = host.ID.String()
	if instance != "" {
		l[LabelInstance] = instance
	}
	return l
}

// State is where an execution is in its life.
type State string

// Execution states.
const (
	StatePending State = "pending" // accepted, not yet running (pulling, provisioning)
	StateRunning State = "running"
	StateExited  State = "exited" // ended; ExitCode says how
	StateFailed  State = "failed" // ended without an exit code (provider-side failure)
)

// Status is a snapshot of one execution.
type Status struct {
	State      State
	ExitCode   *int
	OOMKilled  bool
	StartedAt  time.Time
	FinishedAt time.Time
	// Reason explains a failure in words (provider message, OOM, ...).
	Reason string
	// Class says whether a StateFailed ending is worth retrying.
	Class FailureClass
	// Usage, where the backend reports it (0 when unknown).
	PeakMemoryBytes int64
	CPUPercent      float64
}

// Ended reports whether the execution is over.
func (s Status) Ended() bool { return s.State == StateExited || s.State == StateFailed }

// Matches reports whether labels include every key and value of match:
// the filter List applies.
func Matches(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// Execution is one execution found by List.
type Execution struct {
	ID      string
	JobID   uuid.UUID
	Attempt int
	Labels  map[string]string
	Status  Status
}

// Logs are an execution's captured output, each stream capped by the backend.
type Logs struct {
	Stdout string
	Stderr string
}

// Executor runs containers on one executor host.
type Executor interface {
	// Launch starts the attempt and returns its execution id. Launching the
	// same job attempt twice returns the same id and starts nothing new.
	Launch(ctx context.Context, spec Spec) (executionID string, err error)
	// Status reports on an execution; ErrNotFound when it no longer exists.
	Status(ctx context.Context, executionID string) (Status, error)
	// Logs returns what the execution wrote so far.
	Logs(ctx context.Context, executionID string) (Logs, error)
	// Stop asks the execution to end (SIGTERM or the provider's cancel), and
	// forces it after grace. It returns once the backend accepted the request;
	// callers confirm with Status.
	Stop(ctx context.Context, executionID string, grace time.Duration) error
	// Cleanup removes what is left of an ended execution. Idempotent.
	Cleanup(ctx context.Context, executionID string) error
	// Health checks the host is reachable and usable.
	Health(ctx context.Context) error
	// List returns executions whose labels include all of match.
	List(ctx context.Context, match map[string]string) ([]Execution, error)
}

// LogStreamer is implemented by backends that can follow an execution's
// output live. emit is called once per line, in order per stream; the call
// returns when the execution ends or ctx is done.
type LogStreamer interface {
	StreamLogs(ctx context.Context, executionID string, emit func(stream, line string)) error
}

// Usage is a point-in-time resource reading of a running execution.
type Usage struct {
	MemoryBytes int64  // current resident memory
	CPUNanos    uint64 // CPU time consumed since start
	At          time.Time
}

// UsageReader is implemented by backends that report resource use.
type UsageReader interface {
	Usage(ctx context.Context, executionID string) (Usage, error)
}

// ErrNotFound is returned by Status, Logs and Stop for an unknown execution.
var ErrNotFound = errors.New("execution not found")

// FailureClass says whether a failure may succeed on retry.
type FailureClass string

// Failure classes.
const (
	Transient FailureClass = "transient" // infrastructure: retry with backoff
	Permanent FailureClass = "permanent" // the job itself is wrong: fail at once
)

// ClassError is an error with a failure class.
type ClassError struct {
	Class FailureClass
	Err   error
	// Throttled: the provider refused for rate; calls to the host should
	// pause for at least RetryAfter (0: the caller's own backoff).
	Throttled  bool
	RetryAfter time.Duration
}

func (e *ClassError) Error() string { return fmt.Sprintf("%s: %v", e.Class, e.Err) }
func (e *ClassError) Unwrap() error { return e.Err }

// PermanentError marks err as not worth retrying (bad image, bad spec).
func PermanentError(err error) error { return &ClassError{Class: Permanent, Err: err} }

// TransientError marks err as worth retrying (daemon down, throttled, no capacity).
func TransientError(err error) error { return &ClassError{Class: Transient, Err: err} }

// ThrottledError marks err as the provider's rate limit: transient, and a
// sign to leave the host alone for a while (at least after, when known).
func ThrottledError(err error, after time.Duration) error {
	return &ClassError{Class: Transient, Err: err, Throttled: true, RetryAfter: after}
}

// IsThrottled reports whether err is a provider's rate limit, and how long
// the provider asked to wait (0 when it did not say).
func IsThrottled(err error) (time.Duration, bool) {
	var ce *ClassError
	if errors.As(err, &ce) && ce.Throttled {
		return ce.RetryAfter, true
	}
	return 0, false
}

// ClassOf returns err's failure class; unclassified errors are transient,
// because giving up on a job that could have run is the worse mistake.
func ClassOf(err error) FailureClass {
	var ce *ClassError
	if errors.As(err, &ce) {
		return ce.Class
	}
	return Transient
}

// Factory builds an Executor for a host. It validates host.Config and
// returns a clear error naming a missing or bad key (never its value).
type Factory func(host Host) (Executor, error)

var (
	regMu    sync.RWMutex
	registry = map[schematype.ExecutorType]Factory{}
)

// Register makes a backend available for its executor type.
func Register(t schematype.ExecutorType, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	registry[t] = f
}

// New builds the executor for host through its registered factory.
func New(host Host) (Executor, error) {
	regMu.RLock()
	f, ok := registry[host.Type]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("no executor registered for type %q", host.Type)
	}
	return f(host)
}

// Registered lists the executor types with a backend, sorted.
func Registered() []schematype.ExecutorType {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]schematype.ExecutorType, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Unregister removes the backend of t (tests serve extra types with the mock).
func Unregister(t schematype.ExecutorType) {
	regMu.Lock()
	defer regMu.Unlock()
	delete(registry, t)
}

// RateLimited is implemented by backends whose executions live at a
// provider with a rate-limited API (the cloud backends): the dispatcher
// spaces out their status checks with backoff instead of polling each
// execution on every pass.
type RateLimited interface {
	RateLimited()
}

// Sizer is implemented by backends that run (and bill) a request at a size
// of their own: the smallest offered size that fits it, or the host's
// default for unset (0) limits. Cost estimates price that size.
type Sizer interface {
	BilledSize(cores float64, memoryMB int) (float64, int)
}

// Describer is implemented by backends that can say where an execution
// lives (region, resource names, a console URL) and how the spec was
// adapted (a size rounded up to one the provider offers) without an API
// call. The dispatcher records it in the job's executor_metadata at launch.
type Describer interface {
	Describe(spec Spec, executionID string) map[string]any
}
