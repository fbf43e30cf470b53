-- modify "routing_rules" table
ALTER TABLE "routing_rules" ADD COLUMN "weight" bigint NULL;
