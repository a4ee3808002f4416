import {
  baseServiceConfig,
  booleanFlag,
  httpUrl,
  positiveInt,
  requireCredentials,
  z,
} from '@workemon/config';

const optionalText = () => z.string().trim().min(1).optional();

export const configSchema = z
  .object({
    ...baseServiceConfig(8003),
    DATABASE_URL: z.string().min(1, 'is required (postgres://…)'),
    /** Unset: COMMUNICATOR_CONCURRENCY + 5 (at least 10), so every ledger worker has a connection. */
    DATABASE_POOL_MAX: z.coerce.number().int().positive().optional(),
    SECRETARY_URL: httpUrl('http://localhost:8000'),
    SECRETARY_TIMEOUT_MS: positiveInt(120_000),

    IMAP_HOST: z.string().default('imap.yandex.ru'),
    IMAP_PORT: z.coerce.number().int().min(1).max(65535).default(993),
    IMAP_SECURE: booleanFlag(true),
    IMAP_USER: optionalText(),
    IMAP_PASSWORD: optionalText(),
    IMAP_MAILBOX: z.string().default('INBOX'),
    IMAP_POLL_INTERVAL_MS: positiveInt(30_000),
    /**
     * What the communicator takes from a mailbox it has no valid checkpoint for: on its first start
     * (no checkpoint row) and after a UIDVALIDITY change (the old UIDs mean nothing any more).
     *   unseen — only the mail without \Seen at that moment; the rest is checkpointed past (never
     *            fetched, no ledger row). Mail nobody has read yet is answered; years of read mail are not.
     *   all    — everything in the mailbox (a dedicated, fresh support mailbox).
     *   none   — nothing already there: the checkpoint starts at the newest UID, only later mail counts.
     * Afterwards every new UID is taken, read or not. After a UIDVALIDITY change the ledger's
     * Message-ID dedupe additionally keeps mail that was recorded before from being answered again.
     */
    IMAP_FIRST_START: z.enum(['unseen', 'all', 'none']).default('unseen'),
    IMAP_TLS_REJECT_UNAUTHORIZED: booleanFlag(true),
    /** The sent folder an interrupted reply is looked for in (default: the one flagged \Sent, else "Sent"). */
    IMAP_SENT_MAILBOX: optionalText(),
    /** Append each reply to the sent folder ourselves (for providers that do not file SMTP mail there; Yandex does). */
    IMAP_SENT_APPEND: booleanFlag(false),

    SMTP_HOST: z.string().default('smtp.yandex.ru'),
    SMTP_PORT: z.coerce.number().int().min(1).max(65535).default(465),
    SMTP_SECURE: booleanFlag(true),
    SMTP_USER: optionalText(),
    SMTP_PASSWORD: optionalText(),
    SMTP_TLS_REJECT_UNAUTHORIZED: booleanFlag(true),
    MAIL_FROM: optionalText(),
    MAIL_REPLY_RATE_PER_HOUR: positiveInt(20),

    TELEGRAM_BOT_TOKEN: optionalText(),
    TELEGRAM_API_ROOT: httpUrl('https://api.telegram.org'),
    TELEGRAM_MODE: z.enum(['polling', 'webhook']).default('polling'),
    TELEGRAM_WEBHOOK_URL: httpUrl().optional(),
    TELEGRAM_WEBHOOK_SECRET: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,256}$/, 'must be 1-256 characters of A-Z, a-z, 0-9, _ and -')
      .optional(),
    TELEGRAM_POLL_TIMEOUT_S: z.coerce.number().int().min(0).max(50).default(50),
    TELEGRAM_LEADER_RETRY_MS: positiveInt(5_000),

    COMMUNICATOR_CONCURRENCY: positiveInt(8),
    /** A row whose owner has not renewed it for this long is taken over (its process died). */
    COMMUNICATOR_LEASE_MS: positiveInt(10_000),
    /** How often an owner renews the rows it works on (default: a third of the lease). */
    COMMUNICATOR_HEARTBEAT_MS: z.coerce.number().int().positive().optional(),
    COMMUNICATOR_MAX_ATTEMPTS: positiveInt(3),
    COMMUNICATOR_RETRY_BASE_MS: positiveInt(2_000),
    COMMUNICATOR_RETRY_MAX_MS: positiveInt(300_000),
    /** An outage (secretary or LLM down) is retried this long after a message arrived, then it is quarantined. */
    COMMUNICATOR_RETRY_FOR_MS: positiveInt(6 * 3_600_000),
    /**
     * TEST ONLY — fault injection for the crash tests: a mail whose raw source contains this
     * string SIGKILLs the process while it is parsed (a stand-in for a mail that crashes the
     * parser). Never set in production.
     */
    COMMUNICATOR_TEST_CRASH_MARKER: optionalText(),
    MAX_REQUEST_CHARS: positiveInt(20_000),
  })
  .superRefine(requireCredentials(['SERVICE_TOKEN']))
  .transform((c) => ({
    ...c,
    // Yandex uses one app password for IMAP and SMTP: SMTP credentials default to IMAP's.
    SMTP_USER: c.SMTP_USER ?? c.IMAP_USER,
    SMTP_PASSWORD: c.SMTP_PASSWORD ?? c.IMAP_PASSWORD,
    MAIL_FROM: c.MAIL_FROM ?? c.SMTP_USER ?? c.IMAP_USER,
    COMMUNICATOR_HEARTBEAT_MS:
      c.COMMUNICATOR_HEARTBEAT_MS ?? Math.max(1, Math.floor(c.COMMUNICATOR_LEASE_MS / 3)),
  }))
  .superRefine((c, ctx) => {
    if (c.COMMUNICATOR_HEARTBEAT_MS * 2 > c.COMMUNICATOR_LEASE_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['COMMUNICATOR_HEARTBEAT_MS'],
        message: 'must be at most half of COMMUNICATOR_LEASE_MS (a late heartbeat must not lose the row)',
      });
    }
    if (c.TELEGRAM_MODE === 'webhook' && c.TELEGRAM_BOT_TOKEN && !c.TELEGRAM_WEBHOOK_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['TELEGRAM_WEBHOOK_URL'],
        message: 'is required when TELEGRAM_MODE=webhook',
      });
    }
  });

export type Config = z.output<typeof configSchema>;
