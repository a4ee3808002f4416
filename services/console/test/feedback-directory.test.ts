import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDatabase, type TestDatabase } from '@workemon/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleClient, type RunningConsole, startConsole } from './support/console.js';

const TOKEN = 'feedback-service-token-0123456789';

interface Call {
  method: string;
  path: string;
  body: unknown;
  authorization: string | undefined;
}

/** The secretary's operator API and directory as far as feedback and the directory page use them. */
async function fakeSecretary(): Promise<{ url: string; calls: Call[]; close(): Promise<void> }> {
  const calls: Call[] = [];
  const exchange = {
    kind: 'exchange',
    id: '41',
    at: '2026-01-12T10:00:00.000000Z',
    completed_at: '2026-01-12T10:00:02.000000Z',
    trace_id: 'trace-41',
    message_id: '<m41@corp.example>',
    text: 'Нужна аналитика по кошелькам',
    analysed_request: 'Нужна аналитика по кошелькам',
    status: 'completed',
    is_enough: true,
    action: 'ответить на письмо',
    question: '',
    response: 'Обратитесь к аналитическому кубу.',
    error: null,
    guesser_verdict: null,
    analyst_verdict: null,
    latency_ms: null,
    model: 'fake-model',
    tokens_total: 10,
    follow_ups: [],
  };
  const summary = {
    channel: 'email',
    username: 'ivan@corp.example',
    display_name: null,
    department: null,
    state: 'answered',
    last_text: 'x',
    last_author: 'ai',
    last_at: '2026-01-12T10:00:00.000000Z',
    taken_over_by: null,
    assigned_to: null,
    escalated_since: null,
    waiting_since: null,
    version: '1',
  };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      calls.push({
        method: req.method ?? '',
        path,
        body: raw ? JSON.parse(raw) : undefined,
        authorization: req.headers.authorization,
      });
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path.startsWith('/operator/conversations/email/ivan%40corp.example'))
        return send(200, {
          conversation: summary,
          person: {
            username: 'ivan@corp.example',
            display_name: null,
            department: null,
            position: null,
            email: null,
            telegram_chat_id: null,
          },
          entries: [exchange],
        });
      if (path.startsWith('/operator/conversations/'))
        return send(404, {
          error: 'Not Found',
          message: "No conversation with email user 'x'",
          statusCode: 404,
        });
      if (path.startsWith('/users') && req.method === 'GET')
        return send(200, {
          items: [{ username: 'ivan@corp.example', display_name: 'Иван' }],
          next_cursor: null,
        });
      if (path === '/users' && req.method === 'POST') return send(200, { upserted: 1 });
      send(404, { error: 'Not Found', message: 'no route', statusCode: 404 });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('console feedback and directory', () => {
  let db: TestDatabase;
  let secretary: Awaited<ReturnType<typeof fakeSecretary>>;
  let consoleApp: RunningConsole;
  const admin = () => new ConsoleClient(consoleApp.url);

  beforeAll(async () => {
    db = await createTestDatabase('wm_console_feedback');
    secretary = await fakeSecretary();
    consoleApp = await startConsole({
      databaseUrl: db.url,
      secretaryUrl: secretary.url,
      communicatorUrl: 'http://127.0.0.1:9',
      serviceToken: TOKEN,
    });
  });
  afterAll(async () => {
    await consoleApp?.close();
    await secretary?.close();
    await db?.drop();
  });

  it('when an operator judges an AI answer, then what was judged is copied from the secretary, counted, and exported as JSON lines', async () => {
    const boris = new ConsoleClient(consoleApp.url);
    await boris.signIn('boris', 'boris-password-2');
    const res = await boris.request('POST', '/api/feedback', {
      body: {
        channel: 'email',
        username: 'ivan@corp.example',
        exchange_id: '41',
        verdict: 'wrong',
        // A NUL pasted into the note (no database text can hold one) is dropped, not a 500.
        note: 'не тот\u0000 куб',
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      operator: 'boris',
      verdict: 'wrong',
      note: 'не тот куб',
      request: 'Нужна аналитика по кошелькам',
      response: 'Обратитесь к аналитическому кубу.',
      model: 'fake-model',
      trace_id: 'trace-41',
    });
    expect(secretary.calls.at(-1)?.authorization).toBe(`Bearer ${TOKEN}`);

    const unknown = await boris.request('POST', '/api/feedback', {
      body: { channel: 'email', username: 'ivan@corp.example', exchange_id: '999', verdict: 'helpful' },
    });
    expect(unknown.status).toBe(404);
    const badVerdict = await boris.request('POST', '/api/feedback', {
      body: { channel: 'email', username: 'ivan@corp.example', exchange_id: '41', verdict: 'meh' },
    });
    expect(badVerdict.status).toBe(400);
    expect(badVerdict.body.message).toContain("'verdict'");

    const metrics = await fetch(`${consoleApp.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/console_feedback_total\{[^}]*verdict="wrong"[^}]*\} 1/);

    const anna = admin();
    await anna.signIn('anna', 'anna-password-1');
    const exported = await anna.request('GET', '/api/feedback/export');
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = exported.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ exchange_id: '41', verdict: 'wrong', operator: 'boris' });
  });

  it('when an admin edits the directory, then bad values are refused naming the field and good ones reach the secretary', async () => {
    const anna = admin();
    await anna.signIn('anna', 'anna-password-1');
    const badEmail = await anna.request('PUT', '/api/directory', {
      body: { username: 'ivan@corp.example', email: 'not-an-address' },
    });
    expect(badEmail.status).toBe(400);
    expect(badEmail.body.message).toContain("'email'");
    const badChat = await anna.request('PUT', '/api/directory', {
      body: { username: 'ivan@corp.example', telegram_chat_id: '12ab' },
    });
    expect(badChat.status).toBe(400);
    expect(badChat.body.message).toContain("'telegram_chat_id'");
    const noName = await anna.request('PUT', '/api/directory', { body: { display_name: 'Иван' } });
    expect(noName.status).toBe(400);
    expect(noName.body.message).toContain("'username'");

    const ok = await anna.request('PUT', '/api/directory', {
      body: {
        username: 'ivan@corp.example',
        display_name: 'Иван Петров',
        department: 'Финансы',
        email: '',
        telegram_chat_id: '4242',
      },
    });
    expect(ok.status).toBe(200);
    const sent = secretary.calls.at(-1);
    expect(sent).toMatchObject({ method: 'POST', path: '/users' });
    expect(sent?.body).toEqual([
      {
        username: 'ivan@corp.example',
        display_name: 'Иван Петров',
        department: 'Финансы',
        telegram_chat_id: '4242',
      },
    ]);
    expect((await anna.request('GET', '/api/directory')).body.items).toHaveLength(1);
  });

  it('when the secretary says a conversation does not exist, then the operator gets its 404, not a 502', async () => {
    const boris = new ConsoleClient(consoleApp.url);
    await boris.signIn('boris', 'boris-password-2');
    const res = await boris.request('GET', '/api/conversations/email/nobody%40corp.example');
    expect(res.status).toBe(404);
    expect(res.body.message).toContain('No conversation');
  });

  it('when the communicator is down, then the ingest page gets a 503 saying so, and /health is degraded, not down', async () => {
    const boris = new ConsoleClient(consoleApp.url);
    await boris.signIn('boris', 'boris-password-2');
    const res = await boris.request('GET', '/api/ingest');
    expect(res.status).toBe(503);
    expect(res.body.message).toContain('communicator');
    const health = (await (await fetch(`${consoleApp.url}/health`)).json()) as {
      status: string;
      checks: Record<string, { status: string }>;
    };
    expect(health.checks.communicator?.status).toBe('degraded');
    expect(health.status).toBe('degraded');
  });
});
