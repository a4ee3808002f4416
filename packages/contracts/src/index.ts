import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

import { cursorPageSchema, pageLimitSchema } from './cursor-page.js';

extendZodWithOpenApi(z);

export { z };

// ---- vocabulary ---------------------------------------------------------------

export const CHANNELS = ['email', 'tg', 'direct'] as const;
export const ChannelSchema = z
  .enum(CHANNELS)
  .openapi({ description: 'Канал поступления обращения', example: 'email' });
export type Channel = z.infer<typeof ChannelSchema>;

/** Action values are part of the contract and stay in Russian exactly as the spec has them. */
export const ACTIONS = [
  'уточнить',
  'ответить сообщением',
  'создать jira-task',
  'написать в telegram сотруднику',
  'ответить на письмо',
  'написать в рассылку департамента',
] as const;
export const ActionSchema = z
  .enum(ACTIONS)
  .openapi({ description: 'Требуемое действие', example: 'уточнить' });
export type Action = z.infer<typeof ActionSchema>;

export const ACTION_CLARIFY: Action = 'уточнить';
export const ACTION_REPLY_MESSAGE: Action = 'ответить сообщением';
export const ACTION_REPLY_EMAIL: Action = 'ответить на письмо';
export const ACTION_ESCALATE: Action = 'написать в telegram сотруднику';

// ---- shared pieces ------------------------------------------------------------

export const ErrorResponseSchema = z
  .object({
    error: z.string().openapi({ example: 'Bad Request' }),
    message: z.string().openapi({ example: "Parameter 'channel' must be one of: email, tg, direct" }),
    statusCode: z.number().int().openapi({ example: 400 }),
    requestId: z.string().optional(),
  })
  .openapi('ErrorResponse');
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>;

export const LlmUsageSchema = z
  .object({
    promptTokens: z.number().int().nonnegative(),
    completionTokens: z.number().int().nonnegative(),
    totalTokens: z.number().int().nonnegative(),
  })
  .openapi('LlmUsage');
export type LlmUsage = z.infer<typeof LlmUsageSchema>;

/** Extension fields LLM-backed services add to their answers; clients ignore what they do not know. */
const llmMeta = {
  model: z.string().optional(),
  provider: z.string().optional(),
  prompt_version: z.string().optional(),
  usage: LlmUsageSchema.optional(),
  latency_ms: z.number().nonnegative().optional(),
};

/** NUL bytes are stripped from free text (DESIGN §6); Postgres rejects them and they carry nothing. */
const withoutNul = (value: unknown) =>
  typeof value === 'string' && value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;

/** Free text (requests, messages, context): NUL bytes stripped, then trimmed and required. */
const requiredText = (name: string, description: string, example?: string) =>
  z
    .preprocess(
      withoutNul,
      z
        .string({
          error: (issue) =>
            issue.input === undefined
              ? `Parameter '${name}' is required`
              : `Parameter '${name}' must be a string`,
        })
        .trim()
        .min(1, { error: `Parameter '${name}' must not be empty` }),
    )
    .openapi({ type: 'string', description, ...(example ? { example } : {}) });

/**
 * Identifiers and names are refused, not repaired, when they hold control or format characters
 * (NUL, CR/LF, bidi overrides, zero-width), lone surrogates or line separators: a username with a
 * newline could forge prompt lines or headers, and a lone surrogate cannot be stored.
 */
const PRINTABLE = /^(?:[^\p{C}\p{Z}]|\x20)*$/u;

export const USERNAME_MAX_CHARS = 254;

const printableText = (name: string, max: number, rule = 'printable characters') =>
  z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? `Parameter '${name}' is required`
          : `Parameter '${name}' must be a string`,
    })
    .trim()
    .max(max, { error: `Parameter '${name}' must be at most ${max} characters` })
    .regex(PRINTABLE, {
      error: `Parameter '${name}' must be ${rule}: no control, format or line-separator characters`,
    });

/** `username`: an e-mail address, `tg:<id>` or a login — bounded, printable, never empty. */
export const usernameSchema = (name = 'username') =>
  printableText(name, USERNAME_MAX_CHARS)
    .min(1, { error: `Parameter '${name}' must not be empty` })
    .openapi({ description: 'Имя пользователя, от которого пришло обращение', example: 'smirnovanton' });

/** An opaque identifier (message ids, cursors, keys): printable, bounded. */
const identifier = (name: string, max: number) =>
  printableText(name, max).min(1, { error: `Parameter '${name}' must not be empty` });

/** Attributes that reach prompts and mail (department, position, display name): printable, no markup. */
const attributeText = (name: string, max = 200) =>
  printableText(name, max).regex(/^[^<>]*$/, {
    error: `Parameter '${name}' must not contain '<' or '>'`,
  });

// ---- secretary: /analyze-request ---------------------------------------------

export const AnalyzeRequestInputSchema = z
  .object({
    channel: z
      .enum(CHANNELS, {
        error: (issue) =>
          issue.input === undefined
            ? "Parameter 'channel' is required"
            : "Parameter 'channel' must be one of: email, tg, direct",
      })
      .openapi({ description: 'Канал поступления обращения', example: 'email' }),
    username: usernameSchema(),
    request: requiredText(
      'request',
      'Текст обращения пользователя',
      'Я хочу получать аналитику о операциях наших кошельков',
    ),
    message_id: identifier('message_id', 512)
      .optional()
      .openapi({ description: 'Идентификатор сообщения канала; повтор возвращает сохранённый ответ' }),
  })
  .openapi('AnalyzeRequestInput');
export type AnalyzeRequestInput = z.infer<typeof AnalyzeRequestInputSchema>;

/** A knowledge document an answer rests on (only documents the secretary actually passed to the analyst). */
export const SourceSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    url: z.string().optional(),
  })
  .openapi('Source');
export type Source = z.infer<typeof SourceSchema>;

export const AnalysisResponseSchema = z
  .object({
    is_enough: z.boolean().openapi({ description: 'Достаточно ли информации для определения контекста' }),
    request: z.string().openapi({ description: 'Полный текст изначального запроса (с уточнениями)' }),
    action: ActionSchema,
    question: z.string().openapi({ description: 'Уточняющий вопрос, если он есть' }),
    response: z.string().openapi({ description: 'Сформированный ответ' }),
    request_id: z.string().optional(),
    conversation_id: z.string().optional(),
    replayed: z
      .boolean()
      .optional()
      .openapi({ description: 'true when the answer was stored for this message_id' }),
    sources: z
      .array(SourceSchema)
      .optional()
      .openapi({ description: 'Документы базы знаний, на которых основан ответ' }),
    held_for_operator: z.boolean().optional().openapi({
      description:
        'true when an operator has taken the conversation over: the message is kept for them, nothing is sent to the person',
    }),
  })
  .openapi('AnalysisResponse', {
    example: {
      is_enough: false,
      request: 'Я хочу получать аналитику о операциях наших кошельков',
      action: 'уточнить',
      question: 'Уточните аналатику каких операций?',
      response: '',
    },
  });
export type AnalysisResponse = z.infer<typeof AnalysisResponseSchema>;

// ---- guesser: /get-context ----------------------------------------------------

export const GetContextInputSchema = z
  .object({
    username: usernameSchema(),
    department: attributeText('department')
      .min(1, { error: "Parameter 'department' must not be empty" })
      .openapi({
        description: 'Организационная единица пользователя',
        example: 'Департамент клиентского сервиса',
      }),
    position: attributeText('position')
      .min(1, { error: "Parameter 'position' must not be empty" })
      .openapi({ description: 'Должность пользователя', example: 'младший аналитик' }),
    request: requiredText('request', 'Текст обращения пользователя'),
  })
  .openapi('GetContextInput');
export type GetContextInput = z.infer<typeof GetContextInputSchema>;

export const ContextResponseSchema = z
  .object({
    is_enough: z.boolean(),
    response: z.string(),
    ...llmMeta,
  })
  .openapi('ContextResponse');
export type ContextResponse = z.infer<typeof ContextResponseSchema>;

// ---- system-analyst: /prepare-analititcs ----------------------------------------

/** Bounds of what the secretary passes to the analyst from the knowledge base (DESIGN: every prompt value is bounded). */
export const KNOWLEDGE_PASSAGE_MAX_CHARS = 4000;
export const KNOWLEDGE_PASSAGES_MAX = 8;

export const KnowledgePassageSchema = z
  .object({
    id: z.string().max(120).openapi({ description: 'Document id' }),
    title: z.string().max(300),
    heading: z.string().max(1000).optional(),
    text: z.string().max(KNOWLEDGE_PASSAGE_MAX_CHARS),
  })
  .openapi('KnowledgePassage');
export type KnowledgePassage = z.infer<typeof KnowledgePassageSchema>;

export const PrepareAnalyticsInputSchema = z
  .object({
    context: requiredText('context', 'Описание контекста обращения'),
    request: requiredText('request', 'Текст обращения пользователя'),
    passages: z
      .array(KnowledgePassageSchema, { error: "Parameter 'passages' must be an array of passages" })
      .max(KNOWLEDGE_PASSAGES_MAX, {
        error: `Parameter 'passages' must hold at most ${KNOWLEDGE_PASSAGES_MAX} passages`,
      })
      .optional()
      .openapi({
        description:
          'Фрагменты базы знаний организации, найденные для обращения; пустой массив — ничего не найдено',
      }),
  })
  .openapi('PrepareAnalyticsInput');
export type PrepareAnalyticsInput = z.infer<typeof PrepareAnalyticsInputSchema>;

export const AnalyticsResponseSchema = z
  .object({
    is_enough: z.boolean(),
    response: z.string(),
    action: ActionSchema.optional().openapi({ description: 'Предлагаемое действие (расширение)' }),
    ...llmMeta,
  })
  .openapi('AnalyticsResponse');
export type AnalyticsResponse = z.infer<typeof AnalyticsResponseSchema>;

// ---- secretary: users and history ---------------------------------------------

export const UserSchema = z
  .object({
    username: usernameSchema(),
    display_name: attributeText('display_name').optional(),
    department: attributeText('department').optional(),
    position: attributeText('position').optional(),
    // zod's e-mail format admits no whitespace, so no CRLF and no smuggled header lines.
    email: z
      .email({ error: "Parameter 'email' must be an e-mail address" })
      .max(254, { error: "Parameter 'email' must be at most 254 characters" })
      .optional(),
    telegram_chat_id: z
      .string({ error: "Parameter 'telegram_chat_id' must be a string" })
      .trim()
      .regex(/^-?\d{1,20}$/, { error: "Parameter 'telegram_chat_id' must be a numeric Telegram chat id" })
      .optional(),
  })
  .openapi('User');
export type User = z.infer<typeof UserSchema>;

export const UsersUpsertSchema = z.union([UserSchema, z.array(UserSchema).min(1).max(10_000)]);

/** `limit` and `cursor` of every paged list (keyset paging, newest first). */
const pageParams = {
  limit: pageLimitSchema,
  cursor: identifier('cursor', 512).optional().openapi({ description: 'Opaque cursor from next_cursor' }),
};

/** pending: being analysed (or left by a crashed owner until the sweep finishes it); completed; failed. */
export const EXCHANGE_STATUSES = ['pending', 'completed', 'failed'] as const;

export const HistoryQuerySchema = z.object({
  username: usernameSchema().optional(),
  channel: z.enum(CHANNELS, { error: "Parameter 'channel' must be one of: email, tg, direct" }).optional(),
  status: z
    .enum(EXCHANGE_STATUSES, {
      error: `Parameter 'status' must be one of: ${EXCHANGE_STATUSES.join(', ')}`,
    })
    .optional()
    .openapi({ description: 'Only exchanges in this state; without it: completed and failed' }),
  ...pageParams,
});
export type HistoryQuery = z.infer<typeof HistoryQuerySchema>;

export const HistoryItemSchema = z
  .object({
    id: z.string(),
    created_at: z.string(),
    channel: ChannelSchema,
    username: z.string(),
    message_id: z.string().nullable(),
    conversation_id: z.string().nullable(),
    request: z.string(),
    status: z.enum(EXCHANGE_STATUSES),
    is_enough: z.boolean().nullable(),
    action: z.string().nullable(),
    question: z.string().nullable(),
    response: z.string().nullable(),
    error: z.string().nullable(),
    latency_ms: z.record(z.string(), z.number()).nullable(),
    model: z.string().nullable(),
    tokens_total: z.number().nullable(),
    /** Knowledge documents passed to the analyst (null for rows stored before the knowledge base). */
    sources: z.array(SourceSchema).nullable().optional(),
    /** Set when the exchange asked for a Jira issue (`создать jira-task` with Jira configured). */
    jira_issue: z
      .object({
        status: z.enum(['pending', 'done', 'failed']),
        key: z.string().nullable(),
        url: z.string().nullable(),
        error: z.string().nullable(),
      })
      .nullable()
      .optional(),
  })
  .openapi('HistoryItem');
export type HistoryItem = z.infer<typeof HistoryItemSchema>;

export const HistoryPageSchema = cursorPageSchema(HistoryItemSchema, 'HistoryPage');
export type HistoryPage = z.infer<typeof HistoryPageSchema>;

// ---- secretary: knowledge base ---------------------------------------------------

export const KNOWLEDGE_ID_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

export const KnowledgeIdSchema = z
  .string({ error: "Parameter 'id' is required" })
  .max(120, { error: "Parameter 'id' must be at most 120 characters" })
  .regex(KNOWLEDGE_ID_PATTERN, {
    error: "Parameter 'id' must be a kebab-case slug: lowercase latin letters and digits joined by '-'",
  })
  .openapi({ description: 'Document id: a kebab-case slug', example: 'authorizations-cube' });

export const KnowledgeDocumentInputSchema = z
  .object({
    title: requiredText('title', 'Document title').pipe(
      z.string().max(300, { error: "Parameter 'title' must be at most 300 characters" }),
    ),
    body: requiredText('body', 'Markdown text'),
    tags: z
      .array(
        z
          .string({ error: "Parameter 'tags' must be an array of strings" })
          .trim()
          .min(1, { error: "Parameter 'tags' must not hold empty strings" })
          .max(64, { error: "Parameter 'tags' entries must be at most 64 characters" })
          .regex(PRINTABLE, {
            error:
              "Parameter 'tags' entries must be printable: no control, format or line-separator characters",
          }),
        { error: "Parameter 'tags' must be an array of strings" },
      )
      .max(50, { error: "Parameter 'tags' must hold at most 50 tags" })
      .optional(),
    url: z
      .url({ protocol: /^https?$/, error: "Parameter 'url' must be an http(s) URL" })
      .max(2000, { error: "Parameter 'url' must be at most 2000 characters" })
      .optional(),
  })
  .openapi('KnowledgeDocumentInput');
export type KnowledgeDocumentInput = z.infer<typeof KnowledgeDocumentInputSchema>;

export const KnowledgeDocumentSummarySchema = z
  .object({
    id: z.string(),
    title: z.string(),
    tags: z.array(z.string()),
    url: z.string().nullable(),
    source: z.enum(['api', 'file']),
    content_hash: z.string(),
    updated_at: z.string(),
  })
  .openapi('KnowledgeDocumentSummary');
export type KnowledgeDocumentSummary = z.infer<typeof KnowledgeDocumentSummarySchema>;

export const KnowledgeDocumentSchema = KnowledgeDocumentSummarySchema.extend({
  body: z.string(),
  passages: z.number().int().openapi({ description: 'How many searchable passages the body was split into' }),
}).openapi('KnowledgeDocument');
export type KnowledgeDocument = z.infer<typeof KnowledgeDocumentSchema>;

export const KnowledgeDocumentPutResultSchema = KnowledgeDocumentSchema.extend({
  outcome: z
    .enum(['created', 'updated', 'unchanged'])
    .openapi({ description: 'created (201), updated or unchanged (200: same content, nothing rewritten)' }),
}).openapi('KnowledgeDocumentPutResult');

export const KnowledgeDocumentsQuerySchema = z.object({ ...pageParams });

export const KnowledgeDocumentsPageSchema = cursorPageSchema(
  KnowledgeDocumentSummarySchema,
  'KnowledgeDocumentsPage',
);

export const KnowledgeSearchQuerySchema = z.object({
  q: requiredText('q', 'Search text (Russian or English words)').pipe(
    z.string().max(1000, { error: "Parameter 'q' must be at most 1000 characters" }),
  ),
  limit: z.coerce
    .number({ error: "Parameter 'limit' must be a number" })
    .int({ error: "Parameter 'limit' must be an integer" })
    .min(1, { error: "Parameter 'limit' must be between 1 and 50" })
    .max(50, { error: "Parameter 'limit' must be between 1 and 50" })
    .default(5),
});
export type KnowledgeSearchQuery = z.infer<typeof KnowledgeSearchQuerySchema>;

export const KnowledgeSearchResultSchema = z
  .object({
    items: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        score: z
          .number()
          .openapi({ description: 'Relevance 0..1; documents below the relevance floor are not listed' }),
        snippet: z.string(),
        url: z.string().optional(),
      }),
    ),
  })
  .openapi('KnowledgeSearchResult');
export type KnowledgeSearchResult = z.infer<typeof KnowledgeSearchResultSchema>;

// ---- communicator: the ingest ledger for operators ---------------------------------

export const INBOUND_STATUSES = [
  'received',
  'processing',
  'answered',
  'sending',
  'replied',
  'skipped',
  'quarantined',
] as const;

/** The channels that carry messages both ways (the direct API has no inbox and no send). */
export const MessagingChannelSchema = z.enum(['email', 'tg'], {
  error: "Parameter 'channel' must be one of: email, tg",
});

export const InboundListQuerySchema = z.object({
  status: z
    .enum(INBOUND_STATUSES, {
      error: `Parameter 'status' must be one of: ${INBOUND_STATUSES.join(', ')}`,
    })
    .optional(),
  channel: MessagingChannelSchema.optional(),
  ...pageParams,
});
export type InboundListQuery = z.infer<typeof InboundListQuerySchema>;

export const InboundItemSchema = z
  .object({
    id: z.string(),
    channel: z.string(),
    external_id: z.string(),
    username: z.string(),
    subject: z.string().nullable(),
    status: z.enum(INBOUND_STATUSES),
    attempts: z.number(),
    last_error: z.string().nullable(),
    /** The extracted request text, cut to 500 characters. */
    request_text: z.string(),
    /**
     * Email: the header block as received (folded lines kept, at most 16 KiB, control characters
     * removed); null for Telegram and for mail recorded before it was kept. Untrusted text: escape it.
     */
    raw_headers: z.string().nullable(),
    received_at: z.string(),
    answered_at: z.string().nullable(),
    replied_at: z.string().nullable(),
  })
  .openapi('InboundItem');
export type InboundItem = z.infer<typeof InboundItemSchema>;

export const InboundPageSchema = cursorPageSchema(InboundItemSchema, 'InboundPage');
export type InboundPage = z.infer<typeof InboundPageSchema>;

export const InboundIdParamsSchema = z.object({
  id: z.coerce
    .number({ error: "Parameter 'id' must be a number" })
    .int({ error: "Parameter 'id' must be a positive integer" })
    .positive({ error: "Parameter 'id' must be a positive integer" }),
});

export const InboundRetryResultSchema = z
  .object({
    id: z.string(),
    status: z.literal('received'),
    previous_status: z.enum(INBOUND_STATUSES),
    previous_error: z.string().nullable(),
  })
  .openapi('InboundRetryResult');
export type InboundRetryResult = z.infer<typeof InboundRetryResultSchema>;

// ---- communicator: /send -------------------------------------------------------

export const SendMessageInputSchema = z
  .object({
    channel: MessagingChannelSchema,
    to: identifier('to', 320).openapi({ description: 'Email address or Telegram chat id' }),
    subject: z.preprocess(withoutNul, z.string().trim().max(998)).optional(),
    text: requiredText('text', 'Message text'),
    idempotency_key: identifier('idempotency_key', 1024).openapi({
      description: 'Caller-chosen key; a repeat returns the first result',
    }),
    in_reply_to: z.string().trim().min(1).max(998).optional().openapi({
      description:
        'email: the Message-ID of the received mail this answers; the reply is threaded to it (Re: subject, In-Reply-To, References)',
    }),
  })
  .openapi('SendMessageInput');
export type SendMessageInput = z.infer<typeof SendMessageInputSchema>;

export const SendMessageResultSchema = z
  .object({
    status: z.enum(['sent', 'duplicate']),
    channel: z.enum(['email', 'tg']),
    idempotency_key: z.string(),
    external_id: z.string().nullable(),
  })
  .openapi('SendMessageResult');
export type SendMessageResult = z.infer<typeof SendMessageResultSchema>;

// ---- health ---------------------------------------------------------------------

export const HEALTH_STATUSES = ['ok', 'degraded', 'down', 'disabled'] as const;
export const HealthCheckResultSchema = z.object({
  status: z.enum(HEALTH_STATUSES),
  latencyMs: z.number().optional(),
  detail: z.string().optional(),
});
export type HealthCheckResult = z.infer<typeof HealthCheckResultSchema>;

export const HealthResponseSchema = z
  .object({
    status: z.enum(['ok', 'degraded', 'down']),
    service: z.string(),
    version: z.string(),
    uptimeSeconds: z.number(),
    checks: z.record(z.string(), HealthCheckResultSchema),
  })
  .openapi('HealthResponse');
export type HealthResponse = z.infer<typeof HealthResponseSchema>;
export * from './operator.js';
