import { bigint, index, integer, pgSchema, text, timestamp } from 'drizzle-orm/pg-core';

export const consoleSchema = pgSchema('console');

/** Signed-in browsers: the cookie carries a random token, the table only its SHA-256. */
export const sessions = consoleSchema.table(
  'sessions',
  {
    tokenHash: text('token_hash').primaryKey(),
    operator: text('operator').notNull(),
    csrfToken: text('csrf_token').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('sessions_expires_idx').on(t.expiresAt)],
);

/** Failed sign-ins in a row per name; a name over the limit is locked until locked_until. */
export const signInFailures = consoleSchema.table('sign_in_failures', {
  name: text('name').primaryKey(),
  failures: integer('failures').notNull().default(0),
  lockedUntil: timestamp('locked_until', { withTimezone: true }),
  lastFailureAt: timestamp('last_failure_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Operators' verdicts on AI answers, for prompt and retrieval evaluation (exported as JSON lines). */
export const feedback = consoleSchema.table(
  'feedback',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** secretary.requests id of the exchange judged */
    exchangeId: bigint('exchange_id', { mode: 'number' }).notNull(),
    channel: text('channel').notNull(),
    username: text('username').notNull(),
    /** helpful | wrong */
    verdict: text('verdict').notNull(),
    note: text('note'),
    operator: text('operator').notNull(),
    /** What was judged, copied so the export stands alone. */
    request: text('request').notNull(),
    response: text('response'),
    action: text('action'),
    model: text('model'),
    traceId: text('trace_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('feedback_exchange_idx').on(t.exchangeId)],
);
