-- modify "container_jobs" table
ALTER TABLE "public"."container_jobs" DROP COLUMN "max_cost";
-- drop "budgets" table
DROP TABLE "public"."budgets";
