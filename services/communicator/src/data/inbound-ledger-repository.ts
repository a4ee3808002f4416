import { and, asc, count, desc, eq, gt, inArray, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { OwnershipLost } from '../domain/errors.js';
import type { InboundOperatorLedger, InboundStatus, InboundWorkLedger } from '../domain/ledger-ports.js';
import type { MailThreadLookup } from '../domain/send-message-use-case.js';
import type { Database } from './db.js';
import { type InboundRow, inbound, type NewInboundRow } from './schema.js';

/** Last error of a row whose owner stopped beating: its worker never recorded an outcome. */
export const DIED = 'process died while handling';
/** …and the same while the row ran alone: the crash is charged to it. */
export const DIED_ALONE = 'the process died while handling it alone';

const OPEN_STATUSES: InboundStatus[] = ['received', 'processing', 'answered', 'sending'];

/** Nobody works on the row any more: its owner's heartbeat lapsed. */
const orphaned = () => and(isNotNull(inbound.owner), lte(inbound.leaseUntil, sql`now()`));

/** What every end of an attempt writes: the row has no owner until it is claimed again. */
const RELEASED = { owner: null, leaseUntil: null, isolated: false } as const;

export interface LedgerStats {
  counts: Record<string, number>;
  orphaned: number;
  oldestOpenSeconds: number;
}

/** The ingest ledger: every state change of an inbound message is one UPDATE here. */
export class InboundLedgerRepository implements InboundWorkLedger, InboundOperatorLedger, MailThreadLookup {
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
   * Takes up to `limit` due rows nobody owns for `owner`: each gets the owner
   * and a lease that the owner's heartbeat keeps renewing. No attempt is
   * counted here: only a definitive failure of the message counts (see
   * recordFailure), and a crash is charged only when the row ran alone
   * (see claimOrphan). Rows owned by a process that stopped beating are left
   * to claimOrphan. SKIP LOCKED lets replicas claim disjoint rows.
   */
  async claim(owner: string, limit: number, leaseMs: number): Promise<InboundRow[]> {
    if (limit <= 0) return [];
    const due = this.db
      .select({ id: inbound.id })
      .from(inbound)
      .where(
        and(
          inArray(inbound.status, OPEN_STATUSES),
          lte(inbound.nextAttemptAt, sql`now()`),
          isNull(inbound.owner),
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
    return this.db
      .update(inbound)
      .set({
        status: sql`case when ${inbound.status} = 'received' then 'processing' else ${inbound.status} end`,
        owner,
        isolated: false,
        leaseUntil: sql`now() + make_interval(secs => ${leaseMs / 1000})`,
        heartbeatAt: sql`now()`,
      })
      .where(inArray(inbound.id, due))
      .returning();
  }

  /**
   * The lowest crash count among orphans (rows whose owner stopped beating), or undefined when
   * there are none: orphans are taken over level by level, those that crashed least first.
   */
  async orphanLevel(): Promise<number | undefined> {
    const [row] = await this.db
      .select({ level: sql<number | null>`min(${inbound.crashes})` })
      .from(inbound)
      .where(and(orphaned(), inArray(inbound.status, OPEN_STATUSES)));
    return row?.level ?? undefined;
  }

  /**
   * Takes over up to `limit` orphans that have crashed `level` times. With `isolated` the caller
   * runs them as one group with nothing else beside it. A crash while a row ran among others
   * proves nothing about it and is not charged; the next time it runs in a smaller group (the
   * caller halves the group size per crash), until it runs alone. A crash while it ran alone (`isolated`) is its own
   * doing and counts one attempt; a row that has used `maxAttempts` that way is quarantined here
   * (returned with status 'quarantined'). So a message that kills the process whenever it is
   * handled is found in a few crashes and ends in quarantine, and no other message pays for it.
   */
  async claimOrphans(
    owner: string,
    take: {
      level: number;
      limit: number;
      leaseMs: number;
      maxAttempts: number;
      /** The caller runs this group with nothing beside it (a group of one is then `isolated`). */
      isolated: boolean;
    },
  ): Promise<InboundRow[]> {
    const { level, limit, leaseMs, maxAttempts } = take;
    return this.db.transaction(async (tx) => {
      const due = await tx
        .select({ id: inbound.id })
        .from(inbound)
        .where(and(orphaned(), inArray(inbound.status, OPEN_STATUSES), eq(inbound.crashes, level)))
        .orderBy(asc(inbound.id))
        .limit(Math.max(1, limit))
        .for('update', { skipLocked: true });
      if (due.length === 0) return [];
      const alone = take.isolated && due.length === 1;
      // SET expressions see the row as it was before this UPDATE.
      const charged = sql`case when ${inbound.isolated} then 1 else 0 end`;
      const exhausted = sql`(${inbound.isolated} and ${inbound.attempts} + 1 >= ${maxAttempts})`;
      return tx
        .update(inbound)
        .set({
          crashes: sql`${inbound.crashes} + 1`,
          attempts: sql`${inbound.attempts} + ${charged}`,
          status: sql`case when ${exhausted} then 'quarantined'
            when ${inbound.status} = 'received' then 'processing' else ${inbound.status} end`,
          owner: sql`case when ${exhausted} then null else ${owner}::text end`,
          leaseUntil: sql`case when ${exhausted} then null else now() + make_interval(secs => ${leaseMs / 1000}) end`,
          heartbeatAt: sql`now()`,
          isolated: sql`(not ${exhausted}) and ${alone}`,
          lastError: sql`case when ${exhausted}
            then 'gave up after ' || (${inbound.attempts} + 1) || ' attempts (last: ' || ${DIED_ALONE}::text || ')'
            else ${DIED}::text end`,
        })
        .where(
          inArray(
            inbound.id,
            due.map((r) => r.id),
          ),
        )
        .returning();
    });
  }

  /** Renews the lease of the rows `owner` is working on; returns the ids it still owns. */
  async heartbeat(owner: string, ids: number[], leaseMs: number): Promise<number[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .update(inbound)
      .set({ leaseUntil: sql`now() + make_interval(secs => ${leaseMs / 1000})`, heartbeatAt: sql`now()` })
      .where(and(eq(inbound.owner, owner), inArray(inbound.id, ids)))
      .returning({ id: inbound.id });
    return rows.map((r) => r.id);
  }

  /** One fenced UPDATE: applies only while `owner` still owns the row, else OwnershipLost. */
  private async ownedUpdate(
    id: number,
    owner: string,
    values: Partial<Record<keyof NewInboundRow, unknown>>,
  ) {
    const rows = await this.db
      .update(inbound)
      .set(values as Partial<NewInboundRow>)
      .where(and(eq(inbound.id, id), eq(inbound.owner, owner)))
      .returning({ id: inbound.id, status: inbound.status });
    if (rows.length === 0) throw new OwnershipLost(id);
    return rows[0] as { id: number; status: InboundStatus };
  }

  /** The secretary's answer is stored before anything is sent, so a crash never asks twice. */
  async markAnswered(
    id: number,
    owner: string,
    answer: { text: string; action: string; replyMessageId: string | null },
  ): Promise<void> {
    await this.ownedUpdate(id, owner, {
      status: 'answered',
      answerText: answer.text,
      answerAction: answer.action,
      replyMessageId: answer.replyMessageId,
      answeredAt: sql`now()`,
      lastError: null,
    });
  }

  /**
   * The intent, in its own short transaction before the send: from here until
   * markReplied/markPartsSent a crash leaves the row 'sending', and the next
   * owner must find out whether the send happened before sending again.
   * `ambiguous` marks a resend without that proof (counted in the row).
   */
  async markSending(id: number, owner: string, intent: string, ambiguous: boolean): Promise<void> {
    await this.ownedUpdate(id, owner, {
      status: 'sending',
      sendIntent: intent,
      ...(ambiguous ? { ambiguousSends: sql`${inbound.ambiguousSends} + 1` } : {}),
    });
  }

  /** The channel said the send did not happen (it answered with an error): back to 'answered'. */
  async markNotSent(id: number, owner: string): Promise<void> {
    await this.ownedUpdate(id, owner, { status: 'answered', sendIntent: null });
  }

  async markPartsSent(id: number, owner: string, partsSent: number): Promise<void> {
    await this.ownedUpdate(id, owner, { partsSent, status: 'answered', sendIntent: null });
  }

  async markReplied(id: number, owner: string, externalReplyId?: string): Promise<void> {
    await this.ownedUpdate(id, owner, {
      status: 'replied',
      repliedAt: sql`now()`,
      ...RELEASED,
      sendIntent: null,
      ...(externalReplyId ? { replyMessageId: externalReplyId } : {}),
    });
  }

  async markSkipped(id: number, owner: string, reason: string): Promise<void> {
    await this.ownedUpdate(id, owner, { status: 'skipped', lastError: reason, ...RELEASED });
  }

  /** Permanent failure: counts the attempt and quarantines at once. */
  async quarantine(id: number, owner: string, reason: string): Promise<void> {
    await this.ownedUpdate(id, owner, {
      status: 'quarantined',
      attempts: sql`${inbound.attempts} + 1`,
      lastError: reason.slice(0, 2000),
      ...RELEASED,
    });
  }

  /**
   * Records a failed attempt and gives the row back, due again after
   * `delayMs`. A failure of the message (`counts`) uses one attempt: at
   * `maxAttempts` the row is quarantined now. An outage does not: it only
   * grows the backoff, until the row has waited `retryForMs` since it arrived
   * — then it is quarantined too (an operator retries it later). Returns the
   * row's new status.
   */
  async recordFailure(
    id: number,
    owner: string,
    failure: { error: string; delayMs: number; counts: boolean; maxAttempts: number; retryForMs: number },
  ): Promise<InboundStatus> {
    const message = failure.error.slice(0, 1900);
    const exhausted = failure.counts
      ? sql`${inbound.attempts} + 1 >= ${failure.maxAttempts}`
      : sql`${inbound.receivedAt} + make_interval(secs => ${failure.retryForMs / 1000}) <= now()`;
    const givenUp = failure.counts
      ? sql`'gave up after ' || (${inbound.attempts} + 1) || ' attempts (last error: ' || ${message}::text || ')'`
      : sql`'gave up after retrying for ' || ${Math.round(failure.retryForMs / 60_000)} || ' min (last error: ' || ${message}::text || ')'`;
    const row = await this.ownedUpdate(id, owner, {
      attempts: failure.counts ? sql`${inbound.attempts} + 1` : inbound.attempts,
      retries: failure.counts ? inbound.retries : sql`${inbound.retries} + 1`,
      lastError: sql`case when ${exhausted} then ${givenUp} else ${message}::text end`,
      nextAttemptAt: sql`now() + make_interval(secs => ${failure.delayMs / 1000})`,
      status: sql`case when ${exhausted} then 'quarantined' else ${inbound.status} end`,
      ...RELEASED,
    });
    return row.status;
  }

  /**
   * The secretary answered again after an outage: messages waiting out an outage backoff (not yet
   * answered, retried before) are due now instead of after their grown backoff. Returns how many.
   */
  async retryOutageWaitersNow(): Promise<number> {
    const rows = await this.db
      .update(inbound)
      .set({ nextAttemptAt: sql`now()` })
      .where(
        and(
          inArray(inbound.status, ['received', 'processing']),
          isNull(inbound.owner),
          gt(inbound.retries, 0),
          gt(inbound.nextAttemptAt, sql`now()`),
        ),
      )
      .returning({ id: inbound.id });
    return rows.length;
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

  /** Scrape-time view of the ledger: rows per status, orphans (dead owner), age of the oldest open row. */
  async stats(): Promise<LedgerStats> {
    const [counts, [open]] = await Promise.all([
      this.countsByStatus(),
      this.db
        .select({
          orphaned: sql<number>`count(*) filter (where ${orphaned()})`.mapWith(Number),
          oldest: sql<number | null>`extract(epoch from now() - min(${inbound.receivedAt}))`.mapWith(Number),
        })
        .from(inbound)
        .where(inArray(inbound.status, OPEN_STATUSES)),
    ]);
    return { counts, orphaned: open?.orphaned ?? 0, oldestOpenSeconds: open?.oldest ?? 0 };
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
        retries: 0,
        ...RELEASED,
        nextAttemptAt: sql`now()`,
        lastError: sql`${note} || coalesce(' (was: ' || ${inbound.lastError} || ')', '')`,
      })
      .where(and(eq(inbound.id, id), inArray(inbound.status, ['quarantined', 'skipped'])))
      .returning();
    return row;
  }
}
