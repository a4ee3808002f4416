import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '@workemon/launcher';
import { createTestDatabase } from '@workemon/testkit';
import { runMigrations } from '../../src/data/migrate.js';

export const DATABASE_KINDS = ['postgres', 'pglite'] as const;
export type DatabaseKind = (typeof DATABASE_KINDS)[number];

export interface MigratedDatabase {
  kind: DatabaseKind;
  url: string;
  close(): Promise<void>;
}

/**
 * A migrated database of either kind the secretary runs on: the CI machine's PostgreSQL, or the
 * embedded PGlite served over the wire protocol exactly as `pnpm start` serves it.
 */
export async function createMigratedDatabase(kind: DatabaseKind, prefix: string): Promise<MigratedDatabase> {
  if (kind === 'postgres') {
    const db = await createTestDatabase(prefix);
    await runMigrations(db.url);
    return { kind, url: db.url, close: () => db.drop() };
  }
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-pglite-`));
  const embedded = await startEmbeddedPostgres(dir, 0);
  await runMigrations(embedded.url);
  return {
    kind,
    url: embedded.url,
    close: async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
