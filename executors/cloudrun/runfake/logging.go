package runfake

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// logging serves Cloud Logging's ListLogEntries for Cloud Run job
// executions: what the test workload writes to stdout and stderr, as the
// log names run.googleapis.com/stdout and /stderr, in pages of at most 100.
type logging struct {
	loggingpb.UnimplementedLoggingServiceV2Server
	s *Server
}

var (
	executionFilter = regexp.MustCompile(`labels\."run\.googleapis\.com/execution_name"="([^"]+)"`)
	sinceFilter     = regexp.MustCompile(`timestamp>="([^"]+)"`)
)

func (l logging) ListLogEntries(_ context.Context, r *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
	m := executionFilter.FindStringSubmatch(r.GetFilter())
	if m == nil || !strings.Contains(r.GetFilter(), `resource.type="cloud_run_job"`) || len(r.GetResourceNames()) != 1 {
		return nil, status.Error(codes.InvalidArgument, "filter must select a cloud_run_job execution in one project")
	}
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	var x *execution
	for name, c := range l.s.execs {
		if strings.HasSuffix(name, "/executions/"+m[1]) && r.GetResourceNames()[0] == "projects/"+strings.Split(name, "/")[1] {
			x = c
		}
	}
	if x == nil || time.Now().Before(x.created.Add(20*time.Millisecond)) {
		return &loggingpb.ListLogEntriesResponse{}, nil // nothing written (yet)
	}
	entries := x.entries(r.GetResourceNames()[0], m[1], time.Now())
	if since := sinceFilter.FindStringSubmatch(r.GetFilter()); since != nil {
		at, err := time.Parse(time.RFC3339Nano, since[1])
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "bad timestamp in filter: %v", err)
		}
		kept := entries[:0]
		for _, e := range entries {
			if !e.GetTimestamp().AsTime().Before(at) {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	from, _ := strconv.Atoi(r.GetPageToken())
	to := min(len(entries), from+min(100, int(max(1, r.GetPageSize()))))
	out := &loggingpb.ListLogEntriesResponse{Entries: entries[from:to]}
	if to < len(entries) {
		out.NextPageToken = strconv.Itoa(to)
	}
	return out, nil
}

// entries are the execution's log lines written by now, oldest first:
// the test workload's stdout/stderr lines and GANTRY_FAKE_LOG_LINES lines
// at start, then "tick i" every 100 ms for GANTRY_TEST_TICKS.
func (x *execution) entries(project, execution string, now time.Time) []*loggingpb.LogEntry {
	type line struct {
		stream, text string
		at           time.Time
	}
	start := x.created.Add(20 * time.Millisecond)
	var lines []line
	for _, k := range []struct{ env, stream string }{{"GANTRY_TEST_STDOUT", "stdout"}, {"GANTRY_TEST_STDERR", "stderr"}} {
		if v := x.env[k.env]; v != "" {
			lines = append(lines, line{k.stream, v, start.Add(time.Duration(len(lines)) * time.Microsecond)})
		}
	}
	n, _ := strconv.Atoi(x.env["GANTRY_FAKE_LOG_LINES"])
	for i := range n {
		lines = append(lines, line{"stdout", fmt.Sprintf("line %d", i), start.Add(time.Duration(len(lines)) * time.Microsecond)})
	}
	ticks, _ := strconv.Atoi(x.env["GANTRY_TEST_TICKS"])
	for i := 1; i <= ticks; i++ {
		at := start.Add(time.Duration(i) * 100 * time.Millisecond)
		if at.After(now) || !x.cancelled.IsZero() && at.After(x.cancelled) {
			break
		}
		lines = append(lines, line{"stdout", fmt.Sprintf("tick %d", i), at})
	}
	res := &monitoredres.MonitoredResource{Type: "cloud_run_job", Labels: map[string]string{"job_name": x.pb.Job[strings.LastIndex(x.pb.Job, "/")+1:]}}
	out := make([]*loggingpb.LogEntry, len(lines))
	for i, ln := range lines {
		out[i] = &loggingpb.LogEntry{LogName: project + "/logs/run.googleapis.com%2F" + ln.stream, Resource: res,
			InsertId: fmt.Sprintf("%s-%d", execution, i), Timestamp: timestamppb.New(ln.at),
			Labels:  map[string]string{"run.googleapis.com/execution_name": execution},
			Payload: &loggingpb.LogEntry_TextPayload{TextPayload: ln.text}}
	}
	return out
}
