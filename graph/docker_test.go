package graph_test

import (
	"context"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/executors/docker/dockertest"
	"github.com/gantry/gantry/graph/graphtest"
	"github.com/gantry/gantry/store/storetest"
)

// TestDockerJobsEndToEnd submits jobs through GraphQL to the real local
// Docker Engine: containers really run, and end as completed, failed,
// timeout or cancelled, with their containers gone afterwards.
func TestDockerJobsEndToEnd(t *testing.T) {
	img := dockertest.Image(t)
	storetest.Each(t, func(t *testing.T, dialect string) {
		c := newDispatchingServer(t, dialect)
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "local-docker", "executorType": "docker",
			"connectionString": "unix:///var/run/docker.sock", "autoPullImages": false, "maxConcurrentJobs": 4}})
		ok := submit(t, c, map[string]any{"image": img, "environment": map[string]any{"GANTRY_TEST_STDOUT": "hi from docker", "GANTRY_TEST_STDERR": "warn"}})
		bad := submit(t, c, map[string]any{"image": img, "environment": map[string]any{"GANTRY_TEST_EXIT": "3"}})
		slow := submit(t, c, map[string]any{"image": img, "timeoutSeconds": 1, "environment": map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}})
		victim := submit(t, c, map[string]any{"image": img, "environment": map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}})

		job := waitStatus(t, c, ok, "completed", "failed")
		if job["status"] != "completed" || job["exitCode"] != float64(0) || job["stdoutLog"] != "hi from docker\n" {
			t.Fatalf("docker job: %v", job)
		}
		if job := waitStatus(t, c, bad, "completed", "failed"); job["status"] != "failed" || job["exitCode"] != float64(3) {
			t.Fatalf("exit 3 job: %v", job)
		}
		waitStatus(t, c, victim, "running")
		c.OK(t, `mutation($id: ID!) { cancelJob(input: {jobID: $id}) { job { status } } }`, map[string]any{"id": victim})
		waitStatus(t, c, victim, "cancelled")
		waitStatus(t, c, slow, "timeout")

		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		// Cleanup policy: failed and timed-out containers are kept for
		// inspection (KeepFailed, 10 minutes by default) and stopped.
		for _, id := range []string{bad, slow} {
			name := executors.Spec{JobID: mustUUID(t, id)}.ExecutionName()
			c, err := cli.ContainerInspect(context.Background(), name)
			if err != nil || c.State.Running {
				t.Errorf("failed job %s: container %v (err %v), want kept and stopped", id, c.State, err)
			}
			_ = cli.ContainerRemove(context.Background(), name, container.RemoveOptions{Force: true})
		}
		deadline := time.Now().Add(10 * time.Second) // removal follows the final commit
		for _, id := range []string{ok, victim} {
			name := executors.Spec{JobID: mustUUID(t, id)}.ExecutionName()
			for {
				_, err := cli.ContainerInspect(context.Background(), name)
				if cerrdefs.IsNotFound(err) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("container of job %s still exists (err %v)", id, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		d := c.OK(t, `{ executorHosts { edges { node { currentJobCount } } } }`, nil)
		if n := graphtest.Get(d, "executorHosts.edges.0.node.currentJobCount"); n != float64(0) {
			t.Errorf("host counter %v after all jobs ended", n)
		}
	})
}

// TestJobLogsLive follows a running container's output line by line, then
// replays the stored logs of the finished job.
func TestJobLogsLive(t *testing.T) {
	img := dockertest.Image(t)
	c := newDispatchingServer(t, "sqlite")
	c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "local-docker", "executorType": "docker", "autoPullImages": false}})
	id := submit(t, c, map[string]any{"image": img, "environment": map[string]any{"GANTRY_TEST_TICKS": "15", "GANTRY_TEST_STDERR": "starting"}})
	s := graphtest.Subscribe(t, graphtest.TransportWS, c.URL, `subscription($id: ID!) { jobLogs(id: $id) { stream line } }`, map[string]any{"id": id})
	var lines []string
	liveSeen := false
	for {
		r, ok := s.Next(20 * time.Second)
		if !ok {
			break
		}
		if len(r.Errors) > 0 {
			t.Fatalf("jobLogs: %s", r.Raw)
		}
		line := graphtest.Get(r.Data, "jobLogs.stream").(string) + ":" + graphtest.Get(r.Data, "jobLogs.line").(string)
		lines = append(lines, line)
		if line == "stdout:tick 3" {
			// The job is still running while its lines arrive.
			d := c.OK(t, jobQuery, map[string]any{"id": id})
			liveSeen = graphtest.Get(d, "node.status") == "running"
		}
	}
	joined := strings.Join(lines, "|")
	if !liveSeen || !strings.Contains(joined, "stderr:starting") || !strings.Contains(joined, "stdout:tick 15") {
		t.Fatalf("live=%v lines %v", liveSeen, lines)
	}
	waitStatus(t, c, id, "completed")
	s2 := graphtest.Subscribe(t, graphtest.SSE, c.URL, `subscription($id: ID!) { jobLogs(id: $id) { stream line } }`, map[string]any{"id": id})
	n := 0
	for {
		if _, ok := s2.Next(5 * time.Second); !ok {
			break
		}
		n++
	}
	if n != 16 {
		t.Fatalf("stored logs replayed %d lines, want 16", n)
	}
}
