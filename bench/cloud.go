package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent/containerjob"
	st "github.com/gantry/gantry/ent/schematype"
	_ "github.com/gantry/gantry/executors/cloudrun"
	"github.com/gantry/gantry/executors/cloudrun/runfake"
	"github.com/gantry/gantry/store"
)

// cloudBench runs n jobs of runFor each on Cloud Run (through the official
// client, against the local fake) twice: with status checks paced as by
// default (2 s doubling to 30 s) and polled every pass (100 ms), and prints
// the provider API calls per job and how late each job's end was noticed.
func cloudBench(n int, runFor time.Duration) error {
	for _, paced := range []bool{true, false} {
		calls, late, wall, err := cloudRun(n, runFor, paced)
		if err != nil {
			return err
		}
		mode := "paced (2s→30s)  "
		if !paced {
			mode = "every 100ms pass"
		}
		fmt.Printf("cloudrun %d jobs of %s, status checks %s: %.1f API calls/job (%.1f GetExecution), end noticed after p50 %s, all done in %s\n",
			n, runFor, mode, float64(calls["total"])/float64(n), float64(calls["GetExecution"])/float64(n), late.Round(time.Millisecond), wall.Round(time.Millisecond))
	}
	return nil
}

func cloudRun(n int, runFor time.Duration, paced bool) (map[string]int, time.Duration, time.Duration, error) {
	ctx := context.Background()
	fake, err := runfake.New()
	if err != nil {
		return nil, 0, 0, err
	}
	defer fake.Close()
	db, cleanup, err := freshDB(ctx, store.SQLite)
	if err != nil {
		return nil, 0, 0, err
	}
	defer cleanup()
	db.Client.ExecutorHost.Create().SetName("gcp").SetExecutorType(st.ExecutorCloudRun).SetMaxConcurrentJobs(n).
		SetExecutorConfig(map[string]any{"project": "bench-project", "region": "europe-west1", "endpoint": fake.Addr, "insecure": true}).SaveX(ctx)
	opts := dispatch.Options{PollInterval: 100 * time.Millisecond}
	if !paced {
		opts.RemotePoll, opts.RemotePollMax = 100*time.Millisecond, 100*time.Millisecond
	}
	d := dispatch.New(db, opts)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = d.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()

	start := time.Now()
	ids := make([]uuid.UUID, n)
	img := "europe-docker.pkg.dev/bench-project/app/job:1"
	for i := range ids {
		j, _, err := d.Submit(ctx, dispatch.SubmitInput{Image: &img, Environment: map[string]string{"GANTRY_TEST_SLEEP_MS": fmt.Sprint(runFor.Milliseconds())}})
		if err != nil {
			return nil, 0, 0, err
		}
		ids[i] = j.ID
	}
	if err := waitJobs(ctx, db, ids); err != nil {
		return nil, 0, 0, err
	}
	wall := time.Since(start)
	// The fake's executions end 20 ms after launch + runFor; the job
	// completes when a status check notices.
	jobs := db.Client.ContainerJob.Query().Where(containerjob.IDIn(ids...)).AllX(ctx)
	lates := make([]time.Duration, 0, len(jobs))
	for _, j := range jobs {
		if j.LaunchedAt != nil && j.CompletedAt != nil {
			lates = append(lates, j.CompletedAt.Sub(j.LaunchedAt.Add(runFor+20*time.Millisecond)))
		}
	}
	calls := map[string]int{}
	for _, m := range []string{"GetJob", "CreateJob", "RunJob", "ListExecutions", "GetExecution", "ListTasks", "ListLogEntries", "CancelExecution"} {
		calls[m] = fake.Calls(m)
		calls["total"] += calls[m]
	}
	return calls, pct(lates, 50), wall, nil
}
