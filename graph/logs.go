package graph

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/gantry/gantry/ent"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
	"github.com/gantry/gantry/graph/model"
)

// streamLogs serves jobLogs: live lines while the job runs on a backend
// that can follow output, its stored logs otherwise.
func (r *Resolver) streamLogs(ctx context.Context, id uuid.UUID) (<-chan *model.LogLine, error) {
	if r.Broker == nil || r.Dispatcher == nil {
		return nil, errNoBroker
	}
	j, err := r.loadJob(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make(chan *model.LogLine)
	go func() {
		defer close(out)
		emit := func(stream, line string) { send(ctx, out, &model.LogLine{Stream: stream, Line: line}) }
		j, ok := r.awaitJob(ctx, j, func(s st.JobStatus) bool { return s == st.StatusRunning || s.Terminal() })
		if !ok {
			return
		}
		if j.Status == st.StatusRunning && r.follow(ctx, j, emit) {
			return
		}
		if j, ok = r.awaitJob(ctx, j, st.JobStatus.Terminal); ok {
			emitLines(j.StdoutLog, "stdout", emit)
			emitLines(j.StderrLog, "stderr", emit)
		}
	}()
	return out, nil
}

// follow streams a running job's output live; false if its backend cannot.
func (r *Resolver) follow(ctx context.Context, j *ent.ContainerJob, emit func(stream, line string)) bool {
	if j.DockerHostID == nil || j.ExecutionIdentifier() == "" {
		return false
	}
	ex, err := r.Dispatcher.Executor(ctx, *j.DockerHostID)
	if err != nil {
		return false
	}
	ls, ok := ex.(executors.LogStreamer)
	if !ok {
		return false
	}
	return ls.StreamLogs(ctx, j.ExecutionIdentifier(), emit) == nil
}

// awaitJob waits, following the job's events, until done(status) holds.
func (r *Resolver) awaitJob(ctx context.Context, j *ent.ContainerJob, done func(st.JobStatus) bool) (*ent.ContainerJob, bool) {
	sub := r.Broker.SubscribeJob(&j.ID, nil)
	defer func() { sub.Close() }()
	for {
		cur, err := r.Client.ContainerJob.Get(ctx, j.ID)
		if err != nil {
			return nil, false
		}
		if done(cur.Status) {
			return cur, true
		}
		select {
		case <-ctx.Done():
			return nil, false
		case _, open := <-sub.C:
			if !open {
				sub = r.Broker.SubscribeJob(&j.ID, nil)
			}
		}
	}
}

func emitLines(text, stream string, emit func(stream, line string)) {
	if text == "" {
		return
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		emit(stream, line)
	}
}
