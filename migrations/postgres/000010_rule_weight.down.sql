-- modify "routing_rules" table
ALTER TABLE "public"."routing_rules" DROP COLUMN "weight";
