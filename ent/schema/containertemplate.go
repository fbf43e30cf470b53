package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/gantry/gantry/ent/schematype"
)

// ContainerTemplate is a reusable job definition. Jobs copy its resolved
// spec at submission, so editing a template never changes a submitted job.
type ContainerTemplate struct{ ent.Schema }

// Mixin of the ContainerTemplate.
func (ContainerTemplate) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the ContainerTemplate.
func (ContainerTemplate) Fields() []ent.Field {
	return append([]ent.Field{
		field.String("name").MaxLen(100).NotEmpty().Unique().
			Comment("Unique name of this template").
			Annotations(entgql.OrderField("NAME")),
		field.Text("description").Default("").
			Comment("What this template runs"),
	}, append(specFields(),
		field.JSON("supported_executors", []string{}).Default([]string{}).Optional().
			Comment("Executor types this template can run on; empty means any"),
		field.Int("priority").Default(50).Range(0, 100).
			Comment("Default priority of jobs from this template (0-100, higher numbers = higher priority)"),
		field.Int("max_retries").Default(3).NonNegative().
			Comment("Default maximum launch attempts before giving up"),
	)...)
}

// specFields is the runnable container spec shared by templates and jobs.
func specFields() []ent.Field {
	return []ent.Field{
		field.String("image").MaxLen(500).NotEmpty().
			Comment("Container image (e.g., alpine:3.20)"),
		field.JSON("command", []string{}).Optional().
			Comment("Command and arguments; empty uses the image's default"),
		field.String("working_directory").MaxLen(500).Default("").
			Comment("Working directory inside the container"),
		field.JSON("environment", schematype.StringMap{}).Optional().
			Comment("Environment variables").
			Annotations(entgql.Type("StringMap")),
		field.Int("memory_limit").Optional().Nillable().Positive().
			Comment("Memory limit in MB"),
		field.Float("cpu_limit").Optional().Nillable().Positive().
			Comment("CPU limit in cores"),
		field.Int("timeout_seconds").Default(3600).Positive().
			Comment("Maximum run time in seconds before the job is stopped"),
	}
}

// Edges of the ContainerTemplate.
func (ContainerTemplate) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("jobs", ContainerJob.Type).Ref("template").
			Annotations(entgql.RelayConnection(), entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
	}
}

// Annotations of the ContainerTemplate.
func (ContainerTemplate) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("containerTemplates"),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}
