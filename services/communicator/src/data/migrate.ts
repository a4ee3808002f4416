import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

/** services/communicator/drizzle, the same relative path from src/data and dist/data. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** Own bookkeeping table: the secretary's migrations live in the same database. */
export const MIGRATIONS_TABLE = {
  migrationsSchema: 'drizzle',
  migrationsTable: '__communicator_migrations',
} as const;

/** Any constant works; it only has to differ from other advisory locks in the database. */
const MIGRATION_LOCK_KEY = 0x57_4d_43_4d; // "WMCM"

/** Applies every pending migration of the communicator schema; idempotent and safe to run concurrently. */
export async function runMigrations(databaseUrl: string): Promise<void> {
  // One connection: works against PGlite's single-connection socket server too.
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => {
    // Connection loss surfaces as a rejected query below; nothing else to do here.
  });
  await client.connect();
  try {
    // Two replicas starting together must not both create the schema.
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER, ...MIGRATIONS_TABLE });
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  } finally {
    await client.end();
  }
}
