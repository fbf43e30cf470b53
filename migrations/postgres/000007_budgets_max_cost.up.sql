-- modify "container_jobs" table
ALTER TABLE "container_jobs" ADD COLUMN "max_cost" numeric(10,4) NULL;
-- create "budgets" table
CREATE TABLE "budgets" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "label_key" character varying NOT NULL DEFAULT '', "label_value" character varying NOT NULL DEFAULT '', "limit_usd" numeric(10,4) NULL, "period" character varying NOT NULL DEFAULT 'month', "policy" character varying NOT NULL DEFAULT 'reject', "enabled" boolean NOT NULL DEFAULT true, "template_id" uuid NULL, PRIMARY KEY ("id"), CONSTRAINT "budgets_container_templates_template" FOREIGN KEY ("template_id") REFERENCES "container_templates" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "budgets_name_key" to table: "budgets"
CREATE UNIQUE INDEX "budgets_name_key" ON "budgets" ("name");
