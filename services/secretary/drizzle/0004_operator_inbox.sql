CREATE SEQUENCE "secretary"."inbox_version_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "secretary"."inbox_threads" (
	"channel" text NOT NULL,
	"username" text NOT NULL,
	"last_request_id" bigint,
	"last_at" timestamp with time zone NOT NULL,
	"last_text" text NOT NULL,
	"last_author" text NOT NULL,
	"ai_state" text NOT NULL,
	"taken_over_by" text,
	"taken_over_at" timestamp with time zone,
	"assigned_to" text,
	"assigned_at" timestamp with time zone,
	"resolved_by" text,
	"resolved_at" timestamp with time zone,
	"escalated_since" timestamp with time zone,
	"waiting_since" timestamp with time zone,
	"version" bigint NOT NULL,
	"state" text GENERATED ALWAYS AS (CASE WHEN resolved_at IS NOT NULL THEN 'resolved' WHEN taken_over_by IS NOT NULL THEN 'taken_over' WHEN last_author = 'operator' THEN 'answered' ELSE ai_state END) STORED NOT NULL,
	CONSTRAINT "inbox_threads_channel_username_pk" PRIMARY KEY("channel","username")
);
--> statement-breakpoint
CREATE TABLE "secretary"."operator_messages" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "secretary"."operator_messages_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"channel" text NOT NULL,
	"username" text NOT NULL,
	"kind" text NOT NULL,
	"message_id" text,
	"idempotency_key" text,
	"operator" text,
	"text" text NOT NULL,
	"status" text NOT NULL,
	"external_id" text,
	"error" text,
	"trace_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "inbox_threads_recent_idx" ON "secretary"."inbox_threads" USING btree ("last_at" DESC NULLS LAST,"channel" DESC NULLS LAST,"username" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "inbox_threads_state_idx" ON "secretary"."inbox_threads" USING btree ("state","last_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "inbox_threads_version_idx" ON "secretary"."inbox_threads" USING btree ("version");--> statement-breakpoint
CREATE INDEX "inbox_threads_escalated_idx" ON "secretary"."inbox_threads" USING btree ("escalated_since") WHERE escalated_since IS NOT NULL;--> statement-breakpoint
CREATE INDEX "operator_messages_thread_idx" ON "secretary"."operator_messages" USING btree ("channel","username","id");--> statement-breakpoint
CREATE UNIQUE INDEX "operator_messages_held_message" ON "secretary"."operator_messages" USING btree ("channel","message_id");--> statement-breakpoint
CREATE UNIQUE INDEX "operator_messages_idempotency_key" ON "secretary"."operator_messages" USING btree ("idempotency_key");