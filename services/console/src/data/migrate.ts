import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

/** services/console/drizzle, the same relative path from src/data and dist/data. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** Any constant works; it only has to differ from other advisory locks in the database. */
const MIGRATION_LOCK_KEY = 0x57_4d_43_4f; // "WMCO"

/** Applies every pending migration of the console schema; idempotent and safe to run concurrently. */
export async function runMigrations(databaseUrl: string): Promise<void> {
  // One connection: works against PGlite's single-connection socket server too.
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => {
    // Connection loss surfaces as a rejected query below.
  });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await migrate(drizzle(client), {
      migrationsFolder: MIGRATIONS_FOLDER,
      migrationsSchema: 'drizzle',
      migrationsTable: '__console_migrations',
    });
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  } finally {
    await client.end();
  }
}
