package dispatch_test

import (
	"context"
	"testing"
)

// dumpJobs logs every job and host, to explain a failed wait.
func dumpJobs(t *testing.T, e *env) {
	for _, j := range e.c.ContainerJob.Query().AllX(context.Background()) {
		t.Logf("job %s status=%s exec=%q lease=%q host=%v", j.ID, j.Status, j.ExecutionIdentifier(), j.LeaseOwner, j.DockerHostID)
	}
	for _, h := range e.c.ExecutorHost.Query().AllX(context.Background()) {
		t.Logf("host %s count=%d", h.Name, h.CurrentJobCount)
	}
}
