import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgSchema,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import type { InboundStatus } from '../domain/ledger-ports.js';

export const communicator = pgSchema('communicator');

// The ledger's states are part of the operator API's contract (GET /inbound): one list for both.

/**
 * Ingest ledger: one row per inbound message, written before anything is
 * answered. Status moves received → processing (owned) → answered (the
 * secretary's answer is stored) → sending (the reply's intent is stored, the
 * send may or may not have happened) → replied | skipped | quarantined.
 *
 * A row being worked on has an `owner` (one process) whose heartbeat keeps
 * `lease_until` a few seconds ahead; a row whose owner stopped beating is an
 * orphan and is taken over, alone (`isolated`), by the next free worker.
 */
export const inbound = communicator.table(
  'inbound',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    channel: text('channel').notNull(),
    externalId: text('external_id').notNull(),
    mailbox: text('mailbox'),
    uidvalidity: bigint('uidvalidity', { mode: 'number' }),
    uid: bigint('uid', { mode: 'number' }),
    username: text('username').notNull(),
    /** Where the reply goes: an email address or a Telegram chat id. */
    replyTo: text('reply_to').notNull(),
    subject: text('subject'),
    /** Threading data (Message-ID, References) or Telegram message id for the reply. */
    thread: jsonb('thread').$type<Record<string, unknown>>().notNull().default({}),
    requestText: text('request_text').notNull().default(''),
    rawBytes: integer('raw_bytes'),
    /** Email: the header block as received, bounded (RAW_HEADERS_MAX_CHARS), shown to operators. */
    rawHeaders: text('raw_headers'),
    status: text('status').$type<InboundStatus>().notNull().default('received'),
    /** Definitive failures of this message (and crashes while it ran alone): quarantined at the limit. */
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    /** Heartbeat expiry: the owner renews it every few seconds; past it the row is an orphan. */
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    /** The process working on the row now (null when nobody is). */
    owner: text('owner'),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }),
    /** True while the row runs alone after a crash: a crash now is charged to it. */
    isolated: boolean('isolated').notNull().default(false),
    /** Times an owner died while working on the row (charged or not). */
    crashes: integer('crashes').notNull().default(0),
    /** Failures that were not this message's fault (an outage): they set the backoff, never quarantine. */
    retries: integer('retries').notNull().default(0),
    /** Replies sent again after a crash without proof that the first send had not happened. */
    ambiguousSends: integer('ambiguous_sends').notNull().default(0),
    /** The send being attempted: Telegram "chat:part:sha256(text)" or the mail's Message-ID. */
    sendIntent: text('send_intent'),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    answerText: text('answer_text'),
    answerAction: text('answer_action'),
    replyMessageId: text('reply_message_id'),
    /** Telegram answers go out in 4096-char parts; a resumed row sends only the rest. */
    partsSent: integer('parts_sent').notNull().default(0),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    answeredAt: timestamp('answered_at', { withTimezone: true }),
    repliedAt: timestamp('replied_at', { withTimezone: true }),
    seenAt: timestamp('seen_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('inbound_channel_external_id_key').on(t.channel, t.externalId),
    index('inbound_work_idx')
      .on(t.nextAttemptAt, t.id)
      .where(sql`status in ('received', 'processing', 'answered', 'sending')`),
    index('inbound_owner_idx')
      .on(t.owner)
      .where(sql`owner is not null`),
    index('inbound_sender_replied_idx').on(t.channel, t.username, t.repliedAt),
    index('inbound_unseen_idx')
      .on(t.mailbox, t.uidvalidity)
      .where(sql`seen_at is null and status = 'replied'`),
  ],
);

/** Per mailbox: UIDVALIDITY + last fetched UID. Per bot: last confirmed update_id (in lastUid). */
export const checkpoints = communicator.table('checkpoints', {
  key: text('key').primaryKey(),
  uidvalidity: bigint('uidvalidity', { mode: 'number' }),
  lastUid: bigint('last_uid', { mode: 'number' }).notNull().default(0),
  /** UIDs being parsed now (parsing_uid..parsing_last_uid): left set by a process that died parsing them. */
  parsingUid: bigint('parsing_uid', { mode: 'number' }),
  parsingLastUid: bigint('parsing_last_uid', { mode: 'number' }),
  /** Processes that died while parsing `parsingUid` alone. */
  parseCrashes: integer('parse_crashes').notNull().default(0),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** POST /send: one row per caller idempotency key. */
export const outbound = communicator.table('outbound', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  idempotencyKey: text('idempotency_key').notNull().unique(),
  channel: text('channel').notNull(),
  recipient: text('recipient').notNull(),
  subject: text('subject'),
  body: text('body').notNull(),
  status: text('status').$type<'pending' | 'sent' | 'failed'>().notNull().default('pending'),
  externalId: text('external_id'),
  leaseUntil: timestamp('lease_until', { withTimezone: true }),
  lastError: text('last_error'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  sentAt: timestamp('sent_at', { withTimezone: true }),
});

export type InboundRow = typeof inbound.$inferSelect;
export type NewInboundRow = typeof inbound.$inferInsert;
export type OutboundRow = typeof outbound.$inferSelect;
