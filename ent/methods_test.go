package ent_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/errs"
	"github.com/gantry/gantry/store/storetest"
)

func ptr[T any](v T) *T { return &v }

func TestExecutionIdentifier(t *testing.T) {
	for _, tc := range []struct {
		typ                    schematype.ExecutorType
		wantContainer, wantExt string
	}{
		{schematype.ExecutorDocker, "exec-1", ""},
		{schematype.ExecutorCloudRun, "", "exec-1"},
		{schematype.ExecutorFargate, "", "exec-1"},
		{schematype.ExecutorMock, "", "exec-1"},
	} {
		j := &ent.ContainerJob{ExecutorType: tc.typ}
		j.SetExecutionIdentifier("exec-1")
		if j.ContainerID != tc.wantContainer || j.ExternalExecutionID != tc.wantExt {
			t.Errorf("%s: container=%q external=%q", tc.typ, j.ContainerID, j.ExternalExecutionID)
		}
		if got := j.ExecutionIdentifier(); got != "exec-1" {
			t.Errorf("%s: ExecutionIdentifier() = %q", tc.typ, got)
		}
	}
}

func TestCanUseExecutor(t *testing.T) {
	tpl := &ent.ContainerTemplate{SupportedExecutors: []string{"docker", "cloudrun"}}
	for _, tc := range []struct {
		name string
		job  *ent.ContainerJob
		typ  schematype.ExecutorType
		want bool
	}{
		{"no preference, no template", &ent.ContainerJob{}, "fargate", true},
		{"preferred matches", &ent.ContainerJob{PreferredExecutor: "fargate"}, "fargate", true},
		{"preferred differs", &ent.ContainerJob{PreferredExecutor: "fargate"}, "docker", false},
		{"preferred overrides template", &ent.ContainerJob{PreferredExecutor: "fargate", Edges: ent.ContainerJobEdges{Template: tpl}}, "fargate", true},
		{"template supports", &ent.ContainerJob{Edges: ent.ContainerJobEdges{Template: tpl}}, "cloudrun", true},
		{"template does not support", &ent.ContainerJob{Edges: ent.ContainerJobEdges{Template: tpl}}, "scaleway", false},
		{"template with empty list allows all", &ent.ContainerJob{Edges: ent.ContainerJobEdges{Template: &ent.ContainerTemplate{}}}, "scaleway", true},
	} {
		if got := tc.job.CanUseExecutor(tc.typ); got != tc.want {
			t.Errorf("%s: CanUseExecutor(%s) = %v, want %v", tc.name, tc.typ, got, tc.want)
		}
	}
}

func TestEstimateResources(t *testing.T) {
	for _, tc := range []struct {
		name string
		job  *ent.ContainerJob
		want ent.Resources
	}{
		{"defaults", &ent.ContainerJob{TimeoutSeconds: 60}, ent.Resources{MemoryMB: 512, CPUCores: 1.0, TimeoutSeconds: 60}},
		{"explicit", &ent.ContainerJob{MemoryLimit: ptr(2048), CPULimit: ptr(2.5), TimeoutSeconds: 5, WorkingDirectory: "/w"},
			ent.Resources{MemoryMB: 2048, CPUCores: 2.5, TimeoutSeconds: 5, StorageRequired: true}},
		{"zero limits fall back", &ent.ContainerJob{MemoryLimit: ptr(0), CPULimit: ptr(0.0)}, ent.Resources{MemoryMB: 512, CPUCores: 1.0}},
	} {
		if got := tc.job.EstimateResources(); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestIsAvailable(t *testing.T) {
	base := ent.ExecutorHost{IsActive: true, MaxConcurrentJobs: 2}
	for _, tc := range []struct {
		name string
		mod  func(h *ent.ExecutorHost)
		want bool
	}{
		{"healthy with room", func(*ent.ExecutorHost) {}, true},
		{"inactive", func(h *ent.ExecutorHost) { h.IsActive = false }, false},
		{"at capacity", func(h *ent.ExecutorHost) { h.CurrentJobCount = 2 }, false},
		{"over capacity", func(h *ent.ExecutorHost) { h.CurrentJobCount = 3 }, false},
		{"two health failures", func(h *ent.ExecutorHost) { h.HealthCheckFailures = 2 }, true},
		{"three health failures", func(h *ent.ExecutorHost) { h.HealthCheckFailures = 3 }, false},
		{"no slots at all", func(h *ent.ExecutorHost) { h.MaxConcurrentJobs = 0 }, false},
	} {
		h := base
		tc.mod(&h)
		if got := h.IsAvailable(); got != tc.want {
			t.Errorf("%s: IsAvailable() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCapacityInfo(t *testing.T) {
	for _, tc := range []struct {
		cur, max int
		want     ent.CapacityInfo
	}{
		{0, 10, ent.CapacityInfo{CurrentJobs: 0, MaxJobs: 10, AvailableSlots: 10, UtilizationPercent: 0}},
		{3, 4, ent.CapacityInfo{CurrentJobs: 3, MaxJobs: 4, AvailableSlots: 1, UtilizationPercent: 75}},
		{5, 4, ent.CapacityInfo{CurrentJobs: 5, MaxJobs: 4, AvailableSlots: 0, UtilizationPercent: 125}},
		{0, 0, ent.CapacityInfo{}},
		{1, 0, ent.CapacityInfo{CurrentJobs: 1, UtilizationPercent: 100}},
	} {
		h := &ent.ExecutorHost{CurrentJobCount: tc.cur, MaxConcurrentJobs: tc.max}
		if got := h.CapacityInfo(); got != tc.want {
			t.Errorf("%d/%d: %+v, want %+v", tc.cur, tc.max, got, tc.want)
		}
	}
}

func TestDisplayName(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{(&ent.ContainerJob{Name: "nightly", Status: "running", ExecutorType: "docker"}).DisplayName(), "nightly (running)"},
		{(&ent.ContainerJob{Name: "nightly", Status: "queued", ExecutorType: "fargate"}).DisplayName(), "nightly (queued) (fargate)"},
		{(&ent.ContainerJob{Status: "failed", ExecutorType: "docker", Edges: ent.ContainerJobEdges{Template: &ent.ContainerTemplate{Name: "etl"}}}).DisplayName(), "etl (failed)"},
		{(&ent.ExecutorHost{Name: "local", ExecutorType: "docker", ConnectionString: "unix:///var/run/docker.sock"}).DisplayName(), "local (unix:///var/run/docker.sock)"},
		{(&ent.ExecutorHost{Name: "gcp", ExecutorType: "cloudrun", ConnectionString: "europe-west1"}).DisplayName(), "gcp (cloudrun) (europe-west1)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestJobCountAtomic races 50 goroutines on one host's counter: it never
// exceeds max_concurrent_jobs and never goes below zero.
func TestJobCountAtomic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		c := storetest.Open(t, dialect).Client
		h := c.ExecutorHost.Create().SetName("h").SetMaxConcurrentJobs(10).SaveX(ctx)
		race := func(op func(context.Context) (bool, error)) int64 {
			var ok atomic.Int64
			var wg sync.WaitGroup
			for range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					took, err := op(ctx)
					if err != nil {
						t.Error(err)
					}
					if took {
						ok.Add(1)
					}
				}()
			}
			wg.Wait()
			return ok.Load()
		}
		inc := race(func(ctx context.Context) (bool, error) { return c.ExecutorHost.IncrementJobCount(ctx, h.ID) })
		if got := c.ExecutorHost.GetX(ctx, h.ID).CurrentJobCount; inc != 10 || got != 10 {
			t.Fatalf("after 50 increments: %d succeeded, count %d; want 10 and 10", inc, got)
		}
		dec := race(func(ctx context.Context) (bool, error) { return c.ExecutorHost.DecrementJobCount(ctx, h.ID) })
		if got := c.ExecutorHost.GetX(ctx, h.ID).CurrentJobCount; dec != 10 || got != 0 {
			t.Fatalf("after 50 decrements: %d succeeded, count %d; want 10 and 0", dec, got)
		}
	})
}

func TestJobValidationHooks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		c := storetest.Open(t, dialect).Client
		docker := c.ExecutorHost.Create().SetName("docker").SaveX(ctx)
		cloud := c.ExecutorHost.Create().SetName("cloud").SetExecutorType("cloudrun").SaveX(ctx)

		_, err := c.ContainerJob.Create().SetImage("img").SetExecutorType("fargate").SetDockerHostID(docker.ID).Save(ctx)
		wantInvalid(t, "create with mismatched host", err, "executor_type")

		j := c.ContainerJob.Create().SetImage("img").SetExecutorType("cloudrun").SetDockerHostID(cloud.ID).SaveX(ctx)
		_, err = c.ContainerJob.UpdateOne(j).SetStatus(schematype.StatusRunning).Save(ctx)
		wantInvalid(t, "running cloud job without external id", err, "external_execution_id")
		if _, err := c.ContainerJob.UpdateOne(j).SetStatus(schematype.StatusRunning).SetExternalExecutionID("exec-1").Save(ctx); err != nil {
			t.Fatalf("running cloud job with external id: %v", err)
		}
		_, err = c.ContainerJob.Update().SetDockerHostID(docker.ID).Save(ctx)
		wantInvalid(t, "bulk move to a host of another type", err, "executor_type")
		_, err = c.ContainerJob.UpdateOne(j).SetDockerHostID(docker.ID).Save(ctx)
		wantInvalid(t, "move to a host of another type", err, "executor_type")

		_, err = c.ContainerJob.Create().SetImage("img").SetPriority(101).Save(ctx)
		var verr *ent.ValidationError
		if !errors.As(err, &verr) || verr.Name != "priority" {
			t.Errorf("priority 101: err = %v, want a validation error on priority", err)
		}
		_, err = c.ContainerJob.Create().SetImage("img").SetPreferredExecutor("kubernetes").Save(ctx)
		if !errors.As(err, &verr) || verr.Name != "preferred_executor" {
			t.Errorf("unknown preferred executor: err = %v, want a validation error", err)
		}
	})
}

func wantInvalid(t *testing.T, what string, err error, field string) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.InvalidInput || e.Field != field {
		t.Errorf("%s: err = %v, want INVALID_INPUT on %s", what, err, field)
	}
}
