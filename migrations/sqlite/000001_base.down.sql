-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- drop "container_jobs" table
DROP TABLE `container_jobs`;
-- drop "container_templates" table
DROP TABLE `container_templates`;
-- drop "executor_hosts" table
DROP TABLE `executor_hosts`;
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
