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

export function createDatabase(url: string, logger: Logger, max = 20): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (Postgres restart) must not crash the process.
  pool.on('error', (error) => logger.warn(`postgres pool client error: ${error.message}`));
  return { pool, db: drizzle(pool, { schema }), close: () => pool.end() };
}
