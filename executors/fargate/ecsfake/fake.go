// Package ecsfake is a local fake of the AWS ECS API (JSON 1.1 protocol)
// for the official SDK's requests: RegisterTaskDefinition, RunTask (with
// client-token idempotency), DescribeTasks, StopTask, ListTasks. Tasks follow
// the test-workload protocol in their environment overrides; the fake can
// throttle, refuse capacity, or fail a task's image pull.
package ecsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Server is a running fake.
type Server struct {
	*httptest.Server
	mu        sync.Mutex
	defs      int
	logGroups map[string]string // task definition ARN -> awslogs group
	tasks     map[string]*task
	tokens    map[string]string
	throttle  int
	deny      int           // next requests answered AccessDeniedException
	latency   time.Duration // added to every request
	noCapcity int
	Auth      []string // Authorization headers seen (to check signing, never values)
}

type task struct {
	arn, def, startedBy string
	env                 map[string]string
	tags                []any
	created, stopped    time.Time
}

// New starts a fake.
func New() *Server {
	s := &Server{tasks: map[string]*task{}, tokens: map[string]string{}, logGroups: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Deny answers the next n requests with AccessDeniedException (a role
// without the needed permission).
func (s *Server) Deny(n int) { s.mu.Lock(); s.deny = n; s.mu.Unlock() }

// Latency delays every request by d.
func (s *Server) Latency(d time.Duration) { s.mu.Lock(); s.latency = d; s.mu.Unlock() }

// Throttle answers the next n requests with ThrottlingException.
func (s *Server) Throttle(n int) { s.mu.Lock(); s.throttle = n; s.mu.Unlock() }

// NoCapacity makes the next n RunTask calls return a capacity failure.
func (s *Server) NoCapacity(n int) { s.mu.Lock(); s.noCapcity = n; s.mu.Unlock() }

// Tasks is how many tasks were started.
func (s *Server) Tasks() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.tasks) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	delay := s.latency
	s.mu.Unlock()
	time.Sleep(delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Auth = append(s.Auth, r.Header.Get("Authorization"))
	target := r.Header.Get("X-Amz-Target")
	op := strings.TrimPrefix(strings.TrimPrefix(target, "AmazonEC2ContainerServiceV20141113."), "Logs_20140328.")
	var in map[string]any
	_ = json.NewDecoder(r.Body).Decode(&in)
	if s.throttle > 0 {
		s.throttle--
		fail(w, 400, "ThrottlingException", "Rate exceeded")
		return
	}
	if s.deny > 0 {
		s.deny--
		fail(w, 400, "AccessDeniedException", "User is not authorized to perform: ecs:"+op)
		return
	}
	switch op {
	case "RegisterTaskDefinition":
		s.defs++
		arn := fmt.Sprintf("arn:aws:ecs:eu-west-1:123456789012:task-definition/%v:%d", in["family"], s.defs)
		s.logGroups[arn] = awslogsGroup(in)
		reply(w, map[string]any{"taskDefinition": map[string]any{"taskDefinitionArn": arn, "family": in["family"], "cpu": in["cpu"], "memory": in["memory"]}})
	case "RunTask":
		s.run(w, in)
	case "DescribeTasks":
		var out []any
		var failures []any
		for _, a := range in["tasks"].([]any) {
			if t, ok := s.tasks[a.(string)]; ok {
				out = append(out, t.json())
			} else {
				failures = append(failures, map[string]any{"arn": a, "reason": "MISSING"})
			}
		}
		reply(w, map[string]any{"tasks": nonNil(out), "failures": nonNil(failures)})
	case "StopTask":
		t, ok := s.tasks[fmt.Sprint(in["task"])]
		if !ok {
			fail(w, 400, "InvalidParameterException", "The referenced task was not found.")
			return
		}
		if t.stopped.IsZero() {
			t.stopped = time.Now()
		}
		reply(w, map[string]any{"task": t.json()})
	case "ListTasks":
		var arns []any
		for _, t := range s.tasks {
			if in["startedBy"] == nil || in["startedBy"] == t.startedBy {
				arns = append(arns, t.arn)
			}
		}
		reply(w, map[string]any{"taskArns": nonNil(arns)})
	case "GetLogEvents":
		s.logEvents(w, in)
	default:
		fail(w, 400, "UnknownOperationException", "unknown operation "+op)
	}
}

func (s *Server) run(w http.ResponseWriter, in map[string]any) {
	if tok, _ := in["clientToken"].(string); tok != "" {
		if arn, ok := s.tokens[tok]; ok {
			reply(w, map[string]any{"tasks": []any{s.tasks[arn].json()}, "failures": []any{}})
			return
		}
	}
	if s.noCapcity > 0 {
		s.noCapcity--
		reply(w, map[string]any{"tasks": []any{}, "failures": []any{map[string]any{"reason": "Capacity is unavailable at this time."}}})
		return
	}
	t := &task{arn: "arn:aws:ecs:eu-west-1:123456789012:task/gantry/" + strings.ReplaceAll(uuid.NewString(), "-", ""),
		def: fmt.Sprint(in["taskDefinition"]), env: map[string]string{}, created: time.Now()}
	t.startedBy, _ = in["startedBy"].(string)
	t.tags, _ = in["tags"].([]any)
	if ov, ok := in["overrides"].(map[string]any); ok {
		for _, co := range ov["containerOverrides"].([]any) {
			for _, kv := range co.(map[string]any)["environment"].([]any) {
				m := kv.(map[string]any)
				t.env[fmt.Sprint(m["name"])] = fmt.Sprint(m["value"])
			}
		}
	}
	s.tasks[t.arn] = t
	if tok, _ := in["clientToken"].(string); tok != "" {
		s.tokens[tok] = t.arn
	}
	reply(w, map[string]any{"tasks": []any{t.json()}, "failures": []any{}})
}

// json renders the task in its current state, derived from the clock.
func (t *task) json() map[string]any {
	started := t.created.Add(20 * time.Millisecond)
	sleep, _ := strconv.Atoi(t.env["GANTRY_TEST_SLEEP_MS"])
	ticks, _ := strconv.Atoi(t.env["GANTRY_TEST_TICKS"])
	end := started.Add(time.Duration(sleep+100*ticks) * time.Millisecond)
	never := t.env["GANTRY_TEST_NEVER_EXIT"] == "1"
	now := time.Now()
	c := map[string]any{"name": "job", "lastStatus": "RUNNING"}
	m := map[string]any{"taskArn": t.arn, "taskDefinitionArn": t.def, "lastStatus": "RUNNING", "containers": []any{c},
		"tags": nonNil(t.tags), "createdAt": epoch(t.created)}
	switch {
	case now.Before(started) && t.stopped.IsZero():
		m["lastStatus"], c["lastStatus"] = "PROVISIONING", "PENDING"
		return m
	case t.env["GANTRY_FAKE_PULL_FAIL"] == "1":
		m["lastStatus"], m["stoppedReason"], m["stoppedAt"] = "STOPPED", "CannotPullContainerError: pull image manifest has been retried 5 time(s)", epoch(started)
		c["lastStatus"] = "STOPPED"
		return m
	case !t.stopped.IsZero() && (never || t.stopped.Before(end)):
		m["lastStatus"], m["stoppedReason"], m["stoppedAt"] = "STOPPED", "Task stopped by user", epoch(t.stopped)
		c["lastStatus"], c["exitCode"] = "STOPPED", 143
	case never || now.Before(end):
	default:
		code, _ := strconv.Atoi(t.env["GANTRY_TEST_EXIT"])
		m["lastStatus"], m["stoppedReason"], m["stoppedAt"] = "STOPPED", "Essential container in task exited", epoch(end)
		c["lastStatus"], c["exitCode"] = "STOPPED", code
	}
	m["startedAt"] = epoch(started)
	return m
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func nonNil(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"__type": typ, "message": msg})
}

// awslogsGroup is the log group of a task definition's awslogs driver.
func awslogsGroup(in map[string]any) string {
	cds, _ := in["containerDefinitions"].([]any)
	for _, cd := range cds {
		lc, _ := cd.(map[string]any)["logConfiguration"].(map[string]any)
		if lc["logDriver"] != "awslogs" {
			continue
		}
		opts, _ := lc["options"].(map[string]any)
		if opts["awslogs-stream-prefix"] != "gantry" {
			continue
		}
		g, _ := opts["awslogs-group"].(string)
		return g
	}
	return ""
}

// logEvents serves CloudWatch Logs GetLogEvents for a task's stream
// (prefix/container/task-id): its stdout and stderr lines, interleaved as
// the awslogs driver writes them, in pages of 100 events.
func (s *Server) logEvents(w http.ResponseWriter, in map[string]any) {
	group, stream := fmt.Sprint(in["logGroupName"]), fmt.Sprint(in["logStreamName"])
	var t *task
	for _, c := range s.tasks {
		if "gantry/job/"+c.arn[strings.LastIndex(c.arn, "/")+1:] == stream && s.logGroups[c.def] == group && group != "" {
			t = c
		}
	}
	if t == nil || time.Now().Before(t.created.Add(20*time.Millisecond)) {
		fail(w, 400, "ResourceNotFoundException", "The specified log stream does not exist.")
		return
	}
	var lines []string
	for _, k := range []string{"GANTRY_TEST_STDOUT", "GANTRY_TEST_STDERR"} {
		if v := t.env[k]; v != "" {
			lines = append(lines, v)
		}
	}
	n, _ := strconv.Atoi(t.env["GANTRY_FAKE_LOG_LINES"])
	for i := range n {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	// GANTRY_TEST_TICKS: "tick i" every 100 ms after start, as written.
	ticks, _ := strconv.Atoi(t.env["GANTRY_TEST_TICKS"])
	for i := 1; i <= ticks; i++ {
		at := t.created.Add(20*time.Millisecond + time.Duration(i)*100*time.Millisecond)
		if at.After(time.Now()) || !t.stopped.IsZero() && at.After(t.stopped) {
			break
		}
		lines = append(lines, fmt.Sprintf("tick %d", i))
	}
	from, _ := strconv.Atoi(strings.TrimPrefix(fmt.Sprint(in["nextToken"]), "f/"))
	to := min(len(lines), from+100)
	events := []any{}
	for i := from; i < to; i++ {
		events = append(events, map[string]any{"timestamp": t.created.UnixMilli() + int64(i), "message": lines[i], "ingestionTime": t.created.UnixMilli()})
	}
	reply(w, map[string]any{"events": events, "nextForwardToken": fmt.Sprintf("f/%d", to), "nextBackwardToken": "b/0"})
}
