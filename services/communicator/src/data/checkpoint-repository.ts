import { eq, sql } from 'drizzle-orm';
import type { Database } from './db.js';
import { checkpoints } from './schema.js';

export interface Checkpoint {
  uidvalidity: number | null;
  lastUid: number;
}

/** Where each poller resumes: IMAP (UIDVALIDITY, last UID) or Telegram (last confirmed update_id). */
export class CheckpointRepository {
  constructor(private readonly db: Database) {}

  async get(key: string): Promise<Checkpoint | undefined> {
    const [row] = await this.db.select().from(checkpoints).where(eq(checkpoints.key, key));
    return row ? { uidvalidity: row.uidvalidity, lastUid: row.lastUid } : undefined;
  }

  async set(key: string, value: Checkpoint): Promise<void> {
    await this.db
      .insert(checkpoints)
      .values({ key, uidvalidity: value.uidvalidity, lastUid: value.lastUid })
      .onConflictDoUpdate({
        target: checkpoints.key,
        set: { uidvalidity: value.uidvalidity, lastUid: value.lastUid, updatedAt: sql`now()` },
      });
  }
}
