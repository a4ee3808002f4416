import type { Logger } from '@workemon/logger';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';

export interface DatabaseHandle<TSchema extends Record<string, unknown>> {
  pool: pg.Pool;
  /** `$client` is the pool: named statements (`namedQuery`) run on it. */
  db: NodePgDatabase<TSchema> & { $client: pg.Pool };
  /** Ends the pool once; later calls return the same promise. */
  close(): Promise<void>;
}

export interface CreateDatabaseOptions<TSchema extends Record<string, unknown>> {
  url: string;
  /** DATABASE_POOL_MAX; the launcher's embedded PGlite wants a small pool. */
  max: number;
  logger: Logger;
  /** drizzle schema of the service's tables (typed queries). */
  schema: TSchema;
  /** How long a query waits for a connection before it fails (default 5 s). */
  connectionTimeoutMs?: number;
}

/** The one way a service opens PostgreSQL: a pg pool that survives server restarts, with drizzle on top. */
export function createDatabase<TSchema extends Record<string, unknown>>(
  options: CreateDatabaseOptions<TSchema>,
): DatabaseHandle<TSchema> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (PostgreSQL restart) emits here; unhandled it would crash the process.
  pool.on('error', (error) => options.logger.warn(`postgres pool error: ${error.message}`));
  const db = drizzle(pool, { schema: options.schema });
  let closed: Promise<void> | undefined;
  return { pool, db, close: () => (closed ??= pool.end()) };
}
