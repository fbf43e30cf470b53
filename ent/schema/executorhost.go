package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/gantry/gantry/ent/schematype"
)

// ExecutorHost is one place jobs can run (the seeds' DockerHost): a Docker
// daemon, a cloud executor account/region, or the mock executor.
type ExecutorHost struct{ ent.Schema }

// Mixin of the ExecutorHost.
func (ExecutorHost) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the ExecutorHost.
func (ExecutorHost) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").MaxLen(100).NotEmpty().Unique().
			Comment("Unique name of this executor host").
			Annotations(entgql.OrderField("NAME")),
		field.Enum("host_type").Values("tcp", "unix").Default("unix").
			Comment("How to reach a Docker daemon: TCP or Unix socket"),
		field.String("connection_string").MaxLen(500).Default("").
			Comment("Docker connection string (e.g., tcp://192.168.1.100:2376 or unix:///var/run/docker.sock)"),
		field.Bool("is_active").Default(true).
			Comment("Inactive hosts receive no new jobs"),
		field.Bool("tls_enabled").Default(false).
			Comment("Use TLS for TCP connections"),
		field.Bool("tls_verify").Default(false).
			Comment("Verify the daemon's TLS certificate"),
		field.Bool("auto_pull_images").Default(true).
			Comment("Automatically pull Docker images that don't exist locally"),

		// Seed 000: multi-executor support.
		field.Enum("executor_type").GoType(schematype.ExecutorType("")).Annotations(entgql.Type("ExecutorType")).Default("docker").
			Comment("Type of container executor this host represents").
			Annotations(entgql.OrderField("EXECUTOR_TYPE")),
		field.JSON("executor_config", map[string]any{}).Default(map[string]any{}).Optional().
			Sensitive().
			Comment("Executor-specific configuration (credentials, regions, etc.). Write-only: never returned by the API.").
			Annotations(entgql.Type("Map"), entgql.Skip(entgql.SkipType, entgql.SkipWhereInput, entgql.SkipOrderField)),
		field.Int("max_concurrent_jobs").Default(10).NonNegative().
			Comment("Maximum number of concurrent jobs for this executor"),
		field.Int("current_job_count").Default(0).NonNegative().
			Comment("Currently running job count (updated by worker process)").
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		decimalField("cost_per_hour", "Estimated cost per hour for this executor"),
		decimalField("cost_per_job", "Estimated cost per job execution"),
		field.Int("average_startup_time").Optional().Nillable().NonNegative().
			Comment("Average container startup time in seconds"),
		field.Time("last_health_check").Optional().Nillable().
			Comment("Last successful health check timestamp").
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		field.Int("health_check_failures").Default(0).NonNegative().
			Comment("Consecutive health check failures").
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),

		// Gantry additions.
		field.Int("weight").Default(100).NonNegative().
			Comment("Routing weight: among equally good hosts, a higher weight is preferred"),
		field.Int("memory_capacity_mb").Optional().Nillable().Positive().
			Comment("Largest memory (MB) one job may ask for on this host; jobs needing more are routed elsewhere. Null: no limit"),
		field.Float("cpu_capacity").Optional().Nillable().Positive().
			Comment("Most CPU cores one job may ask for on this host; null: no limit"),
	}
}

// Edges of the ExecutorHost.
func (ExecutorHost) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("jobs", ContainerJob.Type).Ref("docker_host").
			Annotations(entgql.RelayConnection(), entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
	}
}

// Annotations of the ExecutorHost.
func (ExecutorHost) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("executorHosts"),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
		entsql.Checks(map[string]string{
			"check_current_job_count_range":      "current_job_count >= 0",
			"check_max_concurrent_jobs_positive": "max_concurrent_jobs >= 0",
		}),
	}
}
