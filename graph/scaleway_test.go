package graph_test

import (
	"strings"
	"testing"

	"github.com/gantry/gantry/executors/scaleway/scwfake"
	"github.com/gantry/gantry/graph/graphtest"
)

// TestScalewayThroughGraphQL runs jobs on Scaleway Serverless Jobs through
// the official SDK against a local fake of its API: completed, failed with
// the exit code, cancelled; bad config is refused at host creation; the
// credentials never come back in any response.
func TestScalewayThroughGraphQL(t *testing.T) {
	const secret = "11111111-2222-3333-4444-555555555555"
	fake := scwfake.New(secret)
	defer fake.Close()
	c, logs := newLoggedServer(t)
	cfg := map[string]any{"region": "fr-par", "project_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
		"access_key": "SCWABCDEFGHIJKLMNOPQ", "secret_key": secret, "endpoint": fake.URL}
	r := c.Do(t, createHost, map[string]any{"in": map[string]any{"name": "scw", "executorType": "scaleway", "executorConfig": cfg,
		"costPerHour": "0.36"}})
	if len(r.Errors) > 0 || strings.Contains(r.Raw, secret) {
		t.Fatalf("create host: %s", r.Raw)
	}
	ok := submit(t, c, map[string]any{"image": "rg.fr-par.scw.cloud/ns/app:1", "preferredExecutor": "scaleway", "environment": map[string]any{"GANTRY_TEST_SLEEP_MS": "100"}})
	bad := submit(t, c, map[string]any{"image": "rg.fr-par.scw.cloud/ns/app:1", "preferredExecutor": "scaleway", "environment": map[string]any{"GANTRY_TEST_EXIT": "4"}})
	long := submit(t, c, map[string]any{"image": "rg.fr-par.scw.cloud/ns/app:1", "preferredExecutor": "scaleway", "environment": map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}})
	job := waitStatus(t, c, ok, "completed", "failed")
	if job["status"] != "completed" || job["executorType"] != "scaleway" || !strings.Contains(job["stdoutLog"].(string), "Cockpit") {
		t.Fatalf("scaleway job: %v", job)
	}
	if job := waitStatus(t, c, bad, "completed", "failed"); job["status"] != "failed" || job["exitCode"] != float64(4) {
		t.Fatalf("exit 4: %v", job)
	}
	waitStatus(t, c, long, "running")
	c.OK(t, `mutation($id: ID!) { cancelJob(input: {jobID: $id}) { job { id } } }`, map[string]any{"id": long})
	waitStatus(t, c, long, "cancelled")
	slow := submit(t, c, map[string]any{"image": "rg.fr-par.scw.cloud/ns/app:1", "preferredExecutor": "scaleway", "timeoutSeconds": 1,
		"environment": map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}})
	waitStatus(t, c, slow, "timeout")
	pull := submit(t, c, map[string]any{"image": "rg.fr-par.scw.cloud/ns/gone:1", "preferredExecutor": "scaleway", "maxRetries": 3,
		"environment": map[string]any{"GANTRY_FAKE_FAIL": "image pull failed: manifest unknown"}})
	if job := waitStatus(t, c, pull, "completed", "failed"); job["status"] != "failed" || job["retryCount"] != float64(0) {
		t.Fatalf("image failure (permanent, no retry): %v", job)
	}
	cost := c.OK(t, `query($id: ID!) { node(id: $id) { ... on ContainerJob { estimatedCost actualCost } } }`, map[string]any{"id": ok})
	if graphtest.Get(cost, "node.estimatedCost") == nil || graphtest.Get(cost, "node.actualCost") == nil {
		t.Fatalf("cost: %v", cost)
	}
	d := c.Do(t, `{ containerJobs { edges { node { externalExecutionID executorMetadata estimatedCost actualCost } } } executorHosts { edges { node { executorConfigKeys } } } }`, nil)
	if strings.Contains(d.Raw, secret) || !strings.Contains(d.Raw, "secret_key") || !strings.Contains(d.Raw, `"jobRunID"`) {
		t.Fatalf("responses: %s", d.Raw)
	}

	cfg["region"] = "atlantis-1"
	e := c.Fail(t, createHost, map[string]any{"in": map[string]any{"name": "scw2", "executorType": "scaleway", "executorConfig": cfg}})
	if e.Code() != "INVALID_INPUT" || !strings.Contains(e.Message, "region") || strings.Contains(e.Message, secret) {
		t.Fatalf("bad region: %q (%s)", e.Message, e.Code())
	}
	if out := logs.String(); out == "" || strings.Contains(out, secret) || strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("replica logs (%d bytes) reveal the credentials or are empty", len(out))
	}
}
