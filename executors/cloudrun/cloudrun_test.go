package cloudrun_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/executors/cloudrun"
	"github.com/gantry/gantry/executors/cloudrun/runfake"
	"github.com/gantry/gantry/executors/conformance"
)

const email = "gantry@my-project-1.iam.gserviceaccount.com"

// serviceAccount makes a key file the fake trusts.
func serviceAccount(t testing.TB, fake *runfake.Server) (keyJSON, privatePEM string) {
	t.Helper()
	keyJSON, privatePEM, err := fake.NewServiceAccount(email)
	if err != nil {
		t.Fatal(err)
	}
	return keyJSON, privatePEM
}

func config(endpoint, creds string) map[string]any {
	return map[string]any{"project": "my-project-1", "region": "europe-west1", "endpoint": endpoint, "insecure": true,
		"credentials_json": creds}
}

func newExec(t *testing.T) (executors.Executor, executors.Host, *runfake.Server, string) {
	t.Helper()
	fake, err := runfake.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	creds, secret := serviceAccount(t, fake)
	h := executors.Host{ID: uuid.New(), Name: "gcp", Type: schematype.ExecutorCloudRun, Config: config(fake.Addr, creds)}
	ex, err := cloudrun.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return ex, h, fake, secret
}

func TestConformance(t *testing.T) {
	cloudrun.LogPoll = 30 * time.Millisecond
	defer func() { cloudrun.LogPoll = 2 * time.Second }()
	ex, h, fake, _ := newExec(t)
	conformance.Run(t, conformance.Harness{Exec: ex, Host: h, Image: "europe-docker.pkg.dev/my-project-1/app/job:1", CleanupKeeps: true})
	if len(fake.Issuers) == 0 {
		t.Fatal("no requests reached the fake")
	}
	for _, iss := range fake.Issuers {
		if iss != email {
			t.Fatalf("request not authenticated by the service account: %q", iss)
		}
	}
	// One Cloud Run Job per template: every conformance attempt shares it.
	if n := fake.Calls("CreateJob"); n != 1 {
		t.Errorf("CreateJob called %d times, want 1 (job reused per template)", n)
	}
}

func TestLaunchRecoversAfterRestart(t *testing.T) {
	ex, h, fake, _ := newExec(t)
	spec := executors.Spec{JobID: uuid.New(), Attempt: 2, Image: "app:1", Env: map[string]string{conformance.EnvSleepMS: "50"}}
	id, err := ex.Launch(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	// A new process (empty caches) finds the attempt's execution instead
	// of starting a second one.
	again, err := cloudrun.New(h)
	if err != nil {
		t.Fatal(err)
	}
	if id2, err := again.Launch(context.Background(), spec); err != nil || id2 != id {
		t.Fatalf("relaunch after restart: %s, %v; want %s", id2, err, id)
	}
	// Cleanup forgets the attempt in memory; the provider still knows it.
	if err := ex.Cleanup(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	runs := fake.Calls("RunJob")
	if id3, err := ex.Launch(context.Background(), spec); err != nil || id3 != id || fake.Calls("RunJob") != runs {
		t.Fatalf("relaunch after cleanup: %s, %v (RunJob %d → %d); want %s and no new run", id3, err, runs, fake.Calls("RunJob"), id)
	}
	spec.CPU, spec.MemoryMB = 1.5, 3000
	desc := ex.(executors.Describer).Describe(spec, id)
	size, _ := desc["size"].(map[string]any)
	if desc["region"] != "europe-west1" || !strings.Contains(desc["consoleURL"].(string), "project=my-project-1") ||
		size["vcpu"] != 2 || size["memoryMiB"] != 3072 {
		t.Errorf("describe: %v", desc)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	fake, _ := runfake.New()
	defer fake.Close()
	creds, secret := serviceAccount(t, fake)
	for key, bad := range map[string]any{"project": "P", "region": "moon", "credentials_json": `{"type":"authorized_user"}`,
		"service_account": "root", "endpoint": "http://localhost:1"} {
		cfg := config("localhost:1", creds)
		cfg[key] = bad
		_, err := cloudrun.New(executors.Host{Name: "gcp", Config: cfg})
		if err == nil || !strings.Contains(err.Error(), key) || strings.Contains(err.Error(), secret) {
			t.Errorf("%s=%v: %v", key, bad, err)
		}
	}
	cfg := config("", creds)
	if _, err := cloudrun.New(executors.Host{Name: "gcp", Config: cfg}); err == nil || !strings.Contains(err.Error(), "insecure") {
		t.Errorf("insecure without endpoint: %v", err)
	}
}

func TestFailureClasses(t *testing.T) {
	ex, _, fake, _ := newExec(t)
	ctx := context.Background()
	spec := func(env map[string]string) executors.Spec {
		return executors.Spec{JobID: uuid.New(), Image: "app:1", CPU: 0.5, MemoryMB: 700, Env: env}
	}
	if _, err := ex.Launch(ctx, spec(nil)); err != nil { // creates the job
		t.Fatal(err)
	}
	fake.Throttle(1, 3*time.Second)
	_, err := ex.Launch(ctx, spec(nil))
	if after, ok := executors.IsThrottled(err); !ok || after != 3*time.Second || executors.ClassOf(err) != executors.Transient || !strings.Contains(err.Error(), "Quota exceeded") {
		t.Errorf("throttled: %v (retry after %s)", err, after)
	}
	fake.NoCapacity(1)
	if _, err := ex.Launch(ctx, spec(nil)); executors.ClassOf(err) != executors.Transient || !strings.Contains(err.Error(), "capacity") {
		t.Errorf("no capacity: %v", err)
	}
	id, err := ex.Launch(ctx, spec(map[string]string{"GANTRY_FAKE_PULL_FAIL": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := conformance.WaitEnded(ctx, ex, id, 10*time.Millisecond)
	if err != nil || s.State != executors.StateFailed || s.Class != executors.Permanent || !strings.Contains(s.Reason, "CONTAINER_MISSING") {
		t.Errorf("image missing: %+v %v", s, err)
	}
	if _, err := ex.Launch(ctx, executors.Spec{JobID: uuid.New(), Image: "x", CPU: 16}); executors.ClassOf(err) != executors.Permanent || !strings.Contains(err.Error(), "no Cloud Run size") {
		t.Errorf("impossible size: %v", err)
	}
	fake.Latency(20 * time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	if _, err := ex.Status(short, id); err == nil || executors.ClassOf(err) != executors.Transient {
		t.Errorf("slow provider: %v", err)
	}
}

func TestWrongKeyRefused(t *testing.T) {
	fake, _ := runfake.New()
	defer fake.Close()
	creds, _ := serviceAccount(t, fake)
	serviceAccount(t, fake) // the fake now trusts another key
	ex, err := cloudrun.New(executors.Host{ID: uuid.New(), Name: "gcp", Config: config(fake.Addr, creds)})
	if err != nil {
		t.Fatal(err)
	}
	err = ex.Health(context.Background())
	if err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("health with an untrusted key: %v", err)
	}
	// A bad key is the host's problem: the job may run elsewhere.
	_, err = ex.Launch(context.Background(), executors.Spec{JobID: uuid.New(), Image: "app:1"})
	if err == nil || executors.ClassOf(err) != executors.Transient || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("launch with an untrusted key: %v", err)
	}
}

// TestLogsFromCloudLogging: all pages of an execution's output come back
// from Cloud Logging, split by stream; with nothing logged the job gets
// the execution's log URL.
func TestLogsFromCloudLogging(t *testing.T) {
	ex, _, _, _ := newExec(t)
	ctx := context.Background()
	id, err := ex.Launch(ctx, executors.Spec{JobID: uuid.New(), Image: "app:1", Env: map[string]string{
		conformance.EnvStdout: "out", conformance.EnvStderr: "err", "GANTRY_FAKE_LOG_LINES": "250"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conformance.WaitEnded(ctx, ex, id, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	logs, err := ex.Logs(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(logs.Stdout, "\n"), "\n")
	if len(lines) != 251 || lines[0] != "out" || lines[250] != "line 249" || logs.Stderr != "err\n" {
		t.Fatalf("stdout %d lines (%q … %q), stderr %q", len(lines), lines[0], lines[len(lines)-1], logs.Stderr)
	}
	quiet, err := ex.Launch(ctx, executors.Spec{JobID: uuid.New(), Image: "app:1"})
	if err != nil {
		t.Fatal(err)
	}
	if logs, err := ex.Logs(ctx, quiet); err != nil || !strings.Contains(logs.Stdout, "console.cloud.google.com/logs") {
		t.Fatalf("nothing logged: %+v %v", logs, err)
	}
}

// TestJobCannotForgeLabels: a job's own GANTRY_LABELS does not replace the
// labels Gantry gives its execution.
func TestJobCannotForgeLabels(t *testing.T) {
	ex, _, _, _ := newExec(t)
	ctx := context.Background()
	spec := executors.Spec{JobID: uuid.New(), Image: "app:1", Env: map[string]string{"GANTRY_LABELS": `{"gantry.job-id":"someone-else"}`}}
	id, err := ex.Launch(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ex.List(ctx, map[string]string{executors.LabelJobID: spec.JobID.String()})
	if err != nil || len(got) != 1 || got[0].ID != id || got[0].JobID != spec.JobID {
		t.Fatalf("list: %+v %v", got, err)
	}
}

// TestStreamLogsLive: lines arrive while the execution runs, each once,
// in order, and the stream ends with the execution.
func TestStreamLogsLive(t *testing.T) {
	cloudrun.LogPoll = 30 * time.Millisecond
	defer func() { cloudrun.LogPoll = 2 * time.Second }()
	ex, _, _, _ := newExec(t)
	ctx := context.Background()
	id, err := ex.Launch(ctx, executors.Spec{JobID: uuid.New(), Image: "app:1", Env: map[string]string{
		conformance.EnvStderr: "starting", "GANTRY_TEST_TICKS": "8"}})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	liveAt := -1
	err = ex.(executors.LogStreamer).StreamLogs(ctx, id, func(stream, line string) {
		lines = append(lines, stream+":"+line)
		if line == "tick 2" {
			if s, err := ex.Status(ctx, id); err == nil && s.State == executors.StateRunning {
				liveAt = len(lines)
			}
		}
	})
	want := []string{"stderr:starting"}
	for i := 1; i <= 8; i++ {
		want = append(want, fmt.Sprintf("stdout:tick %d", i))
	}
	if err != nil || !slices.Equal(lines, want) || liveAt < 0 {
		t.Fatalf("lines %v (live at %d), %v; want %v while running", lines, liveAt, err, want)
	}
}

// TestClose: a closed executor refuses calls instead of dialing again.
func TestClose(t *testing.T) {
	ex, _, _, _ := newExec(t)
	ctx := context.Background()
	if err := ex.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ex.(io.Closer).Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := ex.Health(ctx); err == nil {
		t.Fatal("health after close succeeded")
	}
	cfg := config("localhost:1", "")
	delete(cfg, "credentials_json")
	unused, err := cloudrun.New(executors.Host{Name: "gcp", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := unused.(io.Closer).Close(); err != nil {
		t.Fatalf("closing an executor that never dialed: %v", err)
	}
}

// TestDeletedJobIsRecreated: a Cloud Run Job deleted behind Gantry's back
// fails one launch (transient: retried) and is created again by the next.
func TestDeletedJobIsRecreated(t *testing.T) {
	ex, _, fake, _ := newExec(t)
	ctx := context.Background()
	spec := func() executors.Spec { return executors.Spec{JobID: uuid.New(), Image: "app:1"} }
	if _, err := ex.Launch(ctx, spec()); err != nil {
		t.Fatal(err)
	}
	fake.DeleteJobs()
	if _, err := ex.Launch(ctx, spec()); err == nil || executors.ClassOf(err) != executors.Transient {
		t.Fatalf("launch on a deleted job: %v, want a transient error", err)
	}
	if _, err := ex.Launch(ctx, spec()); err != nil || fake.Calls("CreateJob") != 2 {
		t.Fatalf("relaunch: %v (CreateJob %d), want the job created again", err, fake.Calls("CreateJob"))
	}
}
