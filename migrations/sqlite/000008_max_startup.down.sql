-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_container_jobs" table
CREATE TABLE `new_container_jobs` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL DEFAULT '', `status` text NOT NULL DEFAULT 'pending', `container_id` text NOT NULL DEFAULT '', `exit_code` integer NULL, `started_at` datetime NULL, `completed_at` datetime NULL, `stdout_log` text NOT NULL DEFAULT '', `stderr_log` text NOT NULL DEFAULT '', `max_memory_usage` integer NULL, `cpu_usage_percent` real NULL, `image` text NOT NULL, `command` json NULL, `working_directory` text NOT NULL DEFAULT '', `environment` json NULL, `memory_limit` integer NULL, `cpu_limit` real NULL, `timeout_seconds` integer NOT NULL DEFAULT 3600, `executor_type` text NOT NULL DEFAULT 'docker', `external_execution_id` text NOT NULL DEFAULT '', `executor_metadata` json NULL, `preferred_executor` text NOT NULL DEFAULT '', `routing_reason` text NOT NULL DEFAULT '', `estimated_cost` numeric NULL, `actual_cost` numeric NULL, `queued_at` datetime NULL, `scheduled_for` datetime NULL, `launched_at` datetime NULL, `retry_count` integer NOT NULL DEFAULT 0, `max_retries` integer NOT NULL DEFAULT 3, `priority` integer NOT NULL DEFAULT 50, `retry_strategy` text NOT NULL DEFAULT 'default', `last_error` text NOT NULL DEFAULT '', `last_error_at` datetime NULL, `idempotency_key` text NULL, `labels` json NULL, `oom_killed` bool NOT NULL DEFAULT false, `lease_owner` text NOT NULL DEFAULT '', `lease_expires_at` datetime NULL, `template_id` uuid NULL, `docker_host_id` uuid NULL, `max_cost` numeric NULL, PRIMARY KEY (`id`), CONSTRAINT `container_jobs_executor_hosts_docker_host` FOREIGN KEY (`docker_host_id`) REFERENCES `executor_hosts` (`id`) ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT `container_jobs_container_templates_template` FOREIGN KEY (`template_id`) REFERENCES `container_templates` (`id`) ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT `check_max_retries_positive` CHECK (max_retries >= 0), CONSTRAINT `check_priority_range` CHECK (priority >= 0 AND priority <= 100), CONSTRAINT `check_retry_count_positive` CHECK (retry_count >= 0));
-- copy rows from old table "container_jobs" to new temporary table "new_container_jobs"
INSERT INTO `new_container_jobs` (`id`, `created_at`, `updated_at`, `name`, `status`, `container_id`, `exit_code`, `started_at`, `completed_at`, `stdout_log`, `stderr_log`, `max_memory_usage`, `cpu_usage_percent`, `image`, `command`, `working_directory`, `environment`, `memory_limit`, `cpu_limit`, `timeout_seconds`, `executor_type`, `external_execution_id`, `executor_metadata`, `preferred_executor`, `routing_reason`, `estimated_cost`, `actual_cost`, `queued_at`, `scheduled_for`, `launched_at`, `retry_count`, `max_retries`, `priority`, `retry_strategy`, `last_error`, `last_error_at`, `idempotency_key`, `labels`, `oom_killed`, `lease_owner`, `lease_expires_at`, `template_id`, `docker_host_id`, `max_cost`) SELECT `id`, `created_at`, `updated_at`, `name`, `status`, `container_id`, `exit_code`, `started_at`, `completed_at`, `stdout_log`, `stderr_log`, `max_memory_usage`, `cpu_usage_percent`, `image`, `command`, `working_directory`, `environment`, `memory_limit`, `cpu_limit`, `timeout_seconds`, `executor_type`, `external_execution_id`, `executor_metadata`, `preferred_executor`, `routing_reason`, `estimated_cost`, `actual_cost`, `queued_at`, `scheduled_for`, `launched_at`, `retry_count`, `max_retries`, `priority`, `retry_strategy`, `last_error`, `last_error_at`, `idempotency_key`, `labels`, `oom_killed`, `lease_owner`, `lease_expires_at`, `template_id`, `docker_host_id`, `max_cost` FROM `container_jobs`;
-- drop "container_jobs" table after copying rows
DROP TABLE `container_jobs`;
-- rename temporary table "new_container_jobs" to "container_jobs"
ALTER TABLE `new_container_jobs` RENAME TO `container_jobs`;
-- create index "container_jobs_idempotency_key_key" to table: "container_jobs"
CREATE UNIQUE INDEX `container_jobs_idempotency_key_key` ON `container_jobs` (`idempotency_key`);
-- create index "idx_containerjob_queue_ready" to table: "container_jobs"
CREATE INDEX `idx_containerjob_queue_ready` ON `container_jobs` (`queued_at`, `launched_at`) WHERE queued_at IS NOT NULL AND launched_at IS NULL;
-- create index "idx_containerjob_scheduled" to table: "container_jobs"
CREATE INDEX `idx_containerjob_scheduled` ON `container_jobs` (`scheduled_for`, `queued_at`) WHERE scheduled_for IS NOT NULL;
-- create index "idx_containerjob_priority_queue" to table: "container_jobs"
CREATE INDEX `idx_containerjob_priority_queue` ON `container_jobs` (`priority` DESC, `queued_at`) WHERE queued_at IS NOT NULL;
-- create index "idx_containerjob_queued_at" to table: "container_jobs"
CREATE INDEX `idx_containerjob_queued_at` ON `container_jobs` (`queued_at`);
-- create index "idx_containerjob_launched_at" to table: "container_jobs"
CREATE INDEX `idx_containerjob_launched_at` ON `container_jobs` (`launched_at`);
-- create index "idx_containerjob_scheduled_for" to table: "container_jobs"
CREATE INDEX `idx_containerjob_scheduled_for` ON `container_jobs` (`scheduled_for`);
-- create index "idx_containerjob_priority" to table: "container_jobs"
CREATE INDEX `idx_containerjob_priority` ON `container_jobs` (`priority`);
-- create index "idx_containerjob_queue_retry" to table: "container_jobs"
CREATE INDEX `idx_containerjob_queue_retry` ON `container_jobs` (`queued_at`, `retry_count`);
-- create index "idx_containerjob_status_queue" to table: "container_jobs"
CREATE INDEX `idx_containerjob_status_queue` ON `container_jobs` (`status`, `queued_at`);
-- create index "idx_containerjob_status_lease" to table: "container_jobs"
CREATE INDEX `idx_containerjob_status_lease` ON `container_jobs` (`status`, `lease_expires_at`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
