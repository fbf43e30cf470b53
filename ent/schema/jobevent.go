package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
)

var uuidType = uuid.UUID{}

// JobEvent is the append-only history of a job: one row per status change.
type JobEvent struct{ ent.Schema }

// Mixin of the JobEvent.
func (JobEvent) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields of the JobEvent.
func (JobEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("sequence").Optional().Nillable().Unique().
			Comment("Monotonically increasing position in the global event stream; the subscription cursor. Null for a moment after commit on PostgreSQL, until the sequencer numbers the event").
			Annotations(entgql.OrderField("SEQUENCE")),
		field.UUID("job_id", uuidType).Immutable().
			Comment("The job whose status changed"),
		field.Enum("from_status").GoType(schematype.JobStatus("")).Annotations(entgql.Type("JobStatus")).Optional().Nillable().Immutable().
			Comment("Status before the change; null for the first event"),
		field.Enum("to_status").GoType(schematype.JobStatus("")).Annotations(entgql.Type("JobStatus")).Immutable().
			Comment("Status after the change"),
		field.Text("reason").Default("").Immutable().
			Comment("Why the status changed"),
		field.UUID("host_id", uuidType).Optional().Nillable().Immutable().
			Comment("Executor host of the job at the time of the change"),
		field.Enum("executor_type").GoType(schematype.ExecutorType("")).Annotations(entgql.Type("ExecutorType")).Default("docker").Immutable().
			Comment("Executor type of the job at the time of the change"),
		field.Int("attempt").Default(0).Immutable().
			Comment("Attempt number (the job's retry_count) at the time of the change"),
		field.Time("created_at").Default(time.Now).Immutable().
			Comment("When the change happened").
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges of the JobEvent.
func (JobEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("job", ContainerJob.Type).Field("job_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("host", ExecutorHost.Type).Field("host_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
	}
}

// Indexes of the JobEvent.
func (JobEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("job_id", "sequence"),
		// The sequencer's work list: committed events not yet numbered.
		index.Fields("created_at").StorageKey("idx_jobevent_unsequenced").
			Annotations(entsql.IndexWhere("sequence IS NULL")),
	}
}

// Annotations of the JobEvent.
func (JobEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("jobEvents"),
		entgql.RelayConnection(),
	}
}
