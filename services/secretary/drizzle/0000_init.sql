CREATE SCHEMA "secretary";
--> statement-breakpoint
CREATE TABLE "secretary"."conversations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"username" text NOT NULL,
	"status" text NOT NULL,
	"original_request" text NOT NULL,
	"thread" text NOT NULL,
	"last_question" text,
	"clarifications" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"closed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "secretary"."requests" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "secretary"."requests_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	"trace_id" text,
	"channel" text NOT NULL,
	"username" text NOT NULL,
	"message_id" text,
	"conversation_id" uuid,
	"text" text NOT NULL,
	"analysed_request" text,
	"user_attributes" jsonb,
	"guesser_verdict" jsonb,
	"analyst_verdict" jsonb,
	"is_enough" boolean,
	"action" text,
	"question" text,
	"response" text,
	"status" text NOT NULL,
	"error" text,
	"latency_ms" jsonb,
	"model" text,
	"prompt_version" text,
	"token_usage" jsonb,
	"tokens_total" integer
);
--> statement-breakpoint
CREATE TABLE "secretary"."users" (
	"username" text PRIMARY KEY NOT NULL,
	"display_name" text,
	"department" text,
	"position" text,
	"email" text,
	"telegram_chat_id" text,
	"source" text DEFAULT 'api' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "conversations_open_per_user" ON "secretary"."conversations" USING btree ("channel","username") WHERE status = 'open';--> statement-breakpoint
CREATE INDEX "conversations_user_idx" ON "secretary"."conversations" USING btree ("channel","username","updated_at");--> statement-breakpoint
CREATE UNIQUE INDEX "requests_channel_message_id" ON "secretary"."requests" USING btree ("channel","message_id") WHERE status <> 'failed';--> statement-breakpoint
CREATE INDEX "requests_username_idx" ON "secretary"."requests" USING btree ("username","id");--> statement-breakpoint
CREATE INDEX "requests_channel_idx" ON "secretary"."requests" USING btree ("channel","id");