ALTER TABLE "secretary"."follow_ups" ADD COLUMN "owner" text;--> statement-breakpoint
ALTER TABLE "secretary"."follow_ups" ADD COLUMN "heartbeat_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "secretary"."requests" ADD COLUMN "owner" text;--> statement-breakpoint
ALTER TABLE "secretary"."requests" ADD COLUMN "heartbeat_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "requests_pending_heartbeat_idx" ON "secretary"."requests" USING btree ("heartbeat_at") WHERE status = 'pending';--> statement-breakpoint
-- Waiters for a message_id's answer LISTEN on this channel instead of polling (not modelled by drizzle-kit).
CREATE OR REPLACE FUNCTION "secretary"."notify_exchange_settled"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('secretary_exchange_settled', NEW.id::text);
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "requests_settled_notify" AFTER UPDATE OF "status" ON "secretary"."requests"
  FOR EACH ROW WHEN (OLD.status = 'pending' AND NEW.status <> 'pending')
  EXECUTE FUNCTION "secretary"."notify_exchange_settled"();
