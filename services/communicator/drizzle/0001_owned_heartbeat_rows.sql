DROP INDEX "communicator"."inbound_work_idx";--> statement-breakpoint
ALTER TABLE "communicator"."checkpoints" ADD COLUMN "parsing_uid" bigint;--> statement-breakpoint
ALTER TABLE "communicator"."checkpoints" ADD COLUMN "parse_crashes" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "communicator"."inbound" ADD COLUMN "owner" text;--> statement-breakpoint
ALTER TABLE "communicator"."inbound" ADD COLUMN "heartbeat_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "communicator"."inbound" ADD COLUMN "isolated" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "communicator"."inbound" ADD COLUMN "crashes" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "communicator"."inbound" ADD COLUMN "retries" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "communicator"."inbound" ADD COLUMN "ambiguous_sends" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "communicator"."inbound" ADD COLUMN "send_intent" text;--> statement-breakpoint
CREATE INDEX "inbound_owner_idx" ON "communicator"."inbound" USING btree ("owner") WHERE owner is not null;--> statement-breakpoint
CREATE INDEX "inbound_work_idx" ON "communicator"."inbound" USING btree ("next_attempt_at","id") WHERE status in ('received', 'processing', 'answered', 'sending');