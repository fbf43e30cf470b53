-- add column "max_startup_seconds" to table: "container_jobs"
ALTER TABLE `container_jobs` ADD COLUMN `max_startup_seconds` integer NULL;
