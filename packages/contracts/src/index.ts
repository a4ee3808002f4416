import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

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

export const PrepareAnalyticsInputSchema = z
  .object({
    context: requiredText('context', 'Описание контекста обращения'),
    request: requiredText('request', 'Текст обращения пользователя'),
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
  limit: z.coerce
    .number({ error: "Parameter 'limit' must be a number" })
    .int({ error: "Parameter 'limit' must be an integer" })
    .min(1, { error: "Parameter 'limit' must be between 1 and 200" })
    .max(200, { error: "Parameter 'limit' must be between 1 and 200" })
    .default(50),
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

export const HistoryPageSchema = z
  .object({ items: z.array(HistoryItemSchema), next_cursor: z.string().nullable() })
  .openapi('HistoryPage');
export type HistoryPage = z.infer<typeof HistoryPageSchema>;

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

export const InboundListQuerySchema = z.object({
  status: z
    .enum(INBOUND_STATUSES, {
      error: `Parameter 'status' must be one of: ${INBOUND_STATUSES.join(', ')}`,
    })
    .optional(),
  channel: z.enum(['email', 'tg'], { error: "Parameter 'channel' must be one of: email, tg" }).optional(),
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
    received_at: z.string(),
    answered_at: z.string().nullable(),
    replied_at: z.string().nullable(),
  })
  .openapi('InboundItem');
export type InboundItem = z.infer<typeof InboundItemSchema>;

export const InboundPageSchema = z
  .object({ items: z.array(InboundItemSchema), next_cursor: z.string().nullable() })
  .openapi('InboundPage');
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
    channel: z.enum(['email', 'tg'], { error: "Parameter 'channel' must be one of: email, tg" }),
    to: identifier('to', 320).openapi({ description: 'Email address or Telegram chat id' }),
    subject: z.preprocess(withoutNul, z.string().trim().max(998)).optional(),
    text: requiredText('text', 'Message text'),
    idempotency_key: identifier('idempotency_key', 1024).openapi({
      description: 'Caller-chosen key; a repeat returns the first result',
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
