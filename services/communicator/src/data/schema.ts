import type { INBOUND_STATUSES } from '@workemon/contracts';
import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgSchema, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export const communicator = pgSchema('communicator');

// The ledger's states are part of the operator API's contract (GET /inbound): one list for both.
export type InboundStatus = (typeof INBOUND_STATUSES)[number];

/**
 * Ingest ledger: one row per inbound message, written before anything is
 * answered. Status moves received → processing (leased) → answered (the
 * secretary's answer is stored) → replied | skipped | quarantined.
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
    status: text('status').$type<InboundStatus>().notNull().default('received'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
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
      .where(sql`status in ('received', 'processing', 'answered')`),
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
