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

// RoutingRule sends jobs whose condition holds to an executor type or a
// host, or (with a weight) makes those hosts more or less preferred.
type RoutingRule struct{ ent.Schema }

// Mixin of the RoutingRule.
func (RoutingRule) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the RoutingRule.
func (RoutingRule) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").MaxLen(100).NotEmpty().Unique().
			Comment("Unique name of this rule").
			Annotations(entgql.OrderField("NAME")),
		field.Int("priority").Default(50).
			Comment("Rules are tried from the highest priority down; the first whose condition holds decides").
			Annotations(entgql.OrderField("PRIORITY")),
		field.Bool("enabled").Default(true).
			Comment("Disabled rules are skipped"),
		field.Text("condition").NotEmpty().
			Comment(`Expression over the job (expr-lang), e.g. image startsWith "gpu/" || labels["tier"] == "batch" || memoryMB > 4096. Fields: name, image, template, labels, env (keys), priority, memoryMB, cpu, timeoutSeconds`),
		field.Enum("target_executor_type").GoType(schematype.ExecutorType("")).Optional().Nillable().
			Comment("Executor type the matching jobs go to").
			Annotations(entgql.Type("ExecutorType")),
		field.UUID("target_host_id", uuidType).Optional().Nillable().
			Comment("Host the matching jobs go to"),
		field.Int("weight").Optional().Nillable().Range(-1000, 1000).
			Comment("Makes this a weighting rule: instead of deciding, it adds weight to the rank of its target hosts for matching jobs (positive prefers them, negative avoids them) ahead of cost; every matching weighting rule adds up"),
	}
}

// Edges of the RoutingRule.
func (RoutingRule) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("target_host", ExecutorHost.Type).Field("target_host_id").Unique().
			Annotations(entsql.OnDelete(entsql.SetNull)),
	}
}

// Annotations of the RoutingRule.
func (RoutingRule) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("routingRules"),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}
