-- modify "container_jobs" table
ALTER TABLE "public"."container_jobs" DROP COLUMN "max_startup_seconds";
