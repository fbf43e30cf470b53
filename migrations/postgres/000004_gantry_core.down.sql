-- modify "container_jobs" table
ALTER TABLE "public"."container_jobs" DROP COLUMN "retry_strategy", DROP COLUMN "last_error", DROP COLUMN "last_error_at", DROP COLUMN "idempotency_key", DROP COLUMN "labels", DROP COLUMN "oom_killed", DROP COLUMN "lease_owner", DROP COLUMN "lease_expires_at";
-- modify "container_templates" table
ALTER TABLE "public"."container_templates" DROP COLUMN "priority", DROP COLUMN "max_retries";
-- modify "executor_hosts" table
ALTER TABLE "public"."executor_hosts" DROP CONSTRAINT "check_current_job_count_range", DROP CONSTRAINT "check_max_concurrent_jobs_positive", DROP COLUMN "weight";
-- drop "job_events" table
DROP TABLE "public"."job_events";
