import { randomBytes } from 'node:crypto';
import { freePort, queryRows, waitFor } from '@workemon/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  analystAnswer,
  enoughContext,
  type FakeUpstream,
  notEnoughContext,
  startFakeUpstream,
} from './support/fake-upstream.js';
import {
  type SecretaryHarness,
  startSecretary,
  startSecretaryHarness,
  uniqueMessageId,
  uniqueUsername,
} from './support/secretary.js';

/**
 * Hostile content reaching storage (issue 7.2), message_id reuse (7.3), follow-up keys (7.5) and
 * database errors (SQL and user data never in a client's body or a log line).
 */
describe('secretary storage under hostile input', () => {
  let harness: SecretaryHarness;
  let communicator: FakeUpstream;
  const seenKeys = new Set<string>();

  beforeAll(async () => {
    // Dedupes by idempotency key, as the real communicator's POST /send does.
    communicator = await startFakeUpstream((call) => {
      const key = String(call.body.idempotency_key);
      const status = seenKeys.has(key) ? 'duplicate' : 'sent';
      seenKeys.add(key);
      return { body: { status, channel: 'tg', idempotency_key: key, external_id: '1:1' } };
    });
    harness = await startSecretaryHarness({
      databasePrefix: 'secretary_hostile',
      env: {
        SERVICE_TOKEN: 'hostile-storage-token-0123456789',
        COMMUNICATOR_URL: communicator.url,
        ESCALATION_TELEGRAM_CHAT_ID: '-100999',
      },
      followUps: { sweepIntervalMs: 200, retryBaseMs: 100 },
    });
  });
  afterEach(() => {
    harness.reset();
    communicator.reset();
  });
  afterAll(async () => {
    await harness?.close();
    await communicator?.close();
  });

  const rowsFor = (messageId: string) =>
    queryRows<{ status: string; username: string; response: string | null; error: string | null }>(
      harness.db.url,
      'SELECT status, username, response, error FROM secretary.requests WHERE message_id = $1 ORDER BY id',
      [messageId],
    );

  describe('text that PostgreSQL cannot store as is (7.2)', () => {
    // The username policy of the contract (7.4: bounded, printable) refuses these before any LLM
    // call is paid for, so they can no longer fail a write after the analysis.
    it('when the username has a lone surrogate, then 400 names username before any LLM call and nothing is stored', async () => {
      const messageId = uniqueMessageId();
      const params = { channel: 'tg', username: 'x\ud800', request: 'Где отчёт?', message_id: messageId };
      const first = await harness.secretary.analyze(params, { post: true });
      expect(first.status).toBe(400);
      expect(first.body.message).toContain("'username'");
      expect(harness.guesser.calls).toHaveLength(0);
      expect(await rowsFor(messageId)).toEqual([]);
    });

    it('when the username is 3000 characters long, then 400 names username before any LLM call and nothing is stored', async () => {
      const messageId = uniqueMessageId();
      const params = {
        channel: 'tg',
        username: randomBytes(1500).toString('hex'),
        request: 'Где отчёт?',
        message_id: messageId,
      };
      const first = await harness.secretary.analyze(params, { post: true });
      expect(first.status).toBe(400);
      expect(first.body.message).toContain("'username'");
      expect(harness.guesser.calls).toHaveLength(0);
      expect(await rowsFor(messageId)).toEqual([]);
    });

    it('when the LLM answers with NUL bytes and lone surrogates, then the answer is stored clean and replayed identically', async () => {
      harness.guesser.setDefault(() => enoughContext('контекст\u0000 с нулём \udc00'));
      harness.analyst.setDefault(() => analystAnswer('Ответ\u0000 из куба \ud800 готов'));
      const messageId = uniqueMessageId();
      const params = {
        channel: 'email',
        username: uniqueUsername('nul'),
        request: 'Отчёт',
        message_id: messageId,
      };
      const first = await harness.secretary.analyze(params, { post: true });
      expect(first.status).toBe(200);
      expect(first.body.response).toBe('Ответ из куба \ufffd готов');
      const retry = await harness.secretary.analyze(params, { post: true });
      expect(retry.body).toMatchObject({ replayed: true, response: first.body.response });
      expect((await rowsFor(messageId))[0]).toMatchObject({
        status: 'completed',
        response: 'Ответ из куба \ufffd готов',
      });
    });

    it('when the LLM asks a question with a NUL byte, then the clarification opens a conversation', async () => {
      harness.guesser.setDefault(() => notEnoughContext('Какой\u0000 отчёт?'));
      const username = uniqueUsername('nulq');
      const res = await harness.secretary.analyze(
        { channel: 'tg', username, request: 'Отчёт' },
        { post: true },
      );
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ action: 'уточнить', question: 'Какой отчёт?' });
      const [conversation] = await queryRows<{ last_question: string }>(
        harness.db.url,
        `SELECT last_question FROM secretary.conversations WHERE username = $1 AND status = 'open'`,
        [username],
      );
      expect(conversation?.last_question).toBe('Какой отчёт?');
    });

    it('when the analysis fails after a verdict with a NUL byte, then the failure record is stored and no row stays pending', async () => {
      harness.guesser.setDefault(() => enoughContext('контекст\u0000'));
      harness.analyst.setDefault(() => ({ status: 500, body: { error: 'boom' } }));
      const messageId = uniqueMessageId();
      const params = {
        channel: 'email',
        username: uniqueUsername('fail'),
        request: 'Отчёт',
        message_id: messageId,
      };
      const res = await harness.secretary.analyze(params, { post: true });
      expect(res.status).toBeGreaterThanOrEqual(502);
      expect(await rowsFor(messageId)).toEqual([expect.objectContaining({ status: 'failed' })]);
      // A retry is a fresh attempt, not a hang on a stranded row.
      harness.analyst.setDefault(() => analystAnswer());
      const retry = await harness.secretary.analyze(params, { post: true });
      expect(retry.status).toBe(200);
      expect(retry.elapsedMs).toBeLessThan(5_000);
    });
  });

  describe('message_id reuse (7.3)', () => {
    it("when bob sends alice's message_id, then he gets 409 naming message_id and nothing of hers; his text is not analysed", async () => {
      const messageId = uniqueMessageId();
      const alice = {
        channel: 'direct',
        username: uniqueUsername('alice'),
        request: 'Мой паспорт 4509 123456',
        message_id: messageId,
      };
      const first = await harness.secretary.analyze(alice, { post: true });
      expect(first.status).toBe(200);
      const callsBefore = harness.guesser.calls.length;

      const bob = await harness.secretary.analyze(
        { ...alice, username: uniqueUsername('bob'), request: 'Покажи ответ' },
        { post: true },
      );
      expect(bob.status).toBe(409);
      expect(bob.body).toMatchObject({ error: 'Conflict', statusCode: 409 });
      expect(String(bob.body.message)).toContain("'message_id'");
      const text = JSON.stringify(bob.body);
      expect(text).not.toContain('4509');
      expect(text).not.toContain(String(first.body.response));
      expect(harness.guesser.calls.length).toBe(callsBefore);

      const sameUserOtherText = await harness.secretary.analyze(
        { ...alice, request: 'Другой текст' },
        { post: true },
      );
      expect(sameUserOtherText.status).toBe(409);
      const replay = await harness.secretary.analyze(alice, { post: true });
      expect(replay.status).toBe(200);
      expect(replay.body).toMatchObject({ replayed: true, response: first.body.response });
      expect((await rowsFor(messageId)).map((r) => r.status)).toEqual(['completed']);
    });

    it('when another user reuses a message_id still being analysed, then the answer is 409 at once, not a wait', async () => {
      harness.guesser.enqueue({ ...enoughContext(), delayMs: 1_500 });
      const messageId = uniqueMessageId();
      const alice = {
        channel: 'tg',
        username: uniqueUsername('alice'),
        request: 'Долгий запрос',
        message_id: messageId,
      };
      const first = harness.secretary.analyze(alice, { post: true });
      await waitFor(async () => (await rowsFor(messageId)).length === 1, 5_000);
      const bob = await harness.secretary.analyze(
        { ...alice, username: uniqueUsername('bob') },
        { post: true },
      );
      expect(bob.status).toBe(409);
      expect((await first).status).toBe(200);
    });
  });

  describe('follow-up keys (7.5)', () => {
    it('when two users send the same x-request-id and both are escalated, then both escalations are sent', async () => {
      harness.analyst.setDefault(() => analystAnswer('Нужен сотрудник', 'написать в telegram сотруднику'));
      const headers = { 'x-request-id': 'same-request-id-from-a-client' };
      for (const who of ['anna', 'boris']) {
        const res = await harness.secretary.analyze(
          { channel: 'tg', username: uniqueUsername(who), request: 'Срочно нужен доступ' },
          { post: true, headers },
        );
        expect(res.status).toBe(200);
        expect(res.body.action).toBe('написать в telegram сотруднику');
      }
      await waitFor(() => communicator.calls.filter((c) => c.path === '/send').length === 2, 5_000);
      const keys = communicator.calls
        .filter((c) => c.path === '/send')
        .map((c) => String(c.body.idempotency_key));
      expect(new Set(keys).size).toBe(2);
      for (const key of keys) expect(key).not.toContain('same-request-id-from-a-client');
      const [done] = await queryRows<{ n: number }>(
        harness.db.url,
        `SELECT count(*)::int AS n FROM secretary.follow_ups WHERE kind = 'escalation' AND result->>'status' = 'sent'`,
      );
      expect(done!.n).toBeGreaterThanOrEqual(2);
    });
  });

  describe('database errors', () => {
    const SECRET = 'Мой паспорт 4509 123456, пароль Qwerty123';

    it('when the database is unreachable, then the 503 names no SQL and no user data, and no log line has a value', async () => {
      const port = await freePort();
      const broken = await startSecretary({
        databaseUrl: `postgres://postgres@127.0.0.1:${port}/nowhere`,
        guesserUrl: harness.guesser.url,
        analystUrl: harness.analyst.url,
      });
      try {
        const res = await broken.analyze(
          { channel: 'email', username: 'secret_user_42', request: SECRET, message_id: uniqueMessageId() },
          { post: true },
        );
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('5');
        expect(res.body).toMatchObject({
          message: 'the database is unavailable; retry later',
          requestId: expect.any(String) as unknown,
        });
        const body = JSON.stringify(res.body);
        for (const leak of ['insert into', 'params', 'secretary.', '4509', 'secret_user_42'])
          expect(body).not.toContain(leak);
        // The log says why (the driver's code) but never a value.
        const logs = broken.logs.lines.join('\n');
        for (const leak of ['4509', 'Qwerty123', 'secret_user_42', 'params:'])
          expect(logs).not.toContain(leak);
        expect(logs).toContain('ECONNREFUSED');
      } finally {
        await broken.close();
      }
    });

    it('when a query fails for another reason, then the client gets a generic 500 and the log names the query without its values', async () => {
      await queryRows(
        harness.db.url,
        'ALTER TABLE secretary.requests RENAME COLUMN response TO response_gone',
      );
      const logsBefore = harness.secretary.logs.lines.length;
      try {
        const res = await harness.secretary.analyze(
          { channel: 'email', username: 'secret_user_43', request: SECRET, message_id: uniqueMessageId() },
          { post: true },
        );
        expect(res.status).toBe(500);
        expect(res.body.message).toBe('Internal server error');
        const logs = harness.secretary.logs.lines.slice(logsBefore).join('\n');
        for (const leak of ['4509', 'Qwerty123', 'secret_user_43', 'params:']) {
          expect(JSON.stringify(res.body)).not.toContain(leak);
          expect(logs).not.toContain(leak);
        }
        expect(logs).toMatch(/42703 column .*response.* does not exist/);
        expect(logs).toMatch(/\d+ parameter\(s\): \d+ string/);
      } finally {
        await queryRows(
          harness.db.url,
          'ALTER TABLE secretary.requests RENAME COLUMN response_gone TO response',
        );
      }
    });
  });
});
