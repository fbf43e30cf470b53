-- modify "container_jobs" table
ALTER TABLE "container_jobs" ADD COLUMN "retry_strategy" character varying NOT NULL DEFAULT 'default', ADD COLUMN "last_error" text NOT NULL DEFAULT '', ADD COLUMN "last_error_at" timestamptz NULL, ADD COLUMN "idempotency_key" character varying NULL, ADD COLUMN "labels" jsonb NULL, ADD COLUMN "oom_killed" boolean NOT NULL DEFAULT false, ADD COLUMN "lease_owner" character varying NOT NULL DEFAULT '', ADD COLUMN "lease_expires_at" timestamptz NULL;
-- create index "container_jobs_idempotency_key_key" to table: "container_jobs"
CREATE UNIQUE INDEX "container_jobs_idempotency_key_key" ON "container_jobs" ("idempotency_key");
-- create index "idx_containerjob_status_lease" to table: "container_jobs"
CREATE INDEX "idx_containerjob_status_lease" ON "container_jobs" ("status", "lease_expires_at");
-- modify "container_templates" table
ALTER TABLE "container_templates" ADD COLUMN "priority" bigint NOT NULL DEFAULT 50, ADD COLUMN "max_retries" bigint NOT NULL DEFAULT 3;
-- modify "executor_hosts" table
ALTER TABLE "executor_hosts" ADD CONSTRAINT "check_current_job_count_range" CHECK (current_job_count >= 0), ADD CONSTRAINT "check_max_concurrent_jobs_positive" CHECK (max_concurrent_jobs >= 0), ADD COLUMN "weight" bigint NOT NULL DEFAULT 100;
-- create "job_events" table
CREATE TABLE "job_events" ("id" uuid NOT NULL, "sequence" bigint NOT NULL, "from_status" character varying NULL, "to_status" character varying NOT NULL, "reason" text NOT NULL DEFAULT '', "executor_type" character varying NOT NULL DEFAULT 'docker', "attempt" bigint NOT NULL DEFAULT 0, "created_at" timestamptz NOT NULL, "job_id" uuid NOT NULL, "host_id" uuid NULL, PRIMARY KEY ("id"), CONSTRAINT "job_events_container_jobs_job" FOREIGN KEY ("job_id") REFERENCES "container_jobs" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "job_events_executor_hosts_host" FOREIGN KEY ("host_id") REFERENCES "executor_hosts" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- create index "job_events_sequence_key" to table: "job_events"
CREATE UNIQUE INDEX "job_events_sequence_key" ON "job_events" ("sequence");
-- create index "jobevent_job_id_sequence" to table: "job_events"
CREATE INDEX "jobevent_job_id_sequence" ON "job_events" ("job_id", "sequence");
