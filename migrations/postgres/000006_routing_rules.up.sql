-- create "routing_rules" table
CREATE TABLE "routing_rules" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "priority" bigint NOT NULL DEFAULT 50, "enabled" boolean NOT NULL DEFAULT true, "condition" text NOT NULL, "target_executor_type" character varying NULL, "target_host_id" uuid NULL, PRIMARY KEY ("id"), CONSTRAINT "routing_rules_executor_hosts_target_host" FOREIGN KEY ("target_host_id") REFERENCES "executor_hosts" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- create index "routing_rules_name_key" to table: "routing_rules"
CREATE UNIQUE INDEX "routing_rules_name_key" ON "routing_rules" ("name");
