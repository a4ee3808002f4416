import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { createLogger } from '@workemon/logger';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../src/data/db.js';
import { ExchangeRepository } from '../src/data/exchange-repository.js';
import type { ExchangeRecord, ExchangeTarget, PendingExchange } from '../src/domain/ports.js';
import { createMigratedDatabase, DATABASE_KINDS, type MigratedDatabase } from './support/database-kinds.js';

// Outside a transaction an answer is stored by hand-written statements; inside one (a conversation
// changes too) drizzle still builds them. Both must store the very same row: these tests write one
// exchange each way and compare the rows as PostgreSQL holds them.
describe.each(DATABASE_KINDS)('stored exchanges on %s', (kind) => {
  let database: MigratedDatabase;
  let handle: DatabaseHandle;
  let exchanges: ExchangeRepository;
  const at = new Date('2026-03-29T01:30:00.123+03:00');

  beforeAll(async () => {
    database = await createMigratedDatabase(kind, 'wm_exchange_statements');
    const logger = createLogger({ service: 't', version: 't', stream: new PassThrough().resume() });
    handle = createDatabase({ url: database.url, max: 2, logger });
    exchanges = new ExchangeRepository(handle.db);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(async () => {
    await handle?.close();
    await database?.close();
  });

  const full: ExchangeRecord = {
    conversationId: randomUUID(),
    analysedRequest: 'analysed request',
    userAttributes: { username: 'attr-user', department: 'Финансы' },
    guesserVerdict: { is_enough: false, nested: { list: [1, 'two', null], flag: true } },
    analystVerdict: { is_enough: true, response: 'analyst says' },
    isEnough: true,
    action: 'ответить сообщением',
    question: 'question?',
    // A NUL and a lone surrogate: made storable the same way on both paths.
    response: 'response\u0000 with \uD800 in it',
    latencyMs: { guesser_ms: 3, analyst_ms: 5, total_ms: 9 },
    model: 'model-x',
    promptVersion: 'prompt-v7',
    tokenUsage: { prompt: 30, completion: 12, 'key\u0000': 'x' },
    tokensTotal: 42,
    sources: [
      { id: 'doc-1', title: 'Куб', url: 'https://example.test/doc-1' },
      { id: 'doc-2', title: 'Без ссылки' },
    ],
  };
  const sparse: ExchangeRecord = {
    conversationId: null,
    analysedRequest: '',
    userAttributes: {},
    guesserVerdict: null,
    analystVerdict: null,
    isEnough: false,
    action: 'уточнить',
    question: '',
    response: '',
    latencyMs: {},
    model: null,
    promptVersion: null,
    tokenUsage: null,
    tokensTotal: null,
    sources: null,
  };

  /** Stores one exchange outside a transaction (hand-written) or inside one (drizzle); its row id. */
  async function store(
    target: ExchangeTarget,
    record: ExchangeRecord,
    inTransaction: boolean,
  ): Promise<string> {
    const username = target.kind === 'unclaimed' ? target.exchange.username : 'claimer';
    // An expired conversation to close (none exists) is what sends the write into a transaction.
    const scope = inTransaction
      ? { channel: 'direct' as const, username, expiredConversationId: randomUUID() }
      : { channel: 'direct' as const, username };
    await exchanges.complete(target, record, { kind: 'none' }, scope);
    if (target.kind === 'claimed') return String(target.id);
    const rows = await handle.db.$client.query<{ id: string }>(
      'SELECT id FROM secretary.requests WHERE username = $1 ORDER BY id DESC LIMIT 1',
      [username],
    );
    return String(rows.rows[0]?.id);
  }

  /** A row as PostgreSQL renders it, without the columns that differ by construction. */
  async function storedRow(id: string, without: string[]): Promise<Record<string, unknown>> {
    const { rows } = await handle.db.$client.query<{ row: Record<string, unknown> }>(
      'SELECT to_jsonb(r) - $2::text[] AS row FROM secretary.requests r WHERE id = $1',
      [id, ['id', ...without]],
    );
    return rows[0]?.row ?? {};
  }

  /** A message without a message_id, by a user of its own. */
  function unclaimed(receivedAt: Date | undefined): PendingExchange {
    return {
      traceId: randomUUID(),
      channel: 'direct',
      username: `u-${randomUUID()}`,
      messageId: undefined,
      text: 'the text as received',
      ...(receivedAt ? { receivedAt } : {}),
    };
  }

  it.each([
    ['a full record arriving earlier', full, new Date('2026-03-28T22:00:00.5Z')],
    ['a sparse record without an arrival time', sparse, undefined],
  ])(
    'when %s is stored unclaimed outside a transaction, then its row equals the one drizzle writes',
    async (_, record, receivedAt) => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(at);
      const exchange = unclaimed(receivedAt);
      const other = { ...exchange, username: `u-${randomUUID()}` };
      const directRow = await storedRow(await store({ kind: 'unclaimed', exchange }, record, false), [
        'username',
      ]);
      const drizzleRow = await storedRow(await store({ kind: 'unclaimed', exchange: other }, record, true), [
        'username',
      ]);
      expect(directRow).toEqual(drizzleRow);
      expect(directRow.status).toBe('completed');
    },
  );

  it.each([
    ['a full record', full],
    ['a sparse record', sparse],
  ])(
    'when %s completes a claimed pending row outside a transaction, then the row equals the one drizzle writes',
    async (_, record) => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(at);
      const pending = (): PendingExchange => ({
        traceId: 'trace',
        channel: 'direct',
        username: 'claimer',
        messageId: `m-${randomUUID()}`,
        text: 'claimed text',
      });
      const directId = await exchanges.insertPending(pending(), 'owner-a');
      const drizzleId = await exchanges.insertPending(pending(), 'owner-a');
      await store({ kind: 'claimed', id: Number(directId) }, record, false);
      await store({ kind: 'claimed', id: Number(drizzleId) }, record, true);
      // created_at and heartbeat_at are the database's now() of each pending insert.
      const differing = ['message_id', 'created_at', 'heartbeat_at'];
      expect(await storedRow(String(directId), differing)).toEqual(
        await storedRow(String(drizzleId), differing),
      );
    },
  );

  it('when an exchange is stored outside a transaction, then jsonb holds objects and the times are the instants given', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(at);
    const receivedAt = new Date('2026-03-28T22:00:00.5Z');
    const id = await store({ kind: 'unclaimed', exchange: unclaimed(receivedAt) }, full, false);
    const { rows } = await handle.db.$client.query<Record<string, unknown>>(
      `SELECT jsonb_typeof(user_attributes) AS attributes, jsonb_typeof(sources) AS sources,
              jsonb_typeof(latency_ms) AS latency, token_usage, guesser_verdict,
              extract(epoch FROM created_at)::float8 * 1000 AS created_ms,
              extract(epoch FROM completed_at)::float8 * 1000 AS completed_ms, response
       FROM secretary.requests WHERE id = $1`,
      [id],
    );
    expect(rows[0]).toEqual({
      attributes: 'object',
      sources: 'array',
      latency: 'object',
      token_usage: { prompt: 30, completion: 12, key: 'x' },
      guesser_verdict: full.guesserVerdict,
      created_ms: receivedAt.getTime(),
      completed_ms: at.getTime(),
      response: 'response with \uFFFD in it',
    });
  });

  it('when a claimed row was taken over by another process, then storing its answer outside a transaction fails and changes nothing', async () => {
    const id = await exchanges.insertPending(
      {
        traceId: undefined,
        channel: 'direct',
        username: 'claimer',
        messageId: `m-${randomUUID()}`,
        text: 't',
      },
      'owner-a',
    );
    await handle.db.$client.query(`UPDATE secretary.requests SET status = 'failed' WHERE id = $1`, [id]);
    await expect(store({ kind: 'claimed', id: Number(id) }, full, false)).rejects.toMatchObject({
      message: expect.stringContaining('taken over'),
    });
    expect(await storedRow(String(id), [])).toMatchObject({ status: 'failed', response: null });
  });

  it('when an exchange of a few kilobytes is stored, then it stays whole in its row: nothing compressed, nothing in the TOAST table', async () => {
    // A typical answer's row is just over the 2 KB where PostgreSQL would start compressing and
    // moving values out of the row: work every insert paid for and every read undid.
    const long = (words: string) => Array.from({ length: 12 }, () => words).join(' ');
    const record: ExchangeRecord = {
      ...full,
      analysedRequest: long('Нужна выгрузка операций'),
      response: long('Выгрузку готовит отдел аналитики по заявке.'),
      analystVerdict: { is_enough: true, response: long('Выгрузку готовит отдел аналитики.') },
    };
    const toast = await handle.db.$client.query<{ name: string }>(
      `SELECT reltoastrelid::regclass::text AS name FROM pg_class WHERE oid = 'secretary.requests'::regclass`,
    );
    const toastName = toast.rows[0]?.name ?? '';
    const toastRows = async () =>
      Number(
        (await handle.db.$client.query<{ n: string }>(`SELECT count(*) AS n FROM ${toastName}`)).rows[0]?.n,
      );
    const before = await toastRows();
    const id = await store({ kind: 'unclaimed', exchange: unclaimed(undefined) }, record, false);
    const { rows } = await handle.db.$client.query<Record<string, unknown>>(
      `SELECT pg_column_size(r.*) > 3000 AS large,
              pg_column_compression(analysed_request) AS analysed, pg_column_compression(response) AS response,
              pg_column_compression(analyst_verdict) AS verdict
       FROM secretary.requests r WHERE id = $1`,
      [id],
    );
    expect(rows[0]).toEqual({ large: true, analysed: null, response: null, verdict: null });
    expect(await toastRows()).toBe(before);
  });

  it('when many answers finish at once, then each is stored once, in its own row', async () => {
    // Answers finishing together share one insert statement: each row must still be its own.
    const answers = Array.from({ length: 24 }, (_, i) => ({
      exchange: { ...unclaimed(undefined), text: `message ${i}` },
      record: { ...full, response: `answer ${i}` },
    }));
    await Promise.all(
      answers.map(({ exchange, record }) =>
        exchanges.complete(
          { kind: 'unclaimed', exchange },
          record,
          { kind: 'none' },
          {
            channel: 'direct',
            username: exchange.username,
          },
        ),
      ),
    );
    const { rows } = await handle.db.$client.query<{ username: string; text: string; response: string }>(
      'SELECT username, text, response FROM secretary.requests WHERE username = ANY($1::text[])',
      [answers.map((a) => a.exchange.username)],
    );
    expect(rows).toHaveLength(answers.length);
    for (const [i, { exchange }] of answers.entries())
      expect(rows.find((r) => r.username === exchange.username)).toEqual({
        username: exchange.username,
        text: `message ${i}`,
        response: `answer ${i}`,
      });
  });

  it('when many requesters are looked up at once, then each gets its own directory entry, conversation and take-over', async () => {
    // Many answers look their requesters up at the same moment: each must see only its own person.
    const people = Array.from({ length: 24 }, (_, i) => ({ username: `lookup-${i}-${randomUUID()}`, i }));
    const known = people.filter(({ i }) => i % 2 === 0);
    const talking = people.filter(({ i }) => i % 3 === 0);
    const held = people.filter(({ i }) => i % 4 === 0);
    const client = handle.db.$client;
    await client.query(
      `INSERT INTO secretary.users (username, department) SELECT u, 'dept ' || u FROM unnest($1::text[]) u`,
      [known.map((p) => p.username)],
    );
    await client.query(
      `INSERT INTO secretary.conversations (id, channel, username, status, original_request, thread)
       SELECT gen_random_uuid(), 'tg', u, 'open', 'asked by ' || u, 'thread of ' || u FROM unnest($1::text[]) u`,
      [talking.map((p) => p.username)],
    );
    await client.query(
      `INSERT INTO secretary.inbox_threads (channel, username, last_at, last_text, last_author, ai_state, taken_over_by, version)
       SELECT 'tg', u, now(), '', 'person', 'answered', 'operator', 1 FROM unnest($1::text[]) u`,
      [held.map((p) => p.username)],
    );
    const found = await Promise.all(people.map(({ username }) => exchanges.lookup('tg', username)));
    for (const [n, { username, i }] of people.entries()) {
      const result = found[n];
      expect(result?.user?.department).toBe(i % 2 === 0 ? `dept ${username}` : undefined);
      expect(result?.openConversation?.originalRequest).toBe(
        i % 3 === 0 ? `asked by ${username}` : undefined,
      );
      expect(result?.takenOver).toBe(i % 4 === 0 ? true : undefined);
      expect(result?.knowledge?.key).toEqual(expect.any(String));
    }
    // The same person on another channel has no conversation or take-over there.
    const elsewhere = await exchanges.lookup('email', held[0]?.username ?? '');
    expect(elsewhere.openConversation).toBeUndefined();
    expect(elsewhere.takenOver).toBeUndefined();
  });
});
