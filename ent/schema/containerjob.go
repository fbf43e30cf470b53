package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/gantry/gantry/ent/schematype"
)

// ContainerJob is one unit of work with the spec resolved at submission.
type ContainerJob struct{ ent.Schema }

// Mixin of the ContainerJob.
func (ContainerJob) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the ContainerJob.
func (ContainerJob) Fields() []ent.Field {
	fields := []ent.Field{
		field.UUID("template_id", uuidType).Optional().Nillable().
			Comment("Template this job was created from, if any"),
		field.UUID("docker_host_id", uuidType).Optional().Nillable().
			Comment("Executor host the job is routed to"),
		field.String("name").MaxLen(200).Default("").
			Comment("Optional human-readable job name"),
		field.Enum("status").GoType(schematype.JobStatus("")).Annotations(entgql.Type("JobStatus")).Default("pending").
			Comment("Current lifecycle status; changed only by the dispatcher's transition function").
			Annotations(entgql.OrderField("STATUS")),
		field.String("container_id").MaxLen(100).Default("").
			Comment("Docker container ID of the current attempt"),
		field.Int("exit_code").Optional().Nillable().
			Comment("Exit code of the container's main process"),
		field.Time("started_at").Optional().Nillable().
			Comment("When the container started running"),
		field.Time("completed_at").Optional().Nillable().
			Comment("When the job reached a terminal status").
			Annotations(entgql.OrderField("COMPLETED_AT")),
		field.Text("stdout_log").Default("").
			Comment("Captured standard output (capped)"),
		field.Text("stderr_log").Default("").
			Comment("Captured standard error (capped)"),
		field.Int64("max_memory_usage").Optional().Nillable().
			Comment("Peak memory usage in bytes, where the executor reports it"),
		field.Float("cpu_usage_percent").Optional().Nillable().
			Comment("Average CPU usage in percent of one core, where the executor reports it"),
	}
	fields = append(fields, specFields()...)
	fields = append(fields, seed000JobFields()...)
	fields = append(fields, seed004JobFields()...)
	return append(fields, gantryJobFields()...)
}

// seed000JobFields are seed 000's multi-executor fields.
func seed000JobFields() []ent.Field {
	return []ent.Field{
		field.Enum("executor_type").GoType(schematype.ExecutorType("")).Annotations(entgql.Type("ExecutorType")).Default("docker").
			Comment("Container execution backend to use for this job"),
		field.String("external_execution_id").MaxLen(200).Default("").
			Comment("Cloud provider's execution/job ID (e.g., Cloud Run job name, Fargate task ARN)"),
		field.JSON("executor_metadata", map[string]any{}).Default(map[string]any{}).Optional().
			Comment("Provider-specific data like regions, URLs, resource identifiers").
			Annotations(entgql.Type("Map")),
		field.String("preferred_executor").MaxLen(50).Default("").
			Validate(executorTypeValidator(true)).
			Comment("Preferred executor type for this job (overrides routing rules)"),
		field.String("routing_reason").MaxLen(200).Default("").
			Comment("Reason why this executor was chosen (for debugging/analytics)"),
		decimalField("estimated_cost", "Estimated execution cost in USD"),
		decimalField("actual_cost", "Actual execution cost in USD (if available)"),
	}
}

// seed004JobFields are seed 004's queue fields.
func seed004JobFields() []ent.Field {
	return []ent.Field{
		field.Time("queued_at").Optional().Nillable().
			Comment("When job was added to queue for execution").
			Annotations(entgql.OrderField("QUEUED_AT")),
		field.Time("scheduled_for").Optional().Nillable().
			Comment("When job should be launched (for scheduled execution)"),
		field.Time("launched_at").Optional().Nillable().
			Comment("When job container was actually launched"),
		field.Int("retry_count").Default(0).NonNegative().
			Comment("Number of launch attempts made"),
		field.Int("max_retries").Default(3).NonNegative().
			Comment("Maximum launch attempts before giving up"),
		field.Int("priority").Default(50).Range(0, 100).
			Comment("Job priority (0-100, higher numbers = higher priority)").
			Annotations(entgql.OrderField("PRIORITY")),
	}
}

// gantryJobFields are Gantry's own additions beyond the seeds.
func gantryJobFields() []ent.Field {
	return []ent.Field{
		field.Enum("retry_strategy").Values(RetryStrategies...).Default("default").
			Comment("Backoff policy between retries"),
		field.Text("last_error").Default("").
			Comment("Most recent error, with its class (transient or permanent)"),
		field.Time("last_error_at").Optional().Nillable().
			Comment("When last_error was recorded"),
		field.String("idempotency_key").MaxLen(200).Optional().Nillable().Unique().
			Comment("Client-chosen key: submitting the same key again returns the same job"),
		field.JSON("labels", schematype.StringMap{}).Optional().
			Comment("Free-form labels for routing rules and filtering").
			Annotations(entgql.Type("StringMap")),
		field.Bool("oom_killed").Default(false).
			Comment("The container was killed for exceeding its memory limit"),
		field.String("lease_owner").MaxLen(100).Default("").
			Comment("Dispatcher replica currently watching this job"),
		field.Time("lease_expires_at").Optional().Nillable().
			Comment("When the watching replica's lease ends unless renewed"),
		decimalField("max_cost", "Most this job may cost in USD: hosts whose estimate is higher are not used"),
		field.Int("max_startup_seconds").Optional().Nillable().Positive().
			Comment("Start-latency bound: hosts whose average startup time is longer are not used"),
	}
}

// Edges of the ContainerJob.
func (ContainerJob) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("template", ContainerTemplate.Type).Field("template_id").Unique().
			Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.To("docker_host", ExecutorHost.Type).Field("docker_host_id").Unique().
			Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.From("events", JobEvent.Type).Ref("job").
			Annotations(entgql.RelayConnection()),
	}
}

// Indexes of the ContainerJob: seed 004's, with its names.
func (ContainerJob) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("queued_at", "launched_at").StorageKey("idx_containerjob_queue_ready").
			Annotations(entsql.IndexWhere("queued_at IS NOT NULL AND launched_at IS NULL")),
		index.Fields("scheduled_for", "queued_at").StorageKey("idx_containerjob_scheduled").
			Annotations(entsql.IndexWhere("scheduled_for IS NOT NULL")),
		index.Fields("priority", "queued_at").StorageKey("idx_containerjob_priority_queue").
			Annotations(entsql.DescColumns("priority"), entsql.IndexWhere("queued_at IS NOT NULL")),
		index.Fields("queued_at").StorageKey("idx_containerjob_queued_at"),
		index.Fields("launched_at").StorageKey("idx_containerjob_launched_at"),
		index.Fields("scheduled_for").StorageKey("idx_containerjob_scheduled_for"),
		index.Fields("priority").StorageKey("idx_containerjob_priority"),
		index.Fields("queued_at", "retry_count").StorageKey("idx_containerjob_queue_retry"),
		index.Fields("status", "queued_at").StorageKey("idx_containerjob_status_queue"),
		// Gantry: the watcher scans running jobs whose lease has expired.
		index.Fields("status", "lease_expires_at").StorageKey("idx_containerjob_status_lease"),
	}
}

// Annotations of the ContainerJob.
func (ContainerJob) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("containerJobs"),
		entgql.RelayConnection(),
		entsql.Checks(map[string]string{
			"check_priority_range":       "priority >= 0 AND priority <= 100",
			"check_retry_count_positive": "retry_count >= 0",
			"check_max_retries_positive": "max_retries >= 0",
		}),
	}
}
