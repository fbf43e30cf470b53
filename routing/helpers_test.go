package routing

import "github.com/gantry/gantry/ent/schematype"

func typeOf(s string) schematype.ExecutorType { return schematype.ExecutorType(s) }
