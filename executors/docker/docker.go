// Package docker runs jobs as containers on a Docker Engine, local (unix
// socket) or remote (TCP, optionally TLS with certificates from the host's
// executor_config).
package docker

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
)

func init() { executors.Register(schematype.ExecutorDocker, New) }

// DefaultHost is used when a host has no connection string.
const DefaultHost = "unix:///var/run/docker.sock"

// LogCap is how much of each output stream Logs keeps (the tail).
const LogCap = 1 << 20

// Executor is one Docker Engine.
type Executor struct {
	host     executors.Host
	cli      *client.Client
	instance string
}

// New connects to host's engine (lazily: nothing is dialled until used) and
// validates its TLS configuration. Errors name config keys, never values.
func New(host executors.Host) (executors.Executor, error) {
	addr := host.ConnectionString
	if addr == "" {
		addr = DefaultHost
	}
	if !strings.HasPrefix(addr, "unix://") && !strings.HasPrefix(addr, "tcp://") {
		return nil, fmt.Errorf("docker host %s: connection_string must start with unix:// or tcp://", host.Name)
	}
	opts := []client.Opt{client.WithHost(addr), client.WithAPIVersionNegotiation()}
	if host.TLSEnabled {
		hc, err := tlsClient(host)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithHTTPClient(hc), client.WithScheme("https"))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker host %s: %w", host.Name, err)
	}
	instance, _ := os.Hostname()
	return &Executor{host: host, cli: cli, instance: instance}, nil
}

// tlsClient builds an HTTP client from the PEM certificates in executor_config.
func tlsClient(host executors.Host) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !host.TLSVerify} //nolint:gosec // the operator's choice (tls_verify)
	if ca := configString(host, "tls_ca_cert"); ca != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ca)) {
			return nil, fmt.Errorf("docker host %s: executor_config.tls_ca_cert is not a PEM certificate", host.Name)
		}
		cfg.RootCAs = pool
	}
	cert, key := configString(host, "tls_cert"), configString(host, "tls_key")
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("docker host %s: executor_config needs both tls_cert and tls_key", host.Name)
	}
	if cert != "" {
		pair, err := tls.X509KeyPair([]byte(cert), []byte(key))
		if err != nil {
			return nil, fmt.Errorf("docker host %s: executor_config.tls_cert/tls_key are not a valid PEM pair", host.Name)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 0}, nil
}

func configString(h executors.Host, key string) string {
	s, _ := h.Config[key].(string)
	return s
}

// classify turns an engine error into a failure class: an unreachable
// daemon is transient; anything the engine refused about the job is not.
func classify(err error) error {
	switch {
	case client.IsErrConnectionFailed(err), cerrdefs.IsUnavailable(err), cerrdefs.IsDeadlineExceeded(err):
		return executors.TransientError(err)
	case cerrdefs.IsInvalidArgument(err), cerrdefs.IsNotFound(err):
		return executors.PermanentError(err)
	}
	return executors.TransientError(err)
}

// Launch implements executors.Executor.
func (e *Executor) Launch(ctx context.Context, spec executors.Spec) (string, error) {
	name := spec.ExecutionName()
	if id, ok, err := e.existing(ctx, name); err != nil || ok {
		return id, err
	}
	if err := e.ensureImage(ctx, spec.Image); err != nil {
		return "", err
	}
	id, err := e.create(ctx, spec, name)
	if cerrdefs.IsConflict(err) {
		// Another launch of this attempt won the race: use its container.
		if id, ok, err := e.existing(ctx, name); err != nil || ok {
			return id, err
		}
	}
	if err != nil {
		return "", classify(fmt.Errorf("create container: %w", err))
	}
	if err := e.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return "", classify(fmt.Errorf("start container: %w", err))
	}
	return id, nil
}

// existing finds the attempt's container by its deterministic name, and
// starts it if a crash left it created but not started.
func (e *Executor) existing(ctx context.Context, name string) (string, bool, error) {
	c, err := e.cli.ContainerInspect(ctx, name)
	if cerrdefs.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, classify(fmt.Errorf("inspect %s: %w", name, err))
	}
	if c.State != nil && c.State.Status == container.StateCreated {
		if err := e.cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
			return "", false, classify(fmt.Errorf("start container: %w", err))
		}
	}
	return c.ID, true, nil
}

// ensureImage makes the image available, pulling it when the host allows.
func (e *Executor) ensureImage(ctx context.Context, ref string) error {
	_, err := e.cli.ImageInspect(ctx, ref)
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return classify(fmt.Errorf("inspect image %s: %w", ref, err))
	}
	if !e.host.AutoPullImages {
		return executors.PermanentError(fmt.Errorf("image %s is not on host %s and auto_pull_images is off", ref, e.host.Name))
	}
	rc, err := e.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err == nil {
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
	}
	if err != nil {
		// The engine's reason (no such image, no registry, denied) does not
		// change by retrying.
		return executors.PermanentError(fmt.Errorf("pull image %s: %w", ref, err))
	}
	if _, err := e.cli.ImageInspect(ctx, ref); err != nil {
		return executors.PermanentError(fmt.Errorf("image %s unavailable after pull: %w", ref, err))
	}
	return nil
}

func (e *Executor) create(ctx context.Context, spec executors.Spec, name string) (string, error) {
	env := make([]string, 0, len(spec.Env))
	for k, v := range spec.Env {
		env = append(env, k+"="+v)
	}
	cfg := &container.Config{Image: spec.Image, Env: env, WorkingDir: spec.WorkingDir, Labels: spec.BaseLabels(e.host, e.instance)}
	if len(spec.Command) > 0 {
		cfg.Cmd = spec.Command
	}
	hc := &container.HostConfig{}
	if spec.MemoryMB > 0 {
		hc.Memory = int64(spec.MemoryMB) << 20
		hc.MemorySwap = hc.Memory // no swap: over the limit means OOM, not slowness
	}
	if spec.CPU > 0 {
		hc.NanoCPUs = int64(spec.CPU * 1e9)
	}
	resp, err := e.cli.ContainerCreate(ctx, cfg, hc, nil, nil, name)
	return resp.ID, err
}

// Status implements executors.Executor.
func (e *Executor) Status(ctx context.Context, id string) (executors.Status, error) {
	c, err := e.cli.ContainerInspect(ctx, id)
	if cerrdefs.IsNotFound(err) {
		return executors.Status{}, executors.ErrNotFound
	}
	if err != nil {
		return executors.Status{}, classify(fmt.Errorf("inspect %s: %w", id, err))
	}
	st := c.State
	s := executors.Status{StartedAt: parseTime(st.StartedAt)}
	switch st.Status {
	case container.StateCreated:
		s.State = executors.StatePending
	case container.StateExited, container.StateDead:
		code := st.ExitCode
		s.State, s.ExitCode, s.OOMKilled, s.FinishedAt = executors.StateExited, &code, st.OOMKilled, parseTime(st.FinishedAt)
		s.Reason = st.Error
	default:
		s.State = executors.StateRunning
	}
	return s, nil
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 2000 {
		return time.Time{}
	}
	return t
}

// Logs implements executors.Executor: stdout and stderr demultiplexed,
// each capped to its last LogCap bytes.
func (e *Executor) Logs(ctx context.Context, id string) (executors.Logs, error) {
	rc, err := e.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if cerrdefs.IsNotFound(err) {
		return executors.Logs{}, executors.ErrNotFound
	}
	if err != nil {
		return executors.Logs{}, classify(fmt.Errorf("logs of %s: %w", id, err))
	}
	defer rc.Close()
	out, errb := &tailBuffer{max: LogCap}, &tailBuffer{max: LogCap}
	if _, err := stdcopy.StdCopy(out, errb, rc); err != nil {
		return executors.Logs{}, fmt.Errorf("read logs of %s: %w", id, err)
	}
	return executors.Logs{Stdout: out.String(), Stderr: errb.String()}, nil
}

// StreamLogs implements executors.LogStreamer: it follows the container's
// output until the container stops.
func (e *Executor) StreamLogs(ctx context.Context, id string, emit func(stream, line string)) error {
	rc, err := e.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if cerrdefs.IsNotFound(err) {
		return executors.ErrNotFound
	}
	if err != nil {
		return classify(fmt.Errorf("follow logs of %s: %w", id, err))
	}
	defer rc.Close()
	out, errw := &lineWriter{stream: "stdout", emit: emit}, &lineWriter{stream: "stderr", emit: emit}
	_, err = stdcopy.StdCopy(out, errw, rc)
	out.flush()
	errw.flush()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("follow logs of %s: %w", id, err)
	}
	return nil
}

// lineWriter splits a stream into lines for emit.
type lineWriter struct {
	stream string
	emit   func(stream, line string)
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.emit(w.stream, string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emit(w.stream, string(w.buf))
		w.buf = nil
	}
}

// Usage implements executors.UsageReader with a one-shot stats read.
func (e *Executor) Usage(ctx context.Context, id string) (executors.Usage, error) {
	r, err := e.cli.ContainerStatsOneShot(ctx, id)
	if cerrdefs.IsNotFound(err) {
		return executors.Usage{}, executors.ErrNotFound
	}
	if err != nil {
		return executors.Usage{}, classify(fmt.Errorf("stats of %s: %w", id, err))
	}
	defer r.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
		return executors.Usage{}, fmt.Errorf("stats of %s: %w", id, err)
	}
	return executors.Usage{MemoryBytes: int64(max(st.MemoryStats.Usage, st.MemoryStats.MaxUsage)), CPUNanos: st.CPUStats.CPUUsage.TotalUsage, At: time.Now()}, nil
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	buf bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return n, nil
}

func (t *tailBuffer) String() string { return t.buf.String() }

// Stop implements executors.Executor: SIGTERM, then SIGKILL after grace.
func (e *Executor) Stop(ctx context.Context, id string, grace time.Duration) error {
	secs := max(0, int(grace.Round(time.Second)/time.Second))
	err := e.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs})
	if cerrdefs.IsNotFound(err) {
		return executors.ErrNotFound
	}
	if err != nil {
		return classify(fmt.Errorf("stop %s: %w", id, err))
	}
	return nil
}

// Cleanup implements executors.Executor: the container is removed.
func (e *Executor) Cleanup(ctx context.Context, id string) error {
	err := e.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	if err == nil || cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) {
		return nil // gone, or already being removed
	}
	return classify(fmt.Errorf("remove %s: %w", id, err))
}

// Health implements executors.Executor: ping and version.
func (e *Executor) Health(ctx context.Context) error {
	if _, err := e.cli.Ping(ctx); err != nil {
		return fmt.Errorf("docker host %s unreachable: %w", e.host.Name, err)
	}
	if _, err := e.cli.ServerVersion(ctx); err != nil {
		return fmt.Errorf("docker host %s version: %w", e.host.Name, err)
	}
	return nil
}

// List implements executors.Executor.
func (e *Executor) List(ctx context.Context, match map[string]string) ([]executors.Execution, error) {
	args := filters.NewArgs(filters.Arg("label", executors.LabelHostID+"="+e.host.ID.String()))
	for k, v := range match {
		args.Add("label", k+"="+v)
	}
	cs, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		return nil, classify(fmt.Errorf("list containers: %w", err))
	}
	out := make([]executors.Execution, 0, len(cs))
	for _, c := range cs {
		jobID, _ := uuid.Parse(c.Labels[executors.LabelJobID])
		attempt, _ := strconv.Atoi(c.Labels[executors.LabelAttempt])
		st := executors.Status{State: executors.StateRunning}
		if c.State == container.StateExited || c.State == container.StateDead {
			st.State = executors.StateExited
		}
		out = append(out, executors.Execution{ID: c.ID, JobID: jobID, Attempt: attempt, Labels: c.Labels, Status: st})
	}
	return out, nil
}

// Client exposes the engine client (for tests and tools).
func (e *Executor) Client() *client.Client { return e.cli }
