import { baseServiceConfig, booleanFlag, csvList, duration, httpUrl, positiveInt, z } from '@workemon/config';

export const configSchema = z.object({
  ...baseServiceConfig(8000),
  DATABASE_URL: z
    .string({ error: 'is required (postgres://user:pass@host:5432/db)' })
    .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' }),
  DATABASE_POOL_MAX: positiveInt(10),
  MIGRATE_ON_START: booleanFlag(false),
  API_KEYS: csvList(),
  GUESSER_URL: httpUrl('http://localhost:8001'),
  SYSTEM_ANALYST_URL: httpUrl('http://localhost:8002'),
  COMMUNICATOR_URL: httpUrl('http://localhost:8003'),
  /** Support team's Telegram chat: escalations are announced there through the communicator. */
  ESCALATION_TELEGRAM_CHAT_ID: z.string().trim().min(1).optional(),
  UPSTREAM_TIMEOUT_MS: positiveInt(60_000),
  USER_DIRECTORY_FILE: z.string().optional(),
  CLARIFICATION_TTL: duration('24h'),
  MAX_CLARIFICATIONS: positiveInt(3),
  MAX_REQUEST_CHARS: positiveInt(20_000),
});

export type Config = z.output<typeof configSchema>;
