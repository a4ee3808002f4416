import { queryRows, type TestDatabase } from '@workemon/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  analystAnswer,
  enoughContext,
  type FakeUpstream,
  notEnoughContext,
} from './support/fake-upstream.js';
import {
  type RunningSecretary,
  type SecretaryHarness,
  startSecretaryHarness,
  uniqueMessageId,
  uniqueUsername,
} from './support/secretary.js';

const SPEC_REQUEST = 'Я хочу получать аналитику о операциях наших кошельков';

describe('secretary /analyze-request', () => {
  let harness: SecretaryHarness;
  let db: TestDatabase;
  let guesser: FakeUpstream;
  let analyst: FakeUpstream;
  let secretary: RunningSecretary;

  beforeAll(async () => {
    harness = await startSecretaryHarness({
      databasePrefix: 'secretary_analyze',
      env: { MAX_REQUEST_CHARS: '500', UPSTREAM_TIMEOUT_MS: '400', MAX_CLARIFICATIONS: '2' },
    });
    ({ db, guesser, analyst, secretary } = harness);
  });
  afterEach(() => harness.reset());
  afterAll(async () => {
    await harness?.close();
  });

  const requestRows = (username: string) =>
    queryRows(db.url, 'select * from secretary.requests where username = $1 order by id', [username]);

  describe('input validation', () => {
    const valid = { channel: 'email', username: 'smirnovanton', request: SPEC_REQUEST };
    const cases: [string, string, string][] = [
      ['channel is missing', 'username=a&request=b', "Parameter 'channel' is required"],
      ['username is missing', 'channel=tg&request=b', "Parameter 'username' is required"],
      ['request is missing', 'channel=tg&username=a', "Parameter 'request' is required"],
      [
        'channel is not in the enum',
        'channel=fax&username=a&request=b',
        "Parameter 'channel' must be one of: email, tg, direct",
      ],
      ['username is blank', 'channel=tg&username=%20%20&request=b', "Parameter 'username' must not be empty"],
      ['request is empty', 'channel=tg&username=a&request=', "Parameter 'request' must not be empty"],
      [
        'a parameter is repeated',
        'channel=tg&channel=email&username=a&request=b',
        "Parameter 'channel' must be given once",
      ],
      [
        'message_id is empty',
        'channel=tg&username=a&request=b&message_id=',
        "Parameter 'message_id' must not be empty",
      ],
    ];
    it.each(cases)('when %s, then GET answers 400 naming the parameter', async (_name, query, message) => {
      const res = await secretary.call(`/analyze-request?${query}`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: 'Bad Request',
        message,
        statusCode: 400,
        requestId: expect.any(String),
      });
      expect(guesser.calls).toHaveLength(0);
    });

    it('when POST carries invalid JSON, then 400 says the body is not valid JSON', async () => {
      const res = await secretary.call('/analyze-request', { method: 'POST', rawBody: '{"channel": "tg",' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        error: 'Bad Request',
        message: 'Request body is not valid JSON',
        statusCode: 400,
      });
    });

    it('when POST carries a JSON array, then 400 says the body must be an object', async () => {
      const res = await secretary.call('/analyze-request', { method: 'POST', body: [valid] });
      expect(res.status).toBe(400);
      expect(res.body.message).toBe('Request body must be a JSON object');
    });

    it('when POST has a wrongly typed field, then 400 names it', async () => {
      const res = await secretary.analyze({ ...valid, channel: 'tg', request: 42 } as never, { post: true });
      expect(res.status).toBe(400);
      expect(res.body.message).toBe("Parameter 'request' must be a string");
    });

    it('when the text is longer than MAX_REQUEST_CHARS, then 413 names the limit (GET and POST)', async () => {
      const long = 'ж'.repeat(501);
      for (const post of [false, true]) {
        const res = await secretary.analyze({ ...valid, request: long }, { post });
        expect(res.status).toBe(413);
        expect(res.body).toMatchObject({ error: 'Payload Too Large', statusCode: 413 });
        expect(String(res.body.message)).toContain('500');
      }
      expect(guesser.calls).toHaveLength(0);
    });

    it('when the text carries NUL bytes, then they are stripped before analysis', async () => {
      const username = uniqueUsername();
      const res = await secretary.analyze(
        { channel: 'direct', username, request: 'при\u0000вет' },
        { post: true },
      );
      expect(res.status).toBe(200);
      expect(res.body.request).toBe('привет');
      expect(guesser.calls[0]?.body.request).toBe('привет');
    });
  });

  describe('spec flows', () => {
    it('when the guesser says the context is not enough, then the answer is уточнить with its question', async () => {
      const username = uniqueUsername();
      guesser.enqueue(notEnoughContext('Уточните аналатику каких операций?'));
      const res = await secretary.analyze({ channel: 'email', username, request: SPEC_REQUEST });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        is_enough: false,
        request: SPEC_REQUEST,
        action: 'уточнить',
        question: 'Уточните аналатику каких операций?',
        response: '',
        replayed: false,
      });
      expect(res.body.request_id).toBe(res.headers.get('x-request-id'));
      expect(analyst.calls).toHaveLength(0);
      // Unknown users are still served, as "unknown".
      expect(guesser.calls[0]?.body).toEqual({
        username,
        department: 'unknown',
        position: 'unknown',
        request: SPEC_REQUEST,
      });
      const [row] = await requestRows(username);
      expect(row).toMatchObject({
        status: 'completed',
        action: 'уточнить',
        is_enough: false,
        channel: 'email',
      });
      expect(row?.guesser_verdict).toMatchObject({ is_enough: false, model: 'fake-model' });
      expect(row?.latency_ms).toMatchObject({ guesser_ms: expect.any(Number), total_ms: expect.any(Number) });
    });

    it('when the context is enough, then the analyst answer is returned with the channel default action', async () => {
      const expected: Record<string, string> = {
        email: 'ответить на письмо',
        tg: 'ответить сообщением',
        direct: 'ответить сообщением',
      };
      for (const channel of ['email', 'tg', 'direct']) {
        const username = uniqueUsername();
        const res = await secretary.analyze(
          { channel, username, request: SPEC_REQUEST },
          { post: channel === 'tg' },
        );
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({
          is_enough: true,
          request: SPEC_REQUEST,
          action: expected[channel],
          question: '',
          response: 'Для получения такой аналитики вам необходимо обратиться к аналитическому кубу.',
        });
        const [row] = await requestRows(username);
        expect(row).toMatchObject({
          status: 'completed',
          is_enough: true,
          model: 'fake-model',
          tokens_total: 300,
        });
        expect(row?.prompt_version).toBe('guesser:builtin-test, system_analyst:analyst-test');
        expect(row?.latency_ms).toMatchObject({
          guesser_ms: expect.any(Number),
          analyst_ms: expect.any(Number),
        });
      }
      // The analyst receives the guesser's context and who is asking.
      const call = analyst.calls[0];
      expect(call?.path).toBe('/prepare-analititcs');
      expect(call?.body.request).toBe(SPEC_REQUEST);
      expect(String(call?.body.context)).toContain('домен b2c');
      expect(String(call?.body.context)).toContain('департамент: unknown');
    });

    it('when the analyst proposes an allowed action, then it is used; уточнить or an unknown one falls back', async () => {
      const cases: [string | undefined, string][] = [
        ['создать jira-task', 'создать jira-task'],
        ['написать в рассылку департамента', 'написать в рассылку департамента'],
        ['уточнить', 'ответить на письмо'],
        ['ответить сообщением', 'ответить на письмо'],
        ['сделать что-нибудь', 'ответить на письмо'],
      ];
      for (const [proposed, expected] of cases) {
        analyst.enqueue(analystAnswer('Ответ аналитика', proposed));
        const res = await secretary.analyze({
          channel: 'email',
          username: uniqueUsername(),
          request: SPEC_REQUEST,
        });
        expect(res.status).toBe(200);
        expect(res.body.action).toBe(expected);
      }
    });
  });

  describe('clarification conversations', () => {
    it('when the user answers the question, then the guesser gets the whole thread and the conversation resolves', async () => {
      const username = uniqueUsername();
      guesser.enqueue(notEnoughContext('Вас интересуют движения средств или авторизации?'), enoughContext());
      const first = await secretary.analyze({ channel: 'tg', username, request: SPEC_REQUEST });
      expect(first.body.action).toBe('уточнить');
      const conversationId = first.body.conversation_id;
      expect(conversationId).toEqual(expect.any(String));

      const second = await secretary.analyze({
        channel: 'tg',
        username,
        request: 'Меня интересуют операции авторизации',
      });
      expect(second.status).toBe(200);
      const thread = String(guesser.calls[1]?.body.request);
      expect(thread).toContain(SPEC_REQUEST);
      expect(thread).toContain('Вас интересуют движения средств или авторизации?');
      expect(thread).toContain('Меня интересуют операции авторизации');
      expect(thread.indexOf(SPEC_REQUEST)).toBeLessThan(thread.indexOf('Меня интересуют'));
      expect(second.body).toMatchObject({
        is_enough: true,
        action: 'ответить сообщением',
        request: thread,
        conversation_id: conversationId,
      });
      expect(analyst.calls[0]?.body.request).toBe(thread);
      const [conversation] = await queryRows(db.url, 'select * from secretary.conversations where id = $1', [
        conversationId,
      ]);
      expect(conversation).toMatchObject({ status: 'resolved', clarifications: 1 });

      // The conversation is closed: the next message is a new request.
      await secretary.analyze({ channel: 'tg', username, request: 'Новый вопрос' });
      expect(guesser.calls[2]?.body.request).toBe('Новый вопрос');
    });

    it('when two messages of one user race into clarification, then the later one is read as the answer and one conversation holds both', async () => {
      const username = uniqueUsername();
      guesser.setDefault(() => ({ ...notEnoughContext('Какой период?'), delayMs: 100 }));
      const results = await Promise.all(
        ['первое', 'второе'].map((request) => secretary.analyze({ channel: 'tg', username, request })),
      );
      expect(results.map((r) => r.status)).toEqual([200, 200]);
      const open = await queryRows(
        db.url,
        "select id from secretary.conversations where username = $1 and status = 'open'",
        [username],
      );
      expect(open).toHaveLength(1);
      expect(results.map((r) => r.body.conversation_id)).toEqual([open[0]?.id, open[0]?.id]);
      const rows = await requestRows(username);
      expect(rows.map((r) => r.conversation_id)).toEqual([open[0]?.id, open[0]?.id]);
      // Serialized per user: the second guesser call sees the first request and its question.
      const second = String(guesser.calls[1]?.body.request);
      expect(second).toContain('Какой период?');
      expect(second).toMatch(/первое|второе/);
      expect(String(guesser.calls[0]?.body.request)).not.toContain('Какой период?');
    });

    it('when the same user writes on another channel, then that is a separate conversation', async () => {
      const username = uniqueUsername();
      guesser.enqueue(notEnoughContext());
      await secretary.analyze({ channel: 'tg', username, request: SPEC_REQUEST });
      await secretary.analyze({ channel: 'email', username, request: 'Другое письмо' });
      expect(guesser.calls[1]?.body.request).toBe('Другое письмо');
    });

    it('when MAX_CLARIFICATIONS rounds do not help, then the request escalates to a specialist', async () => {
      const username = uniqueUsername();
      guesser.setDefault(() => notEnoughContext('Ещё уточните?'));
      const answers: Record<string, unknown>[] = [];
      for (const text of [SPEC_REQUEST, 'ответ 1', 'ответ 2']) {
        answers.push((await secretary.analyze({ channel: 'direct', username, request: text })).body);
      }
      expect(answers.map((a) => a.action)).toEqual([
        'уточнить',
        'уточнить',
        'написать в telegram сотруднику',
      ]);
      const escalated = answers[2]!;
      expect(escalated).toMatchObject({ is_enough: false, question: '' });
      expect(String(escalated.response)).toContain('специалист');
      expect(String(escalated.request)).toContain('ответ 2');
      const [conversation] = await queryRows(
        db.url,
        'select * from secretary.conversations where username = $1',
        [username],
      );
      expect(conversation).toMatchObject({ status: 'escalated', clarifications: 2 });
      // After escalation a new message starts over.
      guesser.setDefault(() => enoughContext());
      await secretary.analyze({ channel: 'direct', username, request: 'новое' });
      expect(guesser.calls.at(-1)?.body.request).toBe('новое');
    });
  });

  describe('idempotency', () => {
    it('when a message_id is repeated, then the stored answer comes back with zero upstream calls', async () => {
      const params = {
        channel: 'email',
        username: uniqueUsername(),
        request: SPEC_REQUEST,
        message_id: uniqueMessageId(),
      };
      const first = await secretary.analyze(params, { post: true });
      expect(first.body.replayed).toBe(false);
      const second = await secretary.analyze(params);
      expect(second.status).toBe(200);
      expect(second.body).toEqual({ ...first.body, replayed: true });
      expect(guesser.calls).toHaveLength(1);
      expect(analyst.calls).toHaveLength(1);
      expect(await requestRows(params.username)).toHaveLength(1);
    });

    it('when two identical requests race, then exactly one LLM exchange happens', async () => {
      guesser.setDefault(() => ({ ...enoughContext(), delayMs: 150 }));
      const params = {
        channel: 'tg',
        username: uniqueUsername(),
        request: SPEC_REQUEST,
        message_id: '4242:17',
      };
      const results = await Promise.all([1, 2, 3].map(() => secretary.analyze(params, { post: true })));
      expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(results.filter((r) => r.body.replayed === false)).toHaveLength(1);
      expect(new Set(results.map((r) => r.body.response)).size).toBe(1);
      expect(guesser.calls).toHaveLength(1);
      expect(analyst.calls).toHaveLength(1);
    });

    it('when the same message_id arrives on another channel, then it is a different message', async () => {
      const username = uniqueUsername();
      const messageId = uniqueMessageId();
      await secretary.analyze({ channel: 'email', username, request: SPEC_REQUEST, message_id: messageId });
      const other = await secretary.analyze({
        channel: 'tg',
        username,
        request: SPEC_REQUEST,
        message_id: messageId,
      });
      expect(other.body.replayed).toBe(false);
      expect(guesser.calls).toHaveLength(2);
    });

    it('when the first attempt failed, then the same message_id is analysed again and both attempts are kept', async () => {
      const params = {
        channel: 'email',
        username: uniqueUsername(),
        request: SPEC_REQUEST,
        message_id: uniqueMessageId(),
      };
      guesser.enqueue({
        status: 503,
        body: { error: 'Service Unavailable', message: 'LLM overloaded', statusCode: 503 },
      });
      expect((await secretary.analyze(params)).status).toBe(503);
      const retry = await secretary.analyze(params);
      expect(retry.status).toBe(200);
      expect(retry.body.replayed).toBe(false);
      const rows = await requestRows(params.username);
      expect(rows.map((r) => r.status)).toEqual(['failed', 'completed']);
      expect((await secretary.analyze(params)).body.replayed).toBe(true);
      expect(guesser.calls).toHaveLength(2);
    });
  });

  describe('upstream failures', () => {
    it('when the guesser is not configured, then 503 relays its message and a failed row is stored', async () => {
      const username = uniqueUsername();
      const message = 'LLM is not configured: set LLM_PROVIDER and LLM_API_KEY';
      guesser.enqueue({ status: 503, body: { error: 'Service Unavailable', message, statusCode: 503 } });
      const res = await secretary.analyze({ channel: 'direct', username, request: SPEC_REQUEST });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: 'Service Unavailable', statusCode: 503 });
      expect(String(res.body.message)).toContain(message);
      const [row] = await requestRows(username);
      expect(row).toMatchObject({ status: 'failed' });
      expect(String(row?.error)).toContain(message);
    });

    it('when the guesser hangs, then 504 arrives within the upstream timeout budget', async () => {
      const username = uniqueUsername();
      guesser.enqueue({ hang: true });
      const res = await secretary.analyze({ channel: 'tg', username, request: SPEC_REQUEST });
      expect(res.status).toBe(504);
      expect(String(res.body.message)).toMatch(/guesser did not answer within 400 ms/);
      expect(res.elapsedMs).toBeLessThan(2_000);
      const [row] = await requestRows(username);
      expect(row).toMatchObject({ status: 'failed' });
    });

    it('when the analyst fails with 500, then 502 names the analyst and the guesser verdict is kept', async () => {
      const username = uniqueUsername();
      analyst.enqueue({
        status: 500,
        body: { error: 'Internal Server Error', message: 'boom', statusCode: 500 },
      });
      const res = await secretary.analyze({ channel: 'email', username, request: SPEC_REQUEST });
      expect(res.status).toBe(502);
      expect(String(res.body.message)).toContain('system-analyst failed: boom');
      const [row] = await requestRows(username);
      expect(row).toMatchObject({ status: 'failed' });
      expect(row?.guesser_verdict).toMatchObject({ is_enough: true });
    });

    it('when the analyst times out, then 504 arrives within two upstream timeouts', async () => {
      analyst.enqueue({ hang: true });
      const res = await secretary.analyze({
        channel: 'email',
        username: uniqueUsername(),
        request: SPEC_REQUEST,
      });
      expect(res.status).toBe(504);
      expect(res.elapsedMs).toBeLessThan(2_000);
    });

    it('when the guesser answers garbage or drops the connection, then 502/503 with a clear message', async () => {
      guesser.enqueue({ body: { verdict: 'maybe' } });
      const garbage = await secretary.analyze({
        channel: 'tg',
        username: uniqueUsername(),
        request: SPEC_REQUEST,
      });
      expect(garbage.status).toBe(502);
      expect(String(garbage.body.message)).toContain('guesser returned an invalid answer');

      guesser.enqueue({ drop: true });
      const dropped = await secretary.analyze({
        channel: 'tg',
        username: uniqueUsername(),
        request: SPEC_REQUEST,
      });
      expect(dropped.status).toBe(503);
      expect(String(dropped.body.message)).toContain('guesser is unreachable');
    });
  });

  describe('outbound calls', () => {
    it('when the secretary calls its peers, then it propagates x-request-id and uses POST', async () => {
      const res = await secretary.analyze(
        { channel: 'tg', username: uniqueUsername(), request: SPEC_REQUEST },
        { headers: { 'x-request-id': 'trace-abc-123' } },
      );
      expect(res.headers.get('x-request-id')).toBe('trace-abc-123');
      expect(guesser.calls[0]).toMatchObject({ method: 'POST', path: '/get-context' });
      expect(guesser.calls[0]?.headers['x-request-id']).toBe('trace-abc-123');
      expect(analyst.calls[0]?.headers['x-request-id']).toBe('trace-abc-123');
    });
  });

  describe('metrics and logs', () => {
    it('when requests are analysed, then analysis_total counts them by channel, action and is_enough', async () => {
      await secretary.analyze({ channel: 'direct', username: uniqueUsername(), request: SPEC_REQUEST });
      const res = await fetch(`${secretary.url}/metrics`);
      const text = await res.text();
      expect(text).toMatch(
        /analysis_total\{channel="direct",action="ответить сообщением",is_enough="true",service="ai-secretary"\} \d+/,
      );
      expect(text).toContain('upstream_request_duration_seconds_bucket');
    });

    it('when a request is served, then every log line is ECS JSON carrying the trace id', async () => {
      const before = secretary.logs.lines.length;
      await secretary.analyze(
        { channel: 'email', username: uniqueUsername(), request: SPEC_REQUEST },
        { headers: { 'x-request-id': 'ecs-trace-1' } },
      );
      const records = secretary.logs.records().slice(before);
      expect(records.length).toBeGreaterThanOrEqual(2);
      for (const record of records) {
        expect(record).toMatchObject({
          'ecs.version': expect.any(String),
          'log.level': expect.any(String),
          '@timestamp': expect.any(String),
        });
        expect(record).toMatchObject({ 'service.name': 'ai-secretary', 'service.version': 'test' });
      }
      const traced = records.filter((r) => r['trace.id'] === 'ecs-trace-1');
      expect(traced.length).toBe(records.length);
      const access = records.find(
        (r) => (r.url as { path?: string } | undefined)?.path === '/analyze-request',
      );
      expect(access).toMatchObject({
        'log.level': 'info',
        http: { response: { status_code: 200 } },
        event: { duration: expect.any(Number) },
        labels: { channel: 'email', action: 'ответить на письмо', is_enough: 'true' },
      });
      // One line per request at info: the analysis details are at debug.
      expect(records.filter((r) => r['log.level'] === 'info')).toHaveLength(1);
      const analysed = records.find((r) => r.message === 'request analysed');
      expect(analysed).toMatchObject({ labels: { channel: 'email', action: 'ответить на письмо' } });
    });
  });
});
