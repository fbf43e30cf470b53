-- modify "container_jobs" table
ALTER TABLE "public"."container_jobs" DROP COLUMN "executor_type", DROP COLUMN "external_execution_id", DROP COLUMN "executor_metadata", DROP COLUMN "preferred_executor", DROP COLUMN "routing_reason", DROP COLUMN "estimated_cost", DROP COLUMN "actual_cost";
-- modify "container_templates" table
ALTER TABLE "public"."container_templates" DROP COLUMN "supported_executors";
-- modify "executor_hosts" table
ALTER TABLE "public"."executor_hosts" DROP COLUMN "executor_type", DROP COLUMN "executor_config", DROP COLUMN "max_concurrent_jobs", DROP COLUMN "current_job_count", DROP COLUMN "cost_per_hour", DROP COLUMN "cost_per_job", DROP COLUMN "average_startup_time", DROP COLUMN "last_health_check", DROP COLUMN "health_check_failures";
