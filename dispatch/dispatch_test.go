package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/containerjob"
	"github.com/gantry/gantry/ent/executorhost"
	"github.com/gantry/gantry/ent/jobevent"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/errs"
	_ "github.com/gantry/gantry/executors/mock"
	"github.com/gantry/gantry/store"
	"github.com/gantry/gantry/store/storetest"
)

type env struct {
	t      *testing.T
	db     *store.DB
	c      *ent.Client
	d      *dispatch.Dispatcher
	cancel context.CancelFunc
	done   chan error
}

func fastOpts() dispatch.Options {
	return dispatch.Options{PollInterval: 10 * time.Millisecond, RetryBase: 50 * time.Millisecond, HealthEvery: 100 * time.Millisecond,
		StopGrace: 200 * time.Millisecond, IdleTick: 200 * time.Millisecond, LeaseTTL: 3 * time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

func newEnv(t *testing.T, dialect string) *env {
	t.Helper()
	db := storetest.Open(t, dialect)
	return &env{t: t, db: db, c: db.Client, d: dispatch.New(db, fastOpts())}
}

// start runs the dispatch loop until the test ends.
func (e *env) start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.d.Run(ctx) }()
	e.t.Cleanup(e.stop)
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("dispatcher: %v", err)
	}
	e.cancel = nil
}

func (e *env) host(name string, max int, cfg map[string]any) *ent.ExecutorHost {
	e.t.Helper()
	return e.c.ExecutorHost.Create().SetName(name).SetExecutorType(st.ExecutorMock).SetMaxConcurrentJobs(max).
		SetExecutorConfig(cfg).SaveX(context.Background())
}

func (e *env) submit(in dispatch.SubmitInput) *ent.ContainerJob {
	e.t.Helper()
	if in.Image == nil {
		img := "mock"
		in.Image = &img
	}
	j, _, err := e.d.Submit(context.Background(), in)
	if err != nil {
		e.t.Fatalf("submit: %v", err)
	}
	return j
}

func env_(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func ptr[T any](v T) *T { return &v }

// wait polls until job id reaches a status in want, or fails.
func (e *env) wait(id uuid.UUID, want ...st.JobStatus) *ent.ContainerJob {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j := e.c.ContainerJob.GetX(context.Background(), id)
		for _, w := range want {
			if j.Status == w {
				return j
			}
		}
		if time.Now().After(deadline) {
			dumpJobs(e.t, e)
			e.t.Fatalf("job %s is %s (last error %q, routing %q, queued_at %v), want %v", id, j.Status, j.LastError, j.RoutingReason, j.QueuedAt, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) statuses(id uuid.UUID) []string {
	if err := e.d.Sequence(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	evs := e.c.JobEvent.Query().Where(jobevent.JobID(id)).Order(ent.Asc(jobevent.FieldSequence)).AllX(context.Background())
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = string(ev.ToStatus)
	}
	return out
}

func TestStateMachine(t *testing.T) {
	all := st.JobStatus("").Values()
	allowed := map[string]bool{
		"pending>queued": true, "pending>cancelled": true, "queued>launching": true, "queued>cancelled": true,
		"launching>running": true, "launching>cancelling": true, "launching>retrying": true, "launching>failed": true,
		"running>completed": true, "running>failed": true, "running>timeout": true, "running>cancelling": true, "running>retrying": true,
		"cancelling>cancelled": true, "retrying>queued": true, "retrying>failed": true,
	}
	for _, from := range all {
		for _, to := range all {
			key := from + ">" + to
			if got := dispatch.Allowed(st.JobStatus(from), st.JobStatus(to), false); got != allowed[key] {
				t.Errorf("Allowed(%s) = %v", key, got)
			}
			explicit := to == "queued" && (from == "failed" || from == "timeout" || from == "cancelled")
			if got := dispatch.Allowed(st.JobStatus(from), st.JobStatus(to), true); got != explicit {
				t.Errorf("explicit Allowed(%s) = %v", key, got)
			}
		}
	}
}

// TestTransitionInDatabase applies every transition to a stored job: the
// allowed ones change it and append one event each with a growing sequence,
// the forbidden ones fail with INVALID_TRANSITION and change nothing.
func TestTransitionInDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		ctx := context.Background()
		all := st.JobStatus("").Values()
		var lastSeq int64
		for _, from := range all {
			for _, to := range all {
				j := e.c.ContainerJob.Create().SetImage("x").SetStatus(st.JobStatus(from)).SaveX(ctx)
				evs, err := e.d.Transition(ctx, dispatch.Change{Job: j, To: st.JobStatus(to), Reason: "test"})
				ok := dispatch.Allowed(st.JobStatus(from), st.JobStatus(to), false)
				if !ok {
					if errs.CodeOf(err) != errs.InvalidTransition {
						t.Errorf("%s>%s: err = %v, want INVALID_TRANSITION", from, to, err)
					}
					if got := e.c.ContainerJob.GetX(ctx, j.ID).Status; string(got) != from {
						t.Errorf("%s>%s: forbidden change left status %s", from, to, got)
					}
					continue
				}
				if err != nil || len(evs) != 1 {
					t.Fatalf("%s>%s: err=%v events=%v", from, to, err, evs)
				}
				if err := e.d.Sequence(ctx); err != nil {
					t.Fatal(err)
				}
				seq := e.c.JobEvent.GetX(ctx, evs[0].ID).Sequence
				if seq == nil || *seq <= lastSeq {
					t.Fatalf("%s>%s: sequence %v after %d", from, to, seq, lastSeq)
				}
				lastSeq = *seq
				got := e.c.ContainerJob.GetX(ctx, j.ID)
				if string(got.Status) != to || (st.JobStatus(to).Terminal() && got.CompletedAt == nil) {
					t.Errorf("%s>%s: row %s completed_at=%v", from, to, got.Status, got.CompletedAt)
				}
				if (to == "queued") != (got.QueuedAt != nil) {
					t.Errorf("%s>%s: queued_at=%v", from, to, got.QueuedAt)
				}
			}
		}
		// A change from a status the job no longer has is refused as stale.
		j := e.c.ContainerJob.Create().SetImage("x").SetStatus(st.StatusQueued).SaveX(ctx)
		stale := *j
		stale.Status = st.StatusPending
		if _, err := e.d.Transition(ctx, dispatch.Change{Job: &stale, To: st.StatusQueued}); !errors.Is(err, dispatch.ErrStale) {
			t.Errorf("stale change: err = %v", err)
		}
	})
}

func TestJobsRunToCompletionWithinCapacity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		h := e.host("mock-1", 3, nil)
		var ids []uuid.UUID
		for i := range 12 {
			j := e.submit(dispatch.SubmitInput{Environment: env_("GANTRY_TEST_SLEEP_MS", "60", "GANTRY_TEST_STDOUT", fmt.Sprintf("job-%d", i))})
			ids = append(ids, j.ID)
		}
		stop := make(chan struct{})
		var peak int
		var mu sync.Mutex
		go func() { // sample the concurrency the database records
			for {
				select {
				case <-stop:
					return
				default:
				}
				n, _ := e.c.ContainerJob.Query().Where(containerjob.DockerHostID(h.ID),
					containerjob.StatusIn(st.StatusLaunching, st.StatusRunning, st.StatusCancelling)).Count(context.Background())
				mu.Lock()
				peak = max(peak, n)
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
		e.start()
		for i, id := range ids {
			j := e.wait(id, st.StatusCompleted, st.StatusFailed)
			if j.Status != st.StatusCompleted || j.ExitCode == nil || *j.ExitCode != 0 || j.StdoutLog != fmt.Sprintf("job-%d\n", i) {
				t.Fatalf("job %d: status %s exit %v stdout %q err %q", i, j.Status, j.ExitCode, j.StdoutLog, j.LastError)
			}
			if got := e.statuses(id); fmt.Sprint(got) != "[queued launching running completed]" {
				t.Fatalf("job %d events %v", i, got)
			}
		}
		close(stop)
		mu.Lock()
		defer mu.Unlock()
		if peak > 3 || peak < 2 {
			t.Errorf("peak concurrency %d on a host with 3 slots", peak)
		}
		if c := e.c.ExecutorHost.GetX(context.Background(), h.ID).CurrentJobCount; c != 0 {
			t.Errorf("host counter %d after all jobs ended", c)
		}
	})
}

func TestPriorityOrderAndSchedule(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.host("single", 1, nil)
		prios := []int{10, 90, 50, 90, 0}
		var ids []uuid.UUID
		for _, p := range prios {
			ids = append(ids, e.submit(dispatch.SubmitInput{Priority: ptr(p), Environment: env_("GANTRY_TEST_SLEEP_MS", "20")}).ID)
			time.Sleep(2 * time.Millisecond) // distinct queued_at
		}
		later := time.Now().Add(700 * time.Millisecond)
		sched := e.submit(dispatch.SubmitInput{Priority: ptr(100), ScheduledFor: &later})
		e.start()
		for _, id := range append(ids, sched.ID) {
			e.wait(id, st.StatusCompleted)
		}
		evs := e.c.JobEvent.Query().Where(jobevent.ToStatusEQ(st.StatusLaunching)).Order(ent.Asc(jobevent.FieldSequence)).AllX(context.Background())
		var order []uuid.UUID
		for _, ev := range evs {
			order = append(order, ev.JobID)
		}
		want := []uuid.UUID{ids[1], ids[3], ids[2], ids[0], ids[4]}
		if fmt.Sprint(order[:5]) != fmt.Sprint(want) {
			t.Errorf("launch order %v, want %v (priority desc, then queued_at)", order[:5], want)
		}
		sj := e.c.ContainerJob.GetX(context.Background(), sched.ID)
		if sj.LaunchedAt == nil || sj.LaunchedAt.Before(later) {
			t.Errorf("scheduled job launched at %v, before %v", sj.LaunchedAt, later)
		}
	})
}

func TestCancel(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		h := e.host("m", 2, nil)
		ctx := context.Background()

		queued := e.submit(dispatch.SubmitInput{})
		j, err := e.d.Cancel(ctx, queued.ID, "")
		if err != nil || j.Status != st.StatusCancelled {
			t.Fatalf("cancel queued: %v %v", j, err)
		}
		e.start()
		running := e.submit(dispatch.SubmitInput{Environment: env_("GANTRY_TEST_NEVER_EXIT", "1")})
		e.wait(running.ID, st.StatusRunning)
		j, err = e.d.Cancel(ctx, running.ID, "user asked")
		if err != nil || (j.Status != st.StatusCancelling && j.Status != st.StatusCancelled) {
			t.Fatalf("cancel running: %v %v", j, err)
		}
		e.wait(running.ID, st.StatusCancelled)
		if got := fmt.Sprint(e.statuses(running.ID)); got != "[queued launching running cancelling cancelled]" {
			t.Errorf("events %s", got)
		}
		if c := e.c.ExecutorHost.GetX(ctx, h.ID).CurrentJobCount; c != 0 {
			t.Errorf("slot not freed: count %d", c)
		}
		if _, err := e.d.Cancel(ctx, running.ID, ""); errs.CodeOf(err) != errs.InvalidTransition {
			t.Errorf("cancel a cancelled job: %v", err)
		}
		if _, err := e.d.Cancel(ctx, uuid.New(), ""); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("cancel unknown job: %v", err)
		}
	})
}

func TestTimeout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		h := e.host("m", 2, nil)
		e.start()
		j := e.submit(dispatch.SubmitInput{TimeoutSeconds: ptr(1), Environment: env_("GANTRY_TEST_NEVER_EXIT", "1")})
		got := e.wait(j.ID, st.StatusTimeout, st.StatusFailed, st.StatusCompleted)
		if got.Status != st.StatusTimeout {
			t.Fatalf("status %s, want timeout", got.Status)
		}
		if ran := got.CompletedAt.Sub(*got.StartedAt); ran < time.Second {
			t.Errorf("stopped after %s, before its 1s timeout", ran)
		}
		if c := e.c.ExecutorHost.GetX(context.Background(), h.ID).CurrentJobCount; c != 0 {
			t.Errorf("slot not freed: count %d", c)
		}
	})
}

func TestRetryThenSuccessAndPermanentFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		e.host("m", 4, nil)
		e.start()
		flaky := e.submit(dispatch.SubmitInput{MaxRetries: ptr(3), Environment: env_("GANTRY_MOCK_FAIL_ATTEMPTS", "2")})
		bad := e.submit(dispatch.SubmitInput{Environment: env_("GANTRY_MOCK_LAUNCH_ERROR", "image not found", "GANTRY_MOCK_LAUNCH_ERROR_PERMANENT", "1")})
		exhausted := e.submit(dispatch.SubmitInput{MaxRetries: ptr(1), Environment: env_("GANTRY_MOCK_FAIL_ATTEMPTS", "5")})
		exit3 := e.submit(dispatch.SubmitInput{Environment: env_("GANTRY_TEST_EXIT", "3")})

		f := e.wait(flaky.ID, st.StatusCompleted, st.StatusFailed)
		if f.Status != st.StatusCompleted || f.RetryCount != 2 {
			t.Errorf("flaky: %s after %d retries (%s)", f.Status, f.RetryCount, f.LastError)
		}
		if got := fmt.Sprint(e.statuses(flaky.ID)); got != "[queued launching retrying queued launching retrying queued launching running completed]" {
			t.Errorf("flaky events %s", got)
		}
		b := e.wait(bad.ID, st.StatusFailed)
		if b.RetryCount != 0 || !contains(b.LastError, "permanent") || !contains(b.LastError, "image not found") {
			t.Errorf("permanent failure: retries %d, last_error %q", b.RetryCount, b.LastError)
		}
		x := e.wait(exhausted.ID, st.StatusFailed)
		if x.RetryCount != 1 || !contains(x.LastError, "no retries left") {
			t.Errorf("exhausted: retries %d, last_error %q", x.RetryCount, x.LastError)
		}
		g := e.wait(exit3.ID, st.StatusFailed)
		if g.ExitCode == nil || *g.ExitCode != 3 {
			t.Errorf("exit 3: exit code %v", g.ExitCode)
		}
		// An explicit retry starts a new attempt of the failed job.
		r, err := e.d.Retry(context.Background(), exit3.ID)
		if err != nil || r.Status != st.StatusQueued || r.RetryCount != 1 {
			t.Fatalf("retryJob: %v %v", r, err)
		}
		e.wait(exit3.ID, st.StatusFailed)
		if _, err := e.d.Retry(context.Background(), flaky.ID); errs.CodeOf(err) != errs.InvalidTransition {
			t.Errorf("retry a completed job: %v", err)
		}
	})
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestIdempotentSubmitUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		var wg sync.WaitGroup
		ids := make([]uuid.UUID, 20)
		created := make([]bool, 20)
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j, c, err := e.d.Submit(context.Background(), dispatch.SubmitInput{Image: ptr("img"), IdempotencyKey: ptr("order-42")})
				if err != nil {
					t.Error(err)
					return
				}
				ids[i], created[i] = j.ID, c
			}()
		}
		wg.Wait()
		n := 0
		for i := range ids {
			if ids[i] != ids[0] {
				t.Fatalf("submit %d returned job %s, submit 0 returned %s", i, ids[i], ids[0])
			}
			if created[i] {
				n++
			}
		}
		if n != 1 || e.c.ContainerJob.Query().CountX(context.Background()) != 1 {
			t.Errorf("%d submits reported created; %d jobs stored", n, e.c.ContainerJob.Query().CountX(context.Background()))
		}
	})
}

func TestRouteDryRunAndPinning(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		ctx := context.Background()
		a := e.host("a", 2, nil)
		b := e.host("b", 5, nil)
		full := e.host("full", 1, nil)
		e.c.ExecutorHost.UpdateOne(full).SetCurrentJobCount(1).ExecX(ctx)
		j := e.submit(dispatch.SubmitInput{})
		before := e.c.ContainerJob.GetX(ctx, j.ID)
		_, dec, err := e.d.Route(ctx, dispatch.RouteInput{JobID: j.ID, DryRun: true})
		if err != nil || dec.Host == nil || dec.Host.ID != b.ID || len(dec.Candidates) != 3 {
			t.Fatalf("dry run: %+v %v", dec, err)
		}
		for _, c := range dec.Candidates {
			if c.Host.ID == full.ID && (c.Eligible || !contains(c.Reason, "capacity")) {
				t.Errorf("full host candidate: %+v", c)
			}
		}
		after := e.c.ContainerJob.GetX(ctx, j.ID)
		if !after.UpdatedAt.Equal(before.UpdatedAt) || after.RoutingReason != before.RoutingReason {
			t.Errorf("dry run changed the job")
		}
		if _, _, err := e.d.Route(ctx, dispatch.RouteInput{JobID: j.ID, HostID: &a.ID}); err != nil {
			t.Fatal(err)
		}
		e.start()
		done := e.wait(j.ID, st.StatusCompleted)
		if *done.DockerHostID != a.ID {
			t.Errorf("pinned job ran on %v, want host a", done.DockerHostID)
		}
		if _, _, err := e.d.Route(ctx, dispatch.RouteInput{JobID: j.ID}); errs.CodeOf(err) != errs.InvalidTransition {
			t.Errorf("route a completed job: %v", err)
		}
		// Reconcile at start recounted the artificially filled host from its jobs.
		if n := e.c.ExecutorHost.Query().Where(executorhost.CurrentJobCountGT(0)).CountX(ctx); n != 0 {
			t.Errorf("%d hosts hold slots after every job ended", n)
		}
	})
}

// TestClaimUsesPriorityIndex shows the claim query's plan: it walks seed
// 004's partial index idx_containerjob_priority_queue in order instead of
// sorting the queue.
func TestClaimUsesPriorityIndex(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		ctx := context.Background()
		for chunk := range 10 {
			builders := make([]*ent.ContainerJobCreate, 200)
			for i := range builders {
				builders[i] = e.c.ContainerJob.Create().SetImage("x").SetStatus(st.StatusQueued).SetQueuedAt(time.Now()).SetPriority((chunk*200 + i) % 101)
			}
			e.c.ContainerJob.CreateBulk(builders...).ExecX(ctx)
		}
		if _, err := e.db.SQL.ExecContext(ctx, "ANALYZE"); err != nil {
			t.Fatal(err)
		}
		plan, err := e.d.ExplainClaim(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("claim plan (%s):\n%s", dialect, plan)
		if !contains(plan, "idx_containerjob_priority_queue") || contains(plan, "TEMP B-TREE") || contains(plan, "Sort") {
			t.Fatalf("claim does not walk the priority index:\n%s", plan)
		}
	})
}

func TestCostEstimatedAndActual(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		ctx := context.Background()
		e.c.ExecutorHost.Create().SetName("priced").SetExecutorType(st.ExecutorMock).
			SetCostPerHour(st.MustDecimal("3.6")).SetCostPerJob(st.MustDecimal("0.01")).SaveX(ctx)
		e.start()
		j := e.submit(dispatch.SubmitInput{TimeoutSeconds: ptr(60), Environment: env_("GANTRY_TEST_SLEEP_MS", "1200")})
		done := e.wait(j.ID, st.StatusCompleted)
		if got := done.EstimatedCost.String(); got != "0.0700" {
			t.Errorf("estimated_cost %q, want 0.0700 (0.01 + 3.6/h × 60 s)", got)
		}
		// 1.2 s runs bill as 1 s: 0.01 + 3.6/h × 1 s = 0.0110.
		if got := done.ActualCost.String(); got != "0.0110" {
			t.Errorf("actual_cost %q, want 0.0110", got)
		}
	})
}

// TestCircuitBreakerSpillsToAnotherHost: a failed launch makes the retry
// spill to another host, and a host whose launches keep failing for
// infrastructure reasons leaves routing after three failures.
func TestCircuitBreakerSpillsToAnotherHost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		db := storetest.Open(t, dialect)
		opts := fastOpts()
		opts.HealthEvery = time.Hour // no health check resets the breaker during the test
		e := &env{t: t, db: db, c: db.Client, d: dispatch.New(db, opts)}
		broken := e.host("broken", 10, map[string]any{"launch_error": "daemon not responding"})
		spare := e.host("spare", 2, nil)
		e.start()
		for i := range 3 {
			j := e.submit(dispatch.SubmitInput{MaxRetries: ptr(5)})
			done := e.wait(j.ID, st.StatusCompleted, st.StatusFailed)
			if done.Status != st.StatusCompleted || *done.DockerHostID != spare.ID || done.RetryCount != 1 {
				t.Fatalf("job %d: %s on %v after %d retries, want completed on the spare host after one (%s)", i, done.Status, done.DockerHostID, done.RetryCount, done.LastError)
			}
		}
		if f := e.c.ExecutorHost.GetX(context.Background(), broken.ID).HealthCheckFailures; f < 3 {
			t.Fatalf("broken host has %d failures recorded", f)
		}
		// The breaker is open: the next job never tries the broken host.
		j := e.submit(dispatch.SubmitInput{})
		done := e.wait(j.ID, st.StatusCompleted, st.StatusFailed)
		if done.RetryCount != 0 || *done.DockerHostID != spare.ID || !contains(done.RoutingReason, "unhealthy") {
			t.Errorf("after the breaker opened: %d retries on %v, reason %q", done.RetryCount, done.DockerHostID, done.RoutingReason)
		}
	})
}

// TestSequencePassStaysIndexed: with many numbered events in job_events,
// the numbering pass reads pending events through the partial index and
// updates them by id — never a scan of the whole table, which made each
// pass grow with the table.
func TestSequencePassStaysIndexed(t *testing.T) {
	e := newEnv(t, "postgres")
	ctx := context.Background()
	j := e.c.ContainerJob.Create().SetImage("x").SaveX(ctx)
	// 20,000 events inserted unnumbered, analyzed, then numbered: the
	// statistics still say "many pending", as between autovacuum runs.
	for _, q := range []string{
		`INSERT INTO job_events (id, created_at, job_id, to_status, reason, executor_type, attempt)
		 SELECT gen_random_uuid(), now(), $1, 'queued', '', 'docker', 0 FROM generate_series(1, 20000)`,
		`ANALYZE job_events`,
		`UPDATE job_events SET sequence = n.rn FROM (SELECT id, row_number() OVER () AS rn FROM job_events) n WHERE job_events.id = n.id`,
		`INSERT INTO job_events (id, created_at, job_id, to_status, reason, executor_type, attempt)
		 SELECT gen_random_uuid(), now(), $1, 'running', '', 'docker', 0 FROM generate_series(1, 30)`,
	} {
		args := []any{j.ID}
		if !contains(q, "$1") {
			args = nil
		}
		if _, err := e.db.SQL.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	plan, err := e.d.ExplainSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if contains(plan, "Seq Scan on job_events") || contains(plan, "Hash Join") || contains(plan, "Bitmap") || !contains(plan, "Index Scan using job_events_pkey") {
		t.Fatalf("numbering pass scans the table:\n%s", plan)
	}
}

// TestBatchedTransitionWritesEveryColumn: one Transition call changing
// several jobs in different ways (different columns set and cleared, JSON,
// money, times, enums; one job twice) writes each row exactly as a
// one-by-one update would — on PostgreSQL this is the batched path.
func TestBatchedTransitionWritesEveryColumn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		ctx := context.Background()
		h := e.host("m", 10, nil)
		mk := func(s st.JobStatus) *ent.ContainerJob {
			return e.c.ContainerJob.Create().SetImage("x").SetStatus(s).SetDockerHostID(h.ID).SetExecutorType(st.ExecutorMock).
				SetExternalExecutionID("e").SetExitCode(9).SaveX(ctx)
		}
		a, b, c, d := mk(st.StatusRunning), mk(st.StatusRunning), mk(st.StatusQueued), mk(st.StatusRunning)
		meta := map[string]any{"routing": []any{map[string]any{"host": "m", "score": 1.5}}, "n": 2.0}
		cost := st.MustDecimal("0.1234")
		evs, err := e.d.Transition(ctx,
			dispatch.Change{Job: a, To: st.StatusCompleted, Reason: "done", Set: func(u *ent.ContainerJobUpdate) {
				u.SetExitCode(0).SetStdoutLog("out").SetActualCost(cost).SetOomKilled(true)
			}},
			dispatch.Change{Job: b, To: st.StatusFailed, Reason: "exit 3", Set: func(u *ent.ContainerJobUpdate) { u.SetExitCode(3).SetLastError("boom") }},
			dispatch.Change{Job: c, To: st.StatusLaunching, Reason: "claimed", Set: func(u *ent.ContainerJobUpdate) {
				u.SetExecutorMetadata(meta).SetRoutingReason("rule x").SetLeaseOwner("r1")
			}},
			dispatch.Change{Job: d, To: st.StatusRetrying, Reason: "retry"},
			dispatch.Change{Job: d, To: st.StatusQueued, Reason: "again", Set: func(u *ent.ContainerJobUpdate) {
				u.ClearExitCode().ClearDockerHostID().SetRetryCount(1).SetExternalExecutionID("")
			}},
		)
		if err != nil || len(evs) != 5 {
			t.Fatalf("transition: %v, %d events", err, len(evs))
		}
		ga, gb, gc, gd := e.c.ContainerJob.GetX(ctx, a.ID), e.c.ContainerJob.GetX(ctx, b.ID), e.c.ContainerJob.GetX(ctx, c.ID), e.c.ContainerJob.GetX(ctx, d.ID)
		if ga.Status != st.StatusCompleted || ga.ExitCode == nil || *ga.ExitCode != 0 || ga.StdoutLog != "out" || !ga.OomKilled ||
			ga.ActualCost.String() != "0.1234" || ga.CompletedAt == nil || !ga.UpdatedAt.After(a.UpdatedAt) {
			t.Errorf("completed job: %+v", ga)
		}
		if gb.Status != st.StatusFailed || *gb.ExitCode != 3 || gb.LastError != "boom" {
			t.Errorf("failed job: %+v", gb)
		}
		routing, _ := gc.ExecutorMetadata["routing"].([]any)
		if gc.Status != st.StatusLaunching || gc.QueuedAt != nil || gc.RoutingReason != "rule x" || gc.LeaseOwner != "r1" ||
			len(routing) != 1 || gc.ExecutorMetadata["n"] != 2.0 {
			t.Errorf("launching job: %+v", gc)
		}
		if gd.Status != st.StatusQueued || gd.ExitCode != nil || gd.DockerHostID != nil || gd.RetryCount != 1 || gd.QueuedAt == nil {
			t.Errorf("requeued job: %+v", gd)
		}
	})
}
