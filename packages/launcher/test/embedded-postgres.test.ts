import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/embedded-postgres.js';

/** A frontend message: type byte, length, body. */
const message = (type: string, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
};
const cstr = (text: string) => Buffer.from(`${text}\0`, 'utf8');
const int16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
/** Execute the unnamed portal, then Sync. */
const executeAndSync = [message('E', cstr(''), int32(0)), message('S')];

/**
 * A connection driven by hand, so a test can stop between Parse and Bind as a client does whose
 * messages arrive in separate TCP segments. Resolves each `until` with the backend's messages up to
 * the next ReadyForQuery: their type letters and any error text.
 */
async function rawConnection(url: string) {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  let buffer = Buffer.alloc(0);
  let seen: string[] = [];
  let waiting: ((messages: string[]) => void) | undefined;
  socket.on('data', (data: Buffer) => {
    buffer = Buffer.concat([buffer, data]);
    while (buffer.length >= 5 && buffer.length >= 1 + buffer.readInt32BE(1)) {
      const type = String.fromCharCode(buffer[0] ?? 0);
      const body = buffer.subarray(5, 1 + buffer.readInt32BE(1));
      buffer = buffer.subarray(1 + buffer.readInt32BE(1));
      seen.push(type === 'E' ? `E: ${body.toString('utf8').replace(/\0/g, ' ')}` : type);
      if (type === 'Z' && waiting) {
        const done = waiting;
        waiting = undefined;
        const messages = seen;
        seen = [];
        done(messages);
      }
    }
  });
  const untilReady = () => new Promise<string[]>((r) => (waiting = r));
  /** Writes the messages at once; resolves with the answers up to the next ReadyForQuery. */
  const request = (...messages: Buffer[]) => {
    const answer = untilReady();
    socket.write(Buffer.concat(messages));
    return answer;
  };
  /** The backend's messages so far that are not yet part of an `untilReady` answer. */
  const received = () => [...seen];
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const startup = Buffer.concat([
    int32(196608),
    cstr('user'),
    cstr('postgres'),
    cstr('database'),
    cstr('postgres'),
    cstr(''),
  ]);
  const ready = untilReady();
  socket.write(Buffer.concat([int32(startup.length + 4), startup]));
  await ready;
  return { socket, untilReady, request, received };
}

describe('embedded PostgreSQL (PGlite over the wire protocol)', () => {
  let dir: string;
  let db: EmbeddedPostgres;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wm-embedded-'));
    db = await startEmbeddedPostgres(join(dir, 'pglite'), 0);
  }, 60_000);
  afterAll(async () => {
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("when another connection's query arrives between a Parse and its Bind, then each binds its own statement", async () => {
    const slow = await rawConnection(db.url);
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      slow.socket.write(message('P', cstr(''), cstr('select $1::int + 1 as v'), int16(0)));
      await new Promise((r) => setTimeout(r, 100));
      // Two parameters: bound against the slow connection's one-parameter statement it would fail.
      const overtaking = other.query<{ a: string; b: string }>('select $1::text as a, $2::text as b', [
        'x',
        'y',
      ]);
      await new Promise((r) => setTimeout(r, 100));
      const answer = slow.untilReady();
      slow.socket.write(
        Buffer.concat([
          message('B', cstr(''), cstr(''), int16(0), int16(1), int32(2), Buffer.from('41'), int16(0)),
          message('E', cstr(''), int32(0)),
          message('S'),
        ]),
      );
      const messages = await answer;
      expect(
        messages.filter((m) => m.startsWith('E:')),
        messages.join(', '),
      ).toEqual([]);
      expect(messages).toContain('D');
      expect((await overtaking).rows).toEqual([{ a: 'x', b: 'y' }]);
    } finally {
      slow.socket.destroy();
      await other.end();
    }
  }, 60_000);

  it('when a connection goes away between a Parse and its Sync, then the others are served on', async () => {
    const leaving = await rawConnection(db.url);
    const staying = new pg.Client({ connectionString: db.url });
    await staying.connect();
    try {
      leaving.socket.write(message('P', cstr(''), cstr('select 1'), int16(0)));
      await new Promise((r) => setTimeout(r, 100));
      const answered = staying.query<{ v: number }>('select $1::int as v', [3]);
      leaving.socket.destroy();
      expect((await answered).rows[0]?.v).toBe(3);
    } finally {
      await staying.end();
    }
  }, 60_000);

  it('when a connection in the middle of a transaction goes away, then the others are served on', async () => {
    const leaving = new pg.Client({ connectionString: db.url });
    const staying = new pg.Client({ connectionString: db.url });
    await Promise.all([leaving.connect(), staying.connect()]);
    try {
      await leaving.query('begin');
      await leaving.query('select $1::int as v', [1]);
      const answered = staying.query<{ v: number }>('select $1::int as v', [2]);
      await leaving.end();
      expect((await answered).rows[0]?.v).toBe(2);
    } finally {
      await staying.end();
    }
  }, 60_000);
  it('when connections come and go, then each runs a named statement another one prepared, and a name never means two texts', async () => {
    const statement = { name: 'wm_named_test', text: 'select $1::int * 2 as v' };
    const doubled = async (client: pg.Client, value: number) =>
      (await client.query<{ v: number }>({ ...statement, values: [value] })).rows[0]?.v;
    /** What a pooled connection opened later does: connect, run, close. */
    const onNewConnection = async <T>(run: (client: pg.Client) => Promise<T>): Promise<T> => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        return await run(client);
      } finally {
        await client.end();
      }
    };
    const first = new pg.Client({ connectionString: db.url });
    const second = new pg.Client({ connectionString: db.url });
    await Promise.all([first.connect(), second.connect()]);
    try {
      expect(await doubled(first, 2)).toBe(4);
      expect(await doubled(second, 3)).toBe(6);
      await first.end();
      const third = new pg.Client({ connectionString: db.url });
      await third.connect();
      try {
        expect(await doubled(third, 5)).toBe(10);
        // The same name for another text fails (as on one PostgreSQL connection): never the wrong statement.
        await onNewConnection((other) =>
          expect(
            other.query({ name: statement.name, text: 'select $1::int + 100 as v', values: [1] }),
          ).rejects.toMatchObject({ code: '42P05' }),
        );
        expect(await doubled(third, 7)).toBe(14);
        // Text that only mentions the commands drops nothing: the statement keeps working everywhere.
        await third.query("select 'deallocate all, discard all' as words");
        expect(await onNewConnection((mentions) => doubled(mentions, 6))).toBe(12);
        // A dropped statement is parsed again by the next connection that needs it.
        await third.query('deallocate all');
        expect(await onNewConnection((fourth) => doubled(fourth, 8))).toBe(16);
      } finally {
        await third.end();
      }
    } finally {
      await second.end();
    }
  }, 60_000);

  it('when a batch fails at its Bind, then the error is answered, the rest is skipped up to its Sync, and the next batch runs', async () => {
    const client = await rawConnection(db.url);
    const batch = (value: string) => [
      message('P', cstr(''), cstr('select $1::int + 1 as v'), int16(0)),
      message(
        'B',
        cstr(''),
        cstr(''),
        int16(0),
        int16(1),
        int32(Buffer.byteLength(value)),
        Buffer.from(value),
        int16(0),
      ),
      ...executeAndSync,
    ];
    try {
      const answer = await client.request(...batch('not a number'));
      expect(answer).toHaveLength(3);
      expect(answer[0]).toBe('1');
      expect(answer[1]).toMatch(/^E: .*invalid input syntax for type integer/);
      expect(answer[2]).toBe('Z');
      expect(await client.request(...batch('41'))).toEqual(['1', '2', 'D', 'C', 'Z']);
    } finally {
      client.socket.destroy();
    }
  }, 60_000);

  it('when a named Parse fails, then the name is not taken: the same text fails again and another text prepares it', async () => {
    const client = await rawConnection(db.url);
    const parse = (text: string) => message('P', cstr('wm_test_failing'), cstr(text), int16(0));
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const answer = await client.request(parse('select no_such_column'), message('S'));
        expect(answer[0]).toMatch(/^E: .*no_such_column/);
        expect(answer.at(-1)).toBe('Z');
      }
      const bind = message('B', cstr(''), cstr('wm_test_failing'), int16(0), int16(0), int16(0));
      expect(await client.request(parse('select 7 as v'), bind, ...executeAndSync)).toEqual([
        '1',
        '2',
        'D',
        'C',
        'Z',
      ]);
    } finally {
      client.socket.destroy();
    }
  }, 60_000);

  it('when a client flushes mid-batch, then it gets the answers so far before its Sync', async () => {
    const client = await rawConnection(db.url);
    try {
      client.socket.write(
        Buffer.concat([message('P', cstr(''), cstr('select 1 as v'), int16(0)), message('H')]),
      );
      await expect.poll(() => client.received(), { timeout: 5_000 }).toEqual(['1']);
      const answer = client.untilReady();
      client.socket.write(
        Buffer.concat([
          message('B', cstr(''), cstr(''), int16(0), int16(0), int16(0)),
          message('E', cstr(''), int32(0)),
          message('S'),
        ]),
      );
      expect(await answer).toEqual(['1', '2', 'D', 'C', 'Z']);
    } finally {
      client.socket.destroy();
    }
  }, 60_000);
});
