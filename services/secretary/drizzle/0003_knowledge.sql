-- pg_trgm ships with every PostgreSQL (contrib, trusted since 13) and with PGlite: spelling correction of query words.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE SCHEMA "knowledge";
--> statement-breakpoint
CREATE TABLE "knowledge"."documents" (
	"id" text PRIMARY KEY NOT NULL,
	"title" text NOT NULL,
	"body" text NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"url" text,
	"content_hash" text NOT NULL,
	"source" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "knowledge"."lexemes" (
	"lexeme" text PRIMARY KEY NOT NULL
);
--> statement-breakpoint
CREATE TABLE "knowledge"."passages" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "knowledge"."passages_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"document_id" text NOT NULL,
	"ordinal" integer NOT NULL,
	"heading_path" text DEFAULT '' NOT NULL,
	"text" text NOT NULL,
	"search" "tsvector" NOT NULL
);
--> statement-breakpoint
ALTER TABLE "secretary"."requests" ADD COLUMN "sources" jsonb;--> statement-breakpoint
ALTER TABLE "knowledge"."passages" ADD CONSTRAINT "passages_document_id_documents_id_fk" FOREIGN KEY ("document_id") REFERENCES "knowledge"."documents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "documents_source_idx" ON "knowledge"."documents" USING btree ("source","id");--> statement-breakpoint
CREATE INDEX "lexemes_trgm_idx" ON "knowledge"."lexemes" USING gin ("lexeme" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "passages_search_idx" ON "knowledge"."passages" USING gin ("search");--> statement-breakpoint
CREATE INDEX "passages_document_idx" ON "knowledge"."passages" USING btree ("document_id","ordinal");