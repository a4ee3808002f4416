import type { Channel, HistoryItem, HistoryPage, HistoryQuery, User } from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import { decodeIdCursor, idPage } from '@workemon/http-kit';
import { and, desc, eq, inArray, lt, ne, sql } from 'drizzle-orm';
import type {
  ConversationChange,
  ExchangeTarget,
  ExchangeRecord,
  ExchangeStorePort,
  FailureRecord,
  OpenConversation,
  PendingExchange,
  RequesterLookupPort,
  StoredExchange,
} from '../domain/ports.js';
import type { Database } from './db.js';
import { guardDatabase } from './database-errors.js';
import { conversations, followUps, requests, users } from './schema.js';

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
}

const HISTORY_CURSOR = 'r';

/** secretary.requests + secretary.conversations: the exchange ledger and clarification state. */
export class ExchangeRepository implements ExchangeStorePort, RequesterLookupPort {
  constructor(private readonly db: Database) {}

  /** The user's directory entry and open conversation in one query (this runs on every request). */
  lookup(channel: Channel, username: string): Promise<{ user?: User; openConversation?: OpenConversation }> {
    return guardDatabase(async () => {
      const result = await this.db.execute<RequesterRow>(sql`
        SELECT u.username, u.display_name, u.department, u.position, u.email, u.telegram_chat_id,
               c.id AS conversation_id, c.original_request, c.thread, c.clarifications, c.updated_at
        FROM (SELECT 1) AS one
        LEFT JOIN ${users} u ON u.username = ${username}
        LEFT JOIN ${conversations} c ON c.channel = ${channel} AND c.username = ${username} AND c.status = 'open'
        LIMIT 1`);
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
      return { ...(user ? { user } : {}), ...(openConversation ? { openConversation } : {}) };
    });
  }

  insertPending(exchange: PendingExchange): Promise<number | undefined> {
    return guardDatabase(async () => {
      const rows = await this.db
        .insert(requests)
        .values({ ...pendingColumns(exchange), status: 'pending' })
        .onConflictDoNothing({
          target: [requests.channel, requests.messageId],
          where: sql`status <> 'failed'`,
        })
        .returning({ id: requests.id });
      return rows[0]?.id;
    });
  }

  findActiveByMessageId(channel: Channel, messageId: string): Promise<StoredExchange | undefined> {
    return guardDatabase(async () => {
      const rows = await this.db
        .select()
        .from(requests)
        .where(
          and(
            eq(requests.channel, channel),
            eq(requests.messageId, messageId),
            ne(requests.status, 'failed'),
          ),
        )
        .limit(1);
      const row = rows[0];
      if (!row) return undefined;
      return {
        id: row.id,
        status: row.status as StoredExchange['status'],
        createdAt: row.createdAt,
        traceId: row.traceId,
        conversationId: row.conversationId,
        analysedRequest: row.analysedRequest,
        isEnough: row.isEnough,
        action: row.action,
        question: row.question,
        response: row.response,
      };
    });
  }

  abandonPending(id: number, reason: string): Promise<boolean> {
    return guardDatabase(async () => {
      const rows = await this.db
        .update(requests)
        .set({ status: 'failed', error: reason, completedAt: new Date() })
        .where(and(eq(requests.id, id), eq(requests.status, 'pending')))
        .returning({ id: requests.id });
      return rows.length > 0;
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
                username: scope.username,
                status: 'open',
                originalRequest: change.originalRequest,
                thread: change.thread,
                lastQuestion: change.question,
                clarifications: 1,
                createdAt: now,
                updatedAt: now,
              })
              .onConflictDoUpdate({
                target: [conversations.channel, conversations.username],
                targetWhere: sql`status = 'open'`,
                set: {
                  originalRequest: change.originalRequest,
                  thread: change.thread,
                  lastQuestion: change.question,
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
                thread: change.thread,
                lastQuestion: change.question,
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
    const outcome = {
      status: 'completed',
      completedAt: now,
      conversationId,
      analysedRequest: record.analysedRequest,
      userAttributes: record.userAttributes,
      guesserVerdict: record.guesserVerdict,
      analystVerdict: record.analystVerdict,
      isEnough: record.isEnough,
      action: record.action,
      question: record.question,
      response: record.response,
      latencyMs: record.latencyMs,
      model: record.model,
      promptVersion: record.promptVersion,
      tokenUsage: record.tokenUsage,
      tokensTotal: record.tokensTotal,
    };
    let requestId: number;
    if (target.kind === 'unclaimed') {
      const inserted = await db
        .insert(requests)
        .values({
          ...pendingColumns(target.exchange),
          ...outcome,
          createdAt: target.exchange.receivedAt ?? now,
        })
        .returning({ id: requests.id });
      requestId = inserted[0]?.id ?? 0;
    } else {
      const updated = await db
        .update(requests)
        .set(outcome)
        .where(and(eq(requests.id, target.id), eq(requests.status, 'pending')))
        .returning({ id: requests.id });
      if (updated.length === 0) {
        // Another process declared this attempt abandoned; its answer must not be stored twice.
        throw AppError.unavailable(
          'this attempt was taken over by another request with the same message_id',
          { retryAfterSeconds: 5 },
        );
      }
      requestId = target.id;
    }
    for (const followUp of record.followUps ?? []) {
      await db
        .insert(followUps)
        .values({ requestId, kind: followUp.kind, payload: { ...followUp.payload } })
        .onConflictDoNothing();
    }
    return { conversationId };
  }

  markFailed(target: ExchangeTarget, failure: FailureRecord): Promise<void> {
    return guardDatabase(async () => {
      const outcome = {
        status: 'failed',
        completedAt: new Date(),
        error: failure.error,
        conversationId: failure.conversationId,
        analysedRequest: failure.analysedRequest,
        userAttributes: failure.userAttributes,
        guesserVerdict: failure.guesserVerdict,
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
      const conditions = [ne(requests.status, 'pending')];
      if (query.username) conditions.push(eq(requests.username, query.username));
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
        status: row.status === 'completed' ? 'completed' : 'failed',
        is_enough: row.isEnough,
        action: row.action,
        question: row.question,
        response: row.response,
        error: row.error,
        latency_ms: (row.latencyMs as Record<string, number> | null) ?? null,
        model: row.model,
        tokens_total: row.tokensTotal,
        jira_issue: jiraByRequest.get(row.id) ?? null,
      }));
      return { items, next_cursor };
    });
  }
}

function pendingColumns(exchange: PendingExchange) {
  return {
    traceId: exchange.traceId ?? null,
    channel: exchange.channel,
    username: exchange.username,
    messageId: exchange.messageId ?? null,
    text: exchange.text,
  };
}
