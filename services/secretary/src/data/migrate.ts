import { fileURLToPath } from 'node:url';
import { migrationsTableFor, runMigrations as migrate } from '@workemon/db';

/** services/secretary/drizzle, the same relative path from src/data and dist/data. */
const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** Applies every pending migration of the secretary schema; idempotent, safe to run concurrently. */
export async function runMigrations(databaseUrl: string): Promise<void> {
  await migrate({
    databaseUrl,
    migrationsFolder: MIGRATIONS_FOLDER,
    migrationsTable: migrationsTableFor('secretary'),
  });
}
