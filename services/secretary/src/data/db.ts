import type { Logger } from '@workemon/logger';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from './schema.js';

export type Database = NodePgDatabase<typeof schema>;

export interface DatabaseHandle {
  pool: pg.Pool;
  db: Database;
  close(): Promise<void>;
}

export interface CreateDatabaseOptions {
  url: string;
  /** The launcher's embedded PGlite serves one connection at a time: keep this configurable. */
  max: number;
  logger: Logger;
  connectionTimeoutMs?: number;
}

export function createDatabase(options: CreateDatabaseOptions): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (Postgres restart) emits here; unhandled it would crash the process.
  pool.on('error', (error) => {
    options.logger.warn(`postgres pool error: ${error.message}`, { err: error });
  });
  const db = drizzle(pool, { schema });
  let closed: Promise<void> | undefined;
  return {
    pool,
    db,
    close: () => (closed ??= pool.end()),
  };
}
