CREATE INDEX "inbox_threads_username_trgm_idx" ON "secretary"."inbox_threads" USING gin ("username" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "operator_messages_text_trgm_idx" ON "secretary"."operator_messages" USING gin ("text" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "requests_text_trgm_idx" ON "secretary"."requests" USING gin ("text" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "requests_response_trgm_idx" ON "secretary"."requests" USING gin ("response" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "users_display_name_trgm_idx" ON "secretary"."users" USING gin ("display_name" gin_trgm_ops);