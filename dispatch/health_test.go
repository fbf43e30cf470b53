package dispatch_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/store/storetest"
)

func TestHealthChecksAndOrphans(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		db := storetest.Open(t, dialect)
		opts := fastOpts()
		opts.HealthEvery = 50 * time.Millisecond
		e := &env{t: t, db: db, c: db.Client, d: dispatch.New(db, opts)}
		ctx := context.Background()
		sick := e.host("sick", 5, map[string]any{"health_error": "daemon unreachable"})
		well := e.host("well", 5, nil)

		// An execution with Gantry labels whose job does not exist.
		ex, err := executors.New(dispatch.HostOf(well))
		if err != nil {
			t.Fatal(err)
		}
		orphan, err := ex.Launch(ctx, executors.Spec{JobID: uuid.New(), Env: env_("GANTRY_TEST_NEVER_EXIT", "1")})
		if err != nil {
			t.Fatal(err)
		}
		e.start()
		deadline := time.Now().Add(10 * time.Second)
		for {
			s, w := e.c.ExecutorHost.GetX(ctx, sick.ID), e.c.ExecutorHost.GetX(ctx, well.ID)
			_, statusErr := ex.Status(ctx, orphan)
			if s.HealthCheckFailures >= 3 && w.LastHealthCheck != nil && w.HealthCheckFailures == 0 && errors.Is(statusErr, executors.ErrNotFound) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sick failures %d, well checked %v, orphan status err %v", s.HealthCheckFailures, w.LastHealthCheck, statusErr)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// A job pinned to the unhealthy host waits, and says why.
		j := e.submit(dispatch.SubmitInput{HostID: &sick.ID})
		time.Sleep(300 * time.Millisecond)
		got := e.c.ContainerJob.GetX(ctx, j.ID)
		if got.Status != st.StatusQueued || !contains(got.RoutingReason, "unhealthy") {
			t.Fatalf("job on an unhealthy host is %s (%q)", got.Status, got.RoutingReason)
		}
		done := e.submit(dispatch.SubmitInput{})
		e.wait(done.ID, st.StatusCompleted)
		if h := e.c.ExecutorHost.GetX(ctx, well.ID); h.AverageStartupTime == nil {
			// Launches are folded in on the next health pass.
			time.Sleep(200 * time.Millisecond)
			if h = e.c.ExecutorHost.GetX(ctx, well.ID); h.AverageStartupTime == nil {
				t.Error("average_startup_time never recorded")
			}
		}
	})
}

// TestKeepFailedPerHost: a host's keep_failed_seconds overrides the
// dispatcher's keep period: 0 removes a failed job's execution at once,
// while a host without it keeps the execution for inspection.
func TestKeepFailedPerHost(t *testing.T) {
	e := newEnv(t, "sqlite")
	removeAtOnce := e.host("remove", 2, map[string]any{executors.KeepFailedKey: 0})
	keeps := e.host("keep", 2, nil)
	e.start()
	ctx := context.Background()
	for _, h := range []*ent.ExecutorHost{removeAtOnce, keeps} {
		j := e.submit(dispatch.SubmitInput{HostID: &h.ID, MaxRetries: ptr(0), Environment: env_("GANTRY_TEST_EXIT", "3")})
		got := e.wait(j.ID, st.StatusFailed)
		ex, err := e.d.Executor(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ex.Status(ctx, got.ExecutionIdentifier())
		if gone := errors.Is(err, executors.ErrNotFound); gone != (h.ID == removeAtOnce.ID) {
			t.Errorf("host %s: execution gone=%v after failure (%v)", h.Name, gone, err)
		}
	}
}

// TestBudgetWrittenElsewhereAppliesWithinASecond: submits use a cached
// list of budgets; a budget written through this process applies at once,
// one written by another replica (its own client) within the cache's
// second.
func TestBudgetWrittenElsewhereAppliesWithinASecond(t *testing.T) {
	raw := storetest.URL(t, "sqlite")
	db := storetest.OpenURL(t, raw)
	other := storetest.OpenURL(t, raw) // another replica's connection
	d := dispatch.New(db, fastOpts())
	ctx := context.Background()
	db.Client.ExecutorHost.Create().SetName("m").SetExecutorType(st.ExecutorMock).SetCostPerJob(st.MustDecimal("1")).SaveX(ctx)
	submit := func() error {
		img := "x"
		_, _, err := d.Submit(ctx, dispatch.SubmitInput{Image: &img, Labels: map[string]string{"team": "a"}})
		return err
	}
	if err := submit(); err != nil { // caches "no budgets"
		t.Fatal(err)
	}
	other.Client.Budget.Create().SetName("tight").SetLabelKey("team").SetLabelValue("a").SetLimitUsd(st.MustDecimal("0.5")).SaveX(ctx)
	deadline := time.Now().Add(3 * time.Second)
	for submit() == nil {
		if time.Now().After(deadline) {
			t.Fatal("a budget written by another replica never applied")
		}
		time.Sleep(50 * time.Millisecond)
	}
	db.Client.Budget.Delete().ExecX(ctx) // through this process: applies at once
	if err := submit(); err != nil {
		t.Fatalf("budget deleted here still applied: %v", err)
	}
}
