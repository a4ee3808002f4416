import type {
  ConversationKey,
  ConversationState,
  ConversationSummary,
  ConversationView,
  InboxChanges,
  InboxPage,
  InboxQuery,
  OperatorReply,
  OperatorReplyOutcome,
  ThreadEntry,
} from '@workemon/contracts';
import { CHANNELS } from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import { sql, type SQL } from 'drizzle-orm';
import { guardDatabase, namedQuery } from '@workemon/db';
import type { Database } from './db.js';
import type { HeldMessage } from '../domain/operator-hold.js';
import type { NewOperatorReply, OperatorAction, OperatorStorePort, RecordedReply } from '../domain/ports.js';

/** A conversation row as the inbox query returns it (timestamps as ISO text with microseconds). */
interface SummaryRow extends Record<string, unknown> {
  channel: string;
  username: string;
  display_name: string | null;
  department: string | null;
  state: string;
  last_text: string;
  last_author: string;
  last_at: string;
  taken_over_by: string | null;
  assigned_to: string | null;
  escalated_since: string | null;
  waiting_since: string | null;
  version: string;
}

/** ISO 8601 UTC with microseconds: keyset cursors must not lose Postgres' precision. */
const iso = (column: SQL) => sql`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const SUMMARY_COLUMNS = sql`
  t.channel, t.username, u.display_name, u.department, t.state, t.last_text, t.last_author,
  ${iso(sql`t.last_at`)} AS last_at, t.taken_over_by, t.assigned_to,
  ${iso(sql`t.escalated_since`)} AS escalated_since, ${iso(sql`t.waiting_since`)} AS waiting_since,
  t.version::text AS version`;

function toSummary(row: SummaryRow): ConversationSummary {
  return {
    channel: row.channel,
    username: row.username,
    display_name: row.display_name,
    department: row.department,
    state: row.state as ConversationState,
    last_text: row.last_text,
    last_author: row.last_author,
    last_at: row.last_at,
    taken_over_by: row.taken_over_by,
    assigned_to: row.assigned_to,
    escalated_since: row.escalated_since,
    waiting_since: row.waiting_since,
    version: row.version,
  };
}

function encodeCursor(row: SummaryRow): string {
  return Buffer.from(JSON.stringify(['inbox', row.last_at, row.channel, row.username])).toString('base64url');
}

function decodeCursor(cursor: string): { at: string; channel: string; username: string } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(value) &&
      value.length === 4 &&
      value[0] === 'inbox' &&
      typeof value[1] === 'string' &&
      !Number.isNaN(Date.parse(value[1])) &&
      typeof value[2] === 'string' &&
      typeof value[3] === 'string'
    )
      return { at: value[1], channel: value[2], username: value[3] };
  } catch {
    // falls through to the 400 below
  }
  throw AppError.badRequest("Parameter 'cursor' is not a cursor this API issued");
}

/** LIKE pattern for a plain substring: the operator's % and _ are text, not wildcards. */
/** Conversations a search first checks one by one, newest first, before it asks the trigram indexes. */
const SEARCH_WINDOW = 400;

const containsPattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Is the conversation ($1 channel, $2 username) taken over? Asked before every message with a message_id. */
const TAKEN_OVER = `SELECT 1 FROM secretary.inbox_threads
  WHERE channel = $1 AND username = $2 AND taken_over_by IS NOT NULL`;

/** secretary.inbox_threads + secretary.operator_messages: what the console reads and changes. */
export class OperatorRepository implements OperatorStorePort {
  constructor(private readonly db: Database) {}

  /**
   * When an operator has the conversation, keeps the person's message for them and returns true
   * (the analysis must not run). A repeat of the same message id is recognised, not stored twice.
   */
  async holdIfTakenOver(message: HeldMessage): Promise<boolean> {
    // Almost always finds nothing: a plain read first, which costs the database half of the locking
    // statement. A take-over racing this read is as if it came a moment later (the message is
    // analysed), as with any take-over during an analysis.
    const taken = await guardDatabase(() =>
      namedQuery(this.db.$client, TAKEN_OVER, [message.channel, message.username]),
    );
    return taken.rows.length > 0 && this.hold(message);
  }

  hold(message: HeldMessage): Promise<boolean> {
    return guardDatabase(async () => {
      // One statement, so its own transaction: lock the thread, keep the message once, touch the thread.
      const result = await this.db.execute<{ held: boolean }>(sql`
        WITH taken AS (
          SELECT 1 FROM secretary.inbox_threads
          WHERE channel = ${message.channel} AND username = ${message.username} AND taken_over_by IS NOT NULL
          FOR UPDATE),
        inserted AS (
          INSERT INTO secretary.operator_messages (channel, username, kind, message_id, text, status, trace_id)
          SELECT ${message.channel}, ${message.username}, 'held', ${message.messageId ?? null}, ${message.text},
                 'received', ${message.traceId ?? null}
          WHERE EXISTS (SELECT 1 FROM taken)
          ON CONFLICT (channel, message_id) DO NOTHING
          RETURNING id),
        -- Runs though nothing reads it (PostgreSQL executes every data-modifying WITH once).
        touched AS (
          UPDATE secretary.inbox_threads
          SET last_at = now(), last_text = left(${message.text}, 500), last_author = 'person',
              waiting_since = coalesce(waiting_since, now()), version = nextval('secretary.inbox_version_seq')
          WHERE channel = ${message.channel} AND username = ${message.username} AND EXISTS (SELECT 1 FROM inserted))
        SELECT EXISTS (SELECT 1 FROM taken) AS held`);
      return result.rows[0]?.held === true;
    });
  }

  /**
   * Newest first; keyset paging on (last_at, channel, username) so every page is an index range.
   * A text search (`q`: name, address, or any message of the conversation) runs in two steps, each
   * bounded: first the newest SEARCH_WINDOW conversations are checked one by one — a common word
   * fills the page there; when it does not, the trigram indexes find every conversation the text
   * occurs in (a rare word: few rows), and only those are ordered.
   */
  inbox(query: InboxQuery): Promise<InboxPage> {
    return guardDatabase(async () => {
      const where: SQL[] = [];
      if (query.state) where.push(sql`t.state = ${query.state}`);
      if (query.channel) where.push(sql`t.channel = ${query.channel}`);
      if (query.cursor) {
        const c = decodeCursor(query.cursor);
        where.push(
          sql`(t.last_at, t.channel, t.username) < (${c.at}::timestamptz, ${c.channel}, ${c.username})`,
        );
      }
      const filters = where.length > 0 ? sql.join(where, sql` AND `) : undefined;
      const order = sql`ORDER BY t.last_at DESC NULLS LAST, t.channel DESC NULLS LAST, t.username DESC NULLS LAST`;
      const page = async (from: SQL, extra: SQL | undefined, prefix = sql``) =>
        (
          await this.db.execute<SummaryRow>(sql`
            ${prefix}
            SELECT ${SUMMARY_COLUMNS}
            FROM ${from}
            LEFT JOIN secretary.users u ON u.username = t.username
            ${extra ? sql`WHERE ${extra}` : sql``}
            ${order}
            LIMIT ${query.limit + 1}`)
        ).rows;

      let rows: SummaryRow[];
      if (!query.q) {
        rows = await page(sql`secretary.inbox_threads t`, filters);
      } else {
        const pattern = containsPattern(query.q);
        // The messages are joined to the window (index lookups per conversation), never scanned whole.
        rows = await page(
          sql`recent t`,
          sql`(t.username ILIKE ${pattern} OR u.display_name ILIKE ${pattern}
            OR (t.channel, t.username) IN (
              SELECT r.channel, r.username FROM recent x JOIN secretary.requests r
                ON r.username = x.username AND r.channel = x.channel
                WHERE r.text ILIKE ${pattern} OR r.response ILIKE ${pattern}
              UNION ALL SELECT m.channel, m.username FROM recent x JOIN secretary.operator_messages m
                ON m.username = x.username AND m.channel = x.channel WHERE m.text ILIKE ${pattern}))`,
          sql`WITH recent AS MATERIALIZED (
            SELECT * FROM secretary.inbox_threads t ${filters ? sql`WHERE ${filters}` : sql``}
            ${order} LIMIT ${SEARCH_WINDOW})`,
        );
        if (rows.length <= query.limit) {
          // Fewer matches than a page among the newest: a rare text; let the trigram indexes find them all.
          const hits = sql`(t.channel, t.username) IN (
              SELECT r.channel, r.username FROM secretary.requests r WHERE r.text ILIKE ${pattern}
              UNION SELECT r.channel, r.username FROM secretary.requests r WHERE r.response ILIKE ${pattern}
              UNION SELECT m.channel, m.username FROM secretary.operator_messages m WHERE m.text ILIKE ${pattern}
              UNION SELECT h.channel, h.username FROM secretary.inbox_threads h WHERE h.username ILIKE ${pattern}
              -- A person by name on every channel: the primary key finds their conversations.
              UNION SELECT c.channel, p.username FROM secretary.users p
                CROSS JOIN unnest(${sql.raw(`ARRAY[${CHANNELS.map((c) => `'${c}'`).join(', ')}]::text[]`)}) AS c(channel)
                WHERE p.display_name ILIKE ${pattern})`;
          rows = await page(sql`secretary.inbox_threads t`, filters ? sql`${filters} AND ${hits}` : hits);
        }
      }
      const items = rows.slice(0, query.limit);
      const last = items.at(-1);
      return {
        items: items.map(toSummary),
        next_cursor: rows.length > query.limit && last ? encodeCursor(last) : null,
      };
    });
  }

  /** Escalated or failed and not yet answered by an operator, or a message waiting for one: oldest first. */
  escalations(limit: number): Promise<ConversationSummary[]> {
    return guardDatabase(async () => {
      const result = await this.db.execute<SummaryRow>(sql`
        SELECT ${SUMMARY_COLUMNS}
        FROM secretary.inbox_threads t
        LEFT JOIN secretary.users u ON u.username = t.username
        WHERE (t.escalated_since IS NOT NULL OR t.waiting_since IS NOT NULL) AND t.resolved_at IS NULL
        ORDER BY least(t.escalated_since, t.waiting_since) ASC
        LIMIT ${limit}`);
      return result.rows.map(toSummary);
    });
  }

  summary(key: ConversationKey): Promise<ConversationSummary | undefined> {
    return guardDatabase(async () => {
      const result = await this.db.execute<SummaryRow>(sql`
        SELECT ${SUMMARY_COLUMNS}
        FROM secretary.inbox_threads t
        LEFT JOIN secretary.users u ON u.username = t.username
        WHERE t.channel = ${key.channel} AND t.username = ${key.username}`);
      const row = result.rows[0];
      return row ? toSummary(row) : undefined;
    });
  }

  /** The conversation's latest 200 entries, oldest first: exchanges (with follow-ups), held messages, replies. */
  conversation(key: ConversationKey): Promise<ConversationView | undefined> {
    return guardDatabase(async () => {
      const summary = await this.summary(key);
      if (!summary) return undefined;
      const [person, exchanges, messages] = await Promise.all([
        this.db.execute<{
          display_name: string | null;
          department: string | null;
          position: string | null;
          email: string | null;
          telegram_chat_id: string | null;
        }>(sql`SELECT display_name, department, position, email, telegram_chat_id
               FROM secretary.users WHERE username = ${key.username}`),
        this.db.execute<ExchangeRow>(sql`
          SELECT r.id::text AS id, ${iso(sql`r.created_at`)} AS at, ${iso(sql`r.completed_at`)} AS completed_at,
                 r.trace_id, r.message_id, r.text, r.analysed_request, r.status, r.is_enough, r.action,
                 r.question, r.response, r.error, r.guesser_verdict, r.analyst_verdict, r.latency_ms,
                 r.model, r.tokens_total,
                 coalesce((SELECT json_agg(json_build_object('kind', f.kind, 'status', f.status,
                            'attempts', f.attempts, 'result', f.result, 'error', f.last_error) ORDER BY f.id)
                           FROM secretary.follow_ups f WHERE f.request_id = r.id), '[]'::json) AS follow_ups
          FROM secretary.requests r
          WHERE r.username = ${key.username} AND r.channel = ${key.channel}
          ORDER BY r.id DESC LIMIT 200`),
        this.db.execute<MessageRow>(sql`
          SELECT m.id::text AS id, m.kind, ${iso(sql`m.created_at`)} AS at, m.trace_id, m.message_id,
                 m.operator, m.text, m.status, m.error, m.external_id
          FROM secretary.operator_messages m
          WHERE m.channel = ${key.channel} AND m.username = ${key.username}
          ORDER BY m.id DESC LIMIT 200`),
      ]);
      const entries: ThreadEntry[] = [
        ...exchanges.rows.map((r): ThreadEntry => ({ kind: 'exchange', ...r })),
        ...messages.rows.map((m): ThreadEntry =>
          m.kind === 'held'
            ? {
                kind: 'held',
                id: m.id,
                at: m.at,
                trace_id: m.trace_id,
                message_id: m.message_id,
                text: m.text,
              }
            : {
                kind: 'operator_reply',
                id: m.id,
                at: m.at,
                operator: m.operator ?? '',
                text: m.text,
                status: m.status,
                error: m.error,
                external_id: m.external_id,
              },
        ),
      ];
      // ISO timestamps of one format sort as text.
      entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
      const p = person.rows[0];
      return {
        conversation: summary,
        person: {
          username: key.username,
          display_name: p?.display_name ?? null,
          department: p?.department ?? null,
          position: p?.position ?? null,
          email: p?.email ?? null,
          telegram_chat_id: p?.telegram_chat_id ?? null,
        },
        entries: entries.slice(-200),
      };
    });
  }

  /**
   * One operator action as a conditional update: it applies only when no other operator holds
   * the conversation (take-over, release) — then the holder is returned so the caller can say who.
   */
  act(
    key: ConversationKey,
    action: OperatorAction,
    operator: string,
  ): Promise<{ applied: boolean; summary: ConversationSummary | undefined }> {
    return guardDatabase(async () => {
      const set: Record<OperatorAction, SQL> = {
        'take-over': sql`taken_over_by = ${operator}, taken_over_at = now()`,
        release: sql`taken_over_by = NULL, taken_over_at = NULL`,
        resolve: sql`resolved_by = ${operator}, resolved_at = now(), taken_over_by = NULL, taken_over_at = NULL,
                     escalated_since = NULL, waiting_since = NULL`,
        assign: sql`assigned_to = ${operator}, assigned_at = now()`,
      };
      const guard: Record<OperatorAction, SQL> = {
        'take-over': sql`(taken_over_by IS NULL OR taken_over_by = ${operator})`,
        release: sql`(taken_over_by IS NULL OR taken_over_by = ${operator})`,
        resolve: sql`(taken_over_by IS NULL OR taken_over_by = ${operator})`,
        assign: sql`TRUE`,
      };
      // Taking over a resolved conversation reopens it.
      const reopen = action === 'take-over' ? sql`, resolved_at = NULL, resolved_by = NULL` : sql``;
      const updated = await this.db.execute(sql`
        UPDATE secretary.inbox_threads SET ${set[action]}${reopen},
               version = nextval('secretary.inbox_version_seq')
        WHERE channel = ${key.channel} AND username = ${key.username} AND ${guard[action]}
        RETURNING 1`);
      return { applied: updated.rows.length > 0, summary: await this.summary(key) };
    });
  }

  /**
   * Records an operator's reply before it is sent (status sending). The idempotency key makes a
   * repeat (double click, retry after a lost answer) return the first record instead of a second reply.
   */
  recordReply(key: ConversationKey, reply: NewOperatorReply): Promise<RecordedReply> {
    return guardDatabase(async () => {
      const inserted = await this.db.execute<{ id: string; operator: string; status: string }>(sql`
        INSERT INTO secretary.operator_messages (channel, username, kind, idempotency_key, operator, text, status)
        VALUES (${key.channel}, ${key.username}, 'reply', ${reply.idempotencyKey}, ${reply.operator}, ${reply.text}, 'sending')
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id::text AS id, operator, status`);
      const row = inserted.rows[0];
      if (row) return { ...row, created: true, channel: key.channel, username: key.username };
      const existing = await this.db.execute<Omit<RecordedReply, 'created'>>(sql`
        SELECT id::text AS id, operator, status, channel, username FROM secretary.operator_messages
        WHERE idempotency_key = ${reply.idempotencyKey}`);
      const found = existing.rows[0];
      if (!found) throw AppError.unavailable('the reply could not be recorded; retry');
      return { ...found, created: false };
    });
  }

  /** The latest message of the person that carries a channel message id (the mail an answer threads to). */
  lastMessageId(key: ConversationKey): Promise<string | null> {
    return guardDatabase(async () => {
      const result = await this.db.execute<{ message_id: string }>(sql`
        SELECT message_id FROM (
          (SELECT message_id, created_at FROM secretary.requests
           WHERE channel = ${key.channel} AND username = ${key.username} AND message_id IS NOT NULL
           ORDER BY id DESC LIMIT 1)
          UNION ALL
          (SELECT message_id, created_at FROM secretary.operator_messages
           WHERE channel = ${key.channel} AND username = ${key.username} AND kind = 'held' AND message_id IS NOT NULL
           ORDER BY id DESC LIMIT 1)
        ) latest ORDER BY created_at DESC LIMIT 1`);
      return result.rows[0]?.message_id ?? null;
    });
  }

  telegramChatId(username: string): Promise<string | null> {
    return guardDatabase(async () => {
      const result = await this.db.execute<{ telegram_chat_id: string | null }>(
        sql`SELECT telegram_chat_id FROM secretary.users WHERE username = ${username}`,
      );
      return result.rows[0]?.telegram_chat_id ?? null;
    });
  }

  /** The send's result; a sent reply answers the conversation (no longer escalated or waiting). */
  replyOutcome(
    key: ConversationKey,
    idempotencyKey: string,
    outcome: OperatorReplyOutcome,
  ): Promise<boolean> {
    return guardDatabase(() =>
      this.db.transaction(async (tx) => {
        const updated = await tx.execute<{ text: string }>(sql`
          UPDATE secretary.operator_messages
          SET status = ${outcome.status}, external_id = ${outcome.external_id ?? null},
              error = ${outcome.error ?? null}, updated_at = now()
          WHERE idempotency_key = ${idempotencyKey} AND channel = ${key.channel} AND username = ${key.username}
                AND kind = 'reply'
          RETURNING text`);
        const row = updated.rows[0];
        if (!row) return false;
        await tx.execute(
          outcome.status === 'sent'
            ? sql`UPDATE secretary.inbox_threads
                  SET last_at = now(), last_text = left(${row.text}, 500), last_author = 'operator',
                      escalated_since = NULL, waiting_since = NULL,
                      version = nextval('secretary.inbox_version_seq')
                  WHERE channel = ${key.channel} AND username = ${key.username}`
            : sql`UPDATE secretary.inbox_threads SET version = nextval('secretary.inbox_version_seq')
                  WHERE channel = ${key.channel} AND username = ${key.username}`,
        );
        return true;
      }),
    );
  }

  /** What a poller compares: the inbox's version, and the oldest unanswered escalation. */
  changes(): Promise<InboxChanges> {
    return guardDatabase(async () => {
      const result = await this.db.execute<{ version: string | null; oldest: string | null }>(sql`
        SELECT (SELECT max(version) FROM secretary.inbox_threads)::text AS version,
               ${iso(sql`(SELECT min(escalated_since) FROM secretary.inbox_threads WHERE escalated_since IS NOT NULL AND resolved_at IS NULL)`)} AS oldest`);
      const row = result.rows[0];
      return { version: row?.version ?? '0', oldest_escalation_at: row?.oldest ?? null };
    });
  }
}

/** The thread's exchange entry as the contract has it, selected column for column. */
type ExchangeRow = Omit<Extract<ThreadEntry, { kind: 'exchange' }>, 'kind'> & Record<string, unknown>;

interface MessageRow extends Record<string, unknown> {
  id: string;
  kind: string;
  at: string;
  trace_id: string | null;
  message_id: string | null;
  operator: string | null;
  text: string;
  status: string;
  error: string | null;
  external_id: string | null;
}

export type { OperatorReply };
