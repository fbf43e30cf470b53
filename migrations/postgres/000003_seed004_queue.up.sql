-- modify "container_jobs" table
ALTER TABLE "container_jobs" ADD CONSTRAINT "check_max_retries_positive" CHECK (max_retries >= 0), ADD CONSTRAINT "check_priority_range" CHECK ((priority >= 0) AND (priority <= 100)), ADD CONSTRAINT "check_retry_count_positive" CHECK (retry_count >= 0), ADD COLUMN "queued_at" timestamptz NULL, ADD COLUMN "scheduled_for" timestamptz NULL, ADD COLUMN "launched_at" timestamptz NULL, ADD COLUMN "retry_count" bigint NOT NULL DEFAULT 0, ADD COLUMN "max_retries" bigint NOT NULL DEFAULT 3, ADD COLUMN "priority" bigint NOT NULL DEFAULT 50;
-- create index "idx_containerjob_launched_at" to table: "container_jobs"
CREATE INDEX "idx_containerjob_launched_at" ON "container_jobs" ("launched_at");
-- create index "idx_containerjob_priority" to table: "container_jobs"
CREATE INDEX "idx_containerjob_priority" ON "container_jobs" ("priority");
-- create index "idx_containerjob_priority_queue" to table: "container_jobs"
CREATE INDEX "idx_containerjob_priority_queue" ON "container_jobs" ("priority" DESC, "queued_at") WHERE (queued_at IS NOT NULL);
-- create index "idx_containerjob_queue_ready" to table: "container_jobs"
CREATE INDEX "idx_containerjob_queue_ready" ON "container_jobs" ("queued_at", "launched_at") WHERE ((queued_at IS NOT NULL) AND (launched_at IS NULL));
-- create index "idx_containerjob_queue_retry" to table: "container_jobs"
CREATE INDEX "idx_containerjob_queue_retry" ON "container_jobs" ("queued_at", "retry_count");
-- create index "idx_containerjob_queued_at" to table: "container_jobs"
CREATE INDEX "idx_containerjob_queued_at" ON "container_jobs" ("queued_at");
-- create index "idx_containerjob_scheduled" to table: "container_jobs"
CREATE INDEX "idx_containerjob_scheduled" ON "container_jobs" ("scheduled_for", "queued_at") WHERE (scheduled_for IS NOT NULL);
-- create index "idx_containerjob_scheduled_for" to table: "container_jobs"
CREATE INDEX "idx_containerjob_scheduled_for" ON "container_jobs" ("scheduled_for");
-- create index "idx_containerjob_status_queue" to table: "container_jobs"
CREATE INDEX "idx_containerjob_status_queue" ON "container_jobs" ("status", "queued_at");
