-- Keeps secretary.inbox_threads current from every write to secretary.requests (see schema.ts).
CREATE OR REPLACE FUNCTION secretary.inbox_on_request() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ai text;
  since timestamptz;
BEGIN
  ai := CASE
    WHEN NEW.status = 'pending' THEN 'in_progress'
    WHEN NEW.status = 'failed' THEN 'failed'
    WHEN NEW.action = 'уточнить' THEN 'awaiting_clarification'
    WHEN NEW.action = 'написать в telegram сотруднику' THEN 'escalated'
    ELSE 'answered'
  END;
  since := CASE WHEN ai IN ('escalated', 'failed') THEN coalesce(NEW.completed_at, now()) END;
  INSERT INTO secretary.inbox_threads AS t
    (channel, username, last_request_id, last_at, last_text, last_author, ai_state, escalated_since, version)
  VALUES (
    NEW.channel, NEW.username, NEW.id, NEW.created_at, left(NEW.text, 500),
    CASE WHEN NEW.status = 'completed' THEN 'ai' ELSE 'person' END,
    ai, since, nextval('secretary.inbox_version_seq')
  )
  ON CONFLICT (channel, username) DO UPDATE SET
    last_request_id = EXCLUDED.last_request_id,
    last_at = greatest(t.last_at, EXCLUDED.last_at),
    last_text = EXCLUDED.last_text,
    last_author = EXCLUDED.last_author,
    ai_state = EXCLUDED.ai_state,
    -- A new message from the person reopens a resolved conversation.
    resolved_at = CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE t.resolved_at END,
    resolved_by = CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE t.resolved_by END,
    escalated_since = CASE
      WHEN EXCLUDED.ai_state IN ('escalated', 'failed') THEN coalesce(t.escalated_since, EXCLUDED.escalated_since)
      WHEN EXCLUDED.ai_state = 'in_progress' THEN t.escalated_since
      ELSE NULL
    END,
    version = EXCLUDED.version
  -- An older exchange finishing late does not overwrite a newer one's summary.
  WHERE t.last_request_id IS NULL OR t.last_request_id <= NEW.id;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER requests_inbox AFTER INSERT OR UPDATE OF status ON secretary.requests
  FOR EACH ROW EXECUTE FUNCTION secretary.inbox_on_request();
--> statement-breakpoint
-- Conversations that existed before the inbox: their latest exchange.
INSERT INTO secretary.inbox_threads
  (channel, username, last_request_id, last_at, last_text, last_author, ai_state, escalated_since, version)
SELECT channel, username, id, created_at, left(text, 500),
  CASE WHEN status = 'completed' THEN 'ai' ELSE 'person' END,
  CASE
    WHEN status = 'pending' THEN 'in_progress'
    WHEN status = 'failed' THEN 'failed'
    WHEN action = 'уточнить' THEN 'awaiting_clarification'
    WHEN action = 'написать в telegram сотруднику' THEN 'escalated'
    ELSE 'answered'
  END,
  CASE WHEN status = 'failed' OR action = 'написать в telegram сотруднику' THEN coalesce(completed_at, created_at) END,
  nextval('secretary.inbox_version_seq')
FROM (
  SELECT DISTINCT ON (channel, username) * FROM secretary.requests ORDER BY channel, username, id DESC
) latest
ON CONFLICT DO NOTHING;
