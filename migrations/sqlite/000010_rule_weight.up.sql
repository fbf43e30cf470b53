-- add column "weight" to table: "routing_rules"
ALTER TABLE `routing_rules` ADD COLUMN `weight` integer NULL;
