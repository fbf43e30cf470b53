-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_executor_hosts" table
CREATE TABLE `new_executor_hosts` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `host_type` text NOT NULL DEFAULT 'unix', `connection_string` text NOT NULL DEFAULT '', `is_active` bool NOT NULL DEFAULT true, `tls_enabled` bool NOT NULL DEFAULT false, `tls_verify` bool NOT NULL DEFAULT false, `auto_pull_images` bool NOT NULL DEFAULT true, `executor_type` text NOT NULL DEFAULT 'docker', `executor_config` json NULL, `max_concurrent_jobs` integer NOT NULL DEFAULT 10, `current_job_count` integer NOT NULL DEFAULT 0, `cost_per_hour` numeric NULL, `cost_per_job` numeric NULL, `average_startup_time` integer NULL, `last_health_check` datetime NULL, `health_check_failures` integer NOT NULL DEFAULT 0, `weight` integer NOT NULL DEFAULT 100, PRIMARY KEY (`id`), CONSTRAINT `check_current_job_count_range` CHECK (current_job_count >= 0), CONSTRAINT `check_max_concurrent_jobs_positive` CHECK (max_concurrent_jobs >= 0));
-- copy rows from old table "executor_hosts" to new temporary table "new_executor_hosts"
INSERT INTO `new_executor_hosts` (`id`, `created_at`, `updated_at`, `name`, `host_type`, `connection_string`, `is_active`, `tls_enabled`, `tls_verify`, `auto_pull_images`, `executor_type`, `executor_config`, `max_concurrent_jobs`, `current_job_count`, `cost_per_hour`, `cost_per_job`, `average_startup_time`, `last_health_check`, `health_check_failures`, `weight`) SELECT `id`, `created_at`, `updated_at`, `name`, `host_type`, `connection_string`, `is_active`, `tls_enabled`, `tls_verify`, `auto_pull_images`, `executor_type`, `executor_config`, `max_concurrent_jobs`, `current_job_count`, `cost_per_hour`, `cost_per_job`, `average_startup_time`, `last_health_check`, `health_check_failures`, `weight` FROM `executor_hosts`;
-- drop "executor_hosts" table after copying rows
DROP TABLE `executor_hosts`;
-- rename temporary table "new_executor_hosts" to "executor_hosts"
ALTER TABLE `new_executor_hosts` RENAME TO `executor_hosts`;
-- create index "executor_hosts_name_key" to table: "executor_hosts"
CREATE UNIQUE INDEX `executor_hosts_name_key` ON `executor_hosts` (`name`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
