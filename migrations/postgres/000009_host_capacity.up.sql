-- modify "executor_hosts" table
ALTER TABLE "executor_hosts" ADD COLUMN "memory_capacity_mb" bigint NULL, ADD COLUMN "cpu_capacity" double precision NULL;
