import type { RunningService } from '@workemon/http-kit';
import { CapturedLines, createLogger } from '@workemon/logger';
import {
  createTestDatabase,
  type FakeLlm,
  queryRows,
  startFakeLlm,
  type TestDatabase,
} from '@workemon/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
// A test may run peers side by side; the secretary's src never imports another service.
import { configSchema as guesserConfigSchema } from '../../guesser/src/config.js';
import { startService as startGuesser } from '../../guesser/src/start.js';
import { configSchema as analystConfigSchema } from '../../system-analyst/src/config.js';
import { startService as startAnalyst } from '../../system-analyst/src/start.js';
import { runMigrations } from '../src/data/migrate.js';
import {
  type RunningSecretary,
  startSecretary,
  uniqueMessageId,
  uniqueUsername,
} from './support/secretary.js';

const SERVICE_TOKEN = 'mesh-token-0123456789abcdef';
const SPEC_REQUEST = 'Я хочу получать аналитику о операциях наших кошельков';

interface Peer extends RunningService {
  logs: CapturedLines;
}

type PeerKind = 'guesser' | 'analyst';

/** Starts the real guesser or system-analyst through its startService, as its main.ts does. */
async function startPeer(kind: PeerKind, llmEnv: Record<string, string>): Promise<Peer> {
  const env = { PORT: '0', HOST: '127.0.0.1', SERVICE_TOKEN, ...llmEnv };
  const logs = new CapturedLines();
  const logger = createLogger({ service: kind, version: 'test', stream: logs });
  const service =
    kind === 'guesser'
      ? await startGuesser(guesserConfigSchema.parse(env), { logger })
      : await startAnalyst(analystConfigSchema.parse(env), { logger });
  return { ...service, logs };
}

const stop = async (peer: Peer | undefined) => {
  peer?.server.closeAllConnections();
  await peer?.close();
};

describe('secretary with the real guesser and system-analyst (fake LLM)', () => {
  let db: TestDatabase;
  let llm: FakeLlm;
  let guesser: Peer;
  let analyst: Peer;
  let unconfiguredGuesser: Peer;
  let secretary: RunningSecretary;

  beforeAll(async () => {
    db = await createTestDatabase('secretary_mesh');
    await runMigrations(db.url);
    llm = await startFakeLlm({ apiKey: 'sk-mesh' });
    const llmEnv = {
      LLM_PROVIDER: 'custom',
      LLM_BASE_URL: llm.url,
      LLM_API_KEY: 'sk-mesh',
      LLM_MODEL: 'fake-model',
      LLM_TIMEOUT_MS: '2000',
      LLM_MAX_RETRIES: '0',
    };
    guesser = await startPeer('guesser', llmEnv);
    analyst = await startPeer('analyst', llmEnv);
    unconfiguredGuesser = await startPeer('guesser', {});
    secretary = await startSecretary({
      databaseUrl: db.url,
      guesserUrl: guesser.url,
      analystUrl: analyst.url,
      env: { SERVICE_TOKEN },
    });
  });
  afterEach(() => llm.reset());
  afterAll(async () => {
    await secretary?.close();
    await Promise.all([stop(guesser), stop(analyst), stop(unconfiguredGuesser)]);
    await llm?.close();
    await db?.drop();
  });

  it('when the spec example needs a clarification, then the answer round-trips through both LLM services', async () => {
    const username = uniqueUsername();
    llm.enqueue(
      { json: { is_enough: false, response: 'Уточните аналатику каких операций?' } },
      { json: { is_enough: true, response: 'Домен b2c: авторизационные операции кошельков.' } },
      {
        json: {
          is_enough: true,
          response: 'Доработайте аналитический куб авторизаций.',
          action: 'создать jira-task',
        },
      },
    );
    const first = await secretary.analyze({ channel: 'email', username, request: SPEC_REQUEST });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      is_enough: false,
      action: 'уточнить',
      question: 'Уточните аналатику каких операций?',
      response: '',
    });

    const second = await secretary.analyze(
      {
        channel: 'email',
        username,
        request: 'Меня интересуют операции авторизации',
        message_id: uniqueMessageId(),
      },
      { post: true },
    );
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({
      is_enough: true,
      action: 'создать jira-task',
      question: '',
      response: 'Доработайте аналитический куб авторизаций.',
    });
    expect(llm.calls).toHaveLength(3);
    // The guesser's LLM saw the whole thread; the analyst's LLM saw the guesser's context.
    const guesserPrompt = llm.calls[1]!.messages.map((m) => m.content).join('\n');
    expect(guesserPrompt).toContain(SPEC_REQUEST);
    expect(guesserPrompt).toContain('Уточните аналатику каких операций?');
    expect(guesserPrompt).toContain('Меня интересуют операции авторизации');
    expect(llm.calls[2]!.messages.map((m) => m.content).join('\n')).toContain('Домен b2c');

    const rows = await queryRows(db.url, 'select * from secretary.requests where username = $1 order by id', [
      username,
    ]);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({ status: 'completed', model: 'fake-model', action: 'создать jira-task' });
    expect(Number(rows[1]?.tokens_total)).toBeGreaterThan(0);
    expect(String(rows[1]?.prompt_version)).toMatch(/^guesser:builtin-\w+, system_analyst:builtin-\w+$/);
  });

  it('when a message_id is replayed, then the LLM is not called again', async () => {
    const params = { channel: 'tg', username: uniqueUsername(), request: SPEC_REQUEST, message_id: '777:1' };
    expect((await secretary.analyze(params)).status).toBe(200);
    const calls = llm.calls.length;
    expect(calls).toBe(2);
    const replay = await secretary.analyze(params);
    expect(replay.body.replayed).toBe(true);
    expect(llm.calls).toHaveLength(calls);
  });

  it('when the guesser has no LLM credentials, then the secretary relays its 503 and reports degraded health', async () => {
    const lonely = await startSecretary({
      databaseUrl: db.url,
      guesserUrl: unconfiguredGuesser.url,
      analystUrl: analyst.url,
      env: { SERVICE_TOKEN },
    });
    try {
      const res = await lonely.analyze({
        channel: 'direct',
        username: uniqueUsername(),
        request: SPEC_REQUEST,
      });
      expect(res.status).toBe(503);
      expect(String(res.body.message)).toMatch(/^guesser: LLM is not configured/);
      // an expected outage is one plain line in each service, not a stack trace
      for (const line of [...unconfiguredGuesser.logs.lines, ...lonely.logs.lines]) {
        expect(line).not.toContain('"stack"');
        expect(line).not.toContain('"stack_trace"');
      }
      expect(unconfiguredGuesser.logs.lines.some((l) => l.includes('LLM is not configured'))).toBe(true);
      const health = await lonely.call('/health');
      expect(health.status).toBe(200);
      expect(health.body.status).toBe('degraded');
      const check = (health.body.checks as Record<string, { status: string; detail?: string }>).guesser;
      expect(check).toMatchObject({ status: 'degraded' });
      expect(check?.detail).toContain('LLM is not configured');
      expect(llm.calls).toHaveLength(0);
    } finally {
      await lonely.close();
    }
  });
});
