package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Budget limits what the jobs of a template, or with a label, may cost
// over a period.
type Budget struct{ ent.Schema }

// Mixin of the Budget.
func (Budget) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the Budget.
func (Budget) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").MaxLen(100).NotEmpty().Unique().
			Comment("Unique name of this budget; errors name it").
			Annotations(entgql.OrderField("NAME")),
		field.UUID("template_id", uuidType).Optional().Nillable().
			Comment("The budget covers jobs of this template"),
		field.String("label_key").MaxLen(100).Default("").
			Comment("Or jobs whose label label_key equals label_value"),
		field.String("label_value").MaxLen(200).Default(""),
		decimalField("limit_usd", "Spending limit in USD for each period"),
		field.Enum("period").Values("day", "week", "month", "all_time").Default("month").
			Comment("Calendar period the limit applies to (UTC)"),
		field.Enum("policy").Values("reject", "hold").Default("reject").
			Comment("reject: a submit that would exceed the limit fails; hold: it is queued but not launched until the period rolls over or the limit is raised"),
		field.Bool("enabled").Default(true),
	}
}

// Edges of the Budget.
func (Budget) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("template", ContainerTemplate.Type).Field("template_id").Unique().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Annotations of the Budget.
func (Budget) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("budgets"),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}
