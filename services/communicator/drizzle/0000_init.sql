CREATE SCHEMA IF NOT EXISTS "communicator";
--> statement-breakpoint
CREATE TABLE "communicator"."checkpoints" (
	"key" text PRIMARY KEY NOT NULL,
	"uidvalidity" bigint,
	"last_uid" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "communicator"."inbound" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "communicator"."inbound_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"channel" text NOT NULL,
	"external_id" text NOT NULL,
	"mailbox" text,
	"uidvalidity" bigint,
	"uid" bigint,
	"username" text NOT NULL,
	"reply_to" text NOT NULL,
	"subject" text,
	"thread" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"request_text" text DEFAULT '' NOT NULL,
	"raw_bytes" integer,
	"status" text DEFAULT 'received' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"lease_until" timestamp with time zone,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"answer_text" text,
	"answer_action" text,
	"reply_message_id" text,
	"parts_sent" integer DEFAULT 0 NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"answered_at" timestamp with time zone,
	"replied_at" timestamp with time zone,
	"seen_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "communicator"."outbound" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "communicator"."outbound_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"idempotency_key" text NOT NULL,
	"channel" text NOT NULL,
	"recipient" text NOT NULL,
	"subject" text,
	"body" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"external_id" text,
	"lease_until" timestamp with time zone,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	CONSTRAINT "outbound_idempotency_key_unique" UNIQUE("idempotency_key")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "inbound_channel_external_id_key" ON "communicator"."inbound" USING btree ("channel","external_id");--> statement-breakpoint
CREATE INDEX "inbound_work_idx" ON "communicator"."inbound" USING btree ("next_attempt_at","id") WHERE status in ('received', 'processing', 'answered');--> statement-breakpoint
CREATE INDEX "inbound_sender_replied_idx" ON "communicator"."inbound" USING btree ("channel","username","replied_at");--> statement-breakpoint
CREATE INDEX "inbound_unseen_idx" ON "communicator"."inbound" USING btree ("mailbox","uidvalidity") WHERE seen_at is null and status = 'replied';