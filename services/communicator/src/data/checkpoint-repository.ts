import { eq, sql } from 'drizzle-orm';
import type { Database } from './db.js';
import { checkpoints } from './schema.js';

export interface Checkpoint {
  uidvalidity: number | null;
  lastUid: number;
}

/** Mails UID `uid`..`lastUid` being parsed; `crashes`: processes that died parsing `uid` alone. */
export interface ParseMarker {
  uid: number;
  lastUid: number;
  crashes: number;
}

/** Where each poller resumes: IMAP (UIDVALIDITY, last UID) or Telegram (last confirmed update_id). */
export class CheckpointRepository {
  constructor(private readonly db: Database) {}

  async get(key: string): Promise<Checkpoint | undefined> {
    const [row] = await this.db.select().from(checkpoints).where(eq(checkpoints.key, key));
    return row ? { uidvalidity: row.uidvalidity, lastUid: row.lastUid } : undefined;
  }

  /**
   * Moves the checkpoint forward, never back: two pollers (a replica taking over while the old one
   * finishes a batch) may write out of order. A new UIDVALIDITY starts a new count and replaces it.
   */
  async set(key: string, value: Checkpoint): Promise<void> {
    await this.db
      .insert(checkpoints)
      .values({ key, uidvalidity: value.uidvalidity, lastUid: value.lastUid })
      .onConflictDoUpdate({
        target: checkpoints.key,
        set: {
          uidvalidity: value.uidvalidity,
          lastUid: sql`CASE WHEN ${checkpoints.uidvalidity} IS NOT DISTINCT FROM excluded.uidvalidity
                        THEN GREATEST(${checkpoints.lastUid}, excluded.last_uid)
                        ELSE excluded.last_uid END`,
          parsingUid: null,
          parsingLastUid: null,
          parseCrashes: 0,
          updatedAt: sql`now()`,
        },
      });
  }

  /** The mails a process was parsing when it stopped (set by markParsing, cleared by clearParsing/set). */
  async parsing(key: string): Promise<ParseMarker | undefined> {
    const [row] = await this.db
      .select({
        uid: checkpoints.parsingUid,
        lastUid: checkpoints.parsingLastUid,
        crashes: checkpoints.parseCrashes,
      })
      .from(checkpoints)
      .where(eq(checkpoints.key, key));
    return row?.uid != null
      ? { uid: row.uid, lastUid: row.lastUid ?? row.uid, crashes: row.crashes }
      : undefined;
  }

  /** Written before mails `uid`..`lastUid` are parsed: a process that dies parsing them leaves this behind. */
  async markParsing(key: string, marker: ParseMarker): Promise<void> {
    const values = { parsingUid: marker.uid, parsingLastUid: marker.lastUid, parseCrashes: marker.crashes };
    await this.db
      .insert(checkpoints)
      .values({ key, uidvalidity: null, lastUid: 0, ...values })
      .onConflictDoUpdate({ target: checkpoints.key, set: values });
  }

  async clearParsing(key: string): Promise<void> {
    await this.db
      .update(checkpoints)
      .set({ parsingUid: null, parsingLastUid: null, parseCrashes: 0 })
      .where(eq(checkpoints.key, key));
  }
}
