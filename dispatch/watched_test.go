package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/gantry/gantry/dispatch"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/store/storetest"
)

// TestWatchedRowsFollowTheDatabase: the watcher reuses a job's full row
// only while its status and updated_at are unchanged; any write is seen on
// the next pass, a job that leaves the watched statuses drops out, and the
// copies handed out can be changed without touching the cache.
func TestWatchedRowsFollowTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := storetest.Open(t, dialect)
		opts := fastOpts()
		opts.ID = "replica-a"
		d := dispatch.New(db, opts)
		h := db.Client.ExecutorHost.Create().SetName("m").SetExecutorType(st.ExecutorMock).SaveX(ctx)
		j := db.Client.ContainerJob.Create().SetImage("x").SetStatus(st.StatusRunning).SetLeaseOwner("replica-a").
			SetDockerHostID(h.ID).SetExecutorType(st.ExecutorMock).SetExternalExecutionID("e1").SaveX(ctx)
		db.Client.ContainerJob.Create().SetImage("y").SetStatus(st.StatusRunning).SetLeaseOwner("replica-b").
			SetDockerHostID(h.ID).SetExecutorType(st.ExecutorMock).SetExternalExecutionID("e2").SaveX(ctx)

		got, err := d.Watched(ctx)
		if err != nil || len(got) != 1 || got[0].ID != j.ID || got[0].Image != "x" {
			t.Fatalf("first pass: %v %v", got, err)
		}
		got[0].Status, got[0].Image = st.StatusCompleted, "mutated copy"
		if again, _ := d.Watched(ctx); len(again) != 1 || again[0].Status != st.StatusRunning || again[0].Image != "x" {
			t.Fatalf("a handed-out copy changed the cache: %+v", again)
		}
		time.Sleep(2 * time.Millisecond) // a distinct updated_at
		db.Client.ContainerJob.UpdateOneID(j.ID).SetStdoutLog("fresh").ExecX(ctx)
		if again, _ := d.Watched(ctx); len(again) != 1 || again[0].StdoutLog != "fresh" {
			t.Fatalf("write not seen: %+v", again)
		}
		db.Client.ContainerJob.UpdateOneID(j.ID).SetStatus(st.StatusCancelling).ExecX(ctx)
		if again, _ := d.Watched(ctx); len(again) != 1 || again[0].Status != st.StatusCancelling {
			t.Fatalf("status change not seen: %+v", again)
		}
		db.Client.ContainerJob.UpdateOneID(j.ID).SetStatus(st.StatusCancelled).SetLeaseOwner("").ExecX(ctx)
		if again, _ := d.Watched(ctx); len(again) != 0 {
			t.Fatalf("ended job still watched: %+v", again)
		}
	})
}
