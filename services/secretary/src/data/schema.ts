import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  primaryKey,
  pgSchema,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const secretary = pgSchema('secretary');

export const users = secretary.table(
  'users',
  {
    username: text('username').primaryKey(),
    displayName: text('display_name'),
    department: text('department'),
    position: text('position'),
    email: text('email'),
    telegramChatId: text('telegram_chat_id'),
    source: text('source').notNull().default('api'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  // The operators' inbox search (ILIKE '%…%') finds people by name through trigrams.
  (t) => [index('users_display_name_trgm_idx').using('gin', t.displayName.op('gin_trgm_ops'))],
);

/** Clarification state per (channel, username); at most one `open` conversation each. */
export const conversations = secretary.table(
  'conversations',
  {
    id: uuid('id').primaryKey(),
    channel: text('channel').notNull(),
    username: text('username').notNull(),
    /** open (awaiting the user's answer) | resolved | escalated | expired */
    status: text('status').notNull(),
    originalRequest: text('original_request').notNull(),
    /** The whole delimited thread so far, ending with the last question. */
    thread: text('thread').notNull(),
    lastQuestion: text('last_question'),
    clarifications: integer('clarifications').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    closedAt: timestamp('closed_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('conversations_open_per_user')
      .on(t.channel, t.username)
      .where(sql`status = 'open'`),
    index('conversations_user_idx').on(t.channel, t.username, t.updatedAt),
  ],
);

export interface StageLatency {
  guesser_ms?: number;
  analyst_ms?: number;
  knowledge_ms?: number;
  total_ms?: number;
}

/** One row per analysed request (and per failed attempt). */
export const requests = secretary.table(
  'requests',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    traceId: text('trace_id'),
    channel: text('channel').notNull(),
    username: text('username').notNull(),
    messageId: text('message_id'),
    conversationId: uuid('conversation_id'),
    /** The text exactly as received. */
    text: text('text').notNull(),
    /** The text analysed: equals `text` or the whole clarification thread. */
    analysedRequest: text('analysed_request'),
    userAttributes: jsonb('user_attributes').$type<Record<string, string>>(),
    guesserVerdict: jsonb('guesser_verdict').$type<Record<string, unknown>>(),
    analystVerdict: jsonb('analyst_verdict').$type<Record<string, unknown>>(),
    isEnough: boolean('is_enough'),
    action: text('action'),
    question: text('question'),
    response: text('response'),
    /** pending | completed | failed */
    status: text('status').notNull(),
    error: text('error'),
    /** The secretary instance analysing a `pending` row; it renews heartbeat_at while it works. */
    owner: text('owner'),
    /** A `pending` row whose owner stopped beating is taken over (by a retry or the sweep). */
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }),
    latencyMs: jsonb('latency_ms').$type<StageLatency>(),
    model: text('model'),
    promptVersion: text('prompt_version'),
    tokenUsage: jsonb('token_usage').$type<Record<string, unknown>>(),
    tokensTotal: integer('tokens_total'),
    /** Knowledge documents passed to the analyst for this answer: [{id, title, url?}]. */
    sources: jsonb('sources').$type<{ id: string; title: string; url?: string }[]>(),
  },
  (t) => [
    // Failed attempts are not answers: they stay in history and never block a retry.
    uniqueIndex('requests_channel_message_id')
      .on(t.channel, t.messageId)
      .where(sql`status <> 'failed'`),
    index('requests_username_idx').on(t.username, t.id),
    index('requests_channel_idx').on(t.channel, t.id),
    index('requests_pending_heartbeat_idx')
      .on(t.heartbeatAt)
      .where(sql`status = 'pending'`),
    // The operators' inbox search looks inside every message and answer (ILIKE '%…%'): trigrams
    // find the few rows a rare word is in without reading all of them.
    index('requests_text_trgm_idx').using('gin', t.text.op('gin_trgm_ops')),
    index('requests_response_trgm_idx').using('gin', t.response.op('gin_trgm_ops')),
  ],
);

/**
 * Work that follows a stored exchange (a Jira issue to file): written in the same transaction
 * as the exchange, so a crash never loses it; done by a worker that leases one row at a time.
 */
export const followUps = secretary.table(
  'follow_ups',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    requestId: bigint('request_id', { mode: 'number' })
      .notNull()
      .references(() => requests.id),
    /** jira-task */
    kind: text('kind').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    /** pending | done | failed */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    /** What the work produced, e.g. {key, url} of the Jira issue. */
    result: jsonb('result').$type<Record<string, unknown>>(),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    /** The lease: renewed with each heartbeat while the owner works; a dead owner's row is due after it. */
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    /** The secretary instance working on the row (null when nobody is). */
    owner: text('owner'),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('follow_ups_request_kind').on(t.requestId, t.kind),
    index('follow_ups_due_idx')
      .on(t.nextAttemptAt)
      .where(sql`status = 'pending'`),
  ],
);

/**
 * The operators' inbox: one row per conversation — a person on a channel — summarising its
 * latest activity, so the inbox pages by an index instead of grouping every exchange.
 * Exchanges keep it current through a trigger on `requests` (migration 0005_inbox_trigger),
 * so no write path of the analysis can forget it; operator actions update it directly.
 */
export const inboxThreads = secretary.table(
  'inbox_threads',
  {
    channel: text('channel').notNull(),
    username: text('username').notNull(),
    lastRequestId: bigint('last_request_id', { mode: 'number' }),
    lastAt: timestamp('last_at', { withTimezone: true }).notNull(),
    lastText: text('last_text').notNull(),
    /** person | ai | operator */
    lastAuthor: text('last_author').notNull(),
    /** From the latest exchange: in_progress | answered | awaiting_clarification | escalated | failed */
    aiState: text('ai_state').notNull(),
    takenOverBy: text('taken_over_by'),
    takenOverAt: timestamp('taken_over_at', { withTimezone: true }),
    assignedTo: text('assigned_to'),
    assignedAt: timestamp('assigned_at', { withTimezone: true }),
    resolvedBy: text('resolved_by'),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
    escalatedSince: timestamp('escalated_since', { withTimezone: true }),
    waitingSince: timestamp('waiting_since', { withTimezone: true }),
    /** From one sequence: the largest version tells a poller whether anything changed. */
    version: bigint('version', { mode: 'number' }).notNull(),
    state: text('state')
      .notNull()
      .generatedAlwaysAs(
        sql`CASE WHEN resolved_at IS NOT NULL THEN 'resolved' WHEN taken_over_by IS NOT NULL THEN 'taken_over' WHEN last_author = 'operator' THEN 'answered' ELSE ai_state END`,
      ),
  },
  (t) => [
    primaryKey({ columns: [t.channel, t.username] }),
    index('inbox_threads_recent_idx').on(t.lastAt.desc(), t.channel.desc(), t.username.desc()),
    index('inbox_threads_state_idx').on(t.state, t.lastAt.desc()),
    index('inbox_threads_version_idx').on(t.version),
    index('inbox_threads_escalated_idx')
      .on(t.escalatedSince)
      .where(sql`escalated_since IS NOT NULL`),
    index('inbox_threads_username_trgm_idx').using('gin', t.username.op('gin_trgm_ops')),
  ],
);

/** What operators add to a conversation: messages held for them, and their replies. */
export const operatorMessages = secretary.table(
  'operator_messages',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    channel: text('channel').notNull(),
    username: text('username').notNull(),
    /** held (the person wrote while an operator had the conversation) | reply (an operator answered) */
    kind: text('kind').notNull(),
    /** held: the channel's message id (a repeat is recognised); reply: null */
    messageId: text('message_id'),
    idempotencyKey: text('idempotency_key'),
    operator: text('operator'),
    text: text('text').notNull(),
    /** held: received; reply: sending | sent | failed */
    status: text('status').notNull(),
    externalId: text('external_id'),
    error: text('error'),
    traceId: text('trace_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('operator_messages_thread_idx').on(t.channel, t.username, t.id),
    uniqueIndex('operator_messages_held_message').on(t.channel, t.messageId),
    uniqueIndex('operator_messages_idempotency_key').on(t.idempotencyKey),
    index('operator_messages_text_trgm_idx').using('gin', t.text.op('gin_trgm_ops')),
  ],
);

export const inboxVersion = secretary.sequence('inbox_version_seq');
