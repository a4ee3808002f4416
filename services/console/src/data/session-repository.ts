import { and, eq, gt, lt, sql } from 'drizzle-orm';
import type { SessionStore, StoredSession } from '../domain/ports.js';
import type { Database } from './db.js';
import { sessions, signInFailures } from './schema.js';

/** console.sessions and console.sign_in_failures. */
export class SessionRepository implements SessionStore {
  constructor(private readonly db: Database) {}

  async create(tokenHash: string, session: StoredSession): Promise<void> {
    await this.db.insert(sessions).values({ tokenHash, ...session });
  }

  /** The live session for a token hash (and touches it); undefined when unknown or expired. */
  async find(tokenHash: string, now: Date): Promise<StoredSession | undefined> {
    const [row] = await this.db
      .update(sessions)
      .set({ lastSeenAt: now })
      .where(and(eq(sessions.tokenHash, tokenHash), gt(sessions.expiresAt, now)))
      .returning({
        operator: sessions.operator,
        csrfToken: sessions.csrfToken,
        expiresAt: sessions.expiresAt,
      });
    return row;
  }

  async delete(tokenHash: string): Promise<void> {
    await this.db.delete(sessions).where(eq(sessions.tokenHash, tokenHash));
  }

  async deleteExpired(now: Date): Promise<void> {
    await this.db.delete(sessions).where(lt(sessions.expiresAt, now));
  }

  async lockedUntil(name: string, now: Date): Promise<Date | undefined> {
    const [row] = await this.db
      .select({ lockedUntil: signInFailures.lockedUntil })
      .from(signInFailures)
      .where(and(eq(signInFailures.name, name), gt(signInFailures.lockedUntil, now)));
    return row?.lockedUntil ?? undefined;
  }

  /** Counts a failure; at `maxFailures` in a row the name is locked until `lockUntil` and the count restarts. */
  async recordFailure(name: string, maxFailures: number, lockUntil: Date): Promise<{ locked: boolean }> {
    const [row] = await this.db
      .insert(signInFailures)
      .values({ name, failures: 1 })
      .onConflictDoUpdate({
        target: signInFailures.name,
        set: { failures: sql`${signInFailures.failures} + 1`, lastFailureAt: sql`now()` },
      })
      .returning({ failures: signInFailures.failures });
    if ((row?.failures ?? 0) < maxFailures) return { locked: false };
    await this.db
      .update(signInFailures)
      .set({ failures: 0, lockedUntil: lockUntil })
      .where(eq(signInFailures.name, name));
    return { locked: true };
  }

  async clearFailures(name: string): Promise<void> {
    await this.db.delete(signInFailures).where(eq(signInFailures.name, name));
  }
}
