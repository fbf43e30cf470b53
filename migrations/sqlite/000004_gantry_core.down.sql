-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_container_templates" table
CREATE TABLE `new_container_templates` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `description` text NOT NULL DEFAULT '', `image` text NOT NULL, `command` json NULL, `working_directory` text NOT NULL DEFAULT '', `environment` json NULL, `memory_limit` integer NULL, `cpu_limit` real NULL, `timeout_seconds` integer NOT NULL DEFAULT 3600, `supported_executors` json NULL, PRIMARY KEY (`id`));
-- copy rows from old table "container_templates" to new temporary table "new_container_templates"
INSERT INTO `new_container_templates` (`id`, `created_at`, `updated_at`, `name`, `description`, `image`, `command`, `working_directory`, `environment`, `memory_limit`, `cpu_limit`, `timeout_seconds`, `supported_executors`) SELECT `id`, `created_at`, `updated_at`, `name`, `description`, `image`, `command`, `working_directory`, `environment`, `memory_limit`, `cpu_limit`, `timeout_seconds`, `supported_executors` FROM `container_templates`;
-- drop "container_templates" table after copying rows
DROP TABLE `container_templates`;
-- rename temporary table "new_container_templates" to "container_templates"
ALTER TABLE `new_container_templates` RENAME TO `container_templates`;
-- create index "container_templates_name_key" to table: "container_templates"
CREATE UNIQUE INDEX `container_templates_name_key` ON `container_templates` (`name`);
-- create "new_executor_hosts" table
CREATE TABLE `new_executor_hosts` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `host_type` text NOT NULL DEFAULT 'unix', `connection_string` text NOT NULL DEFAULT '', `is_active` bool NOT NULL DEFAULT true, `tls_enabled` bool NOT NULL DEFAULT false, `tls_verify` bool NOT NULL DEFAULT false, `auto_pull_images` bool NOT NULL DEFAULT true, `executor_type` text NOT NULL DEFAULT 'docker', `executor_config` json NULL, `max_concurrent_jobs` integer NOT NULL DEFAULT 10, `current_job_count` integer NOT NULL DEFAULT 0, `cost_per_hour` numeric NULL, `cost_per_job` numeric NULL, `average_startup_time` integer NULL, `last_health_check` datetime NULL, `health_check_failures` integer NOT NULL DEFAULT 0, PRIMARY KEY (`id`));
-- copy rows from old table "executor_hosts" to new temporary table "new_executor_hosts"
INSERT INTO `new_executor_hosts` (`id`, `created_at`, `updated_at`, `name`, `host_type`, `connection_string`, `is_active`, `tls_enabled`, `tls_verify`, `auto_pull_images`, `executor_type`, `executor_config`, `max_concurrent_jobs`, `current_job_count`, `cost_per_hour`, `cost_per_job`, `average_startup_time`, `last_health_check`, `health_check_failures`) SELECT `id`, `created_at`, `updated_at`, `name`, `host_type`, `connection_string`, `is_active`, `tls_enabled`, `tls_verify`, `auto_pull_images`, `executor_type`, `executor_config`, `max_concurrent_jobs`, `current_job_count`, `cost_per_hour`, `cost_per_job`, `average_startup_time`, `last_health_check`, `health_check_failures` FROM `executor_hosts`;
-- drop "executor_hosts" table after copying rows
DROP TABLE `executor_hosts`;
-- rename temporary table "new_executor_hosts" to "executor_hosts"
ALTER TABLE `new_executor_hosts` RENAME TO `executor_hosts`;
-- create index "executor_hosts_name_key" to table: "executor_hosts"
CREATE UNIQUE INDEX `executor_hosts_name_key` ON `executor_hosts` (`name`);
-- create "new_container_jobs" table
CREATE TABLE `new_container_jobs` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL DEFAULT '', `status` text NOT NULL DEFAULT 'pending', `container_id` text NOT NULL DEFAULT '', `exit_code` integer NULL, `started_at` datetime NULL, `completed_at` datetime NULL, `stdout_log` text NOT NULL DEFAULT '', `stderr_log` text NOT NULL DEFAULT '', `max_memory_usage` integer NULL, `cpu_usage_percent` real NULL, `image` text NOT NULL, `command` json NULL, `working_directory` text NOT NULL DEFAULT '', `environment` json NULL, `memory_limit` integer NULL, `cpu_limit` real NULL, `timeout_seconds` integer NOT NULL DEFAULT 3600, `executor_type` text NOT NULL DEFAULT 'docker', `external_execution_id` text NOT NULL DEFAULT '', `executor_metadata` json NULL, `preferred_executor` text NOT NULL DEFAULT '', `routing_reason` text NOT NULL DEFAULT '', `estimated_cost` numeric NULL, `actual_cost` numeric NULL, `queued_at` datetime NULL, `scheduled_for` datetime NULL, `launched_at` datetime NULL, `retry_count` integer NOT NULL DEFAULT 0, `max_retries` integer NOT NULL DEFAULT 3, `priority` integer NOT NULL DEFAULT 50, `template_id` uuid NULL, `docker_host_id` uuid NULL, PRIMARY KEY (`id`), CONSTRAINT `container_jobs_executor_hosts_docker_host` FOREIGN KEY (`docker_host_id`) REFERENCES `executor_hosts` (`id`) ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT `container_jobs_container_templates_template` FOREIGN KEY (`template_id`) REFERENCES `container_templates` (`id`) ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT `check_max_retries_positive` CHECK (max_retries >= 0), CONSTRAINT `check_priority_range` CHECK (priority >= 0 AND priority <= 100), CONSTRAINT `check_retry_count_positive` CHECK (retry_count >= 0));
-- copy rows from old table "container_jobs" to new temporary table "new_container_jobs"
INSERT INTO `new_container_jobs` (`id`, `created_at`, `updated_at`, `name`, `status`, `container_id`, `exit_code`, `started_at`, `completed_at`, `stdout_log`, `stderr_log`, `max_memory_usage`, `cpu_usage_percent`, `image`, `command`, `working_directory`, `environment`, `memory_limit`, `cpu_limit`, `timeout_seconds`, `executor_type`, `external_execution_id`, `executor_metadata`, `preferred_executor`, `routing_reason`, `estimated_cost`, `actual_cost`, `queued_at`, `scheduled_for`, `launched_at`, `retry_count`, `max_retries`, `priority`, `template_id`, `docker_host_id`) SELECT `id`, `created_at`, `updated_at`, `name`, `status`, `container_id`, `exit_code`, `started_at`, `completed_at`, `stdout_log`, `stderr_log`, `max_memory_usage`, `cpu_usage_percent`, `image`, `command`, `working_directory`, `environment`, `memory_limit`, `cpu_limit`, `timeout_seconds`, `executor_type`, `external_execution_id`, `executor_metadata`, `preferred_executor`, `routing_reason`, `estimated_cost`, `actual_cost`, `queued_at`, `scheduled_for`, `launched_at`, `retry_count`, `max_retries`, `priority`, `template_id`, `docker_host_id` FROM `container_jobs`;
-- drop "container_jobs" table after copying rows
DROP TABLE `container_jobs`;
-- rename temporary table "new_container_jobs" to "container_jobs"
ALTER TABLE `new_container_jobs` RENAME TO `container_jobs`;
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
-- drop "job_events" table
DROP TABLE `job_events`;
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
