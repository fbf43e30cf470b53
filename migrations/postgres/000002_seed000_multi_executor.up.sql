-- modify "container_jobs" table
ALTER TABLE "container_jobs" ADD COLUMN "executor_type" character varying NOT NULL DEFAULT 'docker', ADD COLUMN "external_execution_id" character varying NOT NULL DEFAULT '', ADD COLUMN "executor_metadata" jsonb NULL, ADD COLUMN "preferred_executor" character varying NOT NULL DEFAULT '', ADD COLUMN "routing_reason" character varying NOT NULL DEFAULT '', ADD COLUMN "estimated_cost" numeric(10,4) NULL, ADD COLUMN "actual_cost" numeric(10,4) NULL;
-- modify "container_templates" table
ALTER TABLE "container_templates" ADD COLUMN "supported_executors" jsonb NULL;
-- modify "executor_hosts" table
ALTER TABLE "executor_hosts" ADD COLUMN "executor_type" character varying NOT NULL DEFAULT 'docker', ADD COLUMN "executor_config" jsonb NULL, ADD COLUMN "max_concurrent_jobs" bigint NOT NULL DEFAULT 10, ADD COLUMN "current_job_count" bigint NOT NULL DEFAULT 0, ADD COLUMN "cost_per_hour" numeric(10,4) NULL, ADD COLUMN "cost_per_job" numeric(10,4) NULL, ADD COLUMN "average_startup_time" bigint NULL, ADD COLUMN "last_health_check" timestamptz NULL, ADD COLUMN "health_check_failures" bigint NOT NULL DEFAULT 0;
