CREATE SCHEMA "console";
--> statement-breakpoint
CREATE TABLE "console"."feedback" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "console"."feedback_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"exchange_id" bigint NOT NULL,
	"channel" text NOT NULL,
	"username" text NOT NULL,
	"verdict" text NOT NULL,
	"note" text,
	"operator" text NOT NULL,
	"request" text NOT NULL,
	"response" text,
	"action" text,
	"model" text,
	"trace_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "console"."sessions" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"operator" text NOT NULL,
	"csrf_token" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "console"."sign_in_failures" (
	"name" text PRIMARY KEY NOT NULL,
	"failures" integer DEFAULT 0 NOT NULL,
	"locked_until" timestamp with time zone,
	"last_failure_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "feedback_exchange_idx" ON "console"."feedback" USING btree ("exchange_id");--> statement-breakpoint
CREATE INDEX "sessions_expires_idx" ON "console"."sessions" USING btree ("expires_at");