import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

export interface MigrationOptions {
  databaseUrl: string;
  /** The service's drizzle folder (SQL files + meta/_journal.json). */
  migrationsFolder: string;
  /** Own bookkeeping table per service: several services share one database. */
  migrationsTable: string;
  migrationsSchema?: string;
}

/**
 * Applies every pending migration; idempotent and safe to run from several replicas at once: the run
 * holds a PostgreSQL advisory lock keyed by the bookkeeping table, so a second migrator waits and then
 * finds nothing left to do. One connection, which PGlite's single-connection socket server also serves.
 */
export async function runMigrations(options: MigrationOptions): Promise<void> {
  const client = new pg.Client({ connectionString: options.databaseUrl });
  client.on('error', () => {
    // Connection loss surfaces as a rejected query below; nothing else to do here.
  });
  await client.connect();
  const lockName = `workemon:migrations:${options.migrationsTable}`;
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [lockName]);
    await migrate(drizzle(client), {
      migrationsFolder: options.migrationsFolder,
      migrationsTable: options.migrationsTable,
      migrationsSchema: options.migrationsSchema ?? 'drizzle',
    });
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockName]);
  } finally {
    // Ending the session also releases the lock when a migration failed.
    await client.end();
  }
}
