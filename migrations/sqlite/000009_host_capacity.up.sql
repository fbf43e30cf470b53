-- add column "memory_capacity_mb" to table: "executor_hosts"
ALTER TABLE `executor_hosts` ADD COLUMN `memory_capacity_mb` integer NULL;
-- add column "cpu_capacity" to table: "executor_hosts"
ALTER TABLE `executor_hosts` ADD COLUMN `cpu_capacity` real NULL;
