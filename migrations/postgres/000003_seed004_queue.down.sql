-- modify "container_jobs" table
ALTER TABLE "public"."container_jobs" DROP CONSTRAINT "check_max_retries_positive", DROP CONSTRAINT "check_priority_range", DROP CONSTRAINT "check_retry_count_positive", DROP COLUMN "queued_at", DROP COLUMN "scheduled_for", DROP COLUMN "launched_at", DROP COLUMN "retry_count", DROP COLUMN "max_retries", DROP COLUMN "priority";
