-- create "routing_rules" table
CREATE TABLE `routing_rules` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `priority` integer NOT NULL DEFAULT (50), `enabled` bool NOT NULL DEFAULT (true), `condition` text NOT NULL, `target_executor_type` text NULL, `target_host_id` uuid NULL, PRIMARY KEY (`id`), CONSTRAINT `routing_rules_executor_hosts_target_host` FOREIGN KEY (`target_host_id`) REFERENCES `executor_hosts` (`id`) ON DELETE SET NULL);
-- create index "routing_rules_name_key" to table: "routing_rules"
CREATE UNIQUE INDEX `routing_rules_name_key` ON `routing_rules` (`name`);
