import { createTestDatabase, freePort, type TestDatabase } from '@workemon/testkit';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BatchedInsert, type BatchedInsertOptions } from '../src/index.js';

type Row = { id: number; name: string };

/** Counts the statements a client sends and how many rows each carried. */
function counting(pool: pg.Pool): { client: Pick<pg.Pool, 'query'>; rowsPerStatement: number[] } {
  const rowsPerStatement: number[] = [];
  const client = {
    query: (config: { text: string; values?: unknown[] }) => {
      rowsPerStatement.push((config.values?.length ?? 0) / 2);
      return pool.query(config as never);
    },
  } as unknown as Pick<pg.Pool, 'query'>;
  return { client, rowsPerStatement };
}

const options: BatchedInsertOptions<Row> = {
  into: 'INSERT INTO batched (name, size)',
  row: (first) => `($${first}, $${first + 1})`,
  parameters: 2,
  returning: 'id::int AS id, name',
  sameRow: (row, values) => row.name === values[0],
  maxRows: 8,
  maxInFlight: 1,
};

// Rows that arrive while an insert runs go together in the next statement; every row still gets
// its own id or its own error.
describe('BatchedInsert', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase('wm_db_batched');
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
    await pool.query(
      `CREATE TABLE batched (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,
         size int NOT NULL CHECK (size >= 0))`,
    );
  });
  beforeEach(async () => {
    await pool.query('TRUNCATE batched');
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const stored = async () =>
    (await pool.query<Row>('SELECT id::int AS id, name FROM batched ORDER BY id')).rows;

  it('when one row comes alone, then it is sent at once as a single-row statement', async () => {
    const { client, rowsPerStatement } = counting(pool);
    const row = await new BatchedInsert<Row>(client, options).insert(['alone', 1]);
    expect(rowsPerStatement).toEqual([1]);
    expect(await stored()).toEqual([row]);
  });

  it('when rows arrive while an insert runs, then they go together in one statement and each gets its own id', async () => {
    const { client, rowsPerStatement } = counting(pool);
    const batcher = new BatchedInsert<Row>(client, options);
    const names = Array.from({ length: 20 }, (_, i) => `row-${i}`);
    const rows = await Promise.all(names.map((name, i) => batcher.insert([name, i])));
    expect(rows.map((r) => r.name)).toEqual(names);
    // The first alone, then the rest in statements of up to maxRows.
    expect(rowsPerStatement).toEqual([1, 8, 8, 3]);
    expect(await stored()).toEqual(rows);
  });

  it('when PostgreSQL rejects one row of a batch, then only that row fails and the others are stored', async () => {
    const batcher = new BatchedInsert<Row>(counting(pool).client, options);
    const results = await Promise.allSettled([
      batcher.insert(['first', 1]),
      batcher.insert(['good', 2]),
      batcher.insert(['bad', -1]),
      batcher.insert(['also good', 3]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({
      cause: expect.objectContaining({ code: '23514' }),
    });
    expect((await stored()).map((r) => r.name).sort()).toEqual(['also good', 'first', 'good']);
  });

  it('when the connection is lost, then every row of the batch fails and none is tried again', async () => {
    const down = new pg.Pool({ connectionString: `postgres://127.0.0.1:${await freePort()}/none`, max: 1 });
    const { client, rowsPerStatement } = counting(down);
    const batcher = new BatchedInsert<Row>(client, options);
    const results = await Promise.allSettled(['a', 'b', 'c'].map((name) => batcher.insert([name, 1])));
    await down.end();
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    // One single-row statement, then one for the two that waited: no retry of either.
    expect(rowsPerStatement).toEqual([1, 2]);
  });

  it('when the returned rows are not the rows inserted, then every row of that statement fails loudly', async () => {
    const reversing = {
      query: async (config: never) => {
        const result = await pool.query<Row>(config);
        return { ...result, rows: [...result.rows].reverse() };
      },
    } as unknown as Pick<pg.Pool, 'query'>;
    const batcher = new BatchedInsert<Row>(reversing, options);
    const results = await Promise.allSettled(['x', 'y', 'z'].map((name) => batcher.insert([name, 1])));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({
      message: expect.stringContaining('other rows than it inserted'),
    });
  });

  it('when a row has the wrong number of parameters, then it is refused before anything is sent', async () => {
    const { client, rowsPerStatement } = counting(pool);
    await expect(new BatchedInsert<Row>(client, options).insert(['short'])).rejects.toThrow(
      'expected 2 parameters, got 1',
    );
    expect(rowsPerStatement).toEqual([]);
  });
});
