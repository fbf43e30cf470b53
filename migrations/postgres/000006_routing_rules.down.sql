-- drop "routing_rules" table
DROP TABLE "public"."routing_rules";
