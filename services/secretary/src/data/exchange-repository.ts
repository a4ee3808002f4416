import type { Channel, HistoryItem, HistoryPage, HistoryQuery, User } from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import { decodeIdCursor, idPage } from '@workemon/http-kit';
import { and, desc, eq, getTableColumns, inArray, lt, ne, sql, type SQL } from 'drizzle-orm';
import type {
  ConversationChange,
  ExchangeLeaseStorePort,
  ExchangeTarget,
  ExchangeRecord,
  ExchangeStorePort,
  FailureRecord,
  OpenConversation,
  OwnerTimeouts,
  PendingExchange,
  RequesterLookupPort,
  StoredExchange,
} from '../domain/ports.js';
import { storableJson, storableKey, storableText } from '../domain/storable-text.js';
import type { KnowledgeGeneration } from '../domain/knowledge-ports.js';
import type { Database } from './db.js';
import { KNOWLEDGE_GENERATION } from './knowledge-generation.js';
import { BatchedInsert, guardDatabase, namedQuery } from '@workemon/db';
import { conversations, followUps, requests } from './schema.js';

interface RequesterRow extends Record<string, unknown> {
  username: string | null;
  display_name: string | null;
  department: string | null;
  position: string | null;
  email: string | null;
  telegram_chat_id: string | null;
  conversation_id: string | null;
  original_request: string | null;
  thread: string | null;
  clarifications: number | null;
  updated_at: Date | string | null;
  taken_over: boolean;
  knowledge_documents: number;
  knowledge_key: string;
}

const HISTORY_CURSOR = 'r';

/**
 * The user's directory entry, open conversation and take-over, and the knowledge base's generation,
 * in one row ($1 username, $2 channel): one round trip where grounding the answer would be another.
 */
export const LOOKUP = `
  SELECT u.username, u.display_name, u.department, u.position, u.email, u.telegram_chat_id,
         c.id AS conversation_id, c.original_request, c.thread, c.clarifications, c.updated_at,
         t.username IS NOT NULL AS taken_over,
         k.documents AS knowledge_documents, k.key AS knowledge_key
  FROM (${KNOWLEDGE_GENERATION}) AS k
  LEFT JOIN secretary.users u ON u.username = $1
  LEFT JOIN secretary.conversations c ON c.channel = $2 AND c.username = $1 AND c.status = 'open'
  LEFT JOIN secretary.inbox_threads t ON t.channel = $2 AND t.username = $1 AND t.taken_over_by IS NOT NULL
  LIMIT 1`;

/** A drizzle statement whose text never varies between calls: it can run as a named one. */
interface ConstantStatement {
  toSQL(): { sql: string; params: unknown[] };
}

/** A `pending` row whose owner is silent too long, or which is older than any analysis can take. */
function abandoned(timeouts: OwnerTimeouts): SQL {
  return sql`(coalesce(${requests.heartbeatAt}, ${requests.createdAt}) < now() - ${timeouts.silentMs} * interval '1 millisecond'
    OR ${requests.createdAt} < now() - ${timeouts.maxAgeMs} * interval '1 millisecond')`;
}

/**
 * secretary.requests + secretary.conversations: the exchange ledger and clarification state.
 * Every text is made storable (valid UTF-8, no NUL, bounded keys) here, so a write never fails on content.
 */
export class ExchangeRepository implements ExchangeStorePort, ExchangeLeaseStorePort, RequesterLookupPort {
  private readonly completedInserts: BatchedInsert<{ id: string | number; username: string }>;

  constructor(private readonly db: Database) {
    this.completedInserts = completedInserts(db);
  }

  /** The user's directory entry and open conversation in one query (this runs on every request). */
  lookup(
    channel: Channel,
    rawUsername: string,
  ): Promise<{
    user?: User;
    openConversation?: OpenConversation;
    takenOver?: boolean;
    knowledge?: KnowledgeGeneration;
  }> {
    const username = storableKey(rawUsername);
    return guardDatabase(async () => {
      const result = await namedQuery<RequesterRow>(this.db.$client, LOOKUP, [username, channel]);
      const row = result.rows[0];
      if (!row) return {};
      const user: User | undefined = row.username
        ? {
            username: row.username,
            ...(row.display_name ? { display_name: row.display_name } : {}),
            ...(row.department ? { department: row.department } : {}),
            ...(row.position ? { position: row.position } : {}),
            ...(row.email ? { email: row.email } : {}),
            ...(row.telegram_chat_id ? { telegram_chat_id: row.telegram_chat_id } : {}),
          }
        : undefined;
      const openConversation: OpenConversation | undefined = row.conversation_id
        ? {
            id: row.conversation_id,
            originalRequest: row.original_request ?? '',
            thread: row.thread ?? '',
            clarifications: row.clarifications ?? 0,
            updatedAt: new Date(row.updated_at ?? 0),
          }
        : undefined;
      return {
        ...(user ? { user } : {}),
        ...(openConversation ? { openConversation } : {}),
        ...(row.taken_over ? { takenOver: true } : {}),
        knowledge: { documents: row.knowledge_documents, key: row.knowledge_key },
      };
    });
  }

  insertPending(exchange: PendingExchange, owner: string): Promise<number | undefined> {
    return guardDatabase(async () => {
      const ids = await this.ids(
        this.db,
        this.db
          .insert(requests)
          .values({ ...pendingColumns(exchange), status: 'pending', owner, heartbeatAt: sql`now()` })
          .onConflictDoNothing({
            target: [requests.channel, requests.messageId],
            where: sql`status <> 'failed'`,
          })
          .returning({ id: requests.id }),
      );
      return ids[0];
    });
  }

  findActiveByMessageId(channel: Channel, messageId: string): Promise<StoredExchange | undefined> {
    return guardDatabase(async () => {
      const rows = await this.db
        .select({
          row: requests,
          ownerSilentMs: sql<number>`(extract(epoch from now() - coalesce(${requests.heartbeatAt}, ${requests.createdAt})) * 1000)::float8`,
          ageMs: sql<number>`(extract(epoch from now() - ${requests.createdAt}) * 1000)::float8`,
        })
        .from(requests)
        .where(
          and(
            eq(requests.channel, channel),
            eq(requests.messageId, storableKey(messageId)),
            ne(requests.status, 'failed'),
          ),
        )
        .limit(1);
      const found = rows[0];
      if (!found) return undefined;
      const { row } = found;
      return {
        id: row.id,
        status: row.status as StoredExchange['status'],
        createdAt: row.createdAt,
        username: row.username,
        text: row.text,
        owner: row.owner,
        ownerSilentMs: Number(found.ownerSilentMs),
        ageMs: Number(found.ageMs),
        traceId: row.traceId,
        conversationId: row.conversationId,
        analysedRequest: row.analysedRequest,
        isEnough: row.isEnough,
        action: row.action,
        question: row.question,
        response: row.response,
        sources: row.sources ?? null,
      };
    });
  }

  abandonPending(id: number, reason: string, timeouts: OwnerTimeouts): Promise<boolean> {
    return guardDatabase(async () => {
      const rows = await this.db
        .update(requests)
        .set({ status: 'failed', error: storableText(reason), completedAt: new Date() })
        .where(and(eq(requests.id, id), eq(requests.status, 'pending'), abandoned(timeouts)))
        .returning({ id: requests.id });
      return rows.length > 0;
    });
  }

  heartbeat(owner: string, ids: number[]): Promise<number> {
    if (ids.length === 0) return Promise.resolve(0);
    return guardDatabase(async () => {
      const rows = await this.db
        .update(requests)
        .set({ heartbeatAt: sql`now()` })
        .where(and(inArray(requests.id, ids), eq(requests.owner, owner), eq(requests.status, 'pending')))
        .returning({ id: requests.id });
      return rows.length;
    });
  }

  finishAbandoned(timeouts: OwnerTimeouts): Promise<{ id: number; owner: string | null }[]> {
    return guardDatabase(() =>
      this.db
        .update(requests)
        .set({
          status: 'failed',
          completedAt: new Date(),
          error: sql`'abandoned: its owner ' || coalesce(${requests.owner}, '(unknown)') || ' stopped heartbeating before the outcome was stored'`,
        })
        .where(and(eq(requests.status, 'pending'), abandoned(timeouts)))
        .returning({ id: requests.id, owner: requests.owner }),
    );
  }

  /** For metrics: how many exchanges are `pending` and how old the oldest is. */
  pendingStats(): Promise<{ count: number; oldestSeconds: number }> {
    return guardDatabase(async () => {
      const rows = await this.db
        .select({
          count: sql<number>`count(*)::int`,
          oldest: sql<number>`coalesce(extract(epoch from now() - min(${requests.createdAt})), 0)::float8`,
        })
        .from(requests)
        .where(eq(requests.status, 'pending'));
      return { count: Number(rows[0]?.count ?? 0), oldestSeconds: Number(rows[0]?.oldest ?? 0) };
    });
  }

  complete(
    target: ExchangeTarget,
    record: ExchangeRecord,
    change: ConversationChange,
    scope: { channel: Channel; username: string; expiredConversationId?: string },
  ): Promise<{ conversationId: string | null }> {
    // The common case (no conversation to touch) is one statement; only conversation changes need a transaction.
    if (change.kind === 'none' && !scope.expiredConversationId && !record.followUps?.length) {
      return guardDatabase(() =>
        this.writeCompleted(this.db, target, record, record.conversationId, new Date()),
      );
    }
    return guardDatabase(() =>
      this.db.transaction(async (tx) => {
        const now = new Date();
        let conversationId = record.conversationId;
        if (scope.expiredConversationId) {
          await tx
            .update(conversations)
            .set({ status: 'expired', closedAt: now })
            .where(and(eq(conversations.id, scope.expiredConversationId), eq(conversations.status, 'open')));
        }
        switch (change.kind) {
          case 'open': {
            // Two messages of one user racing may both open a conversation: the latest question wins.
            const opened = await tx
              .insert(conversations)
              .values({
                id: change.id,
                channel: scope.channel,
                username: storableKey(scope.username),
                status: 'open',
                originalRequest: storableText(change.originalRequest),
                thread: storableText(change.thread),
                lastQuestion: storableText(change.question),
                clarifications: 1,
                createdAt: now,
                updatedAt: now,
              })
              .onConflictDoUpdate({
                target: [conversations.channel, conversations.username],
                targetWhere: sql`status = 'open'`,
                set: {
                  originalRequest: storableText(change.originalRequest),
                  thread: storableText(change.thread),
                  lastQuestion: storableText(change.question),
                  clarifications: 1,
                  updatedAt: now,
                },
              })
              .returning({ id: conversations.id });
            conversationId = opened[0]?.id ?? change.id;
            break;
          }
          case 'continue':
            await tx
              .update(conversations)
              .set({
                thread: storableText(change.thread),
                lastQuestion: storableText(change.question),
                clarifications: change.clarifications,
                updatedAt: now,
              })
              .where(eq(conversations.id, change.id));
            break;
          case 'close':
            await tx
              .update(conversations)
              .set({ status: change.status, updatedAt: now, closedAt: now })
              .where(eq(conversations.id, change.id));
            break;
          case 'none':
            break;
        }
        return this.writeCompleted(tx, target, record, conversationId, now);
      }),
    );
  }

  private async writeCompleted(
    db: Pick<Database, 'insert' | 'update'>,
    target: ExchangeTarget,
    record: ExchangeRecord,
    conversationId: string | null,
    now: Date,
  ): Promise<{ conversationId: string | null }> {
    const outcome = completedOutcome(record, conversationId, now);
    let ids: number[];
    if (db === this.db) {
      // Outside a transaction (once per answer): a constant text, no statement built per call.
      ids =
        target.kind === 'unclaimed'
          ? [await this.insertCompleted(outcome, target.exchange, now)]
          : await this.namedIds(UPDATE_COMPLETED, [...encoded(outcome, OUTCOME_FIELDS), target.id]);
    } else if (target.kind === 'unclaimed') {
      const rows = await db
        .insert(requests)
        .values({
          ...pendingColumns(target.exchange),
          ...outcome,
          createdAt: target.exchange.receivedAt ?? now,
        })
        .returning({ id: requests.id });
      ids = rows.map((row) => row.id);
    } else {
      const rows = await db
        .update(requests)
        .set(outcome)
        .where(and(eq(requests.id, target.id), eq(requests.status, 'pending')))
        .returning({ id: requests.id });
      ids = rows.map((row) => row.id);
    }
    if (target.kind === 'claimed' && ids.length === 0) {
      // Another process declared this attempt abandoned; its answer must not be stored twice.
      throw AppError.unavailable('this attempt was taken over by another request with the same message_id', {
        retryAfterSeconds: 5,
      });
    }
    const requestId = target.kind === 'unclaimed' ? (ids[0] ?? 0) : target.id;
    for (const followUp of record.followUps ?? []) {
      await db
        .insert(followUps)
        .values({ requestId, kind: followUp.kind, payload: storableJson({ ...followUp.payload }) })
        .onConflictDoNothing();
    }
    return { conversationId };
  }

  /**
   * The ids a `returning id` statement returned; outside a transaction (the common case: one
   * statement per answer) as a named statement, planned once per connection.
   */
  private async ids(
    db: Pick<Database, 'insert' | 'update'>,
    statement: ConstantStatement & PromiseLike<{ id: number }[]>,
  ): Promise<number[]> {
    if (db !== this.db) return (await statement).map((row) => row.id);
    const { sql: text, params } = statement.toSQL();
    return this.namedIds(text, params);
  }

  /** A completed answer to a message nobody claimed, written together with others finishing now. */
  private async insertCompleted(outcome: Outcome, exchange: PendingExchange, now: Date): Promise<number> {
    const { id } = await this.completedInserts.insert([
      ...encoded(outcome, OUTCOME_FIELDS),
      ...encoded({ ...pendingColumns(exchange), createdAt: exchange.receivedAt ?? now }, PENDING_FIELDS),
    ]);
    return Number(id);
  }

  private async namedIds(text: string, params: unknown[]): Promise<number[]> {
    const { rows } = await namedQuery<{ id: string | number }>(this.db.$client, text, params);
    return rows.map((row) => Number(row.id));
  }

  markFailed(target: ExchangeTarget, failure: FailureRecord): Promise<void> {
    return guardDatabase(async () => {
      const outcome = {
        status: 'failed',
        completedAt: new Date(),
        error: storableText(failure.error),
        conversationId: failure.conversationId,
        analysedRequest: failure.analysedRequest === null ? null : storableText(failure.analysedRequest),
        userAttributes: storableJson(failure.userAttributes),
        guesserVerdict: storableJson(failure.guesserVerdict),
        latencyMs: failure.latencyMs,
      };
      if (target.kind === 'unclaimed') {
        await this.db.insert(requests).values({ ...pendingColumns(target.exchange), ...outcome });
        return;
      }
      await this.db
        .update(requests)
        .set(outcome)
        .where(and(eq(requests.id, target.id), eq(requests.status, 'pending')));
    });
  }

  private async jiraIssues(
    requestIds: number[],
  ): Promise<Map<number, NonNullable<HistoryItem['jira_issue']>>> {
    if (requestIds.length === 0) return new Map();
    const rows = await this.db
      .select()
      .from(followUps)
      .where(and(inArray(followUps.requestId, requestIds), eq(followUps.kind, 'jira-task')));
    return new Map(
      rows.map((f) => [
        f.requestId,
        {
          status: f.status as 'pending' | 'done' | 'failed',
          key: typeof f.result?.key === 'string' ? f.result.key : null,
          url: typeof f.result?.url === 'string' ? f.result.url : null,
          error: f.status === 'done' ? null : f.lastError,
        },
      ]),
    );
  }

  history(query: HistoryQuery): Promise<HistoryPage> {
    return guardDatabase(async () => {
      // Without a status filter: finished exchanges (a pending one is still being analysed).
      const conditions = [query.status ? eq(requests.status, query.status) : ne(requests.status, 'pending')];
      if (query.username) conditions.push(eq(requests.username, storableKey(query.username)));
      if (query.channel) conditions.push(eq(requests.channel, query.channel));
      if (query.cursor) conditions.push(lt(requests.id, decodeIdCursor(HISTORY_CURSOR, query.cursor)));
      const rows = await this.db
        .select()
        .from(requests)
        .where(and(...conditions))
        .orderBy(desc(requests.id))
        .limit(query.limit + 1);
      const { page, next_cursor } = idPage(rows, query.limit, HISTORY_CURSOR, (r) => r.id);
      const jiraByRequest = await this.jiraIssues(page.map((r) => r.id));
      const items: HistoryItem[] = page.map((row) => ({
        id: String(row.id),
        created_at: row.createdAt.toISOString(),
        channel: row.channel as Channel,
        username: row.username,
        message_id: row.messageId,
        conversation_id: row.conversationId,
        request: row.analysedRequest ?? row.text,
        status: historyStatus(row.status),
        is_enough: row.isEnough,
        action: row.action,
        question: row.question,
        response: row.response,
        error: row.error,
        latency_ms: (row.latencyMs as Record<string, number> | null) ?? null,
        model: row.model,
        tokens_total: row.tokensTotal,
        sources: row.sources ?? null,
        jira_issue: jiraByRequest.get(row.id) ?? null,
      }));
      return { items, next_cursor };
    });
  }
}

function historyStatus(status: string): HistoryItem['status'] {
  return status === 'completed' || status === 'pending' ? status : 'failed';
}

function pendingColumns(exchange: PendingExchange) {
  return {
    traceId: exchange.traceId === undefined ? null : storableKey(exchange.traceId),
    channel: exchange.channel,
    username: storableKey(exchange.username),
    messageId: exchange.messageId === undefined ? null : storableKey(exchange.messageId),
    text: storableText(exchange.text),
  };
}

/** What a completed exchange stores (besides what its pending row holds already). */
function completedOutcome(record: ExchangeRecord, conversationId: string | null, now: Date) {
  return {
    status: 'completed',
    completedAt: now,
    conversationId,
    analysedRequest: storableText(record.analysedRequest),
    userAttributes: storableJson(record.userAttributes),
    guesserVerdict: storableJson(record.guesserVerdict),
    analystVerdict: storableJson(record.analystVerdict),
    isEnough: record.isEnough,
    action: record.action,
    question: storableText(record.question),
    response: storableText(record.response),
    latencyMs: record.latencyMs,
    model: record.model === null ? null : storableText(record.model),
    promptVersion: record.promptVersion === null ? null : storableText(record.promptVersion),
    tokenUsage: storableJson(record.tokenUsage),
    tokensTotal: record.tokensTotal,
    sources: record.sources,
  };
}

type Outcome = ReturnType<typeof completedOutcome>;
type PendingRow = ReturnType<typeof pendingColumns> & { createdAt: Date };

/** A column as drizzle sends a value to it: its name and its encoder. */
interface EncodingColumn {
  name: string;
  mapToDriverValue(value: unknown): unknown;
}
const requestColumns = getTableColumns(requests) as unknown as Record<string, EncodingColumn>;

/** `$from`, `$from+1`, … for `count` values. */
const placeholders = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => `$${from + i}`).join(', ');

/**
 * The fields the two statements below write, in their parameters' order: one list each, from which
 * the column names and the parameters are both derived (`status` is written as a literal).
 */
const OUTCOME_FIELDS = [
  'completedAt',
  'conversationId',
  'analysedRequest',
  'userAttributes',
  'guesserVerdict',
  'analystVerdict',
  'isEnough',
  'action',
  'question',
  'response',
  'latencyMs',
  'model',
  'promptVersion',
  'tokenUsage',
  'tokensTotal',
  'sources',
] as const satisfies readonly Exclude<keyof Outcome, 'status'>[];
const PENDING_FIELDS = [
  'traceId',
  'channel',
  'username',
  'messageId',
  'text',
  'createdAt',
] as const satisfies readonly (keyof PendingRow)[];

const columnNames = (fields: readonly string[]) =>
  fields.map((f) => (requestColumns[f] as EncodingColumn).name).join(', ');

/** The values of `fields` as drizzle sends them: null stays null, the rest through the column's encoder. */
function encoded<R>(row: R, fields: readonly (keyof R & string)[]): unknown[] {
  return fields.map((f) => {
    const value = row[f];
    return value === null || value === undefined
      ? null
      : (requestColumns[f] as EncodingColumn).mapToDriverValue(value);
  });
}

/*
 * The two statements that store an answer outside a transaction, written once instead of built by
 * drizzle per answer; values go through the columns' own drizzle encoders, so a row is stored
 * exactly as drizzle's insert/update would store it.
 */
const OUTCOME_COUNT = OUTCOME_FIELDS.length;

const INSERTED_COUNT = OUTCOME_COUNT + PENDING_FIELDS.length;
/** Where the username is among an inserted row's parameters. */
const USERNAME_AT = OUTCOME_COUNT + PENDING_FIELDS.indexOf('username');

/**
 * An answer to a message nobody claimed: its row is written once, completed. Answers finishing
 * together are written by one statement (see BatchedInsert): under load, one commit for several.
 */
function completedInserts(db: Database): BatchedInsert<{ id: string | number; username: string }> {
  return new BatchedInsert(db.$client, {
    into: `INSERT INTO secretary.requests (status, ${columnNames(OUTCOME_FIELDS)}, ${columnNames(PENDING_FIELDS)})`,
    row: (first) => `('completed', ${placeholders(first, INSERTED_COUNT)})`,
    parameters: INSERTED_COUNT,
    returning: 'id, username',
    sameRow: (row, values) => row.username === values[USERNAME_AT],
    maxRows: 32,
    // Of the pool's connections (5 by default), the rest stay free for the requester lookups.
    maxInFlight: 2,
  });
}

/** An answer to the `pending` row claimed for it (the last parameter: its id); none if another process took it over. */
const UPDATE_COMPLETED = `
  UPDATE secretary.requests
  SET status = 'completed', (${columnNames(OUTCOME_FIELDS)}) = (${placeholders(1, OUTCOME_COUNT)})
  WHERE id = $${OUTCOME_COUNT + 1} AND status = 'pending'
  RETURNING id`;
