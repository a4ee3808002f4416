import { and, eq, isNull, lte, or, sql } from 'drizzle-orm';
import type { Database } from './db.js';
import { outbound, type OutboundRow } from './schema.js';
import type { NewOutboundMessage, OutboundStore } from '../domain/ledger-ports.js';

/** POST /send bookkeeping: one row per caller key, leased while a send is in flight. */
export class OutboundRepository implements OutboundStore {
  constructor(private readonly db: Database) {}

  async findByKey(key: string): Promise<OutboundRow | undefined> {
    const [row] = await this.db.select().from(outbound).where(eq(outbound.idempotencyKey, key));
    return row;
  }

  /** Inserts the row if new; then leases it unless it is sent or leased by another request. */
  async claim(input: NewOutboundMessage, leaseMs: number): Promise<{ row: OutboundRow; claimed: boolean }> {
    await this.db.insert(outbound).values(input).onConflictDoNothing();
    const [claimed] = await this.db
      .update(outbound)
      .set({ leaseUntil: sql`now() + make_interval(secs => ${leaseMs / 1000})` })
      .where(
        and(
          eq(outbound.idempotencyKey, input.idempotencyKey),
          eq(outbound.status, 'pending'),
          or(isNull(outbound.leaseUntil), lte(outbound.leaseUntil, sql`now()`)),
        ),
      )
      .returning();
    if (claimed) return { row: claimed, claimed: true };
    const existing = await this.findByKey(input.idempotencyKey);
    if (!existing) throw new Error(`outbound row ${input.idempotencyKey} vanished`);
    return { row: existing, claimed: false };
  }

  async markSent(id: number, externalId: string | null): Promise<void> {
    await this.db
      .update(outbound)
      .set({ status: 'sent', externalId, sentAt: sql`now()`, leaseUntil: null, lastError: null })
      .where(eq(outbound.id, id));
  }

  async release(id: number, error: string): Promise<void> {
    await this.db
      .update(outbound)
      .set({ leaseUntil: null, lastError: error.slice(0, 2000) })
      .where(eq(outbound.id, id));
  }
}
