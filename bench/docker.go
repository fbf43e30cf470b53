package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent/containerjob"
	st "github.com/gantry/gantry/ent/schematype"
	_ "github.com/gantry/gantry/executors/docker"
	"github.com/gantry/gantry/executors/docker/dockertest"
	"github.com/gantry/gantry/store"
)

// dockerBench compares a job through Gantry's Docker executor (submit →
// container running → completed and harvested) with a plain `docker run`
// of the same image, and measures jobs/s with 10 concurrent containers.
func dockerBench(runs, burst int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gantry-docker-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	img, err := dockertest.Build(ctx, dir)
	if err != nil {
		return err
	}
	var plain []time.Duration
	for range runs {
		start := time.Now()
		if out, err := exec.Command("docker", "run", "--rm", "-e", "GANTRY_TEST_STDOUT=hi", img).CombinedOutput(); err != nil {
			return fmt.Errorf("docker run: %v: %s", err, out)
		}
		plain = append(plain, time.Since(start))
	}
	db, cleanup, err := freshDB(ctx, store.SQLite)
	if err != nil {
		return err
	}
	defer cleanup()
	db.Client.ExecutorHost.Create().SetName("local").SetExecutorType(st.ExecutorDocker).SetAutoPullImages(false).SetMaxConcurrentJobs(10).SaveX(ctx)
	d := dispatch.New(db, dispatch.Options{PollInterval: 10 * time.Millisecond})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = d.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	var gantry []time.Duration
	env := map[string]string{"GANTRY_TEST_STDOUT": "hi"}
	for range runs {
		start := time.Now()
		j, _, err := d.Submit(ctx, dispatch.SubmitInput{Image: &img, Environment: env})
		if err != nil {
			return err
		}
		if err := waitJobs(ctx, db, []uuid.UUID{j.ID}); err != nil {
			return err
		}
		gantry = append(gantry, time.Since(start))
	}
	slices.Sort(plain)
	slices.Sort(gantry)
	p, g := plain[len(plain)/2], gantry[len(gantry)/2]
	fmt.Printf("docker   one short container, median of %d: plain docker run %s, Gantry submit→completed %s: ratio %.2f×\n",
		runs, p.Round(time.Millisecond), g.Round(time.Millisecond), float64(g)/float64(p))

	start := time.Now()
	var ids []uuid.UUID
	for range burst {
		j, _, err := d.Submit(ctx, dispatch.SubmitInput{Image: &img, Environment: env})
		if err != nil {
			return err
		}
		ids = append(ids, j.ID)
	}
	if err := waitJobs(ctx, db, ids); err != nil {
		return err
	}
	rate := float64(burst) / time.Since(start).Seconds()
	plainRate, err := plainBurst(img, burst)
	if err != nil {
		return err
	}
	fmt.Printf("docker   %d short containers, 10 at a time: Gantry %.1f jobs/s, plain `docker run` ×10 in parallel %.1f jobs/s\n", burst, rate, plainRate)
	return nil
}

// plainBurst runs n containers with `docker run`, 10 at a time.
func plainBurst(img string, n int) (float64, error) {
	start := time.Now()
	sem := make(chan struct{}, 10)
	errc := make(chan error, n)
	for range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			if out, err := exec.Command("docker", "run", "--rm", "-e", "GANTRY_TEST_STDOUT=hi", img).CombinedOutput(); err != nil {
				errc <- fmt.Errorf("docker run: %v: %s", err, out)
			}
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	close(errc)
	if err := <-errc; err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func waitJobs(ctx context.Context, db *store.DB, ids []uuid.UUID) error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		n, err := db.Client.ContainerJob.Query().Where(containerjob.IDIn(ids...),
			containerjob.StatusIn(st.StatusCompleted, st.StatusFailed)).Count(ctx)
		if err != nil {
			return err
		}
		if n == len(ids) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("docker jobs did not finish")
}
