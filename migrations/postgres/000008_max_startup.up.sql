-- modify "container_jobs" table
ALTER TABLE "container_jobs" ADD COLUMN "max_startup_seconds" bigint NULL;
