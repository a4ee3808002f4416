import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAppError } from '@workemon/errors';
import { CapturedLines, createLogger } from '@workemon/logger';
import { createTestDatabase, freePort, queryRows, type TestDatabase } from '@workemon/testkit';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDatabase,
  DATABASE_UNAVAILABLE,
  guardDatabase,
  namedQuery,
  migrationsPending,
  runMigrations,
} from '../src/index.js';

const migrationsFolder = fileURLToPath(new URL('./fixtures/migrations', import.meta.url));
const logger = createLogger({ service: 'db-test', version: 'test', stream: new CapturedLines() });

describe('@workemon/db', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('wm_db_pkg');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('when several replicas migrate a fresh database at the same moment, then every one succeeds and each migration runs once', async () => {
    const runs = Array.from({ length: 4 }, () =>
      runMigrations({ databaseUrl: db.url, migrationsFolder, migrationsTable: '__race_migrations' }),
    );
    const results = await Promise.allSettled(runs);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await queryRows(db.url, 'select id from race_probe')).toEqual([{ id: 1 }]);
    expect(await queryRows(db.url, 'select count(*)::int as n from drizzle.__race_migrations')).toEqual([
      { n: 1 },
    ]);
  });

  it('when every migration is applied already, then a run neither waits for the migration lock nor changes anything', async () => {
    const options = { databaseUrl: db.url, migrationsFolder, migrationsTable: '__race_migrations' };
    await runMigrations(options);
    const before = await queryRows(db.url, 'select id, hash, created_at from drizzle.__race_migrations');
    // Another migrator holds the lock: a run with nothing to do answers from one query without it.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock(hashtext($1))', ['workemon:migrations:__race_migrations']);
      await runMigrations(options);
    } finally {
      await holder.end();
    }
    expect(await queryRows(db.url, 'select id, hash, created_at from drizzle.__race_migrations')).toEqual(
      before,
    );
  });

  it('when a migration is added to the folder, then the next run applies it after the ones already there', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'wm-migrations-'));
    const journal = (whens: number[]) =>
      JSON.stringify({
        version: '7',
        dialect: 'postgresql',
        entries: whens.map((when, idx) => ({
          idx,
          version: '7',
          when,
          tag: `000${idx}_m`,
          breakpoints: true,
        })),
      });
    try {
      mkdirSync(join(folder, 'meta'));
      writeFileSync(join(folder, '0000_m.sql'), 'CREATE TABLE "grow_probe" ("id" integer PRIMARY KEY);');
      writeFileSync(join(folder, 'meta/_journal.json'), journal([1764500000000]));
      const options = { databaseUrl: db.url, migrationsFolder: folder, migrationsTable: '__grow_migrations' };
      // What the launcher asks before it starts a migrator: pending on a fresh database, then not.
      expect(await migrationsPending(options)).toBe(true);
      await runMigrations(options);
      expect(await migrationsPending(options)).toBe(false);
      writeFileSync(join(folder, '0001_m.sql'), 'INSERT INTO "grow_probe" ("id") VALUES (2);');
      writeFileSync(join(folder, 'meta/_journal.json'), journal([1764500000000, 1764600000000]));
      expect(await migrationsPending(options)).toBe(true);
      await runMigrations(options);
      expect(await migrationsPending(options)).toBe(false);
      await runMigrations(options);
      expect(await queryRows(db.url, 'select id from grow_probe')).toEqual([{ id: 2 }]);
      expect(await queryRows(db.url, 'select count(*)::int as n from drizzle.__grow_migrations')).toEqual([
        { n: 2 },
      ]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('when the pool reaches a live database, then drizzle queries run through it and close is idempotent', async () => {
    const handle = createDatabase({ url: db.url, max: 2, logger, schema: {} });
    const result = await handle.db.execute(sql`select 41 + 1 as answer`);
    expect(result.rows).toEqual([{ answer: 42 }]);
    await Promise.all([handle.close(), handle.close()]);
  });

  it('when the database cannot be reached, then guardDatabase answers 503 with Retry-After and nothing of the query', async () => {
    const port = await freePort();
    const handle = createDatabase({
      url: `postgres://nobody:secret@127.0.0.1:${port}/none`,
      max: 1,
      logger,
      schema: {},
      connectionTimeoutMs: 1_000,
    });
    try {
      const error = await guardDatabase(() => handle.db.execute(sql`select ${'private text'}`)).catch(
        (e: unknown) => e,
      );
      expect(isAppError(error)).toBe(true);
      expect(error).toMatchObject({ status: 503, message: DATABASE_UNAVAILABLE, retryAfterSeconds: 5 });
      expect(String((error as Error & { cause?: Error }).cause?.message)).not.toContain('private text');
    } finally {
      await handle.close();
    }
  });

  it('when a query itself is wrong, then guardDatabase rethrows it described without parameter values (not as an outage)', async () => {
    const handle = createDatabase({ url: db.url, max: 1, logger, schema: {} });
    try {
      const error = await guardDatabase(() =>
        handle.db.execute(sql`insert into race_probe (id) values (${1})`),
      ).catch((e: unknown) => e);
      expect(isAppError(error)).toBe(false);
      expect((error as Error).name).toBe('DatabaseError');
      expect((error as { code?: string }).code).toBe('23505');
    } finally {
      await handle.close();
    }
  });

  it('when a named query runs again on the same connection, then it is prepared once; a failing one is described with its text, never its values', async () => {
    const handle = createDatabase({ url: db.url, max: 1, logger, schema: {} });
    try {
      const text = 'select $1::int + 1 as answer';
      for (const n of [1, 41])
        expect((await namedQuery<{ answer: number }>(handle.pool, text, [n])).rows).toEqual([
          { answer: n + 1 },
        ]);
      const prepared = await handle.pool.query<{ n: number }>(
        'select count(*)::int as n from pg_prepared_statements where statement = $1',
        [text],
      );
      expect(prepared.rows).toEqual([{ n: 1 }]);
      const error = await guardDatabase(() =>
        namedQuery(handle.pool, 'select $1::int / 0 as never', [4509]),
      ).catch((e: unknown) => e);
      expect(isAppError(error)).toBe(false);
      expect((error as { code?: string }).code).toBe('22012');
      expect((error as Error).message).toMatch(
        /in query: select \$1::int \/ 0 as never \(1 parameter\(s\): 1 number\)/,
      );
      expect((error as Error).message).not.toContain('4509');
    } finally {
      await handle.close();
    }
  });
});
