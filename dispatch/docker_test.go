package dispatch_test

import (
	"context"
	"errors"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"
	"github.com/google/uuid"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent/jobevent"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
	_ "github.com/gantry/gantry/executors/docker"
	"github.com/gantry/gantry/executors/docker/dockertest"
	"github.com/gantry/gantry/store/storetest"
)

// TestDockerJobAdoptedAfterCrash: the replica running a container dies
// without a word (its leases stay); a new replica takes the job over once
// the lease expires, adopts the running container — no second one — and
// finishes the job.
func TestDockerJobAdoptedAfterCrash(t *testing.T) {
	img := dockertest.Image(t)
	storetest.Each(t, func(t *testing.T, dialect string) {
		db := storetest.Open(t, dialect)
		ctx := context.Background()
		h := db.Client.ExecutorHost.Create().SetName("local").SetExecutorType(st.ExecutorDocker).SetAutoPullImages(false).SaveX(ctx)
		opts := fastOpts()
		opts.LeaseTTL = time.Second
		first := &env{t: t, db: db, c: db.Client, d: dispatch.New(db, withID(opts, "first"))}
		j := first.submit(dispatch.SubmitInput{Image: &img, Environment: env_("GANTRY_TEST_SLEEP_MS", "2500", "GANTRY_TEST_STDOUT", "survived")})
		first.start()
		running := first.wait(j.ID, st.StatusRunning)
		first.stop() // the process is gone; nothing released its lease

		second := &env{t: t, db: db, c: db.Client, d: dispatch.New(db, withID(opts, "second"))}
		second.start()
		done := second.wait(j.ID, st.StatusCompleted, st.StatusFailed)
		if done.Status != st.StatusCompleted || done.StdoutLog != "survived\n" || done.ContainerID != running.ContainerID {
			t.Fatalf("adopted job: %s, stdout %q, container %s (was %s)", done.Status, done.StdoutLog, done.ContainerID, running.ContainerID)
		}
		if n := db.Client.JobEvent.Query().Where(jobevent.JobID(j.ID), jobevent.ToStatusEQ(st.StatusLaunching)).CountX(ctx); n != 1 {
			t.Fatalf("%d launches, want 1", n)
		}
		cli, _ := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		defer cli.Close()
		// Removal follows the commit of the final status.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, err := cli.ContainerInspect(ctx, running.ContainerID)
			if cerrdefs.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("container still there after completion: %v", err)
			}
		}
		if c := db.Client.ExecutorHost.GetX(ctx, h.ID).CurrentJobCount; c != 0 {
			t.Errorf("host counter %d", c)
		}
	})
}

func withID(o dispatch.Options, id string) dispatch.Options {
	o.ID = id
	return o
}

// TestDockerOrphanRemoved: a container with Gantry labels whose job does not
// exist (left by a crash, or by hand) is stopped and removed by the sweep.
func TestDockerOrphanRemoved(t *testing.T) {
	img := dockertest.Image(t)
	db := storetest.Open(t, "sqlite")
	ctx := context.Background()
	h := db.Client.ExecutorHost.Create().SetName("local").SetExecutorType(st.ExecutorDocker).SetAutoPullImages(false).SaveX(ctx)
	ex, err := executors.New(dispatch.HostOf(h))
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := ex.Launch(ctx, executors.Spec{JobID: uuid.New(), Image: img, Env: env_("GANTRY_TEST_NEVER_EXIT", "1")})
	if err != nil {
		t.Fatal(err)
	}
	opts := fastOpts()
	opts.HealthEvery = 100 * time.Millisecond
	e := &env{t: t, db: db, c: db.Client, d: dispatch.New(db, opts)}
	e.start()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := ex.Status(ctx, orphan); errors.Is(err, executors.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			_ = ex.Cleanup(ctx, orphan)
			t.Fatal("orphan container still there")
		}
	}
}

// TestDockerReplicaKilled runs the dispatcher in a separate process, kills
// it with SIGKILL while its container runs, and lets a new replica adopt
// the container and finish the job: one launch, one container.
func TestDockerReplicaKilled(t *testing.T) {
	img := dockertest.Image(t)
	url := storetest.URL(t, "sqlite")
	db := storetest.OpenURL(t, url)
	ctx := context.Background()
	db.Client.ExecutorHost.Create().SetName("local").SetExecutorType(st.ExecutorDocker).SetAutoPullImages(false).SaveX(ctx)
	submitter := dispatch.New(db, dispatch.Options{})
	j, _, err := submitter.Submit(ctx, dispatch.SubmitInput{Image: &img, Environment: env_("GANTRY_TEST_SLEEP_MS", "3000", "GANTRY_TEST_STDOUT", "outlived its replica")})
	if err != nil {
		t.Fatal(err)
	}
	child := startReplica(t, url, "doomed")
	e := &env{t: t, db: db, c: db.Client}
	running := e.wait(j.ID, st.StatusRunning)
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	opts := fastOpts()
	opts.LeaseTTL = time.Second
	e.d = dispatch.New(db, withID(opts, "heir"))
	e.start()
	done := e.wait(j.ID, st.StatusCompleted, st.StatusFailed)
	if done.Status != st.StatusCompleted || done.ContainerID != running.ContainerID || done.StdoutLog != "outlived its replica\n" {
		t.Fatalf("after kill -9: %s, container %s (was %s), stdout %q", done.Status, done.ContainerID, running.ContainerID, done.StdoutLog)
	}
	if n := db.Client.JobEvent.Query().Where(jobevent.JobID(j.ID), jobevent.ToStatusEQ(st.StatusLaunching)).CountX(ctx); n != 1 {
		t.Fatalf("%d launches", n)
	}
}

// TestDockerUsageRecorded: peak memory read from the engine while the
// container runs is stored with the job.
func TestDockerUsageRecorded(t *testing.T) {
	img := dockertest.Image(t)
	db := storetest.Open(t, "sqlite")
	ctx := context.Background()
	db.Client.ExecutorHost.Create().SetName("local").SetExecutorType(st.ExecutorDocker).SetAutoPullImages(false).SaveX(ctx)
	e := &env{t: t, db: db, c: db.Client, d: dispatch.New(db, fastOpts())}
	e.start()
	j := e.submit(dispatch.SubmitInput{Image: &img, Environment: env_("GANTRY_TEST_ALLOC_MB", "40", "GANTRY_TEST_SLEEP_MS", "2500")})
	done := e.wait(j.ID, st.StatusCompleted, st.StatusFailed)
	if done.MaxMemoryUsage == nil || *done.MaxMemoryUsage < 40<<20 {
		t.Fatalf("max_memory_usage %v, want at least 40 MB", done.MaxMemoryUsage)
	}
}
