import { and, desc, lt, asc, count, eq, gt, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import type { Database } from './db.js';
import { type InboundRow, type InboundStatus, inbound, type NewInboundRow } from './schema.js';

const OPEN_STATUSES: InboundStatus[] = ['received', 'processing', 'answered'];

/** Last error of a row whose lease expired: its worker never recorded an outcome. */
export const DIED = 'process died while handling';

/** The ingest ledger: every state change of an inbound message is one UPDATE here. */
export class InboundLedgerRepository {
  constructor(private readonly db: Database) {}

  /** Inserts new messages; ones already in the ledger (same channel + external id) are ignored. */
  async record(rows: NewInboundRow[]): Promise<InboundRow[]> {
    if (rows.length === 0) return [];
    return this.db.insert(inbound).values(rows).onConflictDoNothing().returning();
  }

  async findByExternalId(channel: string, externalId: string): Promise<InboundRow | undefined> {
    const [row] = await this.db
      .select()
      .from(inbound)
      .where(and(eq(inbound.channel, channel), eq(inbound.externalId, externalId)));
    return row;
  }

  /**
   * Leases up to `limit` due rows and counts an attempt for each: the attempt
   * is counted when it starts, not when it fails, so a message that kills the
   * process every time it is handled (it never gets to record a failure) still
   * runs out of attempts. A due row that has already used `maxAttempts` is
   * quarantined here instead of being leased, and is returned with status
   * 'quarantined' so the caller can report it.
   *
   * A row whose lease expired was being handled by a worker that died (or hung
   * past its lease): it is due again, so nothing stays stuck in processing, and
   * its last error becomes "process died while handling". SKIP LOCKED lets
   * replicas claim disjoint rows.
   *
   * Counting SIGKILLs and OOM kills is deliberate: the ledger cannot tell a
   * crash the message caused from one it merely witnessed, and the rule that
   * protects the mailbox is that one message never blocks the rest. Graceful
   * shutdown (SIGTERM) finishes in-flight rows and costs no attempt.
   */
  async claim(limit: number, leaseMs: number, maxAttempts: number): Promise<InboundRow[]> {
    if (limit <= 0) return [];
    const due = this.db
      .select({ id: inbound.id })
      .from(inbound)
      .where(
        and(
          inArray(inbound.status, OPEN_STATUSES),
          lte(inbound.nextAttemptAt, sql`now()`),
          or(isNull(inbound.leaseUntil), lte(inbound.leaseUntil, sql`now()`)),
          // One person's messages reach the secretary one at a time, in arrival order, across
          // replicas: a quick second message is then read as the answer to the first one's
          // question. Only an earlier message being handled now, or due now, holds a later one
          // back; one waiting out a retry backoff does not block the sender's others.
          sql`not (${inbound.status} in ('received', 'processing') and exists (
            select 1 from ${inbound} as earlier
            where earlier.channel = ${inbound.channel} and earlier.username = ${inbound.username}
              and earlier.id < ${inbound.id} and earlier.status in ('received', 'processing')
              and (earlier.lease_until > now()
                or (earlier.next_attempt_at <= now()
                  and (earlier.lease_until is null or earlier.lease_until <= now())))))`,
        ),
      )
      .orderBy(asc(inbound.nextAttemptAt), asc(inbound.id))
      .limit(limit)
      .for('update', { skipLocked: true });
    // SET expressions see the row as it was before this UPDATE.
    const exhausted = sql`${inbound.attempts} >= ${maxAttempts}`;
    const crashed = sql`${inbound.leaseUntil} is not null`;
    const lastError = sql`case when ${crashed} then ${DIED} else coalesce(${inbound.lastError}, 'unknown') end`;
    return this.db
      .update(inbound)
      .set({
        status: sql`case when ${exhausted} then 'quarantined'
          when ${inbound.status} = 'received' then 'processing' else ${inbound.status} end`,
        attempts: sql`case when ${exhausted} then ${inbound.attempts} else ${inbound.attempts} + 1 end`,
        leaseUntil: sql`case when ${exhausted} then null else now() + make_interval(secs => ${leaseMs / 1000}) end`,
        lastError: sql`case when ${exhausted} then 'gave up after ' || ${inbound.attempts} || ' attempts (last error: ' || ${lastError} || ')'
          when ${crashed} then ${DIED} else ${inbound.lastError} end`,
      })
      .where(inArray(inbound.id, due))
      .returning();
  }

  /** The secretary's answer is stored before anything is sent, so a crash never asks twice. */
  async markAnswered(id: number, answer: { text: string; action: string; replyMessageId: string | null }) {
    await this.db
      .update(inbound)
      .set({
        status: 'answered',
        answerText: answer.text,
        answerAction: answer.action,
        replyMessageId: answer.replyMessageId,
        answeredAt: sql`now()`,
        lastError: null,
      })
      .where(eq(inbound.id, id));
  }

  async markPartsSent(id: number, partsSent: number): Promise<void> {
    await this.db.update(inbound).set({ partsSent }).where(eq(inbound.id, id));
  }

  async markReplied(id: number, externalReplyId?: string): Promise<void> {
    await this.db
      .update(inbound)
      .set({
        status: 'replied',
        repliedAt: sql`now()`,
        leaseUntil: null,
        ...(externalReplyId ? { replyMessageId: externalReplyId } : {}),
      })
      .where(eq(inbound.id, id));
  }

  async markSkipped(id: number, reason: string): Promise<void> {
    await this.db
      .update(inbound)
      .set({ status: 'skipped', lastError: reason, leaseUntil: null })
      .where(eq(inbound.id, id));
  }

  /** Permanent failure: quarantined at once (the attempt was counted when the row was claimed). */
  async quarantine(id: number, reason: string): Promise<void> {
    await this.db
      .update(inbound)
      .set({ status: 'quarantined', lastError: reason.slice(0, 2000), leaseUntil: null })
      .where(eq(inbound.id, id));
  }

  /**
   * Records a retryable failure of the attempt counted at claim time: the row
   * is due again after `delayMs`, or quarantined now when it has used
   * `maxAttempts` (no point waiting out the backoff to give up then). Returns
   * the row's new status.
   */
  async recordFailure(
    id: number,
    error: string,
    delayMs: number,
    maxAttempts: number,
  ): Promise<InboundStatus> {
    const exhausted = sql`${inbound.attempts} >= ${maxAttempts}`;
    const message = error.slice(0, 1900);
    const [row] = await this.db
      .update(inbound)
      .set({
        lastError: sql`case when ${exhausted}
          then 'gave up after ' || ${inbound.attempts} || ' attempts (last error: ' || ${message}::text || ')'
          else ${message}::text end`,
        leaseUntil: null,
        nextAttemptAt: sql`now() + make_interval(secs => ${delayMs / 1000})`,
        status: sql`case when ${exhausted} then 'quarantined' else ${inbound.status} end`,
      })
      .where(eq(inbound.id, id))
      .returning({ status: inbound.status });
    return row?.status ?? 'quarantined';
  }

  /** Replies sent to one person on one channel since `since` (per-sender rate limit). */
  async repliesSince(channel: string, username: string, since: Date): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(inbound)
      .where(and(eq(inbound.channel, channel), eq(inbound.username, username), gt(inbound.repliedAt, since)));
    return row?.n ?? 0;
  }

  /** Replied email rows not yet flagged \Seen (skipped and quarantined mail stays unread for a person). */
  async unseen(mailbox: string, uidvalidity: number, limit: number): Promise<{ id: number; uid: number }[]> {
    const rows = await this.db
      .select({ id: inbound.id, uid: inbound.uid })
      .from(inbound)
      .where(
        and(
          eq(inbound.mailbox, mailbox),
          eq(inbound.uidvalidity, uidvalidity),
          isNull(inbound.seenAt),
          eq(inbound.status, 'replied'),
        ),
      )
      .limit(limit);
    return rows.flatMap((r) => (r.uid === null ? [] : [{ id: r.id, uid: r.uid }]));
  }

  async markSeen(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .update(inbound)
      .set({ seenAt: sql`now()` })
      .where(inArray(inbound.id, ids));
  }

  async countsByStatus(): Promise<Record<string, number>> {
    const rows = await this.db
      .select({ status: inbound.status, n: count() })
      .from(inbound)
      .groupBy(inbound.status);
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /** Newest first, for operators: optionally one status and/or channel; keyset-paged by id. */
  async list(filter: {
    status?: InboundStatus | undefined;
    channel?: string | undefined;
    beforeId?: number | undefined;
    limit: number;
  }): Promise<InboundRow[]> {
    const conditions = [];
    if (filter.status) conditions.push(eq(inbound.status, filter.status));
    if (filter.channel) conditions.push(eq(inbound.channel, filter.channel));
    if (filter.beforeId !== undefined) conditions.push(lt(inbound.id, filter.beforeId));
    return this.db
      .select()
      .from(inbound)
      .where(conditions.length > 0 ? and(...conditions) : undefined)
      .orderBy(desc(inbound.id))
      .limit(filter.limit);
  }

  async findById(id: number): Promise<InboundRow | undefined> {
    const [row] = await this.db.select().from(inbound).where(eq(inbound.id, id));
    return row;
  }

  /**
   * An operator's retry: a quarantined or skipped message goes back to `received` with fresh
   * attempts. Only from those statuses (checked in the UPDATE), so a message in flight or already
   * replied can never be sent twice this way. Undefined when the row was not in such a status.
   */
  async requeue(id: number, note: string): Promise<InboundRow | undefined> {
    const [row] = await this.db
      .update(inbound)
      .set({
        status: 'received',
        attempts: 0,
        leaseUntil: null,
        nextAttemptAt: sql`now()`,
        lastError: sql`${note} || coalesce(' (was: ' || ${inbound.lastError} || ')', '')`,
      })
      .where(and(eq(inbound.id, id), inArray(inbound.status, ['quarantined', 'skipped'])))
      .returning();
    return row;
  }
}
