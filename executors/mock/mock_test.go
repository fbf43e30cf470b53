package mock

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/executors/conformance"
)

func host(cfg map[string]any) executors.Host {
	return executors.Host{ID: uuid.New(), Name: "m", Type: schematype.ExecutorMock, Config: cfg}
}

func TestConformance(t *testing.T) {
	h := host(nil)
	ex, err := New(h)
	if err != nil {
		t.Fatal(err)
	}
	conformance.Run(t, conformance.Harness{Exec: ex, Host: h, Image: "mock"})
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for cfg, want := range map[string]map[string]any{
		"unknown field \"tokn\"": {"tokn": "s3cret-value"},
		"run_ms":                 {"run_ms": "soon"},
		"must not be negative":   {"startup_delay_ms": -5},
	} {
		_, err := New(host(want))
		if err == nil || !strings.Contains(err.Error(), cfg) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("config %v: err %v, want it to mention %q and not echo values", want, err, cfg)
		}
	}
}

// TestStatusFromAnotherProcess: a replica that did not launch an execution
// derives its status from the id alone.
func TestStatusFromAnotherProcess(t *testing.T) {
	h := host(nil)
	ex, _ := New(h)
	id, err := ex.Launch(context.Background(), executors.Spec{JobID: uuid.New(), Env: map[string]string{EnvSleepMS: "30", EnvExit: "7"}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	delete(registry, id) // forget it, as another process would not know it
	mu.Unlock()
	other, _ := New(h)
	time.Sleep(50 * time.Millisecond)
	s, err := other.Status(context.Background(), id)
	if err != nil || s.State != executors.StateExited || *s.ExitCode != 7 {
		t.Fatalf("status from another process: %+v %v", s, err)
	}
}

func TestLaunchFailureClasses(t *testing.T) {
	ex, _ := New(host(nil))
	ctx := context.Background()
	_, err := ex.Launch(ctx, executors.Spec{JobID: uuid.New(), Env: map[string]string{EnvLaunchError: "boom", EnvLaunchPermanent: "1"}})
	if executors.ClassOf(err) != executors.Permanent || !strings.Contains(err.Error(), "boom") {
		t.Errorf("permanent launch error: %v", err)
	}
	spec := executors.Spec{JobID: uuid.New(), Env: map[string]string{EnvFailAttempts: "2"}}
	for attempt := range 3 {
		spec.Attempt = attempt
		_, err := ex.Launch(ctx, spec)
		if (attempt < 2) != (err != nil) || (err != nil && executors.ClassOf(err) != executors.Transient) {
			t.Errorf("attempt %d: %v", attempt, err)
		}
	}
	if _, err := ex.Status(ctx, "mock:garbage"); !errors.Is(err, executors.ErrNotFound) {
		t.Errorf("garbage id: %v", err)
	}
}

func TestOOMAndHealth(t *testing.T) {
	ex, _ := New(host(map[string]any{"health_error": "daemon down"}))
	if err := ex.Health(context.Background()); err == nil || err.Error() != "daemon down" {
		t.Errorf("health: %v", err)
	}
	id, _ := ex.Launch(context.Background(), executors.Spec{JobID: uuid.New(), MemoryMB: 16, Env: map[string]string{EnvAllocMB: "64"}})
	s, err := conformance.WaitEnded(context.Background(), ex, id, time.Millisecond)
	if err != nil || !s.OOMKilled || *s.ExitCode != 137 {
		t.Errorf("oom: %+v %v", s, err)
	}
}
