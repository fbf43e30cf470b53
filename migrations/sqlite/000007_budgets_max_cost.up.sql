-- add column "max_cost" to table: "container_jobs"
ALTER TABLE `container_jobs` ADD COLUMN `max_cost` numeric NULL;
-- create "budgets" table
CREATE TABLE `budgets` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `label_key` text NOT NULL DEFAULT (''), `label_value` text NOT NULL DEFAULT (''), `limit_usd` numeric NULL, `period` text NOT NULL DEFAULT ('month'), `policy` text NOT NULL DEFAULT ('reject'), `enabled` bool NOT NULL DEFAULT (true), `template_id` uuid NULL, PRIMARY KEY (`id`), CONSTRAINT `budgets_container_templates_template` FOREIGN KEY (`template_id`) REFERENCES `container_templates` (`id`) ON DELETE CASCADE);
-- create index "budgets_name_key" to table: "budgets"
CREATE UNIQUE INDEX `budgets_name_key` ON `budgets` (`name`);
