package graph_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gantry/gantry/graph"
	"github.com/gantry/gantry/graph/graphtest"
	"github.com/gantry/gantry/store/storetest"
)

func newServer(t *testing.T, dialect string, opts graph.Options) (graphtest.Client, *httptest.Server) {
	t.Helper()
	db := storetest.Open(t, dialect)
	srv := httptest.NewServer(graph.NewHandler(&graph.Resolver{Client: db.Client}, opts))
	t.Cleanup(srv.Close)
	return graphtest.Client{URL: srv.URL + "/query"}, srv
}

const createHost = `mutation($in: CreateExecutorHostInput!) {
  createExecutorHost(input: $in) { executorHost { id name executorType executorConfigKeys maxConcurrentJobs isAvailable capacity { availableSlots } } }
}`

func TestHostsAndTemplates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		c, _ := newServer(t, dialect, graph.Options{})
		secret := "11111111-2222-3333-4444-" + strings.Repeat("9", 12)
		d := c.OK(t, createHost, map[string]any{"in": map[string]any{
			"name": "cloud-eu", "executorType": "scaleway", "maxConcurrentJobs": 4,
			"executorConfig": map[string]any{"region": "fr-par", "project_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
				"access_key": "SCWABCDEFGHIJKLMNOPQ", "secret_key": secret},
		}})
		h := graphtest.Get(d, "createExecutorHost.executorHost")
		if graphtest.Get(h, "executorType") != "scaleway" || graphtest.Get(h, "capacity.availableSlots") != float64(4) {
			t.Fatalf("host = %v", h)
		}
		if keys := graphtest.Get(h, "executorConfigKeys"); len(keys.([]any)) != 4 {
			t.Fatalf("executorConfigKeys = %v", keys)
		}
		id := graphtest.Get(h, "id").(string)

		// The node query, the connection and an update never return the secret.
		for _, q := range []string{
			`query($id: ID!) { node(id: $id) { id ... on ExecutorHost { name executorConfigKeys } } }`,
			`{ executorHosts(where: {executorType: scaleway}) { totalCount edges { node { id name } } } }`,
			`mutation($id: ID!) { updateExecutorHost(id: $id, input: {maxConcurrentJobs: 5}) { executorHost { maxConcurrentJobs } } }`,
		} {
			r := c.Do(t, q, map[string]any{"id": id})
			if len(r.Errors) > 0 || strings.Contains(r.Raw, secret) || !strings.Contains(r.Raw, "cloud-eu") && !strings.Contains(r.Raw, "5") {
				t.Fatalf("%s -> %s", q, r.Raw)
			}
		}
		r := c.Do(t, `{ __type(name: "ExecutorHost") { fields { name } } }`, nil)
		if strings.Contains(r.Raw, `"executorConfig"`) {
			t.Fatalf("ExecutorHost exposes executorConfig: %s", r.Raw)
		}

		tpl := c.OK(t, `mutation { createContainerTemplate(input: {name: "etl", image: "alpine", command: ["echo", "hi"],
			environment: {A: "1"}, memoryLimit: 256, cpuLimit: 0.5, timeoutSeconds: 30, supportedExecutors: ["docker"], priority: 70}) {
			containerTemplate { id name priority maxRetries environment } } }`, nil)
		if graphtest.Get(tpl, "createContainerTemplate.containerTemplate.priority") != float64(70) ||
			graphtest.Get(tpl, "createContainerTemplate.containerTemplate.environment.A") != "1" {
			t.Fatalf("template = %v", tpl)
		}
	})
}

func TestBadInputGetsClearErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		c, _ := newServer(t, dialect, graph.Options{DepthLimit: 5})
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "dup"}})
		cases := []struct {
			name, query string
			vars        map[string]any
			code, text  string
		}{
			{"unknown enum", createHost, map[string]any{"in": map[string]any{"name": "x", "executorType": "kubernetes"}}, "GRAPHQL_VALIDATION_FAILED", "kubernetes"},
			{"duplicate name", createHost, map[string]any{"in": map[string]any{"name": "dup"}}, "CONFLICT", "already exists"},
			{"negative capacity", createHost, map[string]any{"in": map[string]any{"name": "neg", "maxConcurrentJobs": -1}}, "INVALID_INPUT", "max_concurrent_jobs"},
			{"priority out of range", `mutation { createContainerTemplate(input: {name: "t", image: "i", priority: 101}) { containerTemplate { id } } }`, nil, "INVALID_INPUT", "priority"},
			{"empty image", `mutation { createContainerTemplate(input: {name: "t", image: ""}) { containerTemplate { id } } }`, nil, "INVALID_INPUT", "image"},
			{"malformed query", `{ executorHosts { `, nil, "GRAPHQL_PARSE_FAILED", ""},
			{"unknown field", `{ executorHosts { nope } }`, nil, "GRAPHQL_VALIDATION_FAILED", "nope"},
			{"bad id", `{ node(id: "not-a-uuid") { id } }`, nil, "INVALID_INPUT", "not a valid id"},
			{"unknown id", `{ node(id: "00000000-0000-0000-0000-000000000001") { id } }`, nil, "NOT_FOUND", ""},
			{"too deep", `{ executorHosts { edges { node { jobs { edges { node { template { jobs { totalCount } } } } } } } } }`, nil, "DEPTH_LIMIT_EXCEEDED", "limit of 5"},
		}
		for _, tc := range cases {
			e := c.Fail(t, tc.query, tc.vars)
			if e.Code() != tc.code || !strings.Contains(e.Message, tc.text) {
				t.Errorf("%s: got %q (code %q), want code %s containing %q", tc.name, e.Message, e.Code(), tc.code, tc.text)
			}
			if strings.Contains(e.Message, "goroutine") || strings.Contains(e.Message, ".go:") {
				t.Errorf("%s: error leaks a stack trace: %s", tc.name, e.Message)
			}
		}
	})
}

func TestSchemaCarriesSeedHelpTexts(t *testing.T) {
	c, _ := newServer(t, "sqlite", graph.Options{})
	r := c.Do(t, `{ __type(name: "ContainerJob") { fields { name description } } }`, nil)
	for _, help := range []string{
		"Container execution backend to use for this job",
		"Cloud provider's execution/job ID (e.g., Cloud Run job name, Fargate task ARN)",
		"Job priority (0-100, higher numbers = higher priority)",
		"When job should be launched (for scheduled execution)",
	} {
		if !strings.Contains(r.Raw, strings.ReplaceAll(help, "'", `'`)) {
			t.Errorf("ContainerJob description %q missing", help)
		}
	}
	r = c.Do(t, `{ __type(name: "ExecutorType") { enumValues { name } } }`, nil)
	for _, v := range []string{"docker", "cloudrun", "fargate", "scaleway", "mock"} {
		if !strings.Contains(r.Raw, `"`+v+`"`) {
			t.Errorf("ExecutorType lacks %s: %s", v, r.Raw)
		}
	}
}

func TestCORSAndOrigins(t *testing.T) {
	_, srv := newServer(t, "sqlite", graph.Options{AllowedOrigins: []string{"https://app.example.com"}})
	preflight := func(origin string) string {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodOptions, srv.URL+"/query", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Access-Control-Allow-Origin")
	}
	if got := preflight("https://app.example.com"); got != "https://app.example.com" {
		t.Errorf("allowed origin: Access-Control-Allow-Origin = %q", got)
	}
	if got := preflight("https://evil.example.net"); got != "" {
		t.Errorf("other origin: Access-Control-Allow-Origin = %q", got)
	}
	upgrade := func(origin string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/query", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Sec-WebSocket-Protocol", "graphql-transport-ws")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := upgrade("https://app.example.com"); got != http.StatusSwitchingProtocols {
		t.Errorf("websocket from allowed origin: status %d", got)
	}
	if got := upgrade("https://evil.example.net"); got != http.StatusForbidden {
		t.Errorf("websocket from other origin: status %d, want 403", got)
	}
}

func TestGraphiQLAndProbes(t *testing.T) {
	_, srv := newServer(t, "sqlite", graph.Options{})
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "graphiql") || !strings.Contains(body, "/query") {
		t.Errorf("GraphiQL page: %d %.200s", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz: %d", code)
	}
}

func TestHostConfigCheckedAtCreation(t *testing.T) {
	ctx := context.Background()
	err := graph.CheckWithBackend(ctx, "mock", map[string]any{"run_ms": "soon", "token": "hunter2"})
	if err == nil || !strings.Contains(err.Error(), "run_ms") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("bad mock config: %v", err)
	}
	if err := graph.CheckWithBackend(ctx, "mock", map[string]any{"run_ms": 5}); err != nil {
		t.Fatalf("good mock config: %v", err)
	}
	for _, bad := range []any{-1, "soon"} {
		if err := graph.CheckWithBackend(ctx, "mock", map[string]any{"keep_failed_seconds": bad}); err == nil || !strings.Contains(err.Error(), "keep_failed_seconds") {
			t.Errorf("keep_failed_seconds=%v: %v", bad, err)
		}
	}
	if err := graph.CheckWithBackend(ctx, "docker", map[string]any{"keep_failed_seconds": 3600}); err != nil {
		t.Errorf("keep_failed_seconds on a docker host: %v", err)
	}
	// Checking a cloud host's config needs neither network nor credentials.
	if err := graph.CheckWithBackend(ctx, "cloudrun", map[string]any{"project": "my-project-1", "region": "europe-west1"}); err != nil {
		t.Fatalf("good cloudrun config: %v", err)
	}
}
