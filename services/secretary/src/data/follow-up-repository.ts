import { and, eq, inArray, sql } from 'drizzle-orm';
import type { ClaimedFollowUp, FollowUpStorePort } from '../domain/ports.js';
import { storableJson, storableText } from '../domain/storable-text.js';
import { guardDatabase } from '@workemon/db';
import type { Database } from './db.js';
import { followUps, requests } from './schema.js';

/** Nobody works on the row any more. */
const released = () => ({ lockedUntil: null, owner: null, heartbeatAt: null });

interface ClaimedRow extends Record<string, unknown> {
  id: string | number;
  request_id: string | number;
  kind: string;
  payload: Record<string, unknown>;
  attempts: number;
  trace_id: string | null;
  previous_owner: string | null;
}

/** secretary.follow_ups: leased with SKIP LOCKED, so replicas share the queue without doing a row twice. */
export class FollowUpRepository implements FollowUpStorePort {
  constructor(private readonly db: Database) {}

  claimDue(limit: number, leaseMs: number, owner: string): Promise<ClaimedFollowUp[]> {
    return guardDatabase(async () => {
      // The lease is short and renewed by the owner's heartbeat: a dead owner's row is due in seconds.
      // owner is cleared whenever a row is released, so one still set here was abandoned.
      const result = await this.db.execute<ClaimedRow>(sql`
        WITH due AS (
          SELECT id, owner FROM ${followUps}
          WHERE status = 'pending' AND next_attempt_at <= now()
            AND (locked_until IS NULL OR locked_until < now())
          ORDER BY next_attempt_at, id
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)
        UPDATE ${followUps} AS f
        SET attempts = f.attempts + 1,
            locked_until = now() + ${leaseMs} * interval '1 millisecond',
            owner = ${owner},
            heartbeat_at = now(),
            updated_at = now()
        FROM due
        WHERE f.id = due.id
        RETURNING f.id, f.request_id, f.kind, f.payload, f.attempts, due.owner AS previous_owner,
          (SELECT r.trace_id FROM ${requests} r WHERE r.id = f.request_id) AS trace_id`);
      return result.rows.map((row) => ({
        id: Number(row.id),
        requestId: Number(row.request_id),
        kind: row.kind as ClaimedFollowUp['kind'],
        payload: row.payload,
        attempts: row.attempts,
        traceId: row.trace_id,
        previousOwner: row.previous_owner,
      }));
    });
  }

  heartbeat(ids: number[], owner: string, leaseMs: number): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return guardDatabase(async () => {
      await this.db
        .update(followUps)
        .set({
          heartbeatAt: sql`now()`,
          lockedUntil: sql`now() + ${leaseMs} * interval '1 millisecond'`,
        })
        .where(and(inArray(followUps.id, ids), eq(followUps.owner, owner), eq(followUps.status, 'pending')));
    });
  }

  markDone(id: number, result: Record<string, unknown>): Promise<void> {
    return guardDatabase(async () => {
      await this.db
        .update(followUps)
        .set({
          status: 'done',
          result: storableJson(result),
          lastError: null,
          ...released(),
          updatedAt: new Date(),
        })
        .where(and(eq(followUps.id, id), eq(followUps.status, 'pending')));
    });
  }

  retryLater(id: number, error: string, delayMs: number): Promise<void> {
    return guardDatabase(async () => {
      await this.db
        .update(followUps)
        .set({
          lastError: storableText(error),
          ...released(),
          nextAttemptAt: sql`now() + ${delayMs} * interval '1 millisecond'`,
          updatedAt: new Date(),
        })
        .where(and(eq(followUps.id, id), eq(followUps.status, 'pending')));
    });
  }

  markFailed(id: number, error: string): Promise<void> {
    return guardDatabase(async () => {
      await this.db
        .update(followUps)
        .set({ status: 'failed', lastError: storableText(error), ...released(), updatedAt: new Date() })
        .where(and(eq(followUps.id, id), eq(followUps.status, 'pending')));
    });
  }

  pendingCounts(): Promise<Record<string, number>> {
    return guardDatabase(async () => {
      const rows = await this.db
        .select({ kind: followUps.kind, count: sql<number>`count(*)::int` })
        .from(followUps)
        .where(eq(followUps.status, 'pending'))
        .groupBy(followUps.kind);
      return Object.fromEntries(rows.map((r) => [r.kind, r.count]));
    });
  }
}
