-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_routing_rules" table
CREATE TABLE `new_routing_rules` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `priority` integer NOT NULL DEFAULT 50, `enabled` bool NOT NULL DEFAULT true, `condition` text NOT NULL, `target_executor_type` text NULL, `target_host_id` uuid NULL, PRIMARY KEY (`id`), CONSTRAINT `routing_rules_executor_hosts_target_host` FOREIGN KEY (`target_host_id`) REFERENCES `executor_hosts` (`id`) ON UPDATE NO ACTION ON DELETE SET NULL);
-- copy rows from old table "routing_rules" to new temporary table "new_routing_rules"
INSERT INTO `new_routing_rules` (`id`, `created_at`, `updated_at`, `name`, `priority`, `enabled`, `condition`, `target_executor_type`, `target_host_id`) SELECT `id`, `created_at`, `updated_at`, `name`, `priority`, `enabled`, `condition`, `target_executor_type`, `target_host_id` FROM `routing_rules`;
-- drop "routing_rules" table after copying rows
DROP TABLE `routing_rules`;
-- rename temporary table "new_routing_rules" to "routing_rules"
ALTER TABLE `new_routing_rules` RENAME TO `routing_rules`;
-- create index "routing_rules_name_key" to table: "routing_rules"
CREATE UNIQUE INDEX `routing_rules_name_key` ON `routing_rules` (`name`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
