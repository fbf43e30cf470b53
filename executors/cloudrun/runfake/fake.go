// Package runfake is a local fake of the Cloud Run Admin API v2 over gRPC,
// for the official client's requests: Jobs (CreateJob, GetJob, ListJobs,
// RunJob), Executions (GetExecution, ListExecutions, CancelExecution),
// Tasks (ListTasks, GetTask), the long-running Operations service, and
// Cloud Logging's ListLogEntries for the executions' output.
// Executions follow the test-workload protocol in their environment
// overrides and derive their state from the clock. The fake can add
// latency, throttle (RESOURCE_EXHAUSTED), refuse capacity (UNAVAILABLE),
// fail an image (CONTAINER_MISSING), and check each request's bearer token
// is a JWT signed by a given service-account key.
package runfake

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Server is a running fake. Addr is its host:port.
type Server struct {
	Addr string
	srv  *grpc.Server

	mu         sync.Mutex
	jobs       map[string]*runpb.Job
	execs      map[string]*execution
	ops        map[string]*longrunningpb.Operation
	throttle   int
	retryAfter time.Duration
	noCapacity int
	latency    time.Duration
	key        *rsa.PublicKey
	email      string
	calls      map[string]int
	// Issuers lists each request's verified token issuer ("" when the
	// request carried no token); requests with a bad token are refused.
	Issuers []string
}

type execution struct {
	pb        *runpb.Execution
	env       map[string]string
	created   time.Time
	cancelled time.Time
}

// New starts a fake on a free local port.
func New() (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runfake listen: %w", err)
	}
	s := &Server{Addr: lis.Addr().String(), jobs: map[string]*runpb.Job{}, execs: map[string]*execution{},
		ops: map[string]*longrunningpb.Operation{}, calls: map[string]int{}}
	s.srv = grpc.NewServer(grpc.UnaryInterceptor(s.intercept))
	runpb.RegisterJobsServer(s.srv, jobs{s: s})
	runpb.RegisterExecutionsServer(s.srv, executions{s: s})
	runpb.RegisterTasksServer(s.srv, tasks{s: s})
	loggingpb.RegisterLoggingServiceV2Server(s.srv, logging{s: s})
	longrunningpb.RegisterOperationsServer(s.srv, operations{s: s})
	go func() { _ = s.srv.Serve(lis) }()
	return s, nil
}

// Close stops the fake.
func (s *Server) Close() { s.srv.Stop() }

// RequireKey makes the fake accept only requests whose bearer token is a
// JWT issued by email and signed by key (RS256).
func (s *Server) RequireKey(email string, key *rsa.PublicKey) {
	s.mu.Lock()
	s.email, s.key = email, key
	s.mu.Unlock()
}

// Throttle answers the next n requests with RESOURCE_EXHAUSTED, asking the
// caller (RetryInfo) to wait retryAfter.
func (s *Server) Throttle(n int, retryAfter time.Duration) {
	s.mu.Lock()
	s.throttle, s.retryAfter = n, retryAfter
	s.mu.Unlock()
}

// NoCapacity makes the next n RunJob calls fail with UNAVAILABLE.
func (s *Server) NoCapacity(n int) { s.mu.Lock(); s.noCapacity = n; s.mu.Unlock() }

// DeleteJobs deletes every Cloud Run Job (as an operator might), keeping
// their executions' history.
func (s *Server) DeleteJobs() { s.mu.Lock(); clear(s.jobs); s.mu.Unlock() }

// Latency delays every request by d.
func (s *Server) Latency(d time.Duration) { s.mu.Lock(); s.latency = d; s.mu.Unlock() }

// Calls is how many times a method (e.g. "RunJob") was called.
func (s *Server) Calls(method string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls[method] }

func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	s.mu.Lock()
	delay := s.latency
	method := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
	s.calls[method]++
	issuer, err := s.verify(ctx)
	s.Issuers = append(s.Issuers, issuer)
	throttled, after := s.throttle > 0, s.retryAfter
	if throttled {
		s.throttle--
	}
	s.mu.Unlock()
	time.Sleep(delay)
	if err != nil {
		return nil, err
	}
	if throttled {
		st, _ := status.New(codes.ResourceExhausted, "Quota exceeded for quota metric 'Requests' of service 'run.googleapis.com'").
			WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(after)})
		return nil, st.Err()
	}
	return h(ctx, req)
}

// verify checks the request's bearer token, when a key is required.
func (s *Server) verify(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	auth := strings.TrimPrefix(strings.Join(md.Get("authorization"), ""), "Bearer ")
	if s.key == nil {
		return "", nil
	}
	parts := strings.Split(auth, ".")
	if len(parts) != 3 {
		return "", status.Error(codes.Unauthenticated, "request had invalid authentication credentials")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || rsa.VerifyPKCS1v15(s.key, crypto.SHA256, digest[:], sig) != nil {
		return "", status.Error(codes.Unauthenticated, "token signature invalid")
	}
	var claims struct{ Iss string }
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(payload, &claims) != nil || claims.Iss != s.email {
		return "", status.Error(codes.Unauthenticated, "token issuer unknown")
	}
	return claims.Iss, nil
}

func (s *Server) operation(parent string, done bool, msg proto.Message) *longrunningpb.Operation {
	payload, _ := anypb.New(msg)
	op := &longrunningpb.Operation{Name: parent + "/operations/" + uuid.NewString(), Done: done}
	if done {
		op.Result = &longrunningpb.Operation_Response{Response: payload}
	} else {
		op.Metadata = payload
	}
	s.ops[op.Name] = op
	return op
}

// location is "projects/p/locations/r" of a resource name.
func location(name string) string {
	parts := strings.SplitN(name, "/", 5)
	if len(parts) < 4 {
		return name
	}
	return strings.Join(parts[:4], "/")
}

type jobs struct {
	runpb.UnimplementedJobsServer
	s *Server
}

func (j jobs) CreateJob(_ context.Context, r *runpb.CreateJobRequest) (*longrunningpb.Operation, error) {
	s := j.s
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.GetParent() + "/jobs/" + r.GetJobId()
	if _, ok := s.jobs[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Resource '%s' already exists.", r.GetJobId())
	}
	if len(r.GetJob().GetTemplate().GetTemplate().GetContainers()) != 1 || r.GetJob().GetTemplate().GetTemplate().GetContainers()[0].GetImage() == "" {
		return nil, status.Error(codes.InvalidArgument, "spec.template.spec.containers: exactly one container with an image is required")
	}
	job := proto.Clone(r.GetJob()).(*runpb.Job)
	job.Name, job.CreateTime, job.Uid = name, timestamppb.Now(), uuid.NewString()
	s.jobs[name] = job
	return s.operation(r.GetParent(), true, job), nil
}

func (j jobs) GetJob(_ context.Context, r *runpb.GetJobRequest) (*runpb.Job, error) {
	j.s.mu.Lock()
	defer j.s.mu.Unlock()
	job, ok := j.s.jobs[r.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Resource '%s' was not found", r.GetName())
	}
	return job, nil
}

func (j jobs) ListJobs(_ context.Context, r *runpb.ListJobsRequest) (*runpb.ListJobsResponse, error) {
	j.s.mu.Lock()
	defer j.s.mu.Unlock()
	out := &runpb.ListJobsResponse{}
	for name, job := range j.s.jobs {
		if strings.HasPrefix(name, r.GetParent()+"/") {
			out.Jobs = append(out.Jobs, job)
		}
	}
	sort.Slice(out.Jobs, func(a, b int) bool { return out.Jobs[a].Name < out.Jobs[b].Name })
	return out, nil
}

func (j jobs) RunJob(_ context.Context, r *runpb.RunJobRequest) (*longrunningpb.Operation, error) {
	s := j.s
	s.mu.Lock()
	defer s.mu.Unlock()
	job, ok := s.jobs[r.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Resource '%s' was not found", r.GetName())
	}
	if s.noCapacity > 0 {
		s.noCapacity--
		return nil, status.Error(codes.Unavailable, "The service is currently unavailable: no capacity in the region")
	}
	tmpl := proto.Clone(job.GetTemplate().GetTemplate()).(*runpb.TaskTemplate)
	env := map[string]string{}
	for _, co := range r.GetOverrides().GetContainerOverrides() {
		tmpl.Containers[0].Env = append(tmpl.Containers[0].Env, co.GetEnv()...)
	}
	for _, v := range tmpl.Containers[0].GetEnv() {
		env[v.GetName()] = v.GetValue()
	}
	if t := r.GetOverrides().GetTimeout(); t != nil {
		tmpl.Timeout = t
	}
	job.ExecutionCount++
	id := fmt.Sprintf("%s-%s", job.Name[strings.LastIndex(job.Name, "/")+1:], uuid.NewString()[:5])
	now := time.Now()
	pb := &runpb.Execution{Name: job.Name + "/executions/" + id, Uid: uuid.NewString(), Job: job.Name, TaskCount: 1,
		Template: tmpl, CreateTime: timestamppb.New(now), Labels: job.Labels,
		LogUri: "https://console.cloud.google.com/logs/viewer?project=" + strings.Split(job.Name, "/")[1] + "&resource=cloud_run_job"}
	s.execs[pb.Name] = &execution{pb: pb, env: env, created: now}
	return s.operation(location(job.Name), false, pb), nil
}

type executions struct {
	runpb.UnimplementedExecutionsServer
	s *Server
}

func (e executions) find(name string) (*execution, error) {
	x, ok := e.s.execs[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Resource '%s' was not found", name)
	}
	return x, nil
}

func (e executions) GetExecution(_ context.Context, r *runpb.GetExecutionRequest) (*runpb.Execution, error) {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	x, err := e.find(r.GetName())
	if err != nil {
		return nil, err
	}
	return x.snapshot(), nil
}

func (e executions) ListExecutions(_ context.Context, r *runpb.ListExecutionsRequest) (*runpb.ListExecutionsResponse, error) {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	var found []*execution
	for name, x := range e.s.execs {
		if strings.HasPrefix(name, r.GetParent()+"/executions/") {
			found = append(found, x)
		}
	}
	sort.Slice(found, func(a, b int) bool { return found[a].created.After(found[b].created) }) // newest first
	from, _ := strconv.Atoi(r.GetPageToken())
	size := int(r.GetPageSize())
	if size <= 0 || size > 100 {
		size = 100
	}
	to := min(len(found), from+size)
	out := &runpb.ListExecutionsResponse{}
	for _, x := range found[min(from, to):to] {
		out.Executions = append(out.Executions, x.snapshot())
	}
	if to < len(found) {
		out.NextPageToken = strconv.Itoa(to)
	}
	return out, nil
}

func (e executions) CancelExecution(_ context.Context, r *runpb.CancelExecutionRequest) (*longrunningpb.Operation, error) {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	x, err := e.find(r.GetName())
	if err != nil {
		return nil, err
	}
	if x.snapshot().CompletionTime != nil {
		return nil, status.Error(codes.FailedPrecondition, "execution already completed")
	}
	x.cancelled = time.Now()
	return e.s.operation(location(x.pb.Name), true, x.snapshot()), nil
}

type tasks struct {
	runpb.UnimplementedTasksServer
	s *Server
}

func (t tasks) ListTasks(_ context.Context, r *runpb.ListTasksRequest) (*runpb.ListTasksResponse, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	x, err := executions{s: t.s}.find(r.GetParent())
	if err != nil {
		return nil, err
	}
	return &runpb.ListTasksResponse{Tasks: []*runpb.Task{x.task()}}, nil
}

func (t tasks) GetTask(_ context.Context, r *runpb.GetTaskRequest) (*runpb.Task, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	x, err := executions{s: t.s}.find(r.GetName()[:max(0, strings.Index(r.GetName(), "/tasks/"))])
	if err != nil {
		return nil, err
	}
	return x.task(), nil
}

type operations struct {
	longrunningpb.UnimplementedOperationsServer
	s *Server
}

func (o operations) GetOperation(_ context.Context, r *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	op, ok := o.s.ops[r.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "operation %s not found", r.GetName())
	}
	return op, nil
}

// phase is where an execution is, derived from the clock.
type phase struct {
	started, ended time.Time
	running        bool
	exit           *int32 // task exit code, when the container ended
	missing        bool   // image could not be found
	cancelled      bool
}

func (x *execution) phase() phase {
	p := phase{started: x.created.Add(20 * time.Millisecond)}
	sleep, _ := strconv.Atoi(x.env["GANTRY_TEST_SLEEP_MS"])
	ticks, _ := strconv.Atoi(x.env["GANTRY_TEST_TICKS"])
	end := p.started.Add(time.Duration(sleep+100*ticks) * time.Millisecond)
	never := x.env["GANTRY_TEST_NEVER_EXIT"] == "1"
	now := time.Now()
	switch {
	case now.Before(p.started) && x.cancelled.IsZero():
	case x.env["GANTRY_FAKE_PULL_FAIL"] == "1":
		p.missing, p.ended = true, p.started
	case !x.cancelled.IsZero() && (never || x.cancelled.Before(end)):
		p.cancelled, p.ended = true, x.cancelled
	case never || now.Before(end):
		p.running = true
	default:
		code, _ := strconv.Atoi(x.env["GANTRY_TEST_EXIT"])
		c := int32(code)
		p.exit, p.ended = &c, end
	}
	return p
}

// snapshot renders the execution in its current state.
func (x *execution) snapshot() *runpb.Execution {
	pb := proto.Clone(x.pb).(*runpb.Execution)
	p := x.phase()
	cond := &runpb.Condition{Type: "Completed", State: runpb.Condition_CONDITION_PENDING}
	pb.Conditions = []*runpb.Condition{cond}
	if p.running || !p.ended.IsZero() {
		pb.StartTime = timestamppb.New(p.started)
	}
	if p.running {
		pb.RunningCount = 1
	}
	if p.ended.IsZero() {
		return pb
	}
	pb.CompletionTime = timestamppb.New(p.ended)
	cond.State = runpb.Condition_CONDITION_FAILED
	switch {
	case p.missing:
		pb.FailedCount, pb.StartTime = 1, nil
		cond.Reasons = &runpb.Condition_Reason{Reason: runpb.Condition_CONTAINER_MISSING}
		cond.Message = fmt.Sprintf("Image '%s' not found.", pb.GetTemplate().GetContainers()[0].GetImage())
	case p.cancelled:
		pb.CancelledCount = 1
		cond.Reasons = &runpb.Condition_ExecutionReason_{ExecutionReason: runpb.Condition_CANCELLED}
		cond.Message = "The execution was cancelled."
	case *p.exit == 0:
		pb.SucceededCount, cond.State = 1, runpb.Condition_CONDITION_SUCCEEDED
		cond.Message = "Execution completed successfully in 1 task."
	default:
		pb.FailedCount = 1
		cond.Reasons = &runpb.Condition_ExecutionReason_{ExecutionReason: runpb.Condition_NON_ZERO_EXIT_CODE}
		cond.Message = "Task failed with a non-zero exit code."
	}
	return pb
}

// task renders the execution's single task.
func (x *execution) task() *runpb.Task {
	p := x.phase()
	t := &runpb.Task{Name: x.pb.Name + "/tasks/" + x.pb.Name[strings.LastIndex(x.pb.Name, "/")+1:] + "-task0",
		Execution: x.pb.Name, Job: x.pb.Job, Index: 0}
	if p.exit != nil {
		t.CompletionTime = timestamppb.New(p.ended)
		t.LastAttemptResult = &runpb.TaskAttemptResult{ExitCode: *p.exit}
		if *p.exit != 0 {
			t.LastAttemptResult.Status = &spb.Status{Code: int32(codes.Unknown), Message: fmt.Sprintf("Task failed with exit code %d", *p.exit)}
		}
	}
	return t
}

// NewServiceAccount makes a service-account key file for email and makes
// the fake trust only tokens it signs. It returns the key file (JSON) and
// its private key (PEM), the secret a test checks never leaks.
func (s *Server) NewServiceAccount(email string) (keyJSON, privatePEM string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("encode key: %w", err)
	}
	privatePEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	b, err := json.Marshal(map[string]string{"type": "service_account", "private_key_id": "k1", "private_key": privatePEM,
		"client_email": email, "token_uri": "https://oauth2.googleapis.com/token"})
	if err != nil {
		return "", "", err
	}
	s.RequireKey(email, &key.PublicKey)
	return string(b), privatePEM, nil
}
