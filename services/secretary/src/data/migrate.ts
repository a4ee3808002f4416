import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

/** services/secretary/drizzle, the same relative path from src/data and dist/data. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** Own bookkeeping table: the communicator's migrations live in the same database. */
export const MIGRATIONS_TABLE = {
  migrationsSchema: 'drizzle',
  migrationsTable: '__secretary_migrations',
} as const;

/** Applies every pending migration of the secretary schema; idempotent. */
export async function runMigrations(databaseUrl: string): Promise<void> {
  // One connection: works against PGlite's single-connection socket server too.
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => {
    // Connection loss surfaces as a rejected query below; nothing else to do here.
  });
  await client.connect();
  try {
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER, ...MIGRATIONS_TABLE });
  } finally {
    await client.end();
  }
}
