CREATE TABLE "secretary"."follow_ups" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "secretary"."follow_ups_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"request_id" bigint NOT NULL,
	"kind" text NOT NULL,
	"payload" jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"result" jsonb,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"locked_until" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "secretary"."follow_ups" ADD CONSTRAINT "follow_ups_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "secretary"."requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "follow_ups_request_kind" ON "secretary"."follow_ups" USING btree ("request_id","kind");--> statement-breakpoint
CREATE INDEX "follow_ups_due_idx" ON "secretary"."follow_ups" USING btree ("next_attempt_at") WHERE status = 'pending';