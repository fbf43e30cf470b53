// Command bench measures the dispatcher on SQLite and PostgreSQL and prints
// the figures the README reports: submit→launch latency at idle, end-to-end
// jobs/s with zero-time mock jobs, and claim latency at 10k vs 1M queued rows.
//
//	GANTRY_TEST_POSTGRES_URL=postgres://… go run ./bench [-jobs 10000] [-big 1000000]
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/jobevent"
	st "github.com/gantry/gantry/ent/schematype"
	_ "github.com/gantry/gantry/executors/mock"
	"github.com/gantry/gantry/migrations"
	"github.com/gantry/gantry/store"
)

var (
	pollEvery = flag.Duration("poll", 5*time.Millisecond, "watcher poll interval")
	clients   = flag.Int("clients", 32, "concurrent submitting clients for the throughput run")
)

func main() {
	jobs := flag.Int("jobs", 10000, "jobs for the throughput run")
	idle := flag.Int("idle", 200, "jobs for the idle latency run")
	small := flag.Int("small", 10_000, "queued rows for the small claim run")
	big := flag.Int("big", 1_000_000, "queued rows for the large claim run")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile")
	only := flag.String("dialect", "", "run one dialect only")
	subs := flag.Int("subs", 1000, "websocket subscriptions for the subscription run (0: skip)")
	filler := flag.Int("filler", 10000, "queued jobs during the subscription run")
	dockerRuns := flag.Int("docker", 10, "runs for the Docker comparison (0: skip)")
	cloudJobs := flag.Int("cloud", 200, "jobs for the Cloud Run polling comparison (0: skip)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			panic(err)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	dialects := []string{store.SQLite}
	if os.Getenv("GANTRY_TEST_POSTGRES_URL") != "" {
		dialects = append(dialects, store.Postgres)
	} else {
		fmt.Println("(GANTRY_TEST_POSTGRES_URL not set: SQLite only)")
	}
	if err := routingBench(2000); err != nil {
		fmt.Fprintf(os.Stderr, "routing: %v\n", err)
		os.Exit(1)
	}
	if *dockerRuns > 0 {
		if err := dockerBench(*dockerRuns, 50); err != nil {
			fmt.Fprintf(os.Stderr, "docker: %v\n", err)
			os.Exit(1)
		}
	}
	if *cloudJobs > 0 {
		if err := cloudBench(*cloudJobs, 5*time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "cloud: %v\n", err)
			os.Exit(1)
		}
	}
	if *subs > 0 {
		if err := subscriptions(*subs, *filler); err != nil {
			fmt.Fprintf(os.Stderr, "subscriptions: %v\n", err)
			os.Exit(1)
		}
	}
	for _, d := range dialects {
		if *only != "" && d != *only {
			continue
		}
		if err := run(d, *jobs, *idle, *small, *big); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", d, err)
			pprof.StopCPUProfile()
			os.Exit(1)
		}
	}
}

func run(dialect string, jobs, idle, small, big int) error {
	ctx := context.Background()
	p50, p99, err := latency(ctx, dialect, idle)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	fmt.Printf("%-8s submit→launch at idle (%d jobs): p50 %s  p99 %s\n", dialect, idle, p50, p99)
	rate, err := throughput(ctx, dialect, jobs)
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	fmt.Printf("%-8s end-to-end (%d zero-time mock jobs, submit→completed): %.0f jobs/s\n", dialect, jobs, rate)
	for _, n := range []int{small, big} {
		lat, plan, err := claimLatency(ctx, dialect, n)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		fmt.Printf("%-8s claim of 100 with %d queued rows: median %s\n", dialect, n, lat)
		if n == big {
			fmt.Printf("%-8s claim plan: %s", dialect, plan)
		}
	}
	return nil
}

var dbSeq int

// freshDB creates and migrates an empty database.
func freshDB(ctx context.Context, dialect string) (*store.DB, func(), error) {
	dbSeq++
	var raw string
	cleanup := func() {}
	if dialect == store.SQLite {
		dir, err := os.MkdirTemp("", "gantry-bench")
		if err != nil {
			return nil, nil, err
		}
		raw = "sqlite:" + filepath.Join(dir, "bench.db")
		cleanup = func() { os.RemoveAll(dir) }
	} else {
		admin := os.Getenv("GANTRY_TEST_POSTGRES_URL")
		name := fmt.Sprintf("gantry_bench_%d_%d", os.Getpid(), dbSeq)
		if err := pgExec(admin, "CREATE DATABASE "+name); err != nil {
			return nil, nil, err
		}
		u, _ := url.Parse(admin)
		u.Path = "/" + name
		raw = u.String()
		cleanup = func() { _ = pgExec(admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") }
	}
	cfg, _ := store.Parse(raw)
	mg, err := migrations.Open(cfg)
	if err != nil {
		return nil, nil, err
	}
	defer mg.Close()
	if err := mg.Up(ctx); err != nil {
		return nil, nil, err
	}
	db, err := store.Open(ctx, raw)
	if err != nil {
		return nil, nil, err
	}
	return db, func() { db.Close(); cleanup() }, nil
}

func pgExec(dsn, stmt string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(stmt)
	return err
}

func startDispatcher(db *store.DB) (*dispatch.Dispatcher, func()) {
	d := dispatch.New(db, dispatch.Options{PollInterval: *pollEvery})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	return d, func() { cancel(); <-done }
}

func mockHost(ctx context.Context, db *store.DB, max int) {
	db.Client.ExecutorHost.Create().SetName("bench-mock").SetExecutorType(st.ExecutorMock).SetMaxConcurrentJobs(max).SaveX(ctx)
}

func image() *string { s := "mock"; return &s }

// latency submits jobs one at a time on an idle system and measures, from
// the events, the time from queued to launching.
func latency(ctx context.Context, dialect string, n int) (p50, p99 time.Duration, err error) {
	db, cleanup, err := freshDB(ctx, dialect)
	if err != nil {
		return 0, 0, err
	}
	defer cleanup()
	mockHost(ctx, db, 1000)
	d, stop := startDispatcher(db)
	defer stop()
	time.Sleep(200 * time.Millisecond)
	for range n {
		if _, _, err := d.Submit(ctx, dispatch.SubmitInput{Image: image()}); err != nil {
			return 0, 0, err
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := waitCompleted(ctx, db, n); err != nil {
		return 0, 0, err
	}
	queued := map[string]time.Time{}
	var lats []time.Duration
	for _, ev := range db.Client.JobEvent.Query().Where(jobevent.ToStatusIn(st.StatusQueued, st.StatusLaunching)).
		Order(jobevent.BySequence()).AllX(ctx) {
		if ev.ToStatus == st.StatusQueued {
			queued[ev.JobID.String()] = ev.CreatedAt
			continue
		}
		lats = append(lats, ev.CreatedAt.Sub(queued[ev.JobID.String()]))
	}
	return pct(lats, 50), pct(lats, 99), nil
}

func pct(ds []time.Duration, p int) time.Duration {
	slices.Sort(ds)
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, len(ds)*p/100)].Round(10 * time.Microsecond)
}

func waitCompleted(ctx context.Context, db *store.DB, n int) error {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		if db.Client.ContainerJob.Query().Where(containerjob.StatusEQ(st.StatusCompleted)).CountX(ctx) >= n {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("jobs did not complete in time")
}

// throughput submits n zero-time jobs from *clients clients while the dispatcher
// runs, and reports jobs completed per second from first submit to last end.
func throughput(ctx context.Context, dialect string, n int) (float64, error) {
	db, cleanup, err := freshDB(ctx, dialect)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	mockHost(ctx, db, 5000)
	d, stop := startDispatcher(db)
	defer stop()
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, *clients)
	for w := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += *clients {
				if _, _, err := d.Submit(ctx, dispatch.SubmitInput{Image: image()}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return 0, err
	}
	fmt.Printf("%-8s   (submitting %d jobs from %d clients took %s: %.0f submits/s)\n", dialect, n, *clients, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())
	if err := waitCompleted(ctx, db, n); err != nil {
		return 0, err
	}
	rate := float64(n) / time.Since(start).Seconds()
	fmt.Printf("%-8s   (time in status:%s)\n", dialect, stages(ctx, db))
	return rate, nil
}

// claimLatency fills the queue with n rows and times the claim query.
func claimLatency(ctx context.Context, dialect string, n int) (time.Duration, string, error) {
	db, cleanup, err := freshDB(ctx, dialect)
	if err != nil {
		return 0, "", err
	}
	defer cleanup()
	if err := fillQueue(ctx, db, n); err != nil {
		return 0, "", err
	}
	d := dispatch.New(db, dispatch.Options{})
	var lats []time.Duration
	for range 50 {
		lat, got, err := d.ProbeClaim(ctx)
		if err != nil {
			return 0, "", err
		}
		if got != 100 {
			return 0, "", fmt.Errorf("claimed %d rows, want 100", got)
		}
		lats = append(lats, lat)
	}
	plan, err := d.ExplainClaim(ctx)
	return pct(lats, 50), plan, err
}

const fillCols = `id, created_at, updated_at, name, status, container_id, stdout_log, stderr_log, image, working_directory, timeout_seconds,
executor_type, external_execution_id, preferred_executor, routing_reason, retry_count, max_retries, priority, retry_strategy,
last_error, oom_killed, lease_owner, queued_at`

func fillQueue(ctx context.Context, db *store.DB, n int) error {
	var q string
	if db.Dialect == store.Postgres {
		q = `INSERT INTO container_jobs (` + fillCols + `)
SELECT gen_random_uuid(), now(), now(), '', 'queued', '', '', '', 'img', '', 60, 'mock', '', '', '', 0, 3,
  (random() * 100)::int, 'default', '', false, '', now() - (random() * interval '1 day')
FROM generate_series(1, ` + fmt.Sprint(n) + `)`
	} else {
		ts := time.Now().UTC().Format("2006-01-02 15:04:05")
		q = `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ` + fmt.Sprint(n) + `)
INSERT INTO container_jobs (` + fillCols + `)
SELECT printf('%08x-0000-4000-8000-%012x', i, i), '` + ts + `', '` + ts + `', '', 'queued', '', '', '', 'img', '', 60, 'mock', '', '', '', 0, 3,
  abs(random()) % 101, 'default', '', 0, '', '` + ts + `.' || printf('%06d', abs(random()) % 1000000) || '+00:00'
FROM s`
	}
	if _, err := db.SQL.ExecContext(ctx, q); err != nil {
		return err
	}
	if db.Dialect == store.Postgres {
		_, err := db.SQL.ExecContext(ctx, "ANALYZE container_jobs")
		return err
	}
	_, err := db.SQL.ExecContext(ctx, "ANALYZE")
	return err
}

// stages reports the median time jobs spent in each status, from events.
func stages(ctx context.Context, db *store.DB) string {
	entered := map[string]time.Time{}
	spent := map[st.JobStatus][]time.Duration{}
	for _, ev := range db.Client.JobEvent.Query().Order(jobevent.ByCreatedAt()).AllX(ctx) {
		if ev.FromStatus != nil {
			spent[*ev.FromStatus] = append(spent[*ev.FromStatus], ev.CreatedAt.Sub(entered[ev.JobID.String()]))
		}
		entered[ev.JobID.String()] = ev.CreatedAt
	}
	out := ""
	for _, s := range []st.JobStatus{st.StatusQueued, st.StatusLaunching, st.StatusRunning} {
		out += fmt.Sprintf(" %s p50 %s p99 %s;", s, pct(spent[s], 50), pct(spent[s], 99))
	}
	return out
}
