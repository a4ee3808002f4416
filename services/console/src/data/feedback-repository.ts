import { desc, gt, asc } from 'drizzle-orm';
import type { FeedbackStore } from '../domain/ports.js';
import type { Database } from './db.js';
import { feedback } from './schema.js';

export type FeedbackRow = typeof feedback.$inferSelect;
export type NewFeedback = typeof feedback.$inferInsert;

/** console.feedback: operators' verdicts on AI answers. */
export class FeedbackRepository implements FeedbackStore {
  constructor(private readonly db: Database) {}

  async add(row: NewFeedback): Promise<FeedbackRow> {
    const [stored] = await this.db.insert(feedback).values(row).returning();
    if (!stored) throw new Error('feedback insert returned nothing');
    return stored;
  }

  recent(limit: number): Promise<FeedbackRow[]> {
    return this.db.select().from(feedback).orderBy(desc(feedback.id)).limit(limit);
  }

  /** Oldest first, in batches after `afterId` (the export streams them). */
  batchAfter(afterId: number, limit: number): Promise<FeedbackRow[]> {
    return this.db
      .select()
      .from(feedback)
      .where(gt(feedback.id, afterId))
      .orderBy(asc(feedback.id))
      .limit(limit);
  }
}
