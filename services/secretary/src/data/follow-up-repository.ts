import { and, eq, sql } from 'drizzle-orm';
import type { ClaimedFollowUp, FollowUpStorePort } from '../domain/ports.js';
import type { Database } from './db.js';
import { followUps, requests } from './schema.js';

interface ClaimedRow extends Record<string, unknown> {
  id: string | number;
  request_id: string | number;
  kind: string;
  payload: Record<string, unknown>;
  attempts: number;
  trace_id: string | null;
}

/** secretary.follow_ups: leased with SKIP LOCKED, so replicas share the queue without doing a row twice. */
export class FollowUpRepository implements FollowUpStorePort {
  constructor(private readonly db: Database) {}

  async claimDue(limit: number, leaseMs: number): Promise<ClaimedFollowUp[]> {
    const result = await this.db.execute<ClaimedRow>(sql`
      UPDATE ${followUps} AS f
      SET attempts = f.attempts + 1,
          locked_until = now() + ${leaseMs} * interval '1 millisecond',
          updated_at = now()
      WHERE f.id IN (
        SELECT id FROM ${followUps}
        WHERE status = 'pending' AND next_attempt_at <= now()
          AND (locked_until IS NULL OR locked_until < now())
        ORDER BY next_attempt_at, id
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
      RETURNING f.id, f.request_id, f.kind, f.payload, f.attempts,
        (SELECT r.trace_id FROM ${requests} r WHERE r.id = f.request_id) AS trace_id`);
    return result.rows.map((row) => ({
      id: Number(row.id),
      requestId: Number(row.request_id),
      kind: row.kind as ClaimedFollowUp['kind'],
      payload: row.payload,
      attempts: row.attempts,
      traceId: row.trace_id,
    }));
  }

  async markDone(id: number, result: Record<string, unknown>): Promise<void> {
    await this.db
      .update(followUps)
      .set({ status: 'done', result, lastError: null, lockedUntil: null, updatedAt: new Date() })
      .where(and(eq(followUps.id, id), eq(followUps.status, 'pending')));
  }

  async retryLater(id: number, error: string, delayMs: number): Promise<void> {
    await this.db
      .update(followUps)
      .set({
        lastError: error,
        lockedUntil: null,
        nextAttemptAt: sql`now() + ${delayMs} * interval '1 millisecond'`,
        updatedAt: new Date(),
      })
      .where(and(eq(followUps.id, id), eq(followUps.status, 'pending')));
  }

  async markFailed(id: number, error: string): Promise<void> {
    await this.db
      .update(followUps)
      .set({ status: 'failed', lastError: error, lockedUntil: null, updatedAt: new Date() })
      .where(and(eq(followUps.id, id), eq(followUps.status, 'pending')));
  }

  async pendingCounts(): Promise<Record<string, number>> {
    const rows = await this.db
      .select({ kind: followUps.kind, count: sql<number>`count(*)::int` })
      .from(followUps)
      .where(eq(followUps.status, 'pending'))
      .groupBy(followUps.kind);
    return Object.fromEntries(rows.map((r) => [r.kind, r.count]));
  }
}
