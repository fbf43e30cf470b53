package main

import (
	"slices"

	"entgo.io/ent/dialect/sql/schema"
)

// stage is one step of the schema's history. The Ent schema describes only
// the final state; stages say which tables, columns, indexes and checks
// arrived when, so the first migrations replay the seeds' history and their
// promises (existing rows survive, defaults fill in) can be tested.
type stage struct {
	name    string
	tables  []string            // tables that first appear in this stage
	columns map[string][]string // table -> columns that first appear in this stage
	indexes []string            // indexes that first appear in this stage
	checks  []string            // CHECK constraints that first appear in this stage
}

// stages lists what arrived after the base tables; everything not listed is
// part of the base stage.
var stages = []stage{
	{name: "base"},
	{
		name: "seed000_multi_executor",
		columns: map[string][]string{
			"executor_hosts": {"executor_type", "executor_config", "max_concurrent_jobs", "current_job_count",
				"cost_per_hour", "cost_per_job", "average_startup_time", "last_health_check", "health_check_failures"},
			"container_templates": {"supported_executors"},
			"container_jobs": {"executor_type", "external_execution_id", "executor_metadata", "preferred_executor",
				"routing_reason", "estimated_cost", "actual_cost"},
		},
	},
	{
		name: "seed004_queue",
		columns: map[string][]string{
			"container_jobs": {"queued_at", "scheduled_for", "launched_at", "retry_count", "max_retries", "priority"},
		},
		indexes: []string{"idx_containerjob_queue_ready", "idx_containerjob_scheduled", "idx_containerjob_priority_queue",
			"idx_containerjob_queued_at", "idx_containerjob_launched_at", "idx_containerjob_scheduled_for",
			"idx_containerjob_priority", "idx_containerjob_queue_retry", "idx_containerjob_status_queue"},
		checks: []string{"check_priority_range", "check_retry_count_positive", "check_max_retries_positive"},
	},
	{
		name:   "gantry_core",
		tables: []string{"job_events"},
		columns: map[string][]string{
			"executor_hosts":      {"weight"},
			"container_templates": {"priority", "max_retries"},
			"container_jobs": {"retry_strategy", "last_error", "last_error_at", "idempotency_key", "labels",
				"oom_killed", "lease_owner", "lease_expires_at"},
		},
		indexes: []string{"idx_containerjob_status_lease"},
		checks:  []string{"check_current_job_count_range", "check_max_concurrent_jobs_positive"},
	},
}

// laterThan collects what arrives after stage n.
func laterThan(n int) stage {
	out := stage{columns: map[string][]string{}}
	for _, s := range stages[n+1:] {
		out.tables = append(out.tables, s.tables...)
		out.indexes = append(out.indexes, s.indexes...)
		out.checks = append(out.checks, s.checks...)
		for t, cs := range s.columns {
			out.columns[t] = append(out.columns[t], cs...)
		}
	}
	return out
}

// tablesAt returns copies of the final tables as they were at stage n.
func tablesAt(final []*schema.Table, n int) []*schema.Table {
	later := laterThan(n)
	byName := map[string]*schema.Table{}
	var out []*schema.Table
	for _, t := range final {
		if slices.Contains(later.tables, t.Name) {
			continue
		}
		nt := copyTable(t, later)
		byName[t.Name] = nt
		out = append(out, nt)
	}
	for _, t := range final {
		if nt, ok := byName[t.Name]; ok {
			copyForeignKeys(t, nt, byName)
		}
	}
	return out
}

func copyTable(t *schema.Table, later stage) *schema.Table {
	drop := later.columns[t.Name]
	nt := schema.NewTable(t.Name).SetComment(t.Comment).SetSchema(t.Schema)
	for _, c := range t.Columns {
		if slices.Contains(drop, c.Name) {
			continue
		}
		cc := *c
		if slices.ContainsFunc(t.PrimaryKey, func(p *schema.Column) bool { return p.Name == c.Name }) {
			nt.AddPrimary(&cc)
		} else {
			nt.AddColumn(&cc)
		}
	}
	for _, idx := range t.Indexes {
		if slices.Contains(later.indexes, idx.Name) {
			continue
		}
		ni := &schema.Index{Name: idx.Name, Unique: idx.Unique, Annotation: idx.Annotation}
		if !columnsOf(nt, idx.Columns, &ni.Columns) {
			continue
		}
		nt.Indexes = append(nt.Indexes, ni)
	}
	if t.Annotation != nil {
		ant := *t.Annotation
		ant.Checks = map[string]string{}
		for k, v := range t.Annotation.Checks {
			if !slices.Contains(later.checks, k) {
				ant.Checks[k] = v
			}
		}
		nt.SetAnnotation(&ant)
	}
	return nt
}

// columnsOf maps cols onto nt's columns; false if one is missing at this stage.
func columnsOf(nt *schema.Table, cols []*schema.Column, dst *[]*schema.Column) bool {
	for _, c := range cols {
		nc, ok := nt.Column(c.Name)
		if !ok {
			return false
		}
		*dst = append(*dst, nc)
	}
	return true
}

func copyForeignKeys(t, nt *schema.Table, byName map[string]*schema.Table) {
	for _, fk := range t.ForeignKeys {
		ref, ok := byName[fk.RefTable.Name]
		if !ok {
			continue
		}
		nfk := &schema.ForeignKey{Symbol: fk.Symbol, RefTable: ref, OnUpdate: fk.OnUpdate, OnDelete: fk.OnDelete}
		if !columnsOf(nt, fk.Columns, &nfk.Columns) || !columnsOf(ref, fk.RefColumns, &nfk.RefColumns) {
			continue
		}
		nt.AddForeignKey(nfk)
	}
}
