package graph_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/events"
	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/executors/cloudrun"
	_ "github.com/gantry/gantry/executors/docker"
	_ "github.com/gantry/gantry/executors/fargate"
	"github.com/gantry/gantry/executors/mock"
	_ "github.com/gantry/gantry/executors/scaleway"
	"github.com/gantry/gantry/graph"
	"github.com/gantry/gantry/graph/graphtest"
	"github.com/gantry/gantry/store"
	"github.com/gantry/gantry/store/storetest"
)

// newDispatchingServer serves the API with a running dispatcher and broker.
func newDispatchingServer(t *testing.T, dialect string) graphtest.Client {
	t.Helper()
	return serveReplica(t, storetest.Open(t, dialect), true)
}

// serveReplica is one server replica over db; dispatching runs the
// dispatch loop (an API-only replica still submits and publishes).
func serveReplica(t *testing.T, db *store.DB, dispatching bool) graphtest.Client {
	t.Helper()
	return serveReplicaLogging(t, db, dispatching, slog.Default())
}

// newLoggedServer is a dispatching server whose replica logs everything,
// debug included, into the returned buffer (to check what logs reveal).
func newLoggedServer(t *testing.T) (graphtest.Client, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return serveReplicaLogging(t, storetest.Open(t, "sqlite"), true, log), buf
}

// syncBuffer is a bytes.Buffer safe for concurrent loggers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func serveReplicaLogging(t *testing.T, db *store.DB, dispatching bool, log *slog.Logger) graphtest.Client {
	t.Helper()
	broker := events.NewBroker(db, log)
	d := dispatch.New(db, dispatch.Options{PollInterval: 10 * time.Millisecond, RemotePoll: 10 * time.Millisecond, RemotePollMax: 100 * time.Millisecond, StopGrace: 200 * time.Millisecond,
		Logger: log, Publish: func([]*ent.JobEvent) { broker.Notify() }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- broker.Run(ctx) }()
	if dispatching {
		go func() { done <- d.Run(ctx) }()
	} else {
		done <- nil
	}
	srv := httptest.NewServer(graph.NewHandler(&graph.Resolver{Client: db.Client, Dispatcher: d, Broker: broker}, graph.Options{KeepAlive: 200 * time.Millisecond}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cancel()
		<-done
		<-done
	})
	return graphtest.Client{URL: srv.URL + "/query"}
}

const jobQuery = `query($id: ID!) { node(id: $id) { ... on ContainerJob {
  id status exitCode stdoutLog image command environment priority retryCount executorType routingReason
  routingReason dockerHost { name } template { name } events { totalCount edges { node { fromStatus toStatus sequence } } } } } }`

func waitStatus(t *testing.T, c graphtest.Client, id string, want ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		d := c.OK(t, jobQuery, map[string]any{"id": id})
		job, _ := graphtest.Get(d, "node").(map[string]any)
		for _, w := range want {
			if job["status"] == w {
				return job
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %v, want status %v", id, job, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestJobLifecycleThroughGraphQL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		c := newDispatchingServer(t, dialect)
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "mock-a", "executorType": "mock", "maxConcurrentJobs": 2}})
		tpl := c.OK(t, `mutation { createContainerTemplate(input: {name: "hello", image: "hello:1", command: ["greet"],
			environment: {GANTRY_TEST_STDOUT: "from template", KEEP: "yes"}, priority: 40}) { containerTemplate { id } } }`, nil)
		tplID := graphtest.Get(tpl, "createContainerTemplate.containerTemplate.id")

		sub := c.OK(t, `mutation($in: SubmitJobInput!) { submitJob(input: $in) { created job { id status priority image } } }`,
			map[string]any{"in": map[string]any{"templateID": tplID, "priority": 80, "environment": map[string]any{"GANTRY_TEST_STDOUT": "overridden"}}})
		id := graphtest.Get(sub, "submitJob.job.id").(string)
		if graphtest.Get(sub, "submitJob.created") != true || graphtest.Get(sub, "submitJob.job.image") != "hello:1" {
			t.Fatalf("submit: %v", sub)
		}
		// Editing the template does not change the submitted job.
		c.OK(t, `mutation($id: ID!) { updateContainerTemplate(id: $id, input: {image: "hello:2"}) { containerTemplate { image } } }`, map[string]any{"id": tplID})

		job := waitStatus(t, c, id, "completed", "failed")
		if job["status"] != "completed" || job["stdoutLog"] != "overridden\n" || job["image"] != "hello:1" || job["priority"] != float64(80) ||
			graphtest.Get(job, "environment.KEEP") != "yes" || graphtest.Get(job, "dockerHost.name") != "mock-a" ||
			graphtest.Get(job, "template.name") != "hello" || job["executorType"] != "mock" {
			t.Fatalf("completed job: %v", job)
		}
		if n := graphtest.Get(job, "events.totalCount"); n != float64(4) {
			t.Fatalf("events: %v", graphtest.Get(job, "events"))
		}

		// Idempotency: the same key returns the same job.
		in := map[string]any{"in": map[string]any{"image": "x", "idempotencyKey": "k-1", "environment": map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}}}
		first := c.OK(t, `mutation($in: SubmitJobInput!) { submitJob(input: $in) { created job { id } } }`, in)
		again := c.OK(t, `mutation($in: SubmitJobInput!) { submitJob(input: $in) { created job { id } } }`, in)
		longID := graphtest.Get(first, "submitJob.job.id")
		if graphtest.Get(again, "submitJob.job.id") != longID || graphtest.Get(again, "submitJob.created") != false {
			t.Fatalf("idempotent submit: %v then %v", first, again)
		}
		waitStatus(t, c, longID.(string), "running")
		cancel := c.OK(t, `mutation($id: ID!) { cancelJob(input: {jobID: $id, reason: "enough"}) { job { status } } }`, map[string]any{"id": longID})
		if s := graphtest.Get(cancel, "cancelJob.job.status"); s != "cancelling" && s != "cancelled" {
			t.Fatalf("cancel: %v", cancel)
		}
		waitStatus(t, c, longID.(string), "cancelled")
		retry := c.OK(t, `mutation($id: ID!) { retryJob(input: {jobID: $id}) { job { status retryCount } } }`, map[string]any{"id": longID})
		if graphtest.Get(retry, "retryJob.job.status") != "queued" || graphtest.Get(retry, "retryJob.job.retryCount") != float64(1) {
			t.Fatalf("retry: %v", retry)
		}
		c.OK(t, `mutation($id: ID!) { cancelJob(input: {jobID: $id}) { job { status } } }`, map[string]any{"id": longID})
	})
}

func TestRouteJobDryRunThroughGraphQL(t *testing.T) {
	d := newDispatchingServer(t, "sqlite")
	d.OK(t, createHost, map[string]any{"in": map[string]any{"name": "busy", "executorType": "mock", "maxConcurrentJobs": 0}})
	d.OK(t, createHost, map[string]any{"in": map[string]any{"name": "docker-1", "executorType": "docker"}})
	sub := d.OK(t, `mutation { submitJob(input: {image: "x", preferredExecutor: mock}) { job { id } } }`, nil)
	id := graphtest.Get(sub, "submitJob.job.id")
	r := d.OK(t, `mutation($id: ID!) { routeJob(input: {jobID: $id, dryRun: true}) { dryRun job { status }
		decision { host { name } reason candidates { host { name } eligible reason score } } } }`, map[string]any{"id": id})
	if graphtest.Get(r, "routeJob.decision.host") != nil || !strings.Contains(graphtest.Get(r, "routeJob.decision.reason").(string), "capacity") {
		t.Fatalf("dry run: %v", r)
	}
	cands := graphtest.Get(r, "routeJob.decision.candidates").([]any)
	if len(cands) != 2 {
		t.Fatalf("candidates: %v", cands)
	}
	for _, cand := range cands {
		if graphtest.Get(cand, "eligible") != false || graphtest.Get(cand, "reason") == "" {
			t.Errorf("candidate %v", cand)
		}
	}
}

func TestJobMutationErrors(t *testing.T) {
	c := newDispatchingServer(t, "sqlite")
	done := c.OK(t, `mutation { submitJob(input: {image: "x"}) { job { id } } }`, nil)
	cases := []struct {
		name, query string
		vars        map[string]any
		code, text  string
	}{
		{"no image", `mutation { submitJob(input: {name: "n"}) { job { id } } }`, nil, "INVALID_INPUT", "image"},
		{"priority out of range", `mutation { submitJob(input: {image: "x", priority: 101}) { job { id } } }`, nil, "INVALID_INPUT", "priority"},
		{"negative retries", `mutation { submitJob(input: {image: "x", maxRetries: -1}) { job { id } } }`, nil, "INVALID_INPUT", "max_retries"},
		{"unknown template", `mutation { submitJob(input: {templateID: "00000000-0000-0000-0000-000000000009"}) { job { id } } }`, nil, "NOT_FOUND", "template"},
		{"unknown host", `mutation { submitJob(input: {image: "x", hostID: "00000000-0000-0000-0000-000000000009"}) { job { id } } }`, nil, "NOT_FOUND", "host"},
		{"cancel unknown", `mutation { cancelJob(input: {jobID: "00000000-0000-0000-0000-000000000009"}) { job { id } } }`, nil, "NOT_FOUND", "does not exist"},
		{"retry queued", `mutation($id: ID!) { retryJob(input: {jobID: $id}) { job { id } } }`, map[string]any{"id": graphtest.Get(done, "submitJob.job.id")}, "INVALID_TRANSITION", "retried"},
	}
	for _, tc := range cases {
		e := c.Fail(t, tc.query, tc.vars)
		if e.Code() != tc.code || !strings.Contains(e.Message, tc.text) {
			t.Errorf("%s: %q (code %s), want %s containing %q", tc.name, e.Message, e.Code(), tc.code, tc.text)
		}
	}
}

func TestCostSummary(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		c := newDispatchingServer(t, dialect)
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "priced", "executorType": "mock", "costPerHour": "3.6", "costPerJob": "0.01"}})
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "free", "executorType": "mock", "maxConcurrentJobs": 0}})
		for range 3 {
			id := submit(t, c, map[string]any{"image": "x", "timeoutSeconds": 60})
			waitStatus(t, c, id, "completed")
		}
		d := c.OK(t, `{ costSummary(groupBy: HOST) { key jobs estimatedCost actualCost } }`, nil)
		g := graphtest.Get(d, "costSummary.0")
		if graphtest.Get(g, "key") != "priced" || graphtest.Get(g, "jobs") != float64(3) || graphtest.Get(g, "estimatedCost") != "0.2100" {
			t.Fatalf("cost summary %v", d)
		}
		e := c.Fail(t, `mutation { createExecutorHost(input: {name: "neg", costPerHour: "-1"}) { executorHost { id } } }`, nil)
		if e.Code() != "INVALID_INPUT" || !strings.Contains(e.Message, "negative") {
			t.Errorf("negative price: %v", e)
		}
		d = c.OK(t, `{ costSummary(groupBy: EXECUTOR_TYPE, from: "2999-01-01T00:00:00Z") { key } }`, nil)
		if n := len(graphtest.Get(d, "costSummary").([]any)); n != 0 {
			t.Errorf("future range returned %d groups", n)
		}
	})
}

// TestRoutingRulesThroughGraphQL: a rule sends matching jobs to its target;
// when the target is full they spill to the next eligible backend, and the
// reason says so; invalid rules are refused with the error's position.
func TestRoutingRulesThroughGraphQL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		c := newDispatchingServer(t, dialect)
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "big", "executorType": "mock", "maxConcurrentJobs": 10}})
		small := c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "small", "executorType": "mock", "maxConcurrentJobs": 1}})
		smallID := graphtest.Get(small, "createExecutorHost.executorHost.id")
		c.OK(t, `mutation($h: ID!) { createRoutingRule(input: {name: "batch to small", priority: 10,
			condition: "labels[\"tier\"] == \"batch\"", targetHostID: $h}) { routingRule { id } } }`, map[string]any{"h": smallID})

		first := submit(t, c, map[string]any{"image": "x", "labels": map[string]any{"tier": "batch"}, "environment": map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}})
		job := waitStatus(t, c, first, "running")
		if graphtest.Get(job, "dockerHost.name") != "small" || !strings.Contains(job["routingReason"].(string), "rule batch to small") {
			t.Fatalf("rule not applied: %v", job)
		}
		second := submit(t, c, map[string]any{"image": "x", "labels": map[string]any{"tier": "batch"}})
		job = waitStatus(t, c, second, "completed")
		if graphtest.Get(job, "dockerHost.name") != "big" || !strings.Contains(job["routingReason"].(string), "fallback") {
			t.Fatalf("no spill to the next backend: %v", job)
		}
		c.OK(t, `mutation($id: ID!) { cancelJob(input: {jobID: $id}) { job { id } } }`, map[string]any{"id": first})

		for _, tc := range []struct{ cond, want string }{
			{`labels["tier"] ==`, "(1:"},
			{`memoryMB > "lots"`, "(1:"},
		} {
			e := c.Fail(t, `mutation($c: String!) { createRoutingRule(input: {name: "bad", condition: $c, targetExecutorType: mock}) { routingRule { id } } }`, map[string]any{"c": tc.cond})
			if e.Code() != "INVALID_INPUT" || !strings.Contains(e.Message, tc.want) {
				t.Errorf("condition %q: %q (%s)", tc.cond, e.Message, e.Code())
			}
		}
		e := c.Fail(t, `mutation { createRoutingRule(input: {name: "none", condition: "true"}) { routingRule { id } } }`, nil)
		if e.Code() != "INVALID_INPUT" || !strings.Contains(e.Message, "exactly one") {
			t.Errorf("rule without target: %v", e)
		}
		d := c.OK(t, `{ routingRules { totalCount edges { node { name enabled targetHost { name } } } } }`, nil)
		if graphtest.Get(d, "routingRules.totalCount") != float64(1) || graphtest.Get(d, "routingRules.edges.0.node.targetHost.name") != "small" {
			t.Errorf("rules: %v", d)
		}
	})
}

// TestWeightingRulesThroughGraphQL: a weighting rule ranks its target up
// for the jobs it matches without deciding for the others; the dry run
// shows each candidate's rule weight; a zero or out-of-range weight is
// refused.
func TestWeightingRulesThroughGraphQL(t *testing.T) {
	c := newDispatchingServer(t, "sqlite")
	c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "alpha", "executorType": "mock", "maxConcurrentJobs": 5}})
	beta := c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "beta", "executorType": "mock", "maxConcurrentJobs": 5}})
	const create = `mutation($in: CreateRoutingRuleInput!) { createRoutingRule(input: $in) { routingRule { id weight } } }`
	rule := func(weight int) map[string]any {
		return map[string]any{"in": map[string]any{"name": fmt.Sprintf("gpu to beta %d", weight), "condition": `image startsWith "gpu/"`,
			"targetHostID": graphtest.Get(beta, "createExecutorHost.executorHost.id"), "weight": weight}}
	}
	if r := c.OK(t, create, rule(10)); graphtest.Get(r, "createRoutingRule.routingRule.weight") != float64(10) {
		t.Fatalf("rule: %v", r)
	}
	gpu := submit(t, c, map[string]any{"image": "gpu/train", "maxRetries": 0})
	job := waitStatus(t, c, gpu, "completed")
	if graphtest.Get(job, "dockerHost.name") != "beta" || !strings.Contains(job["routingReason"].(string), "weighted +10 by rule gpu to beta 10") {
		t.Fatalf("weighted job: %v", job)
	}
	web := submit(t, c, map[string]any{"image": "web"})
	if job := waitStatus(t, c, web, "completed"); graphtest.Get(job, "dockerHost.name") != "alpha" {
		t.Fatalf("unmatched job should take the default (alpha by name): %v", job)
	}
	queued := submit(t, c, map[string]any{"image": "gpu/x", "scheduledFor": "2999-01-01T00:00:00Z"})
	dry := c.OK(t, `mutation($id: ID!) { routeJob(input: {jobID: $id, dryRun: true}) { decision { host { name } candidates { host { name } ruleWeight } } } }`,
		map[string]any{"id": queued})
	if graphtest.Get(dry, "routeJob.decision.host.name") != "beta" || graphtest.Get(dry, "routeJob.decision.candidates.0.ruleWeight") != float64(10) ||
		graphtest.Get(dry, "routeJob.decision.candidates.1.ruleWeight") != float64(0) {
		t.Fatalf("dry run: %v", dry)
	}
	for _, w := range []int{0, 5000} {
		if e := c.Fail(t, create, rule(w)); e.Code() != "INVALID_INPUT" || !strings.Contains(e.Message, "weight") {
			t.Errorf("weight %d: %q (%s)", w, e.Message, e.Code())
		}
	}
}

func TestQueuePosition(t *testing.T) {
	c := newDispatchingServer(t, "sqlite")
	c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "closed", "executorType": "mock", "maxConcurrentJobs": 0}})
	low := submit(t, c, map[string]any{"image": "x", "priority": 10})
	high := submit(t, c, map[string]any{"image": "x", "priority": 90})
	mid := submit(t, c, map[string]any{"image": "x", "priority": 50})
	for id, want := range map[string]float64{high: 1, mid: 2, low: 3} {
		d := c.OK(t, `query($id: ID!) { node(id: $id) { ... on ContainerJob { queuePosition estimatedStartAt } } }`, map[string]any{"id": id})
		if graphtest.Get(d, "node.queuePosition") != want || graphtest.Get(d, "node.estimatedStartAt") != nil {
			t.Errorf("job %s: %v, want position %v and no estimate (nothing launched lately)", id, d, want)
		}
	}
}

// TestEstimatedStartUsesTheJobsHosts: the start estimate divides by the
// launch rate onto the hosts a job can run on: launches on mock hosts say
// nothing about a job that prefers Fargate.
func TestEstimatedStartUsesTheJobsHosts(t *testing.T) {
	c := newDispatchingServer(t, "sqlite")
	c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "one", "executorType": "mock", "maxConcurrentJobs": 1}})
	waitStatus(t, c, submit(t, c, map[string]any{"image": "x", "environment": map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}}), "running")
	onMock := submit(t, c, map[string]any{"image": "x", "preferredExecutor": "mock"})
	onFargate := submit(t, c, map[string]any{"image": "x", "preferredExecutor": "fargate"})
	const q = `query($id: ID!) { node(id: $id) { ... on ContainerJob { status queuePosition estimatedStartAt } } }`
	if d := c.OK(t, q, map[string]any{"id": onMock}); graphtest.Get(d, "node.status") != "queued" || graphtest.Get(d, "node.estimatedStartAt") == nil {
		t.Errorf("job waiting for the mock host: %v, want an estimate from the mock launch rate", d)
	}
	if d := c.OK(t, q, map[string]any{"id": onFargate}); graphtest.Get(d, "node.status") != "queued" || graphtest.Get(d, "node.estimatedStartAt") != nil {
		t.Errorf("job preferring fargate: %v, want no estimate (nothing launched on fargate lately)", d)
	}
}

// TestBudgetsAndSpill: a Docker host that is full makes a job spill to a
// cloud-typed host (the mock backend serves both types here), with the
// reason; a reject budget refuses a submit naming itself; a hold budget
// keeps a job queued until its limit is raised; maxCost excludes dear hosts.
func TestBudgetsAndSpill(t *testing.T) {
	executors.Register(schematype.ExecutorCloudRun, mock.New)
	defer executors.Register(schematype.ExecutorCloudRun, cloudrun.New) // the real backend again
	storetest.Each(t, func(t *testing.T, dialect string) {
		c := newDispatchingServer(t, dialect)
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "local", "executorType": "mock", "maxConcurrentJobs": 1}})
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "cloud", "executorType": "cloudrun", "costPerHour": "3.6", "costPerJob": "0.01"}})
		busy := submit(t, c, map[string]any{"image": "x", "environment": map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}})
		if job := waitStatus(t, c, busy, "running"); graphtest.Get(job, "dockerHost.name") != "local" {
			t.Fatalf("first job should take the free local host: %v", job)
		}
		spill := submit(t, c, map[string]any{"image": "x", "timeoutSeconds": 100})
		job := waitStatus(t, c, spill, "completed")
		if graphtest.Get(job, "dockerHost.name") != "cloud" || !strings.Contains(job["routingReason"].(string), "passed over local") {
			t.Fatalf("spill: %v", job)
		}

		// maxCost below the cloud estimate (0.01 + 3.6/h × 100 s = 0.11): waits for local.
		capped := submit(t, c, map[string]any{"image": "x", "timeoutSeconds": 100, "maxCost": "0.05"})
		time.Sleep(300 * time.Millisecond)
		d := c.OK(t, jobQuery, map[string]any{"id": capped})
		if graphtest.Get(d, "node.status") != "queued" {
			t.Fatalf("capped job ran on a host over its maxCost: %v", d)
		}

		c.OK(t, `mutation { createBudget(input: {name: "team-a", labelKey: "team", labelValue: "a", limitUsd: "0.15", period: month}) { budget { id } } }`, nil)
		a1 := submit(t, c, map[string]any{"image": "x", "timeoutSeconds": 100, "labels": map[string]any{"team": "a"}, "preferredExecutor": "cloudrun"})
		waitStatus(t, c, a1, "completed")
		// Spent 0.0100 (a1's actual cost); this one is estimated at 0.01 + 3.6/h × 200 s = 0.21.
		e := c.Fail(t, `mutation { submitJob(input: {image: "x", timeoutSeconds: 200, labels: {team: "a"}, preferredExecutor: cloudrun}) { job { id } } }`, nil)
		if e.Code() != "BUDGET_EXCEEDED" || !strings.Contains(e.Message, `"team-a"`) {
			t.Fatalf("over-budget submit: %q (%s)", e.Message, e.Code())
		}

		hb := c.OK(t, `mutation { createBudget(input: {name: "team-b", labelKey: "team", labelValue: "b", limitUsd: "0.05", policy: hold}) { budget { id } } }`, nil)
		held := submit(t, c, map[string]any{"image": "x", "timeoutSeconds": 100, "labels": map[string]any{"team": "b"}, "preferredExecutor": "cloudrun"})
		time.Sleep(300 * time.Millisecond)
		d = c.OK(t, jobQuery, map[string]any{"id": held})
		if graphtest.Get(d, "node.status") != "queued" || !strings.Contains(graphtest.Get(d, "node.routingReason").(string), "held by budget team-b") {
			t.Fatalf("hold budget: %v", d)
		}
		c.OK(t, `mutation($id: ID!) { updateBudget(id: $id, input: {limitUsd: "1"}) { budget { spentUsd } } }`,
			map[string]any{"id": graphtest.Get(hb, "createBudget.budget.id")})
		waitStatus(t, c, held, "completed")
		c.OK(t, `mutation($id: ID!) { cancelJob(input: {jobID: $id}) { job { id } } }`, map[string]any{"id": busy})
		waitStatus(t, c, capped, "completed")
	})
}

func TestBudgetValidation(t *testing.T) {
	c := newDispatchingServer(t, "sqlite")
	for _, q := range []string{
		`mutation { createBudget(input: {name: "no-scope", limitUsd: "1"}) { budget { id } } }`,
		`mutation { createBudget(input: {name: "no-limit", labelKey: "team", labelValue: "a"}) { budget { id } } }`,
		`mutation { createBudget(input: {name: "zero", labelKey: "team", labelValue: "a", limitUsd: "0"}) { budget { id } } }`,
		`mutation { createBudget(input: {name: "half-label", labelKey: "team", limitUsd: "1"}) { budget { id } } }`,
	} {
		if e := c.Fail(t, q, nil); e.Code() != "INVALID_INPUT" {
			t.Errorf("%s: %q (%s)", q, e.Message, e.Code())
		}
	}
}

// TestDryRunMatchesDecision: the dry run's choice and reason are what the
// dispatcher then does, and the decision is stored with the job.
func TestDryRunMatchesDecision(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		c := newDispatchingServer(t, dialect)
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "a", "executorType": "mock", "maxConcurrentJobs": 2}})
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "b", "executorType": "mock", "maxConcurrentJobs": 6, "costPerJob": "0.5"}})
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "c", "executorType": "mock", "maxConcurrentJobs": 6}})
		at := time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)
		id := submit(t, c, map[string]any{"image": "x", "scheduledFor": at})
		dry := c.OK(t, `mutation($id: ID!) { routeJob(input: {jobID: $id, dryRun: true}) { decision { host { name } reason candidates { host { name } estimatedCost } } } }`, map[string]any{"id": id})
		want := graphtest.Get(dry, "routeJob.decision.host.name")
		if want != "c" || graphtest.Get(dry, "routeJob.decision.candidates.2.estimatedCost") != "0.5000" {
			t.Fatalf("dry run: %v", dry)
		}
		job := waitStatus(t, c, id, "completed")
		if graphtest.Get(job, "dockerHost.name") != want || job["routingReason"] != graphtest.Get(dry, "routeJob.decision.reason") {
			t.Fatalf("decision %v / %v differs from the dry run %v", graphtest.Get(job, "dockerHost.name"), job["routingReason"], dry)
		}
		d := c.OK(t, `query($id: ID!) { node(id: $id) { ... on ContainerJob { executorMetadata } } }`, map[string]any{"id": id})
		if n := len(graphtest.Get(d, "node.executorMetadata.routing.candidates").([]any)); n != 3 {
			t.Fatalf("stored candidate table has %d rows: %v", n, d)
		}
	})
}
