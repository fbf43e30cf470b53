// Package cloudrun runs jobs as Google Cloud Run Jobs executions through the
// official clients (cloud.google.com/go/run/apiv2 and, for the output,
// cloud.google.com/go/logging/apiv2, over gRPC): one Cloud Run Job
// per distinct template (image, command, size), created once and reused,
// and one execution per attempt, started by RunJob with the attempt's
// environment and timeout as overrides. Retries stay 0 at Cloud Run:
// Gantry owns retries.
package cloudrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	logging "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
)

func init() { executors.Register(schematype.ExecutorCloudRun, New) }

// envLabels carries an execution's Gantry labels. RunJob takes no labels
// and Cloud Run label keys cannot hold Gantry's, so they travel in the
// overridden environment, which the execution's template keeps.
const envLabels = "GANTRY_LABELS"

// Job labels mark the Cloud Run Jobs Gantry manages, per host.
const (
	labelManaged = "managed-by"
	labelHost    = "gantry-host"
)

// Executor is one Google Cloud project and region.
type Executor struct {
	host  executors.Host
	cfg   Config
	jobs  *run.JobsClient
	execs *run.ExecutionsClient
	tasks *run.TasksClient
	logs  *logging.Client
	conn  *grpc.ClientConn // dialed by Gantry (endpoint override), else nil

	once     sync.Once
	connErr  error
	flight   singleflight.Group
	mu       sync.Mutex
	ready    map[string]bool   // Cloud Run Job names known to exist
	launched map[string]string // attempt execution name -> Cloud Run execution, until Cleanup
	attempts map[string]string // Cloud Run execution -> attempt execution name
}

// New builds the executor. It only validates: the API clients are made on
// first use, so checking a host's config needs no credentials or network.
func New(host executors.Host) (executors.Executor, error) {
	cfg, err := ParseConfig(host.Config)
	if err != nil {
		return nil, err
	}
	return &Executor{host: host, cfg: cfg, ready: map[string]bool{}, launched: map[string]string{}, attempts: map[string]string{}}, nil
}

// connect makes the API clients once.
func (e *Executor) connect() error {
	e.once.Do(func() { e.connErr = e.dial() })
	return e.connErr
}

func (e *Executor) dial() error {
	opts, conn, err := clientOptions(e.cfg)
	if err != nil {
		return executors.PermanentError(err)
	}
	e.conn = conn
	ctx := context.Background()
	if e.jobs, err = run.NewJobsClient(ctx, opts...); err != nil {
		return executors.TransientError(fmt.Errorf("cloudrun jobs client: %w", err))
	}
	if e.execs, err = run.NewExecutionsClient(ctx, opts...); err != nil {
		return executors.TransientError(fmt.Errorf("cloudrun executions client: %w", err))
	}
	if e.tasks, err = run.NewTasksClient(ctx, opts...); err != nil {
		return executors.TransientError(fmt.Errorf("cloudrun tasks client: %w", err))
	}
	if e.logs, err = logging.NewClient(ctx, opts...); err != nil {
		return executors.TransientError(fmt.Errorf("cloudrun logging client: %w", err))
	}
	return nil
}

func (e *Executor) parent() string {
	return fmt.Sprintf("projects/%s/locations/%s", e.cfg.Project, e.cfg.Region)
}

// classify maps gRPC status codes to failure classes; the message is the
// provider's, which never carries the key.
func classify(op string, err error) error {
	st := status.Convert(err)
	wrapped := fmt.Errorf("cloudrun %s: %s", op, st.Message())
	switch st.Code() {
	case codes.ResourceExhausted: // quota or rate: back off, as the provider asks
		var after time.Duration
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				after = ri.GetRetryDelay().AsDuration()
			}
		}
		return executors.ThrottledError(wrapped, after)
	case codes.InvalidArgument, codes.OutOfRange: // the job's spec is refused
		return executors.PermanentError(wrapped)
	}
	// Unavailable (no capacity), Internal, DeadlineExceeded, Aborted are
	// worth retrying; PermissionDenied, Unauthenticated, FailedPrecondition
	// and NotFound are the host's problem (its key, its project), not the
	// job's: the job retries, elsewhere, and the host's breaker opens.
	return executors.TransientError(wrapped)
}

// Launch implements executors.Executor.
func (e *Executor) Launch(ctx context.Context, spec executors.Spec) (string, error) {
	if err := e.connect(); err != nil {
		return "", err
	}
	sz, err := sizeFor(spec, e.cfg.Size)
	if err != nil {
		return "", executors.PermanentError(err)
	}
	job, err := e.ensureJob(ctx, spec, sz)
	if err != nil {
		return "", err
	}
	// One launch per attempt at a time: a repeat waits for the first.
	id, err, _ := e.flight.Do(spec.ExecutionName(), func() (any, error) { return e.run(ctx, job, spec) })
	if err != nil {
		return "", err
	}
	return id.(string), nil
}

// run starts the attempt's execution unless it already exists.
func (e *Executor) run(ctx context.Context, job string, spec executors.Spec) (string, error) {
	if id, err := e.findLaunched(ctx, job, spec); id != "" || err != nil {
		return id, err
	}
	labels, _ := json.Marshal(spec.BaseLabels(e.host, ""))
	env := []*runpb.EnvVar{{Name: envLabels, Values: &runpb.EnvVar_Value{Value: string(labels)}}}
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		if k == envLabels {
			continue // Gantry's own: a job cannot forge another's labels
		}
		env = append(env, &runpb.EnvVar{Name: k, Values: &runpb.EnvVar_Value{Value: spec.Env[k]}})
	}
	ov := &runpb.RunJobRequest_Overrides{TaskCount: 1, ContainerOverrides: []*runpb.RunJobRequest_Overrides_ContainerOverride{{Env: env}}}
	if spec.Timeout > 0 {
		ov.Timeout = durationpb.New(spec.Timeout)
	}
	op, err := e.jobs.RunJob(ctx, &runpb.RunJobRequest{Name: job, Overrides: ov})
	if status.Code(err) == codes.NotFound {
		e.mu.Lock()
		delete(e.ready, job) // deleted at Cloud Run: the next attempt recreates it
		e.mu.Unlock()
	}
	if err != nil {
		return "", classify("run job", err)
	}
	// The operation ends with the execution; its metadata names it now.
	ex, err := op.Metadata()
	if err != nil || ex.GetName() == "" {
		return "", executors.TransientError(fmt.Errorf("cloudrun run job: operation %s names no execution", op.Name()))
	}
	e.mu.Lock()
	e.launched[spec.ExecutionName()] = ex.GetName()
	e.attempts[ex.GetName()] = spec.ExecutionName()
	e.mu.Unlock()
	return ex.GetName(), nil
}

// findLaunched finds the attempt's execution if it was already started, in
// this process or (after a restart) among the job's recent executions.
func (e *Executor) findLaunched(ctx context.Context, job string, spec executors.Spec) (string, error) {
	e.mu.Lock()
	id := e.launched[spec.ExecutionName()]
	e.mu.Unlock()
	if id != "" {
		return id, nil
	}
	// Executions list newest first; an attempt relaunched after a crash is
	// among the recent ones, so the scan stops after the newest 300 (on a
	// template launching faster than that per lease period, a takeover may
	// start the attempt again).
	it := e.execs.ListExecutions(ctx, &runpb.ListExecutionsRequest{Parent: job, PageSize: 100})
	for range 300 {
		ex, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return "", nil
		}
		if err != nil {
			return "", classify("list executions", err)
		}
		l := labelsOf(ex)
		if l[executors.LabelJobID] == spec.JobID.String() && l[executors.LabelAttempt] == strconv.Itoa(spec.Attempt) {
			return ex.GetName(), nil
		}
	}
	return "", nil
}

// ensureJob creates (once) the Cloud Run Job for the spec's template.
func (e *Executor) ensureJob(ctx context.Context, spec executors.Spec, sz size) (string, error) {
	sum := sha256.Sum256([]byte(fmt.Sprint(spec.Image, "\x00", strings.Join(spec.Command, "\x00"), "\x00", spec.WorkingDir, "\x00",
		sz.cpu, sz.memory, e.cfg.ServiceAccount)))
	id := "gantry-" + hex.EncodeToString(sum[:])[:16]
	name := e.parent() + "/jobs/" + id
	e.mu.Lock()
	ok := e.ready[name]
	e.mu.Unlock()
	if ok {
		return name, nil
	}
	_, err := e.jobs.GetJob(ctx, &runpb.GetJobRequest{Name: name})
	if status.Code(err) == codes.NotFound {
		err = e.createJob(ctx, id, spec, sz)
	}
	if err != nil {
		return "", classify("get job", err)
	}
	e.mu.Lock()
	e.ready[name] = true
	e.mu.Unlock()
	return name, nil
}

func (e *Executor) createJob(ctx context.Context, id string, spec executors.Spec, sz size) error {
	c := &runpb.Container{Name: "job", Image: spec.Image, WorkingDir: spec.WorkingDir,
		Resources: &runpb.ResourceRequirements{Limits: map[string]string{"cpu": strconv.Itoa(sz.cpu), "memory": fmt.Sprintf("%dMi", sz.memory)}}}
	if len(spec.Command) > 0 {
		c.Command = spec.Command
	}
	job := &runpb.Job{
		Labels: map[string]string{labelManaged: "gantry", labelHost: e.host.ID.String()},
		Template: &runpb.ExecutionTemplate{TaskCount: 1, Template: &runpb.TaskTemplate{
			Containers: []*runpb.Container{c}, ServiceAccount: e.cfg.ServiceAccount,
			Retries: &runpb.TaskTemplate_MaxRetries{MaxRetries: 0}}},
	}
	op, err := e.jobs.CreateJob(ctx, &runpb.CreateJobRequest{Parent: e.parent(), JobId: id, Job: job})
	if status.Code(err) == codes.AlreadyExists {
		return nil // another replica created it first
	}
	if err != nil {
		return err
	}
	_, err = op.Wait(ctx)
	return err
}

// owned reports whether id names an execution under this host's project
// and region; anything else cannot be one of ours.
func (e *Executor) owned(id string) bool {
	return strings.HasPrefix(id, e.parent()+"/jobs/") && strings.Contains(id, "/executions/")
}

// Status implements executors.Executor.
func (e *Executor) Status(ctx context.Context, id string) (executors.Status, error) {
	ex, err := e.execution(ctx, id)
	if err != nil {
		return executors.Status{}, err
	}
	return e.statusOf(ctx, ex)
}

// execution reads one of this host's executions; ErrNotFound for an id
// that is not one, or no longer exists.
func (e *Executor) execution(ctx context.Context, id string) (*runpb.Execution, error) {
	if !e.owned(id) {
		return nil, executors.ErrNotFound
	}
	if err := e.connect(); err != nil {
		return nil, err
	}
	ex, err := e.execs.GetExecution(ctx, &runpb.GetExecutionRequest{Name: id})
	if status.Code(err) == codes.NotFound {
		return nil, executors.ErrNotFound
	}
	if err != nil {
		return nil, classify("get execution", err)
	}
	return ex, nil
}

// statusOf maps an execution (and, once it ended, its task's last attempt)
// to a Status.
func (e *Executor) statusOf(ctx context.Context, ex *runpb.Execution) (executors.Status, error) {
	s := executors.Status{StartedAt: ex.GetStartTime().AsTime(), FinishedAt: ex.GetCompletionTime().AsTime()}
	if ex.GetStartTime() == nil {
		s.StartedAt = time.Time{}
	}
	if ex.GetCompletionTime() == nil {
		s.FinishedAt, s.State = time.Time{}, executors.StatePending
		if ex.GetRunningCount() > 0 || ex.GetStartTime() != nil {
			s.State = executors.StateRunning
		}
		return s, nil
	}
	attempt, err := e.lastAttempt(ctx, ex.GetName())
	if err != nil {
		return s, err
	}
	if attempt != nil && (attempt.GetExitCode() != 0 || attempt.GetTermSignal() != 0 || ex.GetSucceededCount() > 0) {
		code := int(attempt.GetExitCode())
		if sig := attempt.GetTermSignal(); code == 0 && sig != 0 {
			code = 128 + int(sig)
		}
		s.State, s.ExitCode = executors.StateExited, &code
		return s, nil
	}
	if ex.GetSucceededCount() > 0 {
		code := 0
		s.State, s.ExitCode = executors.StateExited, &code
		return s, nil
	}
	// Ended without an exit code: Cloud Run failed (or cancelled) it.
	s.State, s.Class, s.Reason = executors.StateFailed, executors.Transient, "execution failed"
	if c := completed(ex); c != nil {
		s.Reason = strings.TrimSpace(c.GetReason().String() + ": " + c.GetMessage())
		if permanentReasons[c.GetReason()] {
			s.Class = executors.Permanent // a missing image does not heal by retrying
		}
	}
	if ex.GetCancelledCount() > 0 {
		s.Reason = "cancelled"
	}
	return s, nil
}

// permanentReasons are failures of the job's own making.
var permanentReasons = map[runpb.Condition_CommonReason]bool{
	runpb.Condition_CONTAINER_MISSING:                          true,
	runpb.Condition_CONTAINER_PERMISSION_DENIED:                true,
	runpb.Condition_CONTAINER_IMAGE_UNAUTHORIZED:               true,
	runpb.Condition_CONTAINER_IMAGE_AUTHORIZATION_CHECK_FAILED: true,
	runpb.Condition_SECRETS_ACCESS_CHECK_FAILED:                true,
}

func completed(ex *runpb.Execution) *runpb.Condition {
	for _, c := range ex.GetConditions() {
		if c.GetType() == "Completed" {
			return c
		}
	}
	return nil
}

// lastAttempt is the execution's (single) task's last attempt, if any ran.
func (e *Executor) lastAttempt(ctx context.Context, execution string) (*runpb.TaskAttemptResult, error) {
	it := e.tasks.ListTasks(ctx, &runpb.ListTasksRequest{Parent: execution, PageSize: 1})
	t, err := it.Next()
	if errors.Is(err, iterator.Done) {
		return nil, nil
	}
	if err != nil {
		return nil, classify("list tasks", err)
	}
	return t.GetLastAttemptResult(), nil
}

// Logs implements executors.Executor: Cloud Run writes the containers'
// stdout and stderr to Cloud Logging, read back here per execution. When
// Cloud Logging cannot be read (no permission, nothing ingested yet) the
// job gets a note with the execution's log URL instead.
func (e *Executor) Logs(ctx context.Context, id string) (executors.Logs, error) {
	ex, err := e.execution(ctx, id)
	if err != nil {
		return executors.Logs{}, err
	}
	logs, err := e.cloudLogging(ctx, id)
	if err == nil && logs.Stdout+logs.Stderr != "" {
		return logs, nil
	}
	where := ex.GetLogUri()
	if where == "" {
		where = "Cloud Logging (resource.type=cloud_run_job)"
	}
	note := fmt.Sprintf("[gantry] output of Cloud Run execution %s is in %s\n", id, where)
	if err != nil {
		note = fmt.Sprintf("[gantry] reading Cloud Logging failed (%v); output of Cloud Run execution %s is in %s\n", err, id, where)
	}
	return executors.Logs{Stdout: note}, nil
}

// LogPoll is how often StreamLogs reads new entries from Cloud Logging.
var LogPoll = 2 * time.Second

// StreamLogs implements executors.LogStreamer by polling Cloud Logging for
// entries newer than the last seen (deduplicated by insert id, since
// entries can share a timestamp) until the execution ends; one last read
// then catches what was logged at the end.
func (e *Executor) StreamLogs(ctx context.Context, id string, emit func(stream, line string)) error {
	if !e.owned(id) {
		return executors.ErrNotFound
	}
	if err := e.connect(); err != nil {
		return err
	}
	var since time.Time
	seen := map[string]bool{}
	for {
		s, err := e.Status(ctx, id)
		if err != nil {
			return err
		}
		if since, err = e.tail(ctx, id, since, seen, emit); err != nil {
			return err
		}
		if s.Ended() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(LogPoll):
		}
	}
}

// tail emits the entries at or after since not emitted yet (seen holds the
// ids already emitted at since), and returns the newest timestamp.
func (e *Executor) tail(ctx context.Context, id string, since time.Time, seen map[string]bool, emit func(stream, line string)) (time.Time, error) {
	filter := e.logFilter(id)
	if !since.IsZero() {
		filter += fmt.Sprintf(` AND timestamp>=%q`, since.UTC().Format(time.RFC3339Nano))
	}
	it := e.logs.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/" + e.cfg.Project},
		Filter: filter, OrderBy: "timestamp asc", PageSize: 1000})
	for {
		entry, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return since, nil
		}
		if err != nil {
			return since, classify("list log entries", err)
		}
		if seen[entry.GetInsertId()] {
			continue
		}
		// Only entries at the newest timestamp can come again (the next
		// read starts there), so only their ids are remembered.
		if at := entry.GetTimestamp().AsTime(); at.After(since) {
			since = at
			clear(seen)
		}
		seen[entry.GetInsertId()] = true
		stream := "stdout"
		if strings.HasSuffix(entry.GetLogName(), "%2Fstderr") {
			stream = "stderr"
		}
		emit(stream, strings.TrimSuffix(entry.GetTextPayload(), "\n"))
	}
}

func (e *Executor) logFilter(id string) string {
	return fmt.Sprintf(`resource.type="cloud_run_job" AND resource.labels.location=%q AND labels."run.googleapis.com/execution_name"=%q`,
		e.cfg.Region, id[strings.LastIndex(id, "/")+1:])
}

// maxLogBytes bounds what is read from Cloud Logging per execution.
const maxLogBytes = 1 << 20

// cloudLogging reads an execution's entries, oldest first, split by the
// stream Cloud Run logged them from.
func (e *Executor) cloudLogging(ctx context.Context, id string) (executors.Logs, error) {
	it := e.logs.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/" + e.cfg.Project},
		Filter: e.logFilter(id), OrderBy: "timestamp asc", PageSize: 1000})
	var out, errs strings.Builder
	for out.Len()+errs.Len() < maxLogBytes {
		entry, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return executors.Logs{}, classify("list log entries", err)
		}
		w := &out
		if strings.HasSuffix(entry.GetLogName(), "%2Fstderr") {
			w = &errs
		}
		w.WriteString(strings.TrimSuffix(entry.GetTextPayload(), "\n"))
		w.WriteByte('\n')
	}
	return executors.Logs{Stdout: out.String(), Stderr: errs.String()}, nil
}

// Stop implements executors.Executor: CancelExecution; Cloud Run sends
// SIGTERM and kills after its own grace. Callers confirm with Status.
func (e *Executor) Stop(ctx context.Context, id string, _ time.Duration) error {
	if !e.owned(id) {
		return executors.ErrNotFound
	}
	if err := e.connect(); err != nil {
		return err
	}
	_, err := e.execs.CancelExecution(ctx, &runpb.CancelExecutionRequest{Name: id})
	switch status.Code(err) {
	case codes.OK, codes.FailedPrecondition: // already ended
		return nil
	case codes.NotFound:
		return executors.ErrNotFound
	}
	return classify("cancel execution", err)
}

// Cleanup implements executors.Executor: executions stay in the job's
// history at Cloud Run, which expires them; the executor forgets the
// attempt, so its memory does not grow with every job ever run.
func (e *Executor) Cleanup(_ context.Context, id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if key, ok := e.attempts[id]; ok {
		delete(e.launched, key)
		delete(e.attempts, id)
	}
	return nil
}

// Health implements executors.Executor.
func (e *Executor) Health(ctx context.Context) error {
	if err := e.connect(); err != nil {
		return fmt.Errorf("cloudrun host %s: %w", e.host.Name, err)
	}
	_, err := e.jobs.ListJobs(ctx, &runpb.ListJobsRequest{Parent: e.parent(), PageSize: 1}).Next()
	if err != nil && !errors.Is(err, iterator.Done) {
		return fmt.Errorf("cloudrun host %s: %w", e.host.Name, classify("list jobs", err))
	}
	return nil
}

// List implements executors.Executor over this host's Cloud Run Jobs.
func (e *Executor) List(ctx context.Context, match map[string]string) ([]executors.Execution, error) {
	if err := e.connect(); err != nil {
		return nil, err
	}
	var res []executors.Execution
	jobs := e.jobs.ListJobs(ctx, &runpb.ListJobsRequest{Parent: e.parent(), PageSize: 100})
	for {
		job, err := jobs.Next()
		if errors.Is(err, iterator.Done) {
			return res, nil
		}
		if err != nil {
			return nil, classify("list jobs", err)
		}
		if job.GetLabels()[labelManaged] != "gantry" || job.GetLabels()[labelHost] != e.host.ID.String() {
			continue
		}
		found, err := e.listJob(ctx, job.GetName(), match)
		if err != nil {
			return nil, err
		}
		res = append(res, found...)
	}
}

func (e *Executor) listJob(ctx context.Context, job string, match map[string]string) ([]executors.Execution, error) {
	var res []executors.Execution
	it := e.execs.ListExecutions(ctx, &runpb.ListExecutionsRequest{Parent: job, PageSize: 100})
	for {
		ex, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return res, nil
		}
		if err != nil {
			return nil, classify("list executions", err)
		}
		labels := labelsOf(ex)
		if labels[executors.LabelHostID] != e.host.ID.String() || !executors.Matches(labels, match) {
			continue
		}
		s, err := e.statusOf(ctx, ex)
		if err != nil {
			return nil, err
		}
		jobID, _ := uuid.Parse(labels[executors.LabelJobID])
		attempt, _ := strconv.Atoi(labels[executors.LabelAttempt])
		res = append(res, executors.Execution{ID: ex.GetName(), JobID: jobID, Attempt: attempt, Labels: labels, Status: s})
	}
}

// labelsOf reads the Gantry labels from an execution's environment.
func labelsOf(ex *runpb.Execution) map[string]string {
	labels := map[string]string{}
	for _, c := range ex.GetTemplate().GetContainers() {
		for _, v := range c.GetEnv() {
			if v.GetName() == envLabels {
				_ = json.Unmarshal([]byte(v.GetValue()), &labels)
			}
		}
	}
	return labels
}

// Describe implements executors.Describer.
func (e *Executor) Describe(spec executors.Spec, id string) map[string]any {
	job, _, _ := strings.Cut(strings.TrimPrefix(id, e.parent()+"/jobs/"), "/")
	d := map[string]any{"provider": "cloudrun", "project": e.cfg.Project, "region": e.cfg.Region, "execution": id,
		"consoleURL": fmt.Sprintf("https://console.cloud.google.com/run/jobs/details/%s/%s/executions?project=%s", e.cfg.Region, job, e.cfg.Project)}
	if sz, err := sizeFor(spec, e.cfg.Size); err == nil {
		d["size"] = map[string]any{"vcpu": sz.cpu, "memoryMiB": sz.memory,
			"note": fmt.Sprintf("requested %g vCPU / %d MiB, rounded up to the nearest Cloud Run Jobs size", spec.CPU, spec.MemoryMB)}
	}
	return d
}

// RateLimited implements executors.RateLimited: Cloud Run has API quotas.
func (*Executor) RateLimited() {}

// BilledSize implements executors.Sizer.
func (e *Executor) BilledSize(cores float64, memoryMB int) (float64, int) {
	sz, err := sizeFor(executors.Spec{CPU: cores, MemoryMB: memoryMB}, e.cfg.Size)
	if err != nil {
		return cores, memoryMB // no size fits: the launch will say so
	}
	return float64(sz.cpu), sz.memory
}

// Close implements io.Closer: the API clients' connections are closed
// (the dispatcher retires an executor when its host's config changes).
func (e *Executor) Close() error {
	e.once.Do(func() { e.connErr = errors.New("cloudrun executor closed") }) // never dial after Close
	if e.conn != nil {
		return e.conn.Close() // the one connection all four clients share
	}
	var errs []error
	if e.jobs != nil {
		errs = append(errs, e.jobs.Close())
	}
	if e.execs != nil {
		errs = append(errs, e.execs.Close())
	}
	if e.tasks != nil {
		errs = append(errs, e.tasks.Close())
	}
	if e.logs != nil {
		errs = append(errs, e.logs.Close())
	}
	return errors.Join(errs...)
}
