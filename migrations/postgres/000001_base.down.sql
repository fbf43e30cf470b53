-- drop "container_jobs" table
DROP TABLE "public"."container_jobs";
-- drop "container_templates" table
DROP TABLE "public"."container_templates";
-- drop "executor_hosts" table
DROP TABLE "public"."executor_hosts";
