-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- drop "routing_rules" table
DROP TABLE `routing_rules`;
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
