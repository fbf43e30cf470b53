package scaleway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/executors/conformance"
	"github.com/gantry/gantry/executors/scaleway"
	"github.com/gantry/gantry/executors/scaleway/scwfake"
)

const (
	secret    = "11111111-2222-3333-4444-555555555555"
	accessKey = "SCWABCDEFGHIJKLMNOPQ"
	project   = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

func newExec(t *testing.T, key string) (executors.Executor, executors.Host, *scwfake.Server) {
	t.Helper()
	fake := scwfake.New(secret)
	t.Cleanup(fake.Close)
	h := executors.Host{ID: uuid.New(), Name: "scw", Type: schematype.ExecutorScaleway, Config: map[string]any{
		"region": "fr-par", "project_id": project, "access_key": accessKey, "secret_key": key, "endpoint": fake.URL}}
	ex, err := scaleway.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return ex, h, fake
}

func TestConformance(t *testing.T) {
	ex, h, _ := newExec(t, secret)
	conformance.Run(t, conformance.Harness{Exec: ex, Host: h, Image: "rg.fr-par.scw.cloud/ns/app:1", NoLogs: true, CleanupKeeps: true})
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	good := map[string]any{"region": "fr-par", "project_id": project, "access_key": accessKey, "secret_key": secret}
	for key, bad := range map[string]any{"region": "mars-1", "project_id": "p", "access_key": "AKIA-not-scw", "secret_key": "hunter2-secret", "endpoint": "ftp://x"} {
		cfg := map[string]any{}
		for k, v := range good {
			cfg[k] = v
		}
		cfg[key] = bad
		_, err := scaleway.New(executors.Host{Name: "scw", Config: cfg})
		if err == nil || !strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s=%v: %v", key, bad, err)
		}
	}
	if _, err := scaleway.New(executors.Host{Name: "scw", Config: map[string]any{}}); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("missing region: %v", err)
	}
}

func TestFailureClassesAndReuse(t *testing.T) {
	ex, _, fake := newExec(t, secret)
	ctx := context.Background()
	spec := func(env map[string]string) executors.Spec {
		return executors.Spec{JobID: uuid.New(), Image: "img:1", CPU: 0.5, MemoryMB: 256, Env: env}
	}
	fake.Throttle(1)
	if _, err := ex.Launch(ctx, spec(nil)); !throttled(err) || executors.ClassOf(err) != executors.Transient || !strings.Contains(err.Error(), "rate limit") {
		t.Errorf("throttled: %v", err)
	}
	fake.FailStarts(1)
	if _, err := ex.Launch(ctx, spec(nil)); executors.ClassOf(err) != executors.Transient || !strings.Contains(err.Error(), "quota") {
		t.Errorf("quota: %v", err)
	}
	id, err := ex.Launch(ctx, spec(map[string]string{"GANTRY_FAKE_FAIL": "image pull failed: manifest unknown"}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := conformance.WaitEnded(ctx, ex, id, 10*time.Millisecond)
	if err != nil || s.State != executors.StateFailed || s.Class != executors.Permanent || !strings.Contains(s.Reason, "manifest unknown") {
		t.Errorf("provider-side image failure: %+v %v", s, err)
	}
	if n := fake.Definitions(); n != 1 {
		t.Errorf("%d job definitions for one spec, want 1 (reused)", n)
	}
	logs, err := ex.Logs(ctx, id)
	if err != nil || !strings.Contains(logs.Stdout, "Cockpit") {
		t.Errorf("logs note: %+v %v", logs, err)
	}
	fake.Latency(50 * time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := ex.Status(short, id); err == nil || executors.ClassOf(err) != executors.Transient {
		t.Errorf("slow provider: %v", err)
	}
}

func TestWrongCredentialsNeverEchoed(t *testing.T) {
	wrong := "99999999-8888-7777-6666-555555555555"
	ex, _, _ := newExec(t, wrong)
	err := ex.Health(context.Background())
	if err == nil || strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), accessKey) {
		t.Fatalf("health with a wrong key: %v", err)
	}
	_, err = ex.Launch(context.Background(), executors.Spec{JobID: uuid.New(), Image: "img"})
	// Bad credentials are the host's problem, not the job's: transient, so
	// the job retries (elsewhere) and the host's breaker opens.
	if err == nil || executors.ClassOf(err) != executors.Transient || strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("launch with a wrong key: %v", err)
	}
}

func throttled(err error) bool { _, ok := executors.IsThrottled(err); return ok }
