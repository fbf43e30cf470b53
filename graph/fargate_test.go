package graph_test

import (
	"strings"
	"testing"

	"github.com/gantry/gantry/executors/fargate/ecsfake"
	"github.com/gantry/gantry/graph/graphtest"
)

// TestFargateThroughGraphQL runs jobs on ECS Fargate through the official
// SDK against a local fake of the ECS JSON API: completed, failed with the
// exit code, cancelled (StopTask, then DescribeTasks proves it stopped),
// output harvested from CloudWatch Logs; a
// malformed role ARN is refused at host creation; credentials never return.
func TestFargateThroughGraphQL(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	fake := ecsfake.New()
	defer fake.Close()
	c, logs := newLoggedServer(t)
	cfg := map[string]any{"region": "eu-west-1", "cluster": "gantry", "subnets": []any{"subnet-0123456789abcdef0"},
		"execution_role_arn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
		"access_key_id":      "AKIAIOSFODNN7EXAMPLE", "secret_access_key": secret, "endpoint": fake.URL, "log_group": "/gantry/jobs"}
	r := c.Do(t, createHost, map[string]any{"in": map[string]any{"name": "aws", "executorType": "fargate", "executorConfig": cfg}})
	if len(r.Errors) > 0 || strings.Contains(r.Raw, secret) {
		t.Fatalf("create host: %s", r.Raw)
	}
	in := func(env map[string]any) map[string]any {
		return map[string]any{"image": "app:1", "preferredExecutor": "fargate", "cpuLimit": 0.25, "memoryLimit": 300, "environment": env}
	}
	// Priced by the built-in price model (the host has no fixed prices):
	// 1 vCPU + 2 GiB for its 3600 s timeout on Fargate ≈ 0.0494.
	ok := submit(t, c, map[string]any{"image": "app:1", "preferredExecutor": "fargate", "cpuLimit": 1, "memoryLimit": 2048,
		"timeoutSeconds": 3600, "environment": map[string]any{"GANTRY_TEST_SLEEP_MS": "100", "GANTRY_TEST_STDOUT": "via cloudwatch"}})
	bad := submit(t, c, in(map[string]any{"GANTRY_TEST_EXIT": "5"}))
	long := submit(t, c, in(map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}))
	if job := waitStatus(t, c, ok, "completed", "failed"); job["status"] != "completed" || job["executorType"] != "fargate" ||
		job["stdoutLog"] != "via cloudwatch\n" {
		t.Fatalf("fargate job: %v", job)
	}
	cost := c.OK(t, `query($id: ID!) { node(id: $id) { ... on ContainerJob { estimatedCost actualCost } } }`, map[string]any{"id": ok})
	if graphtest.Get(cost, "node.estimatedCost") != "0.0494" || graphtest.Get(cost, "node.actualCost") == nil {
		t.Fatalf("price-model cost: %v", cost)
	}
	if job := waitStatus(t, c, bad, "completed", "failed"); job["status"] != "failed" || job["exitCode"] != float64(5) {
		t.Fatalf("exit 5: %v", job)
	}
	// 0.25 vCPU / 300 MiB runs (and is billed) as 0.25 vCPU / 512 MiB:
	// 3600 × (0.25 × 0.000011244 + 0.5 × 0.000001235) = 0.0123 (0.0114 unrounded).
	small := c.OK(t, `query($id: ID!) { node(id: $id) { ... on ContainerJob { estimatedCost timeoutSeconds } } }`, map[string]any{"id": bad})
	if graphtest.Get(small, "node.timeoutSeconds") != float64(3600) || graphtest.Get(small, "node.estimatedCost") != "0.0123" {
		t.Fatalf("estimate at the billed Fargate size: %v", small)
	}
	waitStatus(t, c, long, "running")
	c.OK(t, `mutation($id: ID!) { cancelJob(input: {jobID: $id}) { job { id } } }`, map[string]any{"id": long})
	waitStatus(t, c, long, "cancelled")
	slow := submit(t, c, map[string]any{"image": "app:1", "preferredExecutor": "fargate", "timeoutSeconds": 1,
		"environment": map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}})
	waitStatus(t, c, slow, "timeout")
	pull := submit(t, c, map[string]any{"image": "gone:1", "preferredExecutor": "fargate", "maxRetries": 3,
		"environment": map[string]any{"GANTRY_FAKE_PULL_FAIL": "1"}})
	if job := waitStatus(t, c, pull, "completed", "failed"); job["status"] != "failed" || job["retryCount"] != float64(0) {
		t.Fatalf("image pull failure (permanent, no retry): %v", job)
	}
	d := c.Do(t, `{ containerJobs { edges { node { externalExecutionID executorMetadata stdoutLog } } } }`, nil)
	if strings.Contains(d.Raw, secret) || !strings.Contains(d.Raw, "arn:aws:ecs") || !strings.Contains(d.Raw, `"cluster":"gantry"`) ||
		!strings.Contains(d.Raw, `"memoryMiB":512`) || !strings.Contains(d.Raw, "rounded up to the nearest Fargate task size") {
		t.Fatalf("responses: %s", d.Raw)
	}
	cfg["cpu"] = 300
	e := c.Fail(t, createHost, map[string]any{"in": map[string]any{"name": "aws3", "executorType": "fargate", "executorConfig": cfg}})
	if e.Code() != "INVALID_INPUT" || !strings.Contains(e.Message, "cpu is not a Fargate CPU size") {
		t.Fatalf("unknown CPU size: %q (%s)", e.Message, e.Code())
	}
	cfg["cpu"] = 1024 // a valid default size is accepted
	if r := c.Do(t, createHost, map[string]any{"in": map[string]any{"name": "aws4", "executorType": "fargate", "executorConfig": cfg}}); len(r.Errors) > 0 {
		t.Fatalf("valid default size: %s", r.Raw)
	}
	cfg["execution_role_arn"] = "ecsTaskExecutionRole"
	e = c.Fail(t, createHost, map[string]any{"in": map[string]any{"name": "aws2", "executorType": "fargate", "executorConfig": cfg}})
	if e.Code() != "INVALID_INPUT" || !strings.Contains(e.Message, "execution_role_arn") || strings.Contains(e.Message, secret) {
		t.Fatalf("bad role: %q (%s)", e.Message, e.Code())
	}
	if out := logs.String(); out == "" || strings.Contains(out, secret) || strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("replica logs (%d bytes) reveal the credentials or are empty", len(out))
	}
}
