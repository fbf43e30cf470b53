// Package conformance is the test suite every executor backend passes. It
// drives a backend through the shared "test workload" protocol: job
// environment variables that the mock obeys directly and that the Docker
// test image's program implements.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/executors"
)

// The test workload protocol.
const (
	EnvStdout     = "GANTRY_TEST_STDOUT"      // written to stdout, then a newline
	EnvStderr     = "GANTRY_TEST_STDERR"      // written to stderr, then a newline
	EnvSleepMS    = "GANTRY_TEST_SLEEP_MS"    // run time before exiting
	EnvExit       = "GANTRY_TEST_EXIT"        // exit code
	EnvNeverExit  = "GANTRY_TEST_NEVER_EXIT"  // "1": run until stopped
	EnvIgnoreTerm = "GANTRY_TEST_IGNORE_TERM" // "1": only the forced kill stops it
	EnvAllocMB    = "GANTRY_TEST_ALLOC_MB"    // allocate and touch this many MB
)

// Harness is a backend under test.
type Harness struct {
	Exec  executors.Executor
	Host  executors.Host
	Image string        // an image implementing the test workload protocol
	Poll  time.Duration // status poll interval (20ms)
	Wait  time.Duration // longest wait for an execution to end (30s)
	// NoLogs: the backend cannot return output (it lives at the provider).
	NoLogs bool
	// CleanupKeeps: executions stay visible after Cleanup (a provider's
	// run history), so Status still answers.
	CleanupKeeps bool
}

func (h *Harness) defaults() {
	if h.Poll == 0 {
		h.Poll = 20 * time.Millisecond
	}
	if h.Wait == 0 {
		h.Wait = 30 * time.Second
	}
}

// Spec is a job attempt of the test workload with env.
func (h Harness) Spec(env map[string]string) executors.Spec {
	return executors.Spec{JobID: uuid.New(), Image: h.Image, Env: env}
}

// WaitEnded polls until the execution ends.
func WaitEnded(ctx context.Context, ex executors.Executor, id string, poll time.Duration) (executors.Status, error) {
	for {
		s, err := ex.Status(ctx, id)
		if err != nil || s.Ended() {
			return s, err
		}
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("execution %s still %s: %w", id, s.State, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	h.defaults()
	t.Run("ExitZeroWithLogs", func(t *testing.T) { exitZero(t, h) })
	t.Run("ExitCode", func(t *testing.T) { exitCode(t, h) })
	t.Run("IdempotentLaunch", func(t *testing.T) { idempotent(t, h) })
	t.Run("ListByLabels", func(t *testing.T) { list(t, h) })
	t.Run("Stop", func(t *testing.T) { stop(t, h, false) })
	t.Run("StopIgnoringSIGTERM", func(t *testing.T) { stop(t, h, true) })
	t.Run("Unknown", func(t *testing.T) { unknown(t, h) })
	t.Run("Health", func(t *testing.T) {
		if err := h.Exec.Health(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) { concurrent(t, h) })
	if _, ok := h.Exec.(executors.LogStreamer); ok {
		t.Run("LiveLogs", func(t *testing.T) { liveLogs(t, h) })
	}
}

// EnvTicks makes the workload print "tick 1".."tick n" on stdout, one
// every 100 ms.
const EnvTicks = "GANTRY_TEST_TICKS"

// liveLogs follows a running execution: its lines arrive while it runs,
// each once and in order, and the stream ends with the execution.
func liveLogs(t *testing.T, h Harness) {
	ctx, cancel := context.WithTimeout(context.Background(), h.Wait)
	defer cancel()
	id := h.launch(t, h.Spec(map[string]string{EnvTicks: "6"}))
	var ticks []string
	running := false
	err := h.Exec.(executors.LogStreamer).StreamLogs(ctx, id, func(stream, line string) {
		if stream != "stdout" || !strings.HasPrefix(line, "tick ") {
			return
		}
		ticks = append(ticks, line)
		if line == "tick 2" {
			s, err := h.Exec.Status(ctx, id)
			running = err == nil && s.State == executors.StateRunning
		}
	})
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	want := []string{"tick 1", "tick 2", "tick 3", "tick 4", "tick 5", "tick 6"}
	if strings.Join(ticks, ",") != strings.Join(want, ",") || !running {
		t.Fatalf("ticks %v (running at tick 2: %v), want %v while running", ticks, running, want)
	}
}

func (h Harness) launch(t *testing.T, spec executors.Spec) string {
	t.Helper()
	id, err := h.Exec.Launch(context.Background(), spec)
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	t.Cleanup(func() { _ = h.Exec.Cleanup(context.Background(), id) })
	return id
}

func (h Harness) wait(t *testing.T, id string) executors.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), h.Wait)
	defer cancel()
	s, err := WaitEnded(ctx, h.Exec, id, h.Poll)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return s
}

func exitZero(t *testing.T, h Harness) {
	id := h.launch(t, h.Spec(map[string]string{EnvStdout: "hello out", EnvStderr: "hello err", EnvSleepMS: "50"}))
	s := h.wait(t, id)
	if s.State != executors.StateExited || s.ExitCode == nil || *s.ExitCode != 0 {
		t.Fatalf("status %+v, want exited 0", s)
	}
	if s.StartedAt.IsZero() || s.FinishedAt.Before(s.StartedAt) {
		t.Errorf("started %v finished %v", s.StartedAt, s.FinishedAt)
	}
	logs, err := h.Exec.Logs(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if h.NoLogs {
		return
	}
	if !strings.Contains(logs.Stdout, "hello out") || strings.Contains(logs.Stdout, "hello err") ||
		!strings.Contains(logs.Stderr, "hello err") || strings.Contains(logs.Stderr, "hello out") {
		t.Errorf("logs not separated: %+v", logs)
	}
	if err := h.Exec.Cleanup(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if h.CleanupKeeps {
		return
	}
	if _, err := h.Exec.Status(context.Background(), id); !errors.Is(err, executors.ErrNotFound) {
		t.Errorf("status after cleanup: %v, want ErrNotFound", err)
	}
}

func exitCode(t *testing.T, h Harness) {
	s := h.wait(t, h.launch(t, h.Spec(map[string]string{EnvExit: "3"})))
	if s.ExitCode == nil || *s.ExitCode != 3 {
		t.Fatalf("status %+v, want exit 3", s)
	}
}

func idempotent(t *testing.T, h Harness) {
	spec := h.Spec(map[string]string{EnvSleepMS: "100"})
	a, b := h.launch(t, spec), h.launch(t, spec)
	if a != b {
		t.Fatalf("second launch of the same attempt gave %s, first %s", b, a)
	}
	spec.Attempt = 1
	if c := h.launch(t, spec); c == a {
		t.Fatal("a new attempt reused the execution")
	}
	got, err := h.Exec.List(context.Background(), map[string]string{executors.LabelJobID: spec.JobID.String()})
	if err != nil || len(got) != 2 {
		t.Fatalf("list: %d executions, %v; want 2 (one per attempt)", len(got), err)
	}
	h.wait(t, a)
}

func list(t *testing.T, h Harness) {
	spec := h.Spec(nil)
	id := h.launch(t, spec)
	got, err := h.Exec.List(context.Background(), map[string]string{executors.LabelJobID: spec.JobID.String()})
	if err != nil || len(got) != 1 {
		t.Fatalf("list: %v, %v", got, err)
	}
	e := got[0]
	if e.ID != id || e.JobID != spec.JobID || e.Attempt != 0 || e.Labels[executors.LabelHostID] != h.Host.ID.String() {
		t.Errorf("execution %+v", e)
	}
	none, err := h.Exec.List(context.Background(), map[string]string{executors.LabelJobID: uuid.NewString()})
	if err != nil || len(none) != 0 {
		t.Errorf("list with a label nobody has: %v, %v", none, err)
	}
	h.wait(t, id)
}

func stop(t *testing.T, h Harness, ignoreTerm bool) {
	env := map[string]string{EnvNeverExit: "1"}
	if ignoreTerm {
		env[EnvIgnoreTerm] = "1"
	}
	id := h.launch(t, h.Spec(env))
	waitRunning(t, h, id)
	if err := h.Exec.Stop(context.Background(), id, 500*time.Millisecond); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if s := h.wait(t, id); !s.Ended() {
		t.Fatalf("still %s after stop", s.State)
	}
}

func waitRunning(t *testing.T, h Harness, id string) {
	t.Helper()
	deadline := time.Now().Add(h.Wait)
	for time.Now().Before(deadline) {
		s, err := h.Exec.Status(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if s.State == executors.StateRunning {
			return
		}
		time.Sleep(h.Poll)
	}
	t.Fatal("never running")
}

func unknown(t *testing.T, h Harness) {
	ctx := context.Background()
	id := "gantry-no-such-execution"
	if _, err := h.Exec.Status(ctx, id); !errors.Is(err, executors.ErrNotFound) {
		t.Errorf("status: %v", err)
	}
	if _, err := h.Exec.Logs(ctx, id); !errors.Is(err, executors.ErrNotFound) {
		t.Errorf("logs: %v", err)
	}
	if err := h.Exec.Cleanup(ctx, id); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

func concurrent(t *testing.T, h Harness) {
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := h.Exec.Launch(context.Background(), h.Spec(map[string]string{EnvExit: fmt.Sprint(i)}))
			if err != nil {
				t.Error(err)
				return
			}
			defer h.Exec.Cleanup(context.Background(), id)
			ctx, cancel := context.WithTimeout(context.Background(), h.Wait)
			defer cancel()
			s, err := WaitEnded(ctx, h.Exec, id, h.Poll)
			if err != nil || s.ExitCode == nil || *s.ExitCode != i {
				t.Errorf("job %d: %+v %v", i, s, err)
			}
		}()
	}
	wg.Wait()
}
