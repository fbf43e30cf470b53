-- modify "executor_hosts" table
ALTER TABLE "public"."executor_hosts" DROP COLUMN "memory_capacity_mb", DROP COLUMN "cpu_capacity";
