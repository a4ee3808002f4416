import { z } from 'zod';
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';

import { cursorPageSchema, pageLimitSchema } from './cursor-page.js';

extendZodWithOpenApi(z);

/**
 * The secretary's operator API (used by the console, server-side, with the service token):
 * the inbox of conversations — one per (channel, person) — their threads, and the operator's
 * hand in them (take over, reply, resolve).
 */

export const CONVERSATION_STATES = [
  'in_progress',
  'answered',
  'awaiting_clarification',
  'escalated',
  'failed',
  'taken_over',
  'resolved',
] as const;
export type ConversationState = (typeof CONVERSATION_STATES)[number];

const channel = z.enum(['email', 'tg', 'direct'], {
  error: "Parameter 'channel' must be one of: email, tg, direct",
});

export const OperatorNameSchema = z
  .string({ error: "Parameter 'operator' is required" })
  .trim()
  .min(1, { error: "Parameter 'operator' must not be empty" })
  .max(100, { error: "Parameter 'operator' must be at most 100 characters" });

export const EscalationsQuerySchema = z.object({ limit: pageLimitSchema });

export const InboxQuerySchema = z.object({
  state: z
    .enum(CONVERSATION_STATES, {
      error: `Parameter 'state' must be one of: ${CONVERSATION_STATES.join(', ')}`,
    })
    .optional(),
  channel: channel.optional(),
  q: z
    .string()
    .trim()
    .max(200, { error: "Parameter 'q' must be at most 200 characters" })
    .optional()
    .transform((v) => (v ? v : undefined)),
  limit: pageLimitSchema,
  cursor: z.string().trim().min(1).optional(),
});
export type InboxQuery = z.infer<typeof InboxQuerySchema>;

export const ConversationSummarySchema = z
  .object({
    channel: z.string(),
    username: z.string(),
    display_name: z.string().nullable(),
    department: z.string().nullable(),
    state: z.enum(CONVERSATION_STATES),
    last_text: z.string(),
    /** person | ai | operator */
    last_author: z.string(),
    last_at: z.string(),
    taken_over_by: z.string().nullable(),
    assigned_to: z.string().nullable(),
    /** Since when the AI escalated or failed and no operator has answered; null otherwise. */
    escalated_since: z.string().nullable(),
    /** Since when a message of the person waits for an operator (taken-over conversation). */
    waiting_since: z.string().nullable(),
    version: z.string(),
  })
  .openapi('ConversationSummary');
export type ConversationSummary = z.infer<typeof ConversationSummarySchema>;

export const InboxPageSchema = cursorPageSchema(ConversationSummarySchema, 'InboxPage');
export type InboxPage = z.infer<typeof InboxPageSchema>;

export const ConversationKeySchema = z.object({
  channel,
  username: z.string().trim().min(1, { error: "Parameter 'username' must not be empty" }).max(320),
});
export type ConversationKey = z.infer<typeof ConversationKeySchema>;

export const FollowUpViewSchema = z.object({
  kind: z.string(),
  status: z.string(),
  attempts: z.number(),
  result: z.record(z.string(), z.unknown()).nullable(),
  error: z.string().nullable(),
});
export type FollowUpView = z.infer<typeof FollowUpViewSchema>;

export const ThreadEntrySchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('exchange'),
    id: z.string(),
    at: z.string(),
    completed_at: z.string().nullable(),
    trace_id: z.string().nullable(),
    message_id: z.string().nullable(),
    text: z.string(),
    analysed_request: z.string().nullable(),
    status: z.string(),
    is_enough: z.boolean().nullable(),
    action: z.string().nullable(),
    question: z.string().nullable(),
    response: z.string().nullable(),
    error: z.string().nullable(),
    guesser_verdict: z.record(z.string(), z.unknown()).nullable(),
    analyst_verdict: z.record(z.string(), z.unknown()).nullable(),
    latency_ms: z.record(z.string(), z.number()).nullable(),
    model: z.string().nullable(),
    tokens_total: z.number().nullable(),
    follow_ups: z.array(FollowUpViewSchema),
  }),
  z.object({
    kind: z.literal('held'),
    id: z.string(),
    at: z.string(),
    trace_id: z.string().nullable(),
    message_id: z.string().nullable(),
    text: z.string(),
  }),
  z.object({
    kind: z.literal('operator_reply'),
    id: z.string(),
    at: z.string(),
    operator: z.string(),
    text: z.string(),
    /** sending | sent | failed */
    status: z.string(),
    error: z.string().nullable(),
    external_id: z.string().nullable(),
  }),
]);
export type ThreadEntry = z.infer<typeof ThreadEntrySchema>;

export const ConversationViewSchema = z
  .object({
    conversation: ConversationSummarySchema,
    person: z.object({
      username: z.string(),
      display_name: z.string().nullable(),
      department: z.string().nullable(),
      position: z.string().nullable(),
      email: z.string().nullable(),
      telegram_chat_id: z.string().nullable(),
    }),
    /** Oldest first; the latest 200 entries. */
    entries: z.array(ThreadEntrySchema),
  })
  .openapi('ConversationView');
export type ConversationView = z.infer<typeof ConversationViewSchema>;

export const OperatorActionInputSchema = z.object({ operator: OperatorNameSchema });

export const OperatorReplyInputSchema = z.object({
  operator: OperatorNameSchema,
  text: z
    .string({ error: "Parameter 'text' is required" })
    .trim()
    .min(1, { error: "Parameter 'text' must not be empty" })
    .max(20_000, { error: "Parameter 'text' must be at most 20000 characters" }),
  idempotency_key: z
    .string({ error: "Parameter 'idempotency_key' is required" })
    .trim()
    .regex(/^[A-Za-z0-9._:-]{8,128}$/, {
      error: "Parameter 'idempotency_key' must be 8–128 characters of A-Z a-z 0-9 . _ : -",
    }),
});
export type OperatorReplyInput = z.infer<typeof OperatorReplyInputSchema>;

export const OperatorReplySchema = z
  .object({
    id: z.string(),
    idempotency_key: z.string(),
    operator: z.string(),
    status: z.enum(['sending', 'sent', 'failed']),
    /** false when the key was seen before (a double click, a retry): nothing new was recorded. */
    created: z.boolean(),
    /** Where to send it: the person's address or Telegram chat, and the message it answers. */
    delivery: z.object({
      channel: z.enum(['email', 'tg', 'direct']),
      to: z.string().nullable(),
      in_reply_to: z.string().nullable(),
    }),
  })
  .openapi('OperatorReply');
export type OperatorReply = z.infer<typeof OperatorReplySchema>;

export const OperatorReplyOutcomeSchema = z.object({
  status: z.enum(['sent', 'failed'], { error: "Parameter 'status' must be one of: sent, failed" }),
  external_id: z.string().max(998).nullable().optional(),
  error: z.string().max(2000).nullable().optional(),
});
export type OperatorReplyOutcome = z.infer<typeof OperatorReplyOutcomeSchema>;

export const InboxChangesSchema = z
  .object({ version: z.string(), oldest_escalation_at: z.string().nullable() })
  .openapi('InboxChanges');
export type InboxChanges = z.infer<typeof InboxChangesSchema>;
