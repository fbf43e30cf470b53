// Package scaleway runs jobs as Scaleway Serverless Jobs through the
// official SDK (jobs v1alpha1): a job definition per distinct spec, reused,
// and one job run per attempt.
package scaleway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	jobs "github.com/scaleway/scaleway-sdk-go/api/jobs/v1alpha1"
	"github.com/scaleway/scaleway-sdk-go/scw"

	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
)

func init() { executors.Register(schematype.ExecutorScaleway, New) }

// Config is a Scaleway host's executor_config. Keys are validated at host
// creation; errors name the key, never its value.
type Config struct {
	Region    scw.Region
	ProjectID string
	AccessKey string
	SecretKey string
	Endpoint  string // API URL override (a local fake, an emulator)
}

var accessKeyRE = regexp.MustCompile(`^SCW[A-Z0-9]{17}$`)

// ParseConfig validates executor_config.
func ParseConfig(raw map[string]any) (Config, error) {
	str := func(k string) string { s, _ := raw[k].(string); return s }
	var c Config
	region, err := scw.ParseRegion(str("region"))
	if str("region") == "" || err != nil {
		return c, errors.New("scaleway executor_config: region is missing or not a Scaleway region (e.g. fr-par)")
	}
	c.Region = region
	if _, err := uuid.Parse(str("project_id")); err != nil {
		return c, errors.New("scaleway executor_config: project_id must be a project UUID")
	}
	c.ProjectID = str("project_id")
	if !accessKeyRE.MatchString(str("access_key")) {
		return c, errors.New("scaleway executor_config: access_key must look like SCWXXXXXXXXXXXXXXXXX")
	}
	c.AccessKey = str("access_key")
	if _, err := uuid.Parse(str("secret_key")); err != nil {
		return c, errors.New("scaleway executor_config: secret_key must be a UUID")
	}
	c.SecretKey = str("secret_key")
	if e := str("endpoint"); e != "" {
		if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
			return c, errors.New("scaleway executor_config: endpoint must be an http(s) URL")
		}
		c.Endpoint = e
	}
	return c, nil
}

// Executor is one Scaleway project and region.
type Executor struct {
	host executors.Host
	cfg  Config
	api  *jobs.API

	mu   sync.Mutex
	defs map[string]string // spec hash -> job definition id
}

// New builds the executor; nothing is called until it is used.
func New(host executors.Host) (executors.Executor, error) {
	cfg, err := ParseConfig(host.Config)
	if err != nil {
		return nil, err
	}
	opts := []scw.ClientOption{scw.WithAuth(cfg.AccessKey, cfg.SecretKey), scw.WithDefaultRegion(cfg.Region),
		scw.WithDefaultProjectID(cfg.ProjectID), scw.WithHTTPClient(&http.Client{Timeout: 30 * time.Second})}
	if cfg.Endpoint != "" {
		opts = append(opts, scw.WithAPIURL(cfg.Endpoint))
	}
	client, err := scw.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("scaleway host %s: client: %v", host.Name, redact(err, cfg))
	}
	return &Executor{host: host, cfg: cfg, api: jobs.NewAPI(client), defs: map[string]string{}}, nil
}

// redact keeps credentials out of error text.
func redact(err error, c Config) string {
	msg := err.Error()
	for _, s := range []string{c.SecretKey, c.AccessKey} {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}

// classify maps provider errors to failure classes: throttling, quotas
// (capacity) and server errors are transient; a refused request is not.
func (e *Executor) classify(op string, err error) error {
	wrapped := fmt.Errorf("scaleway %s: %s", op, redact(err, e.cfg))
	var re *scw.ResponseError
	var quota *scw.QuotasExceededError
	switch {
	case errors.As(err, &quota):
		return executors.TransientError(wrapped)
	case errors.As(err, &re) && re.StatusCode == http.StatusTooManyRequests:
		return executors.ThrottledError(wrapped, 0)
	case errors.As(err, &re) && re.StatusCode >= 500:
		return executors.TransientError(wrapped)
	case errors.As(err, &re) && re.StatusCode >= 400:
		return executors.PermanentError(wrapped)
	}
	return executors.TransientError(wrapped)
}

func notFound(err error) bool {
	var re *scw.ResponseError
	var nf *scw.ResourceNotFoundError
	return errors.As(err, &nf) || (errors.As(err, &re) && re.StatusCode == http.StatusNotFound)
}

// Run environment variables that label a run (Scaleway runs have no labels).
const (
	envJobID   = "GANTRY_JOB_ID"
	envAttempt = "GANTRY_ATTEMPT"
	envHostID  = "GANTRY_HOST_ID"
)

// Launch implements executors.Executor.
func (e *Executor) Launch(ctx context.Context, spec executors.Spec) (string, error) {
	def, err := e.definition(ctx, spec)
	if err != nil {
		return "", err
	}
	if id, ok, err := e.existingRun(ctx, def, spec); err != nil || ok {
		return id, err
	}
	env := make(map[string]string, len(spec.Env)+3)
	for k, v := range spec.Env {
		env[k] = v
	}
	env[envJobID], env[envAttempt], env[envHostID] = spec.JobID.String(), strconv.Itoa(spec.Attempt), e.host.ID.String()
	resp, err := e.api.StartJobDefinition(&jobs.StartJobDefinitionRequest{JobDefinitionID: def, EnvironmentVariables: &env}, scw.WithContext(ctx))
	if err != nil {
		return "", e.classify("start run", err)
	}
	if len(resp.JobRuns) == 0 {
		return "", executors.TransientError(errors.New("scaleway start run: no run returned"))
	}
	return resp.JobRuns[0].ID, nil
}

// definition finds or creates the job definition for spec's image, command
// and resources: one per distinct spec, reused by every run of it.
func (e *Executor) definition(ctx context.Context, spec executors.Spec) (string, error) {
	cpu := uint32(1000) // mvCPU
	if spec.CPU > 0 {
		cpu = uint32(spec.CPU*1000 + 0.5)
	}
	mem := uint32(512)
	if spec.MemoryMB > 0 {
		mem = uint32(spec.MemoryMB)
	}
	command := strings.Join(spec.Command, " ")
	sum := sha256.Sum256([]byte(fmt.Sprint(spec.Image, "\x00", command, "\x00", cpu, "\x00", mem, "\x00", spec.Timeout)))
	name := "gantry-" + hex.EncodeToString(sum[:])[:16]
	e.mu.Lock()
	id, ok := e.defs[name]
	e.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := e.findDefinition(ctx, name)
	if err != nil {
		return "", err
	}
	if id == "" {
		req := &jobs.CreateJobDefinitionRequest{Name: name, CPULimit: cpu, MemoryLimit: mem, ImageURI: spec.Image, Command: command,
			ProjectID: e.cfg.ProjectID, EnvironmentVariables: map[string]string{}, Description: "created by Gantry"}
		if spec.Timeout > 0 {
			req.JobTimeout = scw.NewDurationFromTimeDuration(spec.Timeout)
		}
		def, err := e.api.CreateJobDefinition(req, scw.WithContext(ctx))
		if err != nil {
			return "", e.classify("create job definition", err)
		}
		id = def.ID
	}
	e.mu.Lock()
	e.defs[name] = id
	e.mu.Unlock()
	return id, nil
}

func (e *Executor) findDefinition(ctx context.Context, name string) (string, error) {
	resp, err := e.api.ListJobDefinitions(&jobs.ListJobDefinitionsRequest{ProjectID: &e.cfg.ProjectID}, scw.WithContext(ctx), scw.WithAllPages())
	if err != nil {
		return "", e.classify("list job definitions", err)
	}
	for _, d := range resp.JobDefinitions {
		if d.Name == name {
			return d.ID, nil
		}
	}
	return "", nil
}

// existingRun finds a run already started for this attempt, so a repeated
// launch never starts a second one.
func (e *Executor) existingRun(ctx context.Context, def string, spec executors.Spec) (string, bool, error) {
	runs, err := e.runs(ctx, &def)
	if err != nil {
		return "", false, err
	}
	for _, r := range runs {
		if r.EnvironmentVariables[envJobID] == spec.JobID.String() && r.EnvironmentVariables[envAttempt] == strconv.Itoa(spec.Attempt) {
			return r.ID, true, nil
		}
	}
	return "", false, nil
}

func (e *Executor) runs(ctx context.Context, def *string) ([]*jobs.JobRun, error) {
	resp, err := e.api.ListJobRuns(&jobs.ListJobRunsRequest{JobDefinitionID: def, ProjectID: &e.cfg.ProjectID}, scw.WithContext(ctx), scw.WithAllPages())
	if err != nil {
		return nil, e.classify("list job runs", err)
	}
	return resp.JobRuns, nil
}

// Status implements executors.Executor, mapping every run state.
func (e *Executor) Status(ctx context.Context, id string) (executors.Status, error) {
	r, err := e.api.GetJobRun(&jobs.GetJobRunRequest{JobRunID: id}, scw.WithContext(ctx))
	if notFound(err) {
		return executors.Status{}, executors.ErrNotFound
	}
	if err != nil {
		return executors.Status{}, e.classify("get job run", err)
	}
	return statusOf(r), nil
}

func statusOf(r *jobs.JobRun) executors.Status {
	s := executors.Status{Reason: r.ErrorMessage}
	if r.StartedAt != nil {
		s.StartedAt = *r.StartedAt
	}
	if r.TerminatedAt != nil {
		s.FinishedAt = *r.TerminatedAt
	}
	switch r.State {
	case jobs.JobRunStateQueued, jobs.JobRunStateScheduled:
		s.State = executors.StatePending
	case jobs.JobRunStateRunning:
		s.State = executors.StateRunning
	case jobs.JobRunStateSucceeded, jobs.JobRunStateFailed, jobs.JobRunStateCanceled:
		if r.ExitCode != nil {
			code := int(*r.ExitCode)
			s.State, s.ExitCode = executors.StateExited, &code
			break
		}
		if r.State == jobs.JobRunStateSucceeded {
			zero := 0
			s.State, s.ExitCode = executors.StateExited, &zero
			break
		}
		// Ended without an exit code: the provider failed it (image pull,
		// capacity, quota). Only a bad image is the job's own fault.
		s.State, s.Class = executors.StateFailed, executors.Transient
		if strings.Contains(strings.ToLower(r.ErrorMessage), "image") {
			s.Class = executors.Permanent
		}
	default: // internal_error, unknown_state
		s.State, s.Class = executors.StateFailed, executors.Transient
	}
	return s
}

// Logs implements executors.Executor. Run output lives in Scaleway Cockpit,
// not in the jobs API: the job gets a note saying where.
func (e *Executor) Logs(ctx context.Context, id string) (executors.Logs, error) {
	r, err := e.api.GetJobRun(&jobs.GetJobRunRequest{JobRunID: id}, scw.WithContext(ctx))
	if notFound(err) {
		return executors.Logs{}, executors.ErrNotFound
	}
	if err != nil {
		return executors.Logs{}, e.classify("get job run", err)
	}
	return executors.Logs{Stdout: fmt.Sprintf("[gantry] output of Scaleway job run %s is in Cockpit: https://console.scaleway.com/serverless-jobs/jobs/%s/%s/runs\n",
		id, e.cfg.Region, r.JobDefinitionID)}, nil
}

// Stop implements executors.Executor.
func (e *Executor) Stop(ctx context.Context, id string, _ time.Duration) error {
	_, err := e.api.StopJobRun(&jobs.StopJobRunRequest{JobRunID: id}, scw.WithContext(ctx))
	if notFound(err) {
		return executors.ErrNotFound
	}
	if err != nil {
		return e.classify("stop job run", err)
	}
	return nil
}

// Cleanup implements executors.Executor: runs stay in the provider's
// history; there is nothing to remove.
func (e *Executor) Cleanup(context.Context, string) error { return nil }

// Health implements executors.Executor: the project's job limits answer.
func (e *Executor) Health(ctx context.Context) error {
	if _, err := e.api.GetJobsLimits(&jobs.GetJobsLimitsRequest{}, scw.WithContext(ctx)); err != nil {
		return fmt.Errorf("scaleway host %s unreachable: %s", e.host.Name, redact(err, e.cfg))
	}
	return nil
}

// List implements executors.Executor over this host's runs.
func (e *Executor) List(ctx context.Context, match map[string]string) ([]executors.Execution, error) {
	runs, err := e.runs(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []executors.Execution
	for _, r := range runs {
		labels := map[string]string{executors.LabelJobID: r.EnvironmentVariables[envJobID],
			executors.LabelAttempt: r.EnvironmentVariables[envAttempt], executors.LabelHostID: r.EnvironmentVariables[envHostID]}
		if labels[executors.LabelHostID] != e.host.ID.String() || !executors.Matches(labels, match) {
			continue
		}
		jobID, _ := uuid.Parse(labels[executors.LabelJobID])
		attempt, _ := strconv.Atoi(labels[executors.LabelAttempt])
		out = append(out, executors.Execution{ID: r.ID, JobID: jobID, Attempt: attempt, Labels: labels, Status: statusOf(r)})
	}
	return out, nil
}

// Describe implements executors.Describer.
func (e *Executor) Describe(_ executors.Spec, id string) map[string]any {
	return map[string]any{"provider": "scaleway", "region": string(e.cfg.Region), "projectID": e.cfg.ProjectID, "jobRunID": id}
}

// RateLimited implements executors.RateLimited: the Scaleway API has quotas.
func (*Executor) RateLimited() {}
