import { freePort, createTestDatabase, queryRows, type TestDatabase } from '@workemon/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrations } from '../src/data/migrate.js';
import {
  analystAnswer,
  enoughContext,
  type FakeUpstream,
  notEnoughContext,
  startFakeUpstream,
} from './support/fake-upstream.js';
import { type RunningSecretary, startSecretary, uniqueUsername } from './support/secretary.js';

const API_KEY = 'direct-api-key-0123456789';
const SERVICE_TOKEN = 'mesh-service-token-0123456789';

describe('secretary API: auth, history, health, docs', () => {
  let db: TestDatabase;
  let guesser: FakeUpstream;
  let analyst: FakeUpstream;
  let secretary: RunningSecretary;
  let now = new Date('2030-01-01T10:00:00Z');

  beforeAll(async () => {
    db = await createTestDatabase('secretary_api');
    await runMigrations(db.url);
    // Running them again is a no-op.
    await runMigrations(db.url);
    guesser = await startFakeUpstream(() => enoughContext());
    analyst = await startFakeUpstream(() => analystAnswer());
    secretary = await startSecretary({
      databaseUrl: db.url,
      guesserUrl: guesser.url,
      analystUrl: analyst.url,
      env: { API_KEYS: `${API_KEY},second-key-0123456789`, SERVICE_TOKEN, CLARIFICATION_TTL: '24h' },
      clock: () => now,
    });
  });
  afterAll(async () => {
    await secretary?.close();
    await guesser?.close();
    await analyst?.close();
    await db?.drop();
  });

  describe('auth', () => {
    it('when API_KEYS is set and no token is sent, then 401; /health, /metrics and /openapi.json stay open', async () => {
      const res = await secretary.call('/analyze-request?channel=tg&username=a&request=b', { token: null });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'Unauthorized', statusCode: 401 });
      expect((await secretary.call('/history', { token: 'wrong-key' })).status).toBe(401);
      expect((await secretary.call('/users', { token: null })).status).toBe(401);
      for (const path of ['/health', '/metrics', '/openapi.json', '/health/live']) {
        expect((await fetch(`${secretary.url}${path}`)).status, path).toBe(200);
      }
      expect(guesser.calls).toHaveLength(0);
    });

    it('when any API key or the SERVICE_TOKEN is presented, then the call is accepted and peers get SERVICE_TOKEN', async () => {
      for (const token of [API_KEY, 'second-key-0123456789', SERVICE_TOKEN]) {
        const res = await secretary.analyze(
          { channel: 'direct', username: uniqueUsername(), request: 'вопрос' },
          { token },
        );
        expect(res.status).toBe(200);
      }
      expect(guesser.calls.at(-1)?.headers.authorization).toBe(`Bearer ${SERVICE_TOKEN}`);
      expect(analyst.calls.at(-1)?.headers.authorization).toBe(`Bearer ${SERVICE_TOKEN}`);
    });
  });

  describe('logs', () => {
    it('when a peer call fails, then the error line carries neither the service token nor the user text', async () => {
      const before = secretary.logs.lines.length;
      guesser.enqueue({ drop: true });
      const secretText = 'секретный текст обращения 4711';
      const res = await secretary.analyze({ channel: 'tg', username: uniqueUsername(), request: secretText });
      expect(res.status).toBe(503);
      const lines = secretary.logs.lines.slice(before);
      expect(lines.some((l) => l.includes('"log.level":"error"'))).toBe(true);
      for (const line of lines) {
        expect(line).not.toContain(SERVICE_TOKEN);
        expect(line).not.toContain(API_KEY);
      }
      const errorLine = lines.find((l) => l.includes('"log.level":"error"') && l.includes('"error"')) ?? '';
      expect(errorLine).not.toContain('4711');
    });
  });

  describe('clarification TTL', () => {
    it('when the answer comes after CLARIFICATION_TTL, then it is treated as a new request', async () => {
      const username = uniqueUsername();
      guesser.enqueue(notEnoughContext('Каких операций?'));
      const first = await secretary.analyze({ channel: 'tg', username, request: 'Хочу аналитику' });
      expect(first.body.action).toBe('уточнить');
      now = new Date(now.getTime() + 25 * 3_600_000);
      const late = await secretary.analyze({ channel: 'tg', username, request: 'Авторизаций' });
      expect(late.body.request).toBe('Авторизаций');
      expect(guesser.calls.at(-1)?.body.request).toBe('Авторизаций');
      const [conversation] = await queryRows(
        db.url,
        'select status from secretary.conversations where username = $1',
        [username],
      );
      expect(conversation?.status).toBe('expired');
    });
  });

  describe('history', () => {
    it('when filtering by username and channel and paging, then items come newest first with a working cursor', async () => {
      const alice = uniqueUsername('alice');
      const bob = uniqueUsername('bob');
      for (let i = 1; i <= 5; i++)
        await secretary.analyze({ channel: 'email', username: alice, request: `письмо ${i}` });
      await secretary.analyze({ channel: 'tg', username: alice, request: 'телеграм' });
      await secretary.analyze({ channel: 'email', username: bob, request: 'чужое' });

      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 5; page++) {
        const query: string = new URLSearchParams({
          username: alice,
          channel: 'email',
          limit: '2',
          ...(cursor ? { cursor } : {}),
        }).toString();
        const res = await secretary.call(`/history?${query}`);
        expect(res.status).toBe(200);
        const items = res.body.items as {
          request: string;
          username: string;
          channel: string;
          status: string;
        }[];
        expect(items.length).toBeLessThanOrEqual(2);
        for (const item of items) {
          expect(item).toMatchObject({ username: alice, channel: 'email', status: 'completed' });
          seen.push(item.request);
        }
        cursor = res.body.next_cursor as string | null;
        if (!cursor) break;
      }
      expect(seen).toEqual(['письмо 5', 'письмо 4', 'письмо 3', 'письмо 2', 'письмо 1']);

      const all = await secretary.call(`/history?username=${alice}`);
      const items = all.body.items as Record<string, unknown>[];
      expect(items).toHaveLength(6);
      expect(items[0]).toMatchObject({
        request: 'телеграм',
        channel: 'tg',
        is_enough: true,
        action: 'ответить сообщением',
        model: 'fake-model',
        tokens_total: 300,
        latency_ms: {
          guesser_ms: expect.any(Number),
          analyst_ms: expect.any(Number),
          total_ms: expect.any(Number),
        },
        message_id: null,
        error: null,
      });
    });

    it('when history parameters are invalid, then 400 names them', async () => {
      expect((await secretary.call('/history?channel=fax')).body.message).toBe(
        "Parameter 'channel' must be one of: email, tg, direct",
      );
      expect((await secretary.call('/history?limit=0')).body.message).toBe(
        "Parameter 'limit' must be between 1 and 200",
      );
      const bad = await secretary.call('/history?cursor=not-a-cursor');
      expect(bad.status).toBe(400);
      expect(bad.body.message).toContain("'cursor'");
    });

    it('when an attempt failed, then history shows it with its error', async () => {
      const username = uniqueUsername();
      guesser.enqueue({
        status: 503,
        body: { message: 'LLM is not configured: set LLM_PROVIDER and LLM_API_KEY' },
      });
      expect((await secretary.analyze({ channel: 'direct', username, request: 'x' })).status).toBe(503);
      const res = await secretary.call(`/history?username=${username}`);
      expect(res.body.items).toEqual([
        expect.objectContaining({
          status: 'failed',
          error: expect.stringContaining('LLM is not configured'),
          action: null,
        }),
      ]);
    });
  });

  describe('health', () => {
    it('when the database and both peers are fine, then /health is ok with all checks', async () => {
      const res = await secretary.call('/health', { token: null });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        status: 'ok',
        service: 'ai-secretary',
        checks: { database: { status: 'ok' }, guesser: { status: 'ok' }, 'system-analyst': { status: 'ok' } },
      });
    });

    it('when the guesser reports it has no LLM credentials, then the secretary is degraded naming that detail', async () => {
      guesser.setHealth({
        status: 'degraded',
        checks: {
          llm: { status: 'degraded', detail: 'LLM is not configured: set LLM_PROVIDER and LLM_API_KEY' },
        },
      });
      try {
        const res = await secretary.call('/health');
        expect(res.status).toBe(200);
        expect(res.body.status).toBe('degraded');
        const check = (res.body.checks as Record<string, { status: string; detail?: string }>).guesser;
        expect(check?.status).toBe('degraded');
        expect(check?.detail).toContain('LLM is not configured');
        const metrics = await (await fetch(`${secretary.url}/metrics`)).text();
        expect(metrics).toMatch(/health_check_status\{check="guesser",service="ai-secretary"\} 0/);
      } finally {
        guesser.setHealth({ status: 'ok', checks: {} });
      }
    });

    it('when the database is unreachable, then /health is down (503), requests get 503, and the process lives on', async () => {
      const port = await freePort();
      const broken = await startSecretary({
        databaseUrl: `postgres://postgres@127.0.0.1:${port}/nowhere`,
        guesserUrl: guesser.url,
        analystUrl: `http://127.0.0.1:${port}`,
      });
      try {
        const health = await broken.call('/health');
        expect(health.status).toBe(503);
        expect(health.body).toMatchObject({
          status: 'down',
          checks: { database: { status: 'down' }, 'system-analyst': { status: 'down' } },
        });
        const res = await broken.analyze({ channel: 'tg', username: 'u', request: 'x' });
        expect(res.status).toBe(503);
        expect(String(res.body.message)).toContain('database is unavailable');
        expect((await broken.call('/health/live')).status).toBe(200);
      } finally {
        await broken.close();
      }
    });
  });

  describe('docs', () => {
    it('when /openapi.json is read, then it documents every route with its schemas', async () => {
      const doc = (await secretary.call('/openapi.json', { token: null })).body as {
        paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown }>>;
        components: { schemas: Record<string, unknown> };
      };
      expect(Object.keys(doc.paths['/analyze-request'] ?? {}).sort()).toEqual(['get', 'post']);
      expect(doc.paths['/analyze-request']?.get?.responses).toHaveProperty('413');
      expect(doc.paths['/analyze-request']?.get?.security).toBeDefined();
      expect(doc.paths['/history']?.get).toBeDefined();
      expect(Object.keys(doc.paths['/users'] ?? {}).sort()).toEqual(['get', 'post', 'put']);
      expect(doc.paths['/users/{username}']?.get).toMatchObject({
        parameters: [expect.objectContaining({ name: 'username', in: 'path', required: true })],
      });
      expect(doc.components.schemas).toHaveProperty('AnalysisResponse');
      expect(doc.components.schemas).toHaveProperty('HistoryPage');
      const docs = await fetch(`${secretary.url}/docs/`);
      expect(docs.status).toBe(200);
    });
  });
});
