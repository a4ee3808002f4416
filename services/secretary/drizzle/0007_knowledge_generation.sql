CREATE TABLE "knowledge"."generation" (
	"id" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"documents" integer NOT NULL,
	"version" bigint NOT NULL,
	CONSTRAINT "generation_one_row" CHECK ("knowledge"."generation"."id")
);
--> statement-breakpoint
-- The one row, from what is there now.
INSERT INTO "knowledge"."generation" ("id", "documents", "version")
  SELECT true, count(*), 1 FROM "knowledge"."documents";
--> statement-breakpoint
-- Bumps the version once per statement that changed any row (an unchanged document's upsert changes
-- none), and counts documents in and out. Statement-level, so a bulk load updates the row once.
CREATE OR REPLACE FUNCTION knowledge.generation_on_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  changed_rows bigint;
BEGIN
  SELECT count(*) INTO changed_rows FROM changed;
  IF changed_rows = 0 THEN
    RETURN NULL;
  END IF;
  UPDATE knowledge.generation SET
    version = version + 1,
    documents = documents + CASE
      WHEN TG_TABLE_NAME <> 'documents' THEN 0
      WHEN TG_OP = 'INSERT' THEN changed_rows
      WHEN TG_OP = 'DELETE' THEN -changed_rows
      ELSE 0
    END;
  RETURN NULL;
END
$$;
--> statement-breakpoint
-- TRUNCATE has no transition table: count again.
CREATE OR REPLACE FUNCTION knowledge.generation_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE knowledge.generation SET
    version = version + 1,
    documents = (SELECT count(*) FROM knowledge.documents);
  RETURN NULL;
END
$$;
--> statement-breakpoint
-- The same four triggers on both tables: what changes a passage changes the knowledge base as much.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['documents', 'passages'] LOOP
    EXECUTE format('CREATE TRIGGER %1$s_generation_insert AFTER INSERT ON knowledge.%1$I
      REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION knowledge.generation_on_change()', t);
    EXECUTE format('CREATE TRIGGER %1$s_generation_update AFTER UPDATE ON knowledge.%1$I
      REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION knowledge.generation_on_change()', t);
    EXECUTE format('CREATE TRIGGER %1$s_generation_delete AFTER DELETE ON knowledge.%1$I
      REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION knowledge.generation_on_change()', t);
    EXECUTE format('CREATE TRIGGER %1$s_generation_truncate AFTER TRUNCATE ON knowledge.%1$I
      FOR EACH STATEMENT EXECUTE FUNCTION knowledge.generation_on_truncate()', t);
  END LOOP;
END
$$;
