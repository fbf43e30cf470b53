-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_job_events" table
CREATE TABLE `new_job_events` (`id` uuid NOT NULL, `sequence` integer NULL, `from_status` text NULL, `to_status` text NOT NULL, `reason` text NOT NULL DEFAULT (''), `executor_type` text NOT NULL DEFAULT ('docker'), `attempt` integer NOT NULL DEFAULT (0), `created_at` datetime NOT NULL, `job_id` uuid NOT NULL, `host_id` uuid NULL, PRIMARY KEY (`id`), CONSTRAINT `job_events_container_jobs_job` FOREIGN KEY (`job_id`) REFERENCES `container_jobs` (`id`) ON DELETE CASCADE, CONSTRAINT `job_events_executor_hosts_host` FOREIGN KEY (`host_id`) REFERENCES `executor_hosts` (`id`) ON DELETE SET NULL);
-- copy rows from old table "job_events" to new temporary table "new_job_events"
INSERT INTO `new_job_events` (`id`, `sequence`, `from_status`, `to_status`, `reason`, `executor_type`, `attempt`, `created_at`, `job_id`, `host_id`) SELECT `id`, `sequence`, `from_status`, `to_status`, `reason`, `executor_type`, `attempt`, `created_at`, `job_id`, `host_id` FROM `job_events`;
-- drop "job_events" table after copying rows
DROP TABLE `job_events`;
-- rename temporary table "new_job_events" to "job_events"
ALTER TABLE `new_job_events` RENAME TO `job_events`;
-- create index "job_events_sequence_key" to table: "job_events"
CREATE UNIQUE INDEX `job_events_sequence_key` ON `job_events` (`sequence`);
-- create index "jobevent_job_id_sequence" to table: "job_events"
CREATE INDEX `jobevent_job_id_sequence` ON `job_events` (`job_id`, `sequence`);
-- create index "idx_jobevent_unsequenced" to table: "job_events"
CREATE INDEX `idx_jobevent_unsequenced` ON `job_events` (`created_at`) WHERE sequence IS NULL;
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
