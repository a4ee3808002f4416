import { baseServiceConfig, booleanFlag, duration, httpUrl, positiveInt, z } from '@workemon/config';

/** What an operator's name is made of (1–64 of them). */
export const OPERATOR_NAME = /^[\p{L}\p{N}._@-]{1,64}$/u;

/** One operator who may sign in; the hash comes from `pnpm console:hash-password`. */
export const OperatorSchema = z.object({
  name: z.string().regex(OPERATOR_NAME, { error: 'name must be 1–64 letters, digits or . _ @ -' }),
  role: z.enum(['operator', 'admin'], { error: "role must be 'operator' or 'admin'" }),
  password_hash: z.string().regex(/^\$argon2(id|i|d)\$/, {
    error: 'password_hash must be an argon2 hash (pnpm console:hash-password)',
  }),
});
export type Operator = z.infer<typeof OperatorSchema>;

export const configSchema = z.object({
  ...baseServiceConfig(8004),
  DATABASE_URL: z
    .string({ error: 'is required (postgres://user:pass@host:5432/db)' })
    .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' }),
  DATABASE_POOL_MAX: positiveInt(5),
  MIGRATE_ON_START: booleanFlag(false),
  SECRETARY_URL: httpUrl('http://localhost:8000'),
  COMMUNICATOR_URL: httpUrl('http://localhost:8003'),
  UPSTREAM_TIMEOUT_MS: positiveInt(15_000),
  /** JSON array of {name, role, password_hash}; or OPERATORS_FILE with the same JSON. */
  /** Without operators the console starts, but nobody can sign in (and /health says so). */
  OPERATORS: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return [];
      try {
        return JSON.parse(value) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON array of {name, role, password_hash}' });
        return z.NEVER;
      }
    })
    .pipe(
      z
        .array(OperatorSchema, { error: 'must be a JSON array of {name, role, password_hash}' })
        .refine((list) => new Set(list.map((o) => o.name)).size === list.length, {
          error: 'names must be unique',
        }),
    ),
  SESSION_TTL: duration('12h'),
  /** Failed sign-ins in a row (per name) before the name is locked out for LOGIN_LOCKOUT. */
  LOGIN_MAX_FAILURES: positiveInt(5),
  LOGIN_LOCKOUT: duration('15m'),
  /**
   * Behind a TLS-terminating proxy: trust its X-Forwarded-Proto / X-Forwarded-For (express
   * "trust proxy" value: true, a hop count, or addresses). Cookies are Secure when the request was https.
   */
  TRUST_PROXY: z
    .string()
    .optional()
    .transform((v) =>
      v === undefined || v === 'false' ? false : v === 'true' ? true : /^\d+$/.test(v) ? Number(v) : v,
    ),
  /** How often the console asks the secretary whether the inbox changed (while a browser listens). */
  LIVE_POLL_INTERVAL_MS: positiveInt(1_000),
});

export type Config = z.output<typeof configSchema>;
