import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export interface MigrationOptions {
  databaseUrl: string;
  /** The service's drizzle folder (SQL files + meta/_journal.json). */
  migrationsFolder: string;
  /** Own bookkeeping table per service: several services share one database. */
  migrationsTable: string;
  migrationsSchema?: string;
}

/** The newest migration in the folder: drizzle records each applied one with its `when` as created_at. */
function newestMigration(folder: string): number {
  const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8')) as {
    entries: { when: number }[];
  };
  return Math.max(0, ...journal.entries.map((entry) => entry.when));
}

const UNDEFINED_TABLE = '42P01';
const UNDEFINED_SCHEMA = '3F000';

/** One query: has the newest migration been applied already? (Every start asks; almost always yes.) */
async function upToDate(client: pg.Client, schema: string, table: string, newest: number): Promise<boolean> {
  try {
    const { rows } = await client.query<{ latest: string | null }>(
      `select max(created_at) as latest from ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(table)}`,
    );
    return rows[0]?.latest != null && Number(rows[0].latest) >= newest;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === UNDEFINED_TABLE || code === UNDEFINED_SCHEMA) return false;
    throw error;
  }
}

/** A service's own bookkeeping table, by one rule, so that whoever checks it (the launcher) finds it. */
export function migrationsTableFor(service: string): string {
  return `__${service.replaceAll('-', '_')}_migrations`;
}

/**
 * One session with the database for `work`, ended afterwards (which also releases any advisory lock
 * `work` took, should it fail); PGlite's socket server serves it like any other connection.
 */
async function withSession<T>(databaseUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => {
    // Connection loss surfaces as a rejected query in `work`; nothing else to do here.
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Does the folder hold a migration the database has not applied? One query, no lock, nothing loaded:
 * the launcher asks this before it starts a migrating process, which a restart almost never needs.
 */
export function migrationsPending(options: MigrationOptions): Promise<boolean> {
  const newest = newestMigration(options.migrationsFolder);
  return withSession(
    options.databaseUrl,
    async (client) =>
      !(await upToDate(client, options.migrationsSchema ?? 'drizzle', options.migrationsTable, newest)),
  );
}

/**
 * Applies every pending migration; idempotent and safe to run from several replicas at once: the run
 * holds a PostgreSQL advisory lock keyed by the bookkeeping table, so a second migrator waits and then
 * finds nothing left to do. One connection, which PGlite's single-connection socket server also serves.
 * When nothing is pending it costs one query, and drizzle's migrator is not even loaded.
 */
export async function runMigrations(options: MigrationOptions): Promise<void> {
  const schema = options.migrationsSchema ?? 'drizzle';
  const newest = newestMigration(options.migrationsFolder);
  const lockName = `workemon:migrations:${options.migrationsTable}`;
  await withSession(options.databaseUrl, async (client) => {
    if (await upToDate(client, schema, options.migrationsTable, newest)) return;
    const [{ drizzle }, { migrate }] = await Promise.all([
      import('drizzle-orm/node-postgres'),
      import('drizzle-orm/node-postgres/migrator'),
    ]);
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [lockName]);
    await migrate(drizzle(client), {
      migrationsFolder: options.migrationsFolder,
      migrationsTable: options.migrationsTable,
      migrationsSchema: schema,
    });
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockName]);
  });
}
