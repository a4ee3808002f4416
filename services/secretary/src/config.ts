import {
  baseServiceConfig,
  booleanFlag,
  csvList,
  duration,
  httpUrl,
  positiveInt,
  requireCredentials,
  z,
} from '@workemon/config';

export const configSchema = z
  .object({
    ...baseServiceConfig(8000),
    DATABASE_URL: z
      .string({ error: 'is required (postgres://user:pass@host:5432/db)' })
      .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' }),
    /**
     * An answer holds a connection only for its two short statements: more connections than that
     * only add database backends competing for the CPU (10 → 5: 10 % less database CPU per answer).
     */
    DATABASE_POOL_MAX: positiveInt(5),
    /** How long a query may wait for a free pooled connection; overload is shed by ANALYZE_MAX_IN_FLIGHT first. */
    DATABASE_ACQUIRE_TIMEOUT_MS: positiveInt(30_000),
    /** /analyze-request calls in flight at once; beyond it 503 + Retry-After before any work. */
    ANALYZE_MAX_IN_FLIGHT: positiveInt(1_000),
    MIGRATE_ON_START: booleanFlag(false),
    API_KEYS: csvList(),
    /** Keys that may also write the user directory (PUT/POST /users); distinct from client keys. */
    ADMIN_API_KEYS: csvList(),
    /** Requests per minute per client or admin key (0: no limit); the mesh's SERVICE_TOKEN is exempt. */
    RATE_LIMIT_PER_KEY_PER_MINUTE: z.coerce.number().int().min(0).default(600),
    /** Analyses per minute per person (channel + username) (0: no limit). */
    RATE_LIMIT_PER_USER_PER_MINUTE: z.coerce.number().int().min(0).default(30),
    GUESSER_URL: httpUrl('http://localhost:8001'),
    SYSTEM_ANALYST_URL: httpUrl('http://localhost:8002'),
    COMMUNICATOR_URL: httpUrl('http://localhost:8003'),
    /** Support team's Telegram chat: escalations are announced there through the communicator. */
    ESCALATION_TELEGRAM_CHAT_ID: z.string().trim().min(1).optional(),
    UPSTREAM_TIMEOUT_MS: positiveInt(60_000),
    /** Work in flight (an exchange, a follow-up) renews its owner's heartbeat this often. */
    HEARTBEAT_INTERVAL_MS: positiveInt(3_000),
    /** Work whose owner has not beaten for this long is taken over (by a retry, the sweep or another replica). */
    OWNER_TIMEOUT_MS: positiveInt(10_000),
    USER_DIRECTORY_FILE: z.string().optional(),
    CLARIFICATION_TTL: duration('24h'),
    MAX_CLARIFICATIONS: positiveInt(3),
    MAX_REQUEST_CHARS: positiveInt(20_000),
    /** Markdown knowledge files synchronised at start; unset: the example pack shipped with the service. */
    KNOWLEDGE_DIR: z.string().trim().min(1).optional(),
    KNOWLEDGE_MAX_DOCUMENT_CHARS: positiveInt(100_000),
    /** Relevance floor (0..1): documents scoring below it are neither listed by search nor passed to the analyst. */
    KNOWLEDGE_MIN_SCORE: z.coerce
      .number({ error: 'must be a number between 0 and 1' })
      .min(0, { error: 'must be a number between 0 and 1' })
      .max(1, { error: 'must be a number between 0 and 1' })
      .default(0.5),
    /** How many documents (their best passage each) the analyst receives per answer. */
    KNOWLEDGE_PASSAGES: z.coerce
      .number({ error: 'must be a whole number from 1 to 8' })
      .int({ error: 'must be a whole number from 1 to 8' })
      .min(1, { error: 'must be a whole number from 1 to 8' })
      .max(8, { error: 'must be a whole number from 1 to 8' })
      .default(4),
    /** Jira (Cloud or Server/Data Center): `создать jira-task` files an issue when these are set. */
    JIRA_BASE_URL: httpUrl().optional(),
    JIRA_DEPLOYMENT: z.enum(['cloud', 'server']).default('cloud'),
    /** Cloud: the account e-mail (basic auth with the API token). Server/DC: leave unset to send the token as a PAT. */
    JIRA_USER: z.string().trim().min(1).optional(),
    JIRA_API_TOKEN: z.string().trim().min(1).optional(),
    JIRA_PROJECT_KEY: z
      .string()
      .trim()
      .regex(/^[A-Z][A-Z0-9_]{0,254}$/, { error: 'must be a Jira project key such as SUP' })
      .optional(),
    JIRA_ISSUE_TYPE: z.string().trim().min(1).default('Task'),
    JIRA_TIMEOUT_MS: positiveInt(10_000),
    /**
     * `написать в рассылку департамента`: the department's mailing list, as JSON
     * {"Финансы": "finance@corp.example", …}; the request is mailed there through the communicator.
     */
    DEPARTMENT_MAILING_LISTS: z
      .string()
      .optional()
      .transform((value, ctx) => {
        if (!value) return {};
        try {
          return JSON.parse(value) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON object {"department": "list@address"}' });
          return z.NEVER;
        }
      })
      .pipe(
        z.record(z.string().min(1), z.email({ error: 'must map each department to an e-mail address' }), {
          error: 'must be a JSON object {"department": "list@address"}',
        }),
      ),
  })
  .superRefine(requireCredentials(['SERVICE_TOKEN']))
  .superRefine((config, ctx) => {
    if (config.OWNER_TIMEOUT_MS < 2 * config.HEARTBEAT_INTERVAL_MS)
      ctx.addIssue({
        code: 'custom',
        path: ['OWNER_TIMEOUT_MS'],
        message: 'must be at least twice HEARTBEAT_INTERVAL_MS (a live owner would look dead)',
      });
    // Half a Jira configuration is a mistake worth stopping for: name what is missing.
    if (!config.JIRA_BASE_URL) return;
    for (const key of ['JIRA_API_TOKEN', 'JIRA_PROJECT_KEY'] as const)
      if (!config[key])
        ctx.addIssue({ code: 'custom', path: [key], message: 'is required when JIRA_BASE_URL is set' });
  });

export type Config = z.output<typeof configSchema>;
