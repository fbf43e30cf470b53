// Package schema is the single source of truth for Gantry's data model.
// Field comments are the seeds' help texts; they become GraphQL descriptions.
package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"

	"github.com/gantry/gantry/ent/schematype"
)

// RetryStrategies name the backoff policies of the dispatcher.
var RetryStrategies = []string{"default", "aggressive", "conservative", "high_priority"}

// IDMixin gives every entity a random UUID primary key: ids are opaque and
// can be made by any replica without a round trip.
type IDMixin struct{ mixin.Schema }

// Fields of the IDMixin.
func (IDMixin) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New).Immutable(),
	}
}

// TimeMixin adds created_at and updated_at.
type TimeMixin struct{ mixin.Schema }

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT"), entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now).
			Annotations(entgql.OrderField("UPDATED_AT"), entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
	}
}

// decimalField is a nullable numeric(10,4) money column.
func decimalField(name, help string) ent.Field {
	return field.Other(name, schematype.Decimal{}).
		SchemaType(map[string]string{dialect.Postgres: "numeric(10,4)", dialect.SQLite: "numeric(10,4)"}).
		Optional().
		Comment(help).
		Annotations(entgql.Type("Decimal"))
}

// executorTypeValidator accepts "" or one of ExecutorTypes.
func executorTypeValidator(allowEmpty bool) func(string) error {
	return func(s string) error {
		if s == "" && allowEmpty {
			return nil
		}
		_, err := schematype.ParseExecutorType(s)
		return err
	}
}
