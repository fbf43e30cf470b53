package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/dispatch"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/executors/cloudrun"
	"github.com/gantry/gantry/executors/cloudrun/runfake"
	"github.com/gantry/gantry/executors/conformance"
	"github.com/gantry/gantry/store/storetest"
)

// TestCloudOrphansStoppedAndOwnedAdopted: the orphan sweep finds, through
// the Cloud Run API, an execution carrying this host's labels whose job does
// not exist, cancels it once (ended executions are the provider's history,
// left alone), leaves a live job's execution running, and sweeps the cloud
// host only every 10th health period.
func TestCloudOrphansStoppedAndOwnedAdopted(t *testing.T) {
	fake, err := runfake.New()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	db := storetest.Open(t, "sqlite")
	opts := fastOpts()
	opts.RemotePoll, opts.RemotePollMax = 20*time.Millisecond, 100*time.Millisecond
	e := &env{t: t, db: db, c: db.Client, d: dispatch.New(db, opts)}
	cfg := map[string]any{"project": "my-project-1", "region": "europe-west1", "endpoint": fake.Addr, "insecure": true}
	h := e.c.ExecutorHost.Create().SetName("gcp").SetExecutorType(st.ExecutorCloudRun).SetMaxConcurrentJobs(4).
		SetExecutorConfig(cfg).SaveX(context.Background())

	// An execution left behind by a job this database never had.
	ex, err := cloudrun.New(dispatch.HostOf(h))
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := ex.Launch(context.Background(), executors.Spec{JobID: uuid.New(), Image: "app:1",
		Env: map[string]string{conformance.EnvNeverExit: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	e.start()
	live := e.submit(dispatch.SubmitInput{Environment: env_(conformance.EnvNeverExit, "1")})
	e.wait(live.ID, st.StatusRunning)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if s, err := conformance.WaitEnded(ctx, ex, orphan, 20*time.Millisecond); err != nil || s.Reason != "cancelled" {
		t.Fatalf("orphan: %+v, %v", s, err)
	}
	lists := fake.Calls("ListExecutions")
	time.Sleep(1500 * time.Millisecond) // 15 health periods
	if n := fake.Calls("CancelExecution"); n != 1 {
		t.Errorf("CancelExecution called %d times, want once (for the orphan)", n)
	}
	// Cloud hosts are swept every 10th health period (here 1 s), each
	// sweep listing the executions of the host's 2 Cloud Run Jobs.
	if n := fake.Calls("ListExecutions") - lists; n > 8 {
		t.Errorf("%d ListExecutions calls in 15 health periods, want the sweeps spaced out", n)
	}
	if j := e.c.ContainerJob.GetX(context.Background(), live.ID); j.Status != st.StatusRunning {
		t.Fatalf("live job %s, want still running", j.Status)
	}
}
