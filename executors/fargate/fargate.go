// Package fargate runs jobs as AWS ECS tasks on Fargate through the
// official SDK: a task definition per distinct spec (sized to a valid
// Fargate CPU/memory pair), RunTask per attempt with a client token so a
// repeated launch cannot start a second task.
package fargate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/executors"
)

func init() { executors.Register(schematype.ExecutorFargate, New) }

// Config is a Fargate host's executor_config.
type Config struct {
	Region           string
	Cluster          string
	Subnets          []string
	SecurityGroups   []string
	ExecutionRoleARN string
	AccessKeyID      string
	SecretAccessKey  string
	Endpoint         string
	// LogGroup, when set, sends task output to this CloudWatch Logs group
	// (awslogs driver), from where Gantry harvests it.
	LogGroup string
	// Size is the default task size for jobs that set no limits.
	Size size
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d$`)
	roleRE   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)
	subnetRE = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	sgRE     = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	// logGroupRE: 1-512 of [.-_/#A-Za-z0-9], as CloudWatch Logs allows.
	logGroupRE = regexp.MustCompile(`^[.\-_/#A-Za-z0-9]{1,512}$`)
)

// ParseConfig validates executor_config; errors name the key, never a value.
func ParseConfig(raw map[string]any) (Config, error) {
	str := func(k string) string { s, _ := raw[k].(string); return s }
	list := func(k string) []string {
		var out []string
		if vs, ok := raw[k].([]any); ok {
			for _, v := range vs {
				s, _ := v.(string)
				out = append(out, s)
			}
		}
		return out
	}
	c := Config{Region: str("region"), Cluster: str("cluster"), Subnets: list("subnets"), SecurityGroups: list("security_groups"),
		ExecutionRoleARN: str("execution_role_arn"), AccessKeyID: str("access_key_id"), SecretAccessKey: str("secret_access_key"), Endpoint: str("endpoint"),
		LogGroup: str("log_group")}
	switch {
	case !regionRE.MatchString(c.Region):
		return c, errors.New("fargate executor_config: region is missing or not an AWS region (e.g. eu-west-1)")
	case c.Cluster == "":
		return c, errors.New("fargate executor_config: cluster is missing")
	case len(c.Subnets) == 0:
		return c, errors.New("fargate executor_config: subnets needs at least one subnet id")
	case !roleRE.MatchString(c.ExecutionRoleARN):
		return c, errors.New("fargate executor_config: execution_role_arn is not an IAM role ARN")
	case c.LogGroup != "" && !logGroupRE.MatchString(c.LogGroup):
		return c, errors.New("fargate executor_config: log_group is not a CloudWatch Logs group name")
	case (c.AccessKeyID == "") != (c.SecretAccessKey == ""):
		return c, errors.New("fargate executor_config: give both access_key_id and secret_access_key, or neither (default credential chain)")
	}
	cpu, err := executors.Number(raw, "cpu")
	if err != nil {
		return c, fmt.Errorf("fargate executor_config: %w", err)
	}
	memory, err := executors.Number(raw, "memory")
	if err != nil {
		return c, fmt.Errorf("fargate executor_config: %w", err)
	}
	sz, err := defaultSize(cpu, memory)
	if err != nil {
		return c, err
	}
	c.Size = sz
	for _, s := range c.Subnets {
		if !subnetRE.MatchString(s) {
			return c, errors.New("fargate executor_config: subnets holds a malformed subnet id")
		}
	}
	for _, s := range c.SecurityGroups {
		if !sgRE.MatchString(s) {
			return c, errors.New("fargate executor_config: security_groups holds a malformed group id")
		}
	}
	return c, nil
}

// Executor is one ECS cluster in one region.
type Executor struct {
	host executors.Host
	cfg  Config
	api  *ecs.Client
	logs *cloudwatchlogs.Client

	mu   sync.Mutex
	defs map[string]string // family -> task definition ARN
}

// New builds the executor; nothing is called until it is used.
func New(host executors.Host) (executors.Executor, error) {
	cfg, err := ParseConfig(host.Config)
	if err != nil {
		return nil, err
	}
	opts := ecs.Options{Region: cfg.Region, RetryMaxAttempts: 1}
	logOpts := cloudwatchlogs.Options{Region: cfg.Region, RetryMaxAttempts: 1}
	if cfg.AccessKeyID != "" {
		opts.Credentials = credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")
		logOpts.Credentials = opts.Credentials
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
		logOpts.BaseEndpoint = opts.BaseEndpoint
	}
	return &Executor{host: host, cfg: cfg, api: ecs.New(opts), logs: cloudwatchlogs.New(logOpts), defs: map[string]string{}}, nil
}

const container = "job"

// classify maps AWS errors to failure classes.
func (e *Executor) classify(op string, err error) error {
	msg := err.Error()
	for _, s := range []string{e.cfg.SecretAccessKey, e.cfg.AccessKeyID} {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	wrapped := fmt.Errorf("fargate %s: %s", op, msg)
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ThrottlingException":
			return executors.ThrottledError(wrapped, 0)
		case "ServerException", "LimitExceededException":
			return executors.TransientError(wrapped)
		case "ClientException", "InvalidParameterException": // the job's spec is refused
			return executors.PermanentError(wrapped)
		}
	}
	// Server errors, and AccessDenied, ClusterNotFound, UnrecognizedClient
	// and the like — the host's problem (its role, its cluster), not the
	// job's: the job retries, elsewhere, and the host's breaker opens.
	return executors.TransientError(wrapped)
}

// Launch implements executors.Executor.
func (e *Executor) Launch(ctx context.Context, spec executors.Spec) (string, error) {
	sz, err := sizeFor(spec, e.cfg.Size)
	if err != nil {
		return "", executors.PermanentError(err)
	}
	def, err := e.taskDefinition(ctx, spec, sz)
	if err != nil {
		return "", err
	}
	env := make([]types.KeyValuePair, 0, len(spec.Env))
	for k, v := range spec.Env {
		env = append(env, types.KeyValuePair{Name: aws.String(k), Value: aws.String(v)})
	}
	var tags []types.Tag
	for k, v := range spec.BaseLabels(e.host, "") {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := e.api.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String(e.cfg.Cluster), TaskDefinition: aws.String(def), LaunchType: types.LaunchTypeFargate, Count: aws.Int32(1),
		// The client token makes RunTask idempotent per attempt.
		ClientToken: aws.String(spec.ExecutionName()[:min(64, len(spec.ExecutionName()))]),
		StartedBy:   aws.String("gantry"),
		Tags:        tags,
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: e.cfg.Subnets, SecurityGroups: e.cfg.SecurityGroups}},
		Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{Name: aws.String(container), Environment: env}}},
	})
	if err != nil {
		return "", e.classify("run task", err)
	}
	if len(out.Tasks) == 0 {
		reason := "no task started"
		if len(out.Failures) > 0 {
			reason = aws.ToString(out.Failures[0].Reason)
		}
		return "", executors.TransientError(fmt.Errorf("fargate run task: %s", reason))
	}
	return aws.ToString(out.Tasks[0].TaskArn), nil
}

// taskDefinition registers (once per spec and size) the task definition.
func (e *Executor) taskDefinition(ctx context.Context, spec executors.Spec, sz size) (string, error) {
	sum := sha256.Sum256([]byte(fmt.Sprint(spec.Image, "\x00", strings.Join(spec.Command, "\x00"), "\x00", spec.WorkingDir, sz.cpu, sz.memory,
		"\x00", e.cfg.LogGroup)))
	family := "gantry-" + hex.EncodeToString(sum[:])[:16]
	e.mu.Lock()
	arn, ok := e.defs[family]
	e.mu.Unlock()
	if ok {
		return arn, nil
	}
	cd := types.ContainerDefinition{Name: aws.String(container), Image: aws.String(spec.Image), Essential: aws.Bool(true)}
	if len(spec.Command) > 0 {
		cd.Command = spec.Command
	}
	if spec.WorkingDir != "" {
		cd.WorkingDirectory = aws.String(spec.WorkingDir)
	}
	if e.cfg.LogGroup != "" {
		cd.LogConfiguration = &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{
			"awslogs-group": e.cfg.LogGroup, "awslogs-region": e.cfg.Region, "awslogs-stream-prefix": logPrefix}}
	}
	out, err := e.api.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(family), RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		NetworkMode: types.NetworkModeAwsvpc, Cpu: aws.String(strconv.Itoa(sz.cpu)), Memory: aws.String(strconv.Itoa(sz.memory)),
		ExecutionRoleArn: aws.String(e.cfg.ExecutionRoleARN), ContainerDefinitions: []types.ContainerDefinition{cd},
	})
	if err != nil {
		return "", e.classify("register task definition", err)
	}
	arn = aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	e.mu.Lock()
	e.defs[family] = arn
	e.mu.Unlock()
	return arn, nil
}

func (e *Executor) describe(ctx context.Context, arns []string) ([]types.Task, error) {
	out, err := e.api.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(e.cfg.Cluster), Tasks: arns,
		Include: []types.TaskField{types.TaskFieldTags}})
	if err != nil {
		return nil, e.classify("describe tasks", err)
	}
	return out.Tasks, nil
}

// Status implements executors.Executor, mapping every task status.
func (e *Executor) Status(ctx context.Context, id string) (executors.Status, error) {
	tasks, err := e.describe(ctx, []string{id})
	if err != nil {
		return executors.Status{}, err
	}
	if len(tasks) == 0 {
		return executors.Status{}, executors.ErrNotFound
	}
	return statusOf(tasks[0]), nil
}

func statusOf(t types.Task) executors.Status {
	s := executors.Status{StartedAt: aws.ToTime(t.StartedAt), FinishedAt: aws.ToTime(t.StoppedAt), Reason: aws.ToString(t.StoppedReason)}
	switch aws.ToString(t.LastStatus) {
	case "PROVISIONING", "PENDING", "ACTIVATING":
		s.State = executors.StatePending
	case "STOPPED":
		for _, c := range t.Containers {
			if aws.ToString(c.Name) == container && c.ExitCode != nil {
				code := int(*c.ExitCode)
				s.State, s.ExitCode = executors.StateExited, &code
				return s
			}
		}
		// Stopped without an exit code: the provider failed the task.
		s.State, s.Class = executors.StateFailed, executors.Transient
		if strings.Contains(s.Reason, "CannotPullContainer") {
			s.Class = executors.Permanent // a bad image does not heal by retrying
		}
	default: // RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING
		s.State = executors.StateRunning
	}
	return s
}

// Logs implements executors.Executor. With a log_group, the output is
// read back from the task's CloudWatch Logs stream (stdout and stderr
// arrive merged there, in order); without one, the job gets a note.
func (e *Executor) Logs(ctx context.Context, id string) (executors.Logs, error) {
	if _, err := e.Status(ctx, id); err != nil {
		return executors.Logs{}, err
	}
	if e.cfg.LogGroup == "" {
		return executors.Logs{Stdout: fmt.Sprintf("[gantry] output of Fargate task %s is wherever its log driver sends it; set log_group in the host's executor_config to harvest it from CloudWatch Logs\n", id)}, nil
	}
	return e.cloudWatch(ctx, id)
}

// LogPoll is how often StreamLogs reads new events from CloudWatch Logs.
var LogPoll = 2 * time.Second

// StreamLogs implements executors.LogStreamer when the host has a
// log_group: it follows the task's stream with GetLogEvents' forward
// token until the task stops, then reads once more for the last lines.
// Without a log_group it reports that nothing can be followed.
func (e *Executor) StreamLogs(ctx context.Context, id string, emit func(stream, line string)) error {
	if e.cfg.LogGroup == "" {
		return errors.New("fargate: no log_group configured; output cannot be followed")
	}
	in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(e.cfg.LogGroup),
		LogStreamName: aws.String(e.logStream(id)), StartFromHead: aws.Bool(true)}
	for {
		s, err := e.Status(ctx, id)
		if err != nil {
			return err
		}
		if err := e.drain(ctx, in, emit); err != nil {
			return err
		}
		if s.Ended() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(LogPoll):
		}
	}
}

// drain emits every event after in.NextToken and moves the token on.
func (e *Executor) drain(ctx context.Context, in *cloudwatchlogs.GetLogEventsInput, emit func(stream, line string)) error {
	for {
		out, err := e.logs.GetLogEvents(ctx, in)
		var nf *cwtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil // the stream appears once the container writes
		}
		if err != nil {
			return e.classify("get log events", err)
		}
		for _, ev := range out.Events {
			emit("stdout", strings.TrimSuffix(aws.ToString(ev.Message), "\n"))
		}
		next := aws.ToString(out.NextForwardToken)
		moved := next != "" && next != aws.ToString(in.NextToken)
		if next != "" {
			in.NextToken = out.NextForwardToken
		}
		if len(out.Events) == 0 || !moved {
			return nil
		}
	}
}

func (e *Executor) logStream(id string) string {
	return fmt.Sprintf("%s/%s/%s", logPrefix, container, id[strings.LastIndex(id, "/")+1:])
}

// logPrefix is the awslogs stream prefix: streams are prefix/container/task-id.
const logPrefix = "gantry"

// maxLogBytes bounds what is read from CloudWatch per task.
const maxLogBytes = 1 << 20

func (e *Executor) cloudWatch(ctx context.Context, id string) (executors.Logs, error) {
	stream := e.logStream(id)
	in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(e.cfg.LogGroup), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true)}
	var b strings.Builder
	for b.Len() < maxLogBytes {
		out, err := e.logs.GetLogEvents(ctx, in)
		var nf *cwtypes.ResourceNotFoundException
		if errors.As(err, &nf) { // the task never wrote (or never started)
			return executors.Logs{Stdout: fmt.Sprintf("[gantry] no CloudWatch log stream %s in %s\n", stream, e.cfg.LogGroup)}, nil
		}
		if err != nil {
			return executors.Logs{}, e.classify("get log events", err)
		}
		for _, ev := range out.Events {
			b.WriteString(strings.TrimSuffix(aws.ToString(ev.Message), "\n"))
			b.WriteByte('\n')
		}
		// The end of the stream is when the forward token stops moving.
		if len(out.Events) == 0 || aws.ToString(out.NextForwardToken) == aws.ToString(in.NextToken) {
			break
		}
		in.NextToken = out.NextForwardToken
	}
	return executors.Logs{Stdout: b.String()}, nil
}

// Stop implements executors.Executor.
func (e *Executor) Stop(ctx context.Context, id string, _ time.Duration) error {
	_, err := e.api.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(e.cfg.Cluster), Task: aws.String(id), Reason: aws.String("stopped by Gantry")})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "InvalidParameterException" && strings.Contains(ae.ErrorMessage(), "not found") {
		return executors.ErrNotFound
	}
	if err != nil {
		return e.classify("stop task", err)
	}
	return nil
}

// Cleanup implements executors.Executor: stopped tasks expire at AWS.
func (e *Executor) Cleanup(context.Context, string) error { return nil }

// Health implements executors.Executor.
func (e *Executor) Health(ctx context.Context) error {
	if _, err := e.api.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(e.cfg.Cluster), MaxResults: aws.Int32(1)}); err != nil {
		return fmt.Errorf("fargate host %s: %w", e.host.Name, e.classify("list tasks", err))
	}
	return nil
}

// List implements executors.Executor over the cluster's Gantry tasks.
func (e *Executor) List(ctx context.Context, match map[string]string) ([]executors.Execution, error) {
	var arns []string
	p := ecs.NewListTasksPaginator(e.api, &ecs.ListTasksInput{Cluster: aws.String(e.cfg.Cluster), StartedBy: aws.String("gantry")})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, e.classify("list tasks", err)
		}
		arns = append(arns, out.TaskArns...)
	}
	var res []executors.Execution
	for len(arns) > 0 {
		n := min(100, len(arns))
		tasks, err := e.describe(ctx, arns[:n])
		if err != nil {
			return nil, err
		}
		arns = arns[n:]
		for _, t := range tasks {
			labels := map[string]string{}
			for _, tag := range t.Tags {
				labels[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
			}
			if labels[executors.LabelHostID] != e.host.ID.String() || !executors.Matches(labels, match) {
				continue
			}
			jobID, _ := uuid.Parse(labels[executors.LabelJobID])
			attempt, _ := strconv.Atoi(labels[executors.LabelAttempt])
			res = append(res, executors.Execution{ID: aws.ToString(t.TaskArn), JobID: jobID, Attempt: attempt, Labels: labels, Status: statusOf(t)})
		}
	}
	return res, nil
}

// Describe implements executors.Describer.
func (e *Executor) Describe(spec executors.Spec, id string) map[string]any {
	task := id[strings.LastIndex(id, "/")+1:]
	d := map[string]any{"provider": "fargate", "region": e.cfg.Region, "cluster": e.cfg.Cluster, "taskArn": id,
		"consoleURL": fmt.Sprintf("https://%s.console.aws.amazon.com/ecs/v2/clusters/%s/tasks/%s?region=%s", e.cfg.Region, e.cfg.Cluster, task, e.cfg.Region)}
	if sz, err := sizeFor(spec, e.cfg.Size); err == nil {
		d["size"] = map[string]any{"vcpu": float64(sz.cpu) / 1024, "memoryMiB": sz.memory,
			"note": fmt.Sprintf("requested %g vCPU / %d MiB, rounded up to the nearest Fargate task size", spec.CPU, spec.MemoryMB)}
	}
	return d
}

// RateLimited implements executors.RateLimited: ECS throttles its API.
func (*Executor) RateLimited() {}

// BilledSize implements executors.Sizer.
func (e *Executor) BilledSize(cores float64, memoryMB int) (float64, int) {
	sz, err := sizeFor(executors.Spec{CPU: cores, MemoryMB: memoryMB}, e.cfg.Size)
	if err != nil {
		return cores, memoryMB // no size fits: the launch will say so
	}
	return float64(sz.cpu) / 1024, sz.memory
}
