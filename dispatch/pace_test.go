package dispatch_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gantry/gantry/dispatch"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/executors/mock"
	"github.com/gantry/gantry/store/storetest"
)

// remote is the mock backend dressed as a rate-limited cloud API: it
// records when Status was called and can answer with throttling.
type remote struct {
	executors.Executor
	mu       sync.Mutex
	calls    []time.Time
	throttle int
	after    time.Duration
}

func (r *remote) RateLimited() {}

func (r *remote) Status(ctx context.Context, id string) (executors.Status, error) {
	r.mu.Lock()
	r.calls = append(r.calls, time.Now())
	throttled := r.throttle > 0
	if throttled {
		r.throttle--
	}
	r.mu.Unlock()
	if throttled {
		return executors.Status{}, executors.ThrottledError(errors.New("rate exceeded"), r.after)
	}
	return r.Executor.Status(ctx, id)
}

func (r *remote) times() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.calls...)
}

// remoteEnv serves the scaleway type with a remote mock and returns it.
func remoteEnv(t *testing.T, poll, pollMax time.Duration) (*env, *remote) {
	r := &remote{}
	executors.Register(st.ExecutorScaleway, func(h executors.Host) (executors.Executor, error) {
		ex, err := mock.New(h)
		r.mu.Lock()
		r.Executor = ex
		r.mu.Unlock()
		return r, err
	})
	t.Cleanup(func() { executors.Unregister(st.ExecutorScaleway) })
	db := storetest.Open(t, "sqlite")
	opts := fastOpts()
	opts.PollInterval, opts.RemotePoll, opts.RemotePollMax = 5*time.Millisecond, poll, pollMax
	e := &env{t: t, db: db, c: db.Client, d: dispatch.New(db, opts)}
	e.c.ExecutorHost.Create().SetName("cloud").SetExecutorType(st.ExecutorScaleway).SetMaxConcurrentJobs(4).SaveX(context.Background())
	e.start()
	return e, r
}

// TestRemoteStatusChecksBackOff: a cloud execution is not polled on every
// 5 ms pass but with a gap doubling from 20 ms to 80 ms.
func TestRemoteStatusChecksBackOff(t *testing.T) {
	e, r := remoteEnv(t, 20*time.Millisecond, 80*time.Millisecond)
	j := e.submit(dispatch.SubmitInput{Environment: env_("GANTRY_TEST_SLEEP_MS", "800")})
	if got := e.wait(j.ID, st.StatusCompleted, st.StatusFailed); got.Status != st.StatusCompleted {
		t.Fatalf("status %s", got.Status)
	}
	calls := r.times()
	// Polled every pass, 800 ms would take ~160 checks; paced, ~13.
	if len(calls) < 3 || len(calls) > 30 {
		t.Fatalf("%d status checks for an 800 ms job, want a paced handful", len(calls))
	}
	for i := 2; i < len(calls); i++ {
		if gap := calls[i].Sub(calls[i-1]); gap < 15*time.Millisecond {
			t.Errorf("checks %d and %d only %s apart", i-1, i, gap)
		}
	}
}

// TestThrottledHostIsLeftAlone: after the provider throttles, no status
// check reaches the host before the pause it asked for is over.
func TestThrottledHostIsLeftAlone(t *testing.T) {
	e, r := remoteEnv(t, 10*time.Millisecond, 40*time.Millisecond)
	r.mu.Lock()
	r.throttle, r.after = 1, 400*time.Millisecond
	r.mu.Unlock()
	j := e.submit(dispatch.SubmitInput{Environment: env_("GANTRY_TEST_SLEEP_MS", "100")})
	if got := e.wait(j.ID, st.StatusCompleted, st.StatusFailed); got.Status != st.StatusCompleted {
		t.Fatalf("status %s", got.Status)
	}
	calls := r.times()
	if len(calls) < 2 {
		t.Fatalf("%d status checks", len(calls))
	}
	if gap := calls[1].Sub(calls[0]); gap < 400*time.Millisecond {
		t.Fatalf("checked again %s after being throttled, asked to wait 400ms", gap)
	}
}

// TestPacedTimeoutIsOnTime: even with a long maximum gap, the check after
// a job's deadline comes at the deadline, and the stop is confirmed
// promptly.
func TestPacedTimeoutIsOnTime(t *testing.T) {
	e, _ := remoteEnv(t, 100*time.Millisecond, 10*time.Second)
	j := e.submit(dispatch.SubmitInput{TimeoutSeconds: ptr(1), Environment: env_("GANTRY_TEST_NEVER_EXIT", "1")})
	got := e.wait(j.ID, st.StatusTimeout, st.StatusFailed, st.StatusCompleted)
	if got.Status != st.StatusTimeout {
		t.Fatalf("status %s, want timeout", got.Status)
	}
	// Unpaced by the deadline, checks at 0.1, 0.3, 0.7, 1.5, 3.1 s would
	// confirm the timeout after 3 s.
	if ran := got.CompletedAt.Sub(*got.StartedAt); ran > 2500*time.Millisecond {
		t.Errorf("timed out after %s, want soon after its 1s deadline", ran)
	}
}
