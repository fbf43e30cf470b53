package graph_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gantry/gantry/executors/cloudrun"
	"github.com/gantry/gantry/executors/cloudrun/runfake"
	"github.com/gantry/gantry/graph/graphtest"
)

// TestCloudRunThroughGraphQL runs jobs on Cloud Run Jobs through the
// official gRPC client against a local fake of the Cloud Run Admin API v2,
// every request signed by the host's service-account key: completed with
// the price-model cost, where the execution lives and its output read from
// Cloud Logging, failed with the exit
// code, a missing image failed at once (permanent), cancelled and timed out
// (CancelExecution, then GetExecution proves it ended); bad config is
// refused at host creation; the private key never comes back.
func TestCloudRunThroughGraphQL(t *testing.T) {
	fake, err := runfake.New()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	creds, secret, err := fake.NewServiceAccount("gantry@my-project-1.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	c, logs := newLoggedServer(t)
	cfg := map[string]any{"project": "my-project-1", "region": "europe-west1", "credentials_json": creds,
		"endpoint": fake.Addr, "insecure": true}
	r := c.Do(t, createHost, map[string]any{"in": map[string]any{"name": "gcp", "executorType": "cloudrun", "executorConfig": cfg}})
	if len(r.Errors) > 0 || strings.Contains(r.Raw, "PRIVATE KEY") {
		t.Fatalf("create host: %s", r.Raw)
	}
	in := func(env map[string]any) map[string]any {
		return map[string]any{"image": "europe-docker.pkg.dev/my-project-1/app/job:1", "preferredExecutor": "cloudrun", "environment": env}
	}
	// 1 vCPU + 2 GiB for the 3600 s timeout at europe-west1 list prices:
	// 3600 × (0.000018 + 2 × 0.000002) = 0.0792.
	ok := submit(t, c, map[string]any{"image": "app:1", "preferredExecutor": "cloudrun", "cpuLimit": 1, "memoryLimit": 2048,
		"timeoutSeconds": 3600, "environment": map[string]any{"GANTRY_TEST_SLEEP_MS": "100", "GANTRY_TEST_STDOUT": "via cloud logging"}})
	bad := submit(t, c, in(map[string]any{"GANTRY_TEST_EXIT": "6"}))
	missing := submit(t, c, map[string]any{"image": "gone:1", "preferredExecutor": "cloudrun", "maxRetries": 3,
		"environment": map[string]any{"GANTRY_FAKE_PULL_FAIL": "1"}})
	long := submit(t, c, in(map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}))
	slow := submit(t, c, map[string]any{"image": "app:1", "preferredExecutor": "cloudrun", "timeoutSeconds": 1,
		"environment": map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}})

	if job := waitStatus(t, c, ok, "completed", "failed"); job["status"] != "completed" || job["executorType"] != "cloudrun" {
		t.Fatalf("cloud run job: %v", job)
	}
	d := c.OK(t, `query($id: ID!) { node(id: $id) { ... on ContainerJob { estimatedCost actualCost externalExecutionID executorMetadata stdoutLog } } }`,
		map[string]any{"id": ok})
	if graphtest.Get(d, "node.estimatedCost") != "0.0792" || graphtest.Get(d, "node.actualCost") == nil {
		t.Fatalf("price-model cost: %v", d)
	}
	exec, _ := graphtest.Get(d, "node.executorMetadata.execution").(map[string]any)
	if id := graphtest.Get(d, "node.externalExecutionID").(string); !strings.HasPrefix(id, "projects/my-project-1/locations/europe-west1/jobs/gantry-") ||
		exec["execution"] != id || exec["region"] != "europe-west1" || !strings.Contains(exec["consoleURL"].(string), "console.cloud.google.com") ||
		graphtest.Get(d, "node.stdoutLog") != "via cloud logging\n" {
		t.Fatalf("execution recorded: %v", d)
	}
	if job := waitStatus(t, c, bad, "completed", "failed"); job["status"] != "failed" || job["exitCode"] != float64(6) {
		t.Fatalf("exit 6: %v", job)
	}
	job := waitStatus(t, c, missing, "completed", "failed")
	last := c.OK(t, `query($id: ID!) { node(id: $id) { ... on ContainerJob { lastError } } }`, map[string]any{"id": missing})
	if job["status"] != "failed" || job["retryCount"] != float64(0) || !strings.Contains(graphtest.Get(last, "node.lastError").(string), "CONTAINER_MISSING") {
		t.Fatalf("missing image (permanent, no retry): %v %v", job, last)
	}
	waitStatus(t, c, long, "running")
	fake.Throttle(2, 0) // status checks throttled: logged, the host paused, nothing lost
	c.OK(t, `mutation($id: ID!) { cancelJob(input: {jobID: $id}) { job { id } } }`, map[string]any{"id": long})
	waitStatus(t, c, long, "cancelled")
	waitStatus(t, c, slow, "timeout")
	if n := fake.Calls("CancelExecution"); n < 2 {
		t.Errorf("CancelExecution called %d times, want one per cancel and timeout", n)
	}
	all := c.Do(t, `{ containerJobs { edges { node { externalExecutionID executorMetadata lastError stdoutLog } } } executorHosts { edges { node { executorConfigKeys } } } }`, nil)
	if strings.Contains(all.Raw, secret) || strings.Contains(all.Raw, "PRIVATE KEY") || !strings.Contains(all.Raw, "credentials_json") {
		t.Fatalf("responses: %s", all.Raw)
	}
	for _, iss := range fake.Issuers {
		if iss != "gantry@my-project-1.iam.gserviceaccount.com" {
			t.Fatalf("a request was not signed by the host's key: %q", iss)
		}
	}

	cfg["region"] = "us"
	e := c.Fail(t, createHost, map[string]any{"in": map[string]any{"name": "gcp2", "executorType": "cloudrun", "executorConfig": cfg}})
	if e.Code() != "INVALID_INPUT" || !strings.Contains(e.Message, "region") || strings.Contains(e.Message, "PRIVATE KEY") {
		t.Fatalf("bad region: %q (%s)", e.Message, e.Code())
	}
	if out := logs.String(); !strings.Contains(out, "provider throttled") || strings.Contains(out, secret) || strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("replica logs (%d bytes) reveal the credentials or are empty", len(out))
	}
}

// TestCloudRunJobLogsLive: the jobLogs subscription follows a Cloud Run
// execution's output from Cloud Logging while it runs.
func TestCloudRunJobLogsLive(t *testing.T) {
	cloudrun.LogPoll = 30 * time.Millisecond
	defer func() { cloudrun.LogPoll = 2 * time.Second }()
	fake, err := runfake.New()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	c := newDispatchingServer(t, "sqlite")
	c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "gcp", "executorType": "cloudrun",
		"executorConfig": map[string]any{"project": "my-project-1", "region": "europe-west1", "endpoint": fake.Addr, "insecure": true}}})
	id := submit(t, c, map[string]any{"image": "app:1", "environment": map[string]any{"GANTRY_TEST_TICKS": "10", "GANTRY_TEST_STDERR": "starting"}})
	s := graphtest.Subscribe(t, graphtest.TransportWS, c.URL, `subscription($id: ID!) { jobLogs(id: $id) { stream line } }`, map[string]any{"id": id})
	var lines []string
	liveSeen := false
	for {
		r, ok := s.Next(20 * time.Second)
		if !ok {
			break
		}
		line := graphtest.Get(r.Data, "jobLogs.stream").(string) + ":" + graphtest.Get(r.Data, "jobLogs.line").(string)
		lines = append(lines, line)
		if line == "stdout:tick 2" {
			d := c.OK(t, jobQuery, map[string]any{"id": id})
			liveSeen = graphtest.Get(d, "node.status") == "running"
		}
	}
	if !liveSeen || len(lines) != 11 || lines[0] != "stderr:starting" || lines[10] != "stdout:tick 10" {
		t.Fatalf("live=%v lines %v", liveSeen, lines)
	}
}
