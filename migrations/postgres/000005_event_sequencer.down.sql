-- drop index "idx_jobevent_unsequenced" from table: "job_events"
DROP INDEX "public"."idx_jobevent_unsequenced";
-- modify "job_events" table
ALTER TABLE "public"."job_events" ALTER COLUMN "sequence" SET NOT NULL;
