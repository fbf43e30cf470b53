package dispatch_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/jobevent"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/store"
	"github.com/gantry/gantry/store/storetest"
)

// childEnv makes the test binary run as a dispatcher replica (see TestMain).
const childEnv = "GANTRY_TEST_REPLICA_DB"

func TestMain(m *testing.M) {
	if url := os.Getenv(childEnv); url != "" {
		runReplica(url, os.Getenv("GANTRY_TEST_REPLICA_ID"))
		return
	}
	os.Exit(m.Run())
}

// runReplica is a dispatcher in a process of its own, until killed.
func runReplica(url, id string) {
	db, err := store.Open(context.Background(), url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	d := dispatch.New(db, dispatch.Options{ID: id, PollInterval: 20 * time.Millisecond, LeaseTTL: 2 * time.Second, IdleTick: 100 * time.Millisecond})
	if err := d.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
}

func startReplica(t *testing.T, url, id string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+url, "GANTRY_TEST_REPLICA_ID="+id)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// TestReplicasShareOnePostgres runs three dispatcher processes on one
// PostgreSQL with 5,000 jobs, kills one with SIGKILL mid-run, and checks
// every job was launched exactly once per attempt, none was lost, and the
// dead replica's jobs were taken over and finished.
func TestReplicasShareOnePostgres(t *testing.T) {
	if os.Getenv(storetest.PostgresEnv) == "" {
		t.Skipf("needs PostgreSQL (%s); CI sets it", storetest.PostgresEnv)
	}
	const jobs = 5000
	url := storetest.URL(t, store.Postgres)
	db := storetest.OpenURL(t, url)
	ctx := context.Background()
	for i := range 3 {
		db.Client.ExecutorHost.Create().SetName(fmt.Sprintf("mock-%d", i)).SetExecutorType(st.ExecutorMock).SetMaxConcurrentJobs(60).SaveX(ctx)
	}
	submitter := dispatch.New(db, dispatch.Options{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < jobs; i += 8 {
				ms := fmt.Sprint(rand.IntN(120))
				if _, _, err := submitter.Submit(ctx, dispatch.SubmitInput{Image: ptr("mock"), Environment: env_("GANTRY_TEST_SLEEP_MS", ms)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	start := time.Now()
	startReplica(t, url, "replica-1")
	startReplica(t, url, "replica-2")
	victim := startReplica(t, url, "replica-3")

	// Kill replica 3 once it owns running work.
	var orphans []*ent.ContainerJob
	deadline := time.Now().Add(60 * time.Second)
	for len(orphans) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		orphans = db.Client.ContainerJob.Query().Where(containerjob.LeaseOwner("replica-3"),
			containerjob.StatusIn(st.StatusLaunching, st.StatusRunning)).AllX(ctx)
	}
	if len(orphans) == 0 {
		t.Fatal("replica-3 never owned a running job")
	}
	if err := victim.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	orphans = db.Client.ContainerJob.Query().Where(containerjob.LeaseOwner("replica-3"),
		containerjob.StatusIn(st.StatusLaunching, st.StatusRunning)).AllX(ctx)
	t.Logf("killed replica-3 owning %d active jobs", len(orphans))

	for {
		done := db.Client.ContainerJob.Query().Where(containerjob.StatusEQ(st.StatusCompleted)).CountX(ctx)
		if done == jobs {
			break
		}
		if time.Since(start) > 3*time.Minute {
			t.Fatalf("%d of %d jobs completed after %s", done, jobs, time.Since(start))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d jobs completed by 3 replicas (one killed) in %s", jobs, time.Since(start).Round(time.Millisecond))

	// Exactly one launch per job (no job was retried), four events each.
	type row struct {
		JobID string `json:"job_id"`
		Count int    `json:"count"`
	}
	var launches []row
	db.Client.JobEvent.Query().Where(jobevent.ToStatusEQ(st.StatusLaunching)).
		GroupBy(jobevent.FieldJobID).Aggregate(ent.Count()).ScanX(ctx, &launches)
	if len(launches) != jobs {
		t.Fatalf("%d jobs have launch events, want %d", len(launches), jobs)
	}
	for _, l := range launches {
		if l.Count != 1 {
			t.Fatalf("job %s launched %d times", l.JobID, l.Count)
		}
	}
	if n := db.Client.JobEvent.Query().CountX(ctx); n != 4*jobs {
		t.Errorf("%d events, want %d", n, 4*jobs)
	}
	for _, o := range orphans {
		if j := db.Client.ContainerJob.GetX(ctx, o.ID); j.Status != st.StatusCompleted {
			t.Errorf("orphan %s of the killed replica is %s", o.ID, j.Status)
		}
	}
	for _, h := range db.Client.ExecutorHost.Query().AllX(ctx) {
		if h.CurrentJobCount != 0 {
			t.Errorf("host %s counter %d after all jobs ended", h.Name, h.CurrentJobCount)
		}
	}
}
