// Package mock is a deterministic executor for tests and demos. Its
// executions' status is derived from the execution id alone (start time,
// run time, exit code are encoded in it), so a replica that takes over
// another's jobs — in another process — sees them run to the same end.
package mock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
)

func init() { executors.Register(schematype.ExecutorMock, New) }

// Job environment keys the mock obeys (the shared test-workload protocol,
// plus launch behaviour).
const (
	EnvStdout          = "GANTRY_TEST_STDOUT"
	EnvStderr          = "GANTRY_TEST_STDERR"
	EnvSleepMS         = "GANTRY_TEST_SLEEP_MS"
	EnvExit            = "GANTRY_TEST_EXIT"
	EnvNeverExit       = "GANTRY_TEST_NEVER_EXIT"
	EnvIgnoreTerm      = "GANTRY_TEST_IGNORE_TERM"
	EnvAllocMB         = "GANTRY_TEST_ALLOC_MB"
	EnvLaunchError     = "GANTRY_MOCK_LAUNCH_ERROR"
	EnvLaunchPermanent = "GANTRY_MOCK_LAUNCH_ERROR_PERMANENT"
	EnvStartupDelayMS  = "GANTRY_MOCK_STARTUP_DELAY_MS"
	EnvFailAttempts    = "GANTRY_MOCK_FAIL_ATTEMPTS"
)

// Config is the host's executor_config for a mock host.
type Config struct {
	StartupDelayMS       int    `json:"startup_delay_ms"`
	RunMS                int    `json:"run_ms"`
	ExitCode             int    `json:"exit_code"`
	LaunchError          string `json:"launch_error"`
	LaunchErrorPermanent bool   `json:"launch_error_permanent"`
	NeverExits           bool   `json:"never_exits"`
	IgnoreStop           bool   `json:"ignore_stop"`
	HealthError          string `json:"health_error"`
	FailReason           string `json:"fail_reason"`
}

// ParseConfig validates a mock host's executor_config; errors name the key.
func ParseConfig(raw map[string]any) (Config, error) {
	var c Config
	own := make(map[string]any, len(raw))
	for k, v := range raw {
		if k != executors.KeepFailedKey { // the dispatcher's, valid on every host
			own[k] = v
		}
	}
	b, err := json.Marshal(own)
	if err != nil {
		return c, fmt.Errorf("mock executor_config: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("mock executor_config: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if c.StartupDelayMS < 0 || c.RunMS < 0 {
		return c, errors.New("mock executor_config: startup_delay_ms and run_ms must not be negative")
	}
	return c, nil
}

// execution is what this process knows about one execution beyond its id.
type execution struct {
	id        string
	labels    map[string]string
	stdout    string
	stderr    string
	stoppedAt time.Time // zero: not stopped
	killAt    time.Time // ignores SIGTERM: ends at stop + grace
	cleaned   bool
}

var (
	mu       sync.Mutex
	registry = map[string]*execution{} // by execution id
	byName   = map[string]string{}     // host + execution name -> id
)

// Executor is a mock host.
type Executor struct {
	host executors.Host
	cfg  Config
	now  func() time.Time
}

// New builds a mock executor for host.
func New(host executors.Host) (executors.Executor, error) {
	cfg, err := ParseConfig(host.Config)
	if err != nil {
		return nil, err
	}
	return &Executor{host: host, cfg: cfg, now: time.Now}, nil
}

// plan is an execution's scripted behaviour, encoded in its id.
type plan struct {
	jobID      uuid.UUID
	attempt    int
	runningAt  time.Time
	runMS      int // -1: never exits
	exit       int
	ignoreTerm bool
	oom        bool
	fail       bool
}

func (p plan) id() string {
	flags := ""
	if p.ignoreTerm {
		flags += "i"
	}
	if p.oom {
		flags += "o"
	}
	if p.fail {
		flags += "f"
	}
	return fmt.Sprintf("mock:%s:%d:%d:%d:%d:%s", p.jobID, p.attempt, p.runningAt.UnixMilli(), p.runMS, p.exit, flags)
}

func parseID(id string) (plan, error) {
	parts := strings.Split(id, ":")
	if len(parts) != 7 || parts[0] != "mock" {
		return plan{}, executors.ErrNotFound
	}
	var p plan
	var err error
	if p.jobID, err = uuid.Parse(parts[1]); err != nil {
		return plan{}, executors.ErrNotFound
	}
	nums := make([]int64, 4)
	for i, s := range parts[2:6] {
		if nums[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return plan{}, executors.ErrNotFound
		}
	}
	p.attempt, p.runningAt, p.runMS, p.exit = int(nums[0]), time.UnixMilli(nums[1]), int(nums[2]), int(nums[3])
	p.ignoreTerm, p.oom, p.fail = strings.Contains(parts[6], "i"), strings.Contains(parts[6], "o"), strings.Contains(parts[6], "f")
	return p, nil
}

func envInt(env map[string]string, key string, def int) int {
	if v, ok := env[key]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// Launch implements executors.Executor.
func (e *Executor) Launch(ctx context.Context, spec executors.Spec) (string, error) {
	if err := e.launchError(spec); err != nil {
		return "", err
	}
	key := e.host.ID.String() + "/" + spec.ExecutionName()
	mu.Lock()
	defer mu.Unlock()
	if id, ok := byName[key]; ok {
		return id, nil
	}
	p := e.plan(spec)
	ex := &execution{id: p.id(), labels: spec.BaseLabels(e.host, "mock"), stdout: line(spec.Env[EnvStdout]), stderr: line(spec.Env[EnvStderr])}
	registry[ex.id] = ex
	byName[key] = ex.id
	return ex.id, nil
}

func line(s string) string {
	if s == "" {
		return ""
	}
	return s + "\n"
}

func (e *Executor) launchError(spec executors.Spec) error {
	msg, permanent := e.cfg.LaunchError, e.cfg.LaunchErrorPermanent
	if v, ok := spec.Env[EnvLaunchError]; ok {
		msg, permanent = v, spec.Env[EnvLaunchPermanent] == "1"
	}
	if n := envInt(spec.Env, EnvFailAttempts, 0); spec.Attempt < n {
		msg, permanent = fmt.Sprintf("scripted failure of attempt %d of %d", spec.Attempt, n), false
	}
	if msg == "" {
		return nil
	}
	if permanent {
		return executors.PermanentError(errors.New(msg))
	}
	return executors.TransientError(errors.New(msg))
}

func (e *Executor) plan(spec executors.Spec) plan {
	env := spec.Env
	p := plan{jobID: spec.JobID, attempt: spec.Attempt,
		runningAt: e.now().Add(time.Duration(envInt(env, EnvStartupDelayMS, e.cfg.StartupDelayMS)) * time.Millisecond),
		runMS:     envInt(env, EnvSleepMS, e.cfg.RunMS), exit: envInt(env, EnvExit, e.cfg.ExitCode),
		ignoreTerm: env[EnvIgnoreTerm] == "1", fail: e.cfg.FailReason != ""}
	if e.cfg.NeverExits || env[EnvNeverExit] == "1" {
		p.runMS = -1
	}
	if alloc := envInt(env, EnvAllocMB, 0); spec.MemoryMB > 0 && alloc > spec.MemoryMB {
		p.oom, p.exit = true, 137
	}
	return p
}

func lookup(id string) *execution {
	mu.Lock()
	defer mu.Unlock()
	return registry[id]
}

// Status implements executors.Executor.
func (e *Executor) Status(ctx context.Context, id string) (executors.Status, error) {
	p, err := parseID(id)
	if err != nil {
		return executors.Status{}, err
	}
	ex := lookup(id)
	if ex != nil && ex.cleaned {
		return executors.Status{}, executors.ErrNotFound
	}
	now := e.now()
	s := executors.Status{State: executors.StatePending, StartedAt: p.runningAt}
	if now.Before(p.runningAt) {
		return s, nil
	}
	s.State = executors.StateRunning
	if ended, code := e.stopped(ex, now); ended {
		return exited(s, ex.stoppedAt, code), nil
	}
	end := p.runningAt.Add(time.Duration(p.runMS) * time.Millisecond)
	if p.runMS < 0 || now.Before(end) {
		return s, nil
	}
	if p.fail {
		s.State, s.FinishedAt, s.Reason, s.Class = executors.StateFailed, end, e.cfg.FailReason, executors.Transient
		return s, nil
	}
	s = exited(s, end, p.exit)
	s.OOMKilled = p.oom
	return s, nil
}

func exited(s executors.Status, at time.Time, code int) executors.Status {
	s.State, s.FinishedAt, s.ExitCode = executors.StateExited, at, &code
	return s
}

// stopped reports whether a stop request has ended ex by now, and its code.
func (e *Executor) stopped(ex *execution, now time.Time) (bool, int) {
	if ex == nil {
		return false, 0
	}
	mu.Lock()
	defer mu.Unlock()
	switch {
	case ex.stoppedAt.IsZero() || e.cfg.IgnoreStop:
		return false, 0
	case !ex.killAt.IsZero():
		return !now.Before(ex.killAt), 137
	}
	return true, 143
}

// Logs implements executors.Executor. Executions launched by another
// process have no logs here.
func (e *Executor) Logs(ctx context.Context, id string) (executors.Logs, error) {
	if _, err := parseID(id); err != nil {
		return executors.Logs{}, err
	}
	ex := lookup(id)
	if ex == nil {
		return executors.Logs{}, nil
	}
	if ex.cleaned {
		return executors.Logs{}, executors.ErrNotFound
	}
	return executors.Logs{Stdout: ex.stdout, Stderr: ex.stderr}, nil
}

// Stop implements executors.Executor.
func (e *Executor) Stop(ctx context.Context, id string, grace time.Duration) error {
	p, err := parseID(id)
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	ex := registry[id]
	if ex == nil { // launched by another process: track the stop here
		ex = &execution{id: id}
		registry[id] = ex
	}
	if ex.cleaned {
		return executors.ErrNotFound
	}
	if ex.stoppedAt.IsZero() {
		ex.stoppedAt = e.now()
		if p.ignoreTerm {
			ex.killAt = ex.stoppedAt.Add(grace)
		}
	}
	return nil
}

// Cleanup implements executors.Executor.
func (e *Executor) Cleanup(ctx context.Context, id string) error {
	mu.Lock()
	defer mu.Unlock()
	if ex := registry[id]; ex != nil {
		ex.cleaned = true
		ex.stdout, ex.stderr = "", ""
	}
	return nil
}

// Health implements executors.Executor.
func (e *Executor) Health(ctx context.Context) error {
	if e.cfg.HealthError != "" {
		return errors.New(e.cfg.HealthError)
	}
	return nil
}

// List implements executors.Executor over this process's executions.
func (e *Executor) List(ctx context.Context, match map[string]string) ([]executors.Execution, error) {
	mu.Lock()
	var ids []string
	for id, ex := range registry {
		if !ex.cleaned && ex.labels[executors.LabelHostID] == e.host.ID.String() && executors.Matches(ex.labels, match) {
			ids = append(ids, id)
		}
	}
	mu.Unlock()
	out := make([]executors.Execution, 0, len(ids))
	for _, id := range ids {
		p, _ := parseID(id)
		s, err := e.Status(ctx, id)
		if err != nil {
			continue
		}
		out = append(out, executors.Execution{ID: id, JobID: p.jobID, Attempt: p.attempt, Labels: lookup(id).labels, Status: s})
	}
	return out, nil
}
