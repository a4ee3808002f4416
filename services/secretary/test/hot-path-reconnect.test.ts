import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceMetrics } from '@workemon/http-kit';
import { createLogger } from '@workemon/logger';
import { createDatabase, type DatabaseHandle } from '../src/data/db.js';
import { ExchangeRepository } from '../src/data/exchange-repository.js';
import { OperatorRepository } from '../src/data/operator-repository.js';
import { createKnowledge, type Knowledge } from '../src/knowledge.js';
import { createMigratedDatabase, DATABASE_KINDS, type MigratedDatabase } from './support/database-kinds.js';

// PGlite serves every socket connection from one session: a statement prepared by name on one pooled
// connection already exists for the next, and survives a connection the pool closed when idle. The
// answer path's statements must keep working however the pool's connections come and go.
describe.each(DATABASE_KINDS)('answer path over reconnecting pool connections on %s', (kind) => {
  let database: MigratedDatabase;
  let handle: DatabaseHandle;
  let knowledge: Knowledge;

  beforeAll(async () => {
    database = await createMigratedDatabase(kind, 'wm_reconnect');
    const logger = createLogger({ service: 't', version: 't', stream: new PassThrough().resume() });
    handle = createDatabase({ url: database.url, max: 2, logger });
    knowledge = createKnowledge(
      { KNOWLEDGE_MAX_DOCUMENT_CHARS: 5000, KNOWLEDGE_MIN_SCORE: 0.5, KNOWLEDGE_PASSAGES: 4 },
      handle,
      createServiceMetrics('t', 't'),
      logger,
    );
    await knowledge.useCases.put('wallet-cube', {
      title: 'Куб операций кошельков',
      body: '# Куб\n\nПополнения и переводы электронных кошельков.',
    });
  });
  afterAll(async () => {
    await handle?.close();
    await database?.close();
  });

  /** The statements one answer runs: take-over read, requester lookup, knowledge search, the exchange. */
  async function answer(username: string): Promise<string[]> {
    const exchanges = new ExchangeRepository(handle.db);
    const message = {
      channel: 'direct',
      username,
      messageId: undefined,
      text: 'кошельки',
      traceId: undefined,
    };
    expect(await new OperatorRepository(handle.db).holdIfTakenOver(message)).toBe(false);
    const looked = await exchanges.lookup('direct', username);
    expect(looked).toEqual({ knowledge: { documents: 1, key: expect.any(String) } });
    const found = await knowledge.retriever.searchEach(
      ['куб кошельков', 'переводы кошельков'],
      4,
      looked.knowledge,
    );
    await exchanges.complete(
      {
        kind: 'unclaimed',
        exchange: { traceId: undefined, channel: 'direct', username, messageId: undefined, text: 'кошельки' },
      },
      {
        conversationId: null,
        analysedRequest: 'кошельки',
        userAttributes: { username },
        guesserVerdict: { is_enough: true, response: 'ок' },
        analystVerdict: null,
        isEnough: true,
        action: 'ответить сообщением',
        question: '',
        response: 'ответ',
        latencyMs: { total_ms: 1 },
        model: null,
        promptVersion: null,
        tokenUsage: null,
        tokensTotal: null,
        sources: null,
      },
      { kind: 'none' },
      { channel: 'direct', username },
    );
    return (found ?? []).flat().map((h) => h.id);
  }

  /** What an idle timeout or a server restart does: every pooled connection is replaced. */
  async function replaceConnections(): Promise<void> {
    const clients = await Promise.all([handle.pool.connect(), handle.pool.connect()]);
    for (const client of clients) client.release(true);
  }

  it('when the pool replaces its connections between answers, then the next answers run the same statements without error', async () => {
    const first = await answer('reconnect-a');
    expect(first).toContain('wallet-cube');
    await replaceConnections();
    expect(await answer('reconnect-b')).toEqual(first);
    // Two connections at once, each running every statement: nothing prepared by one clashes on the other.
    const both = await Promise.all([answer('reconnect-c'), answer('reconnect-d')]);
    expect(both).toEqual([first, first]);
    await replaceConnections();
    expect(await answer('reconnect-e')).toEqual(first);
  });
});
