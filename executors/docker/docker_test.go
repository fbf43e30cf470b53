package docker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/executors/conformance"
	"github.com/gantry/gantry/executors/docker"
	"github.com/gantry/gantry/executors/docker/dockertest"
)

func newExec(t *testing.T, autoPull bool) (*docker.Executor, executors.Host) {
	t.Helper()
	h := executors.Host{ID: uuid.New(), Name: "local", Type: schematype.ExecutorDocker, AutoPullImages: autoPull}
	ex, err := docker.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return ex.(*docker.Executor), h
}

func TestConformance(t *testing.T) {
	img := dockertest.Image(t)
	ex, h := newExec(t, false)
	conformance.Run(t, conformance.Harness{Exec: ex, Host: h, Image: img, Poll: 50 * time.Millisecond})
}

func TestLimitsLabelsAndSpec(t *testing.T) {
	img := dockertest.Image(t)
	ex, h := newExec(t, false)
	ctx := context.Background()
	spec := executors.Spec{JobID: uuid.New(), Attempt: 2, Image: img, MemoryMB: 64, CPU: 0.5, WorkingDir: "/tmp",
		Env: map[string]string{"A": "1", conformance.EnvSleepMS: "50"}}
	id, err := ex.Launch(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Cleanup(ctx, id)
	c, err := ex.Client().ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.HostConfig.Memory != 64<<20 || c.HostConfig.NanoCPUs != 5e8 || c.Config.WorkingDir != "/tmp" {
		t.Errorf("limits: memory %d nanocpus %d workdir %q", c.HostConfig.Memory, c.HostConfig.NanoCPUs, c.Config.WorkingDir)
	}
	if c.Name != "/"+spec.ExecutionName() || c.Config.Labels[executors.LabelJobID] != spec.JobID.String() ||
		c.Config.Labels[executors.LabelAttempt] != "2" || c.Config.Labels[executors.LabelHostID] != h.ID.String() {
		t.Errorf("name %q labels %v", c.Name, c.Config.Labels)
	}
	if !strings.Contains(strings.Join(c.Config.Env, " "), "A=1") {
		t.Errorf("env %v", c.Config.Env)
	}
}

func TestOOMKilled(t *testing.T) {
	img := dockertest.Image(t)
	ex, _ := newExec(t, false)
	ctx := context.Background()
	id, err := ex.Launch(ctx, executors.Spec{JobID: uuid.New(), Image: img, MemoryMB: 16,
		Env: map[string]string{conformance.EnvAllocMB: "128", "GANTRY_TEST_ALLOC_AFTER_MS": "300", conformance.EnvSleepMS: "2000"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Cleanup(ctx, id)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := conformance.WaitEnded(wctx, ex, id, 50*time.Millisecond)
	if err != nil || !s.OOMKilled || s.ExitCode == nil || *s.ExitCode != 137 {
		t.Fatalf("status %+v (exit %v) %v, want OOM killed with 137", s, deref(s.ExitCode), err)
	}
}

func TestMissingImageIsPermanent(t *testing.T) {
	for _, autoPull := range []bool{true, false} {
		ex, _ := newExec(t, autoPull)
		_, err := ex.Launch(context.Background(), executors.Spec{JobID: uuid.New(), Image: "gantry.invalid/no-such-image:1"})
		if err == nil || executors.ClassOf(err) != executors.Permanent || !strings.Contains(err.Error(), "no-such-image") {
			t.Errorf("auto_pull=%v: %v, want a permanent failure naming the image", autoPull, err)
		}
	}
}

func TestBadConfig(t *testing.T) {
	for _, h := range []executors.Host{
		{Name: "x", ConnectionString: "http://nope"},
		{Name: "x", ConnectionString: "tcp://127.0.0.1:1", TLSEnabled: true, Config: map[string]any{"tls_ca_cert": "not pem SECRET"}},
		{Name: "x", ConnectionString: "tcp://127.0.0.1:1", TLSEnabled: true, Config: map[string]any{"tls_cert": "x"}},
	} {
		_, err := docker.New(h)
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%+v: err %v", h.ConnectionString, err)
		}
	}
	ex, err := docker.New(executors.Host{Name: "down", ConnectionString: "tcp://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Health(context.Background()); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("health of a dead daemon: %v", err)
	}
	if _, err := ex.Launch(context.Background(), executors.Spec{JobID: uuid.New(), Image: "x"}); executors.ClassOf(err) != executors.Transient {
		t.Errorf("launch on a dead daemon: %v, want transient", err)
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
