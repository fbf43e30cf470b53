package fargate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/executors/conformance"
	"github.com/gantry/gantry/executors/fargate"
	"github.com/gantry/gantry/executors/fargate/ecsfake"
)

const secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

func config(endpoint string) map[string]any {
	return map[string]any{"region": "eu-west-1", "cluster": "gantry", "subnets": []any{"subnet-0123456789abcdef0"},
		"security_groups": []any{"sg-0123456789abcdef0"}, "execution_role_arn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
		"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": secretKey, "endpoint": endpoint}
}

func newExec(t *testing.T) (executors.Executor, executors.Host, *ecsfake.Server) {
	t.Helper()
	fake := ecsfake.New()
	t.Cleanup(fake.Close)
	h := executors.Host{ID: uuid.New(), Name: "aws", Type: schematype.ExecutorFargate, Config: config(fake.URL)}
	ex, err := fargate.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return ex, h, fake
}

func TestConformance(t *testing.T) {
	fargate.LogPoll = 30 * time.Millisecond
	defer func() { fargate.LogPoll = 2 * time.Second }()
	fake := ecsfake.New()
	t.Cleanup(fake.Close)
	cfg := config(fake.URL)
	cfg["log_group"] = "/gantry/jobs" // output to CloudWatch: followed live
	h := executors.Host{ID: uuid.New(), Name: "aws", Type: schematype.ExecutorFargate, Config: cfg}
	ex, err := fargate.New(h)
	if err != nil {
		t.Fatal(err)
	}
	conformance.Run(t, conformance.Harness{Exec: ex, Host: h, Image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1", NoLogs: true, CleanupKeeps: true})
	for _, a := range fake.Auth {
		if !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/") || strings.Contains(a, secretKey) {
			t.Fatalf("request not signed by the SDK with the configured key: %q", a)
		}
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for key, bad := range map[string]any{"region": "moon-1", "cluster": "", "subnets": []any{"sub-1"}, "execution_role_arn": "role/x",
		"security_groups": []any{"group"}, "secret_access_key": "", "log_group": "bad group!"} {
		cfg := config("http://x")
		cfg[key] = bad
		_, err := fargate.New(executors.Host{Name: "aws", Config: cfg})
		if err == nil || !strings.Contains(err.Error(), strings.Split(key, "_key")[0]) || strings.Contains(err.Error(), secretKey) {
			t.Errorf("%s=%v: %v", key, bad, err)
		}
	}
}

func TestFailureClasses(t *testing.T) {
	ex, _, fake := newExec(t)
	ctx := context.Background()
	spec := func(env map[string]string) executors.Spec {
		return executors.Spec{JobID: uuid.New(), Image: "app:1", CPU: 0.3, MemoryMB: 700, Env: env}
	}
	fake.Throttle(1)
	if _, err := ex.Launch(ctx, spec(nil)); !throttled(err) || executors.ClassOf(err) != executors.Transient || !strings.Contains(err.Error(), "Rate exceeded") {
		t.Errorf("throttled: %v", err)
	}
	fake.Deny(2)
	if _, err := ex.Launch(ctx, spec(nil)); executors.ClassOf(err) != executors.Transient || !strings.Contains(err.Error(), "not authorized") {
		t.Errorf("access denied (the host's role, not the job): %v", err)
	}
	fake.Deny(0)
	fake.NoCapacity(1)
	if _, err := ex.Launch(ctx, spec(nil)); executors.ClassOf(err) != executors.Transient || !strings.Contains(err.Error(), "Capacity") {
		t.Errorf("no capacity: %v", err)
	}
	id, err := ex.Launch(ctx, spec(map[string]string{"GANTRY_FAKE_PULL_FAIL": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := conformance.WaitEnded(ctx, ex, id, 10*time.Millisecond)
	if err != nil || s.State != executors.StateFailed || s.Class != executors.Permanent || !strings.Contains(s.Reason, "CannotPullContainer") {
		t.Errorf("image pull failure: %+v %v", s, err)
	}
	if _, err := ex.Launch(ctx, executors.Spec{JobID: uuid.New(), Image: "x", CPU: 64}); executors.ClassOf(err) != executors.Permanent || !strings.Contains(err.Error(), "no Fargate size") {
		t.Errorf("impossible size: %v", err)
	}
	fake.Latency(50 * time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := ex.Status(short, id); err == nil || executors.ClassOf(err) != executors.Transient {
		t.Errorf("slow provider: %v", err)
	}
}

func throttled(err error) bool { _, ok := executors.IsThrottled(err); return ok }

// TestCloudWatchLogs: with a log_group, tasks log through the awslogs
// driver and their output is read back from CloudWatch Logs, all pages.
func TestCloudWatchLogs(t *testing.T) {
	fake := ecsfake.New()
	defer fake.Close()
	cfg := config(fake.URL)
	cfg["log_group"] = "/gantry/jobs"
	ex, err := fargate.New(executors.Host{ID: uuid.New(), Name: "aws", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := ex.Launch(ctx, executors.Spec{JobID: uuid.New(), Image: "app:1", Env: map[string]string{
		conformance.EnvStdout: "hello out", conformance.EnvStderr: "hello err", "GANTRY_FAKE_LOG_LINES": "250"}})
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
	if len(lines) != 252 || lines[0] != "hello out" || lines[1] != "hello err" || lines[251] != "line 249" {
		t.Fatalf("%d lines: first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}

	plain, _, _ := newExec(t)
	id, err = plain.Launch(ctx, executors.Spec{JobID: uuid.New(), Image: "app:1"})
	if err != nil {
		t.Fatal(err)
	}
	if logs, err := plain.Logs(ctx, id); err != nil || !strings.Contains(logs.Stdout, "log_group") {
		t.Fatalf("without a log group: %+v %v", logs, err)
	}
}
