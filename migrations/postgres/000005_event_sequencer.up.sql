-- modify "job_events" table
ALTER TABLE "job_events" ALTER COLUMN "sequence" DROP NOT NULL;
-- create index "idx_jobevent_unsequenced" to table: "job_events"
CREATE INDEX "idx_jobevent_unsequenced" ON "job_events" ("created_at") WHERE (sequence IS NULL);
