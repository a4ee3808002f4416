import { queryRows, waitFor } from '@workemon/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabase, DATABASE_KINDS, type MigratedDatabase } from './support/database-kinds.js';
import {
  analystAnswer,
  enoughContext,
  startFakeUpstream,
  type FakeUpstream,
} from './support/fake-upstream.js';
import {
  type RunningSecretary,
  startSecretary,
  startSecretaryHarness,
  uniqueMessageId,
  uniqueUsername,
} from './support/secretary.js';

/** Owned, heartbeated exchanges and follow-ups: a dead owner's work is taken over in seconds. */
describe.each(DATABASE_KINDS)('secretary exchange ownership on %s', (kind) => {
  let harness: {
    db: MigratedDatabase;
    guesser: FakeUpstream;
    analyst: FakeUpstream;
    secretary: RunningSecretary;
    reset(): void;
  };

  beforeAll(async () => {
    const db = await createMigratedDatabase(kind, 'secretary_ownership');
    const guesser = await startFakeUpstream(() => enoughContext());
    const analyst = await startFakeUpstream(() => analystAnswer());
    const secretary = await startSecretary({
      databaseUrl: db.url,
      guesserUrl: guesser.url,
      analystUrl: analyst.url,
      // Short beats so the tests run in seconds; the defaults are 3 s and 10 s.
      env: { HEARTBEAT_INTERVAL_MS: '200', OWNER_TIMEOUT_MS: '1500', UPSTREAM_TIMEOUT_MS: '6000' },
    });
    harness = {
      db,
      guesser,
      analyst,
      secretary,
      reset: () => {
        guesser.reset();
        analyst.reset();
      },
    };
  });
  afterEach(() => harness.reset());
  afterAll(async () => {
    await harness?.secretary.close();
    await harness?.guesser.close();
    await harness?.analyst.close();
    await harness?.db.close();
  });

  const rowsFor = (messageId: string) =>
    queryRows<{ id: string; status: string; error: string | null; owner: string | null }>(
      harness.db.url,
      'SELECT id, status, error, owner FROM secretary.requests WHERE message_id = $1 ORDER BY id',
      [messageId],
    );

  const insertPending = async (p: {
    username: string;
    text: string;
    messageId: string;
    owner: string;
    silentSeconds: number;
  }) => {
    const rows = await queryRows<{ id: string }>(
      harness.db.url,
      `INSERT INTO secretary.requests (channel, username, message_id, text, status, owner, heartbeat_at)
       VALUES ('email', $1, $2, $3, 'pending', $4, now() - $5 * interval '1 second') RETURNING id`,
      [p.username, p.messageId, p.text, p.owner, p.silentSeconds],
    );
    return rows[0]!.id;
  };

  const metricValue = async (line: RegExp) => {
    const text = await fetch(`${harness.secretary.url}/metrics`).then((r) => r.text());
    const match = text.split('\n').find((l) => line.test(l));
    return match ? Number(match.split(' ').pop()) : undefined;
  };

  it("when a pending exchange's owner stopped heartbeating, then a retry of its message_id takes it over at once and answers", async () => {
    const username = uniqueUsername('takeover');
    const messageId = uniqueMessageId();
    const request = 'Нужен доступ к отчёту по кошелькам';
    await insertPending({ username, text: request, messageId, owner: 'crashed-instance', silentSeconds: 30 });

    const res = await harness.secretary.analyze(
      { channel: 'email', username, request, message_id: messageId },
      { post: true },
    );

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ is_enough: true, replayed: false });
    const rows = await rowsFor(messageId);
    expect(rows.map((r) => r.status)).toEqual(['failed', 'completed']);
    expect(rows[0]!.error).toContain('crashed-instance');
    expect(rows[0]!.error).toContain('stopped heartbeating');
    expect(rows[1]!.owner).toBe(harness.secretary.owner);
    // The retry or the sweep (it runs every heartbeat) got there first: either way, in seconds.
    const takeovers =
      ((await metricValue(/^exchange_takeovers_total\{by="retry"/)) ?? 0) +
      ((await metricValue(/^exchange_takeovers_total\{by="sweep"/)) ?? 0);
    expect(takeovers).toBeGreaterThanOrEqual(1);
    const takeover = harness.secretary.logs
      .records()
      .find(
        (l) =>
          (l.event as { action?: string } | undefined)?.action === 'exchange-takeover' &&
          (l.labels as { previous_owner?: string } | undefined)?.previous_owner === 'crashed-instance',
      );
    expect(takeover).toBeDefined();
  });

  it('when the owner is alive and slow, then its heartbeat keeps the exchange; a duplicate waits for its answer without burning sequence ids', async () => {
    const username = uniqueUsername('alive');
    const messageId = uniqueMessageId();
    const request = 'Какие операции доступны в кабинете?';
    // Longer than OWNER_TIMEOUT_MS: without heartbeats the duplicate would take the exchange over.
    harness.guesser.enqueue({ ...enoughContext(), delayMs: 3_000 });
    const [seqBefore] = await queryRows<{ last_value: string }>(
      harness.db.url,
      'SELECT last_value FROM secretary.requests_id_seq',
    );
    const params = { channel: 'email', username, request, message_id: messageId };
    const first = harness.secretary.analyze(params, { post: true });
    await waitFor(async () => (await rowsFor(messageId)).length === 1, 5_000);
    const duplicate = await harness.secretary.analyze(params, { post: true });
    const original = await first;

    expect(original.status).toBe(200);
    expect(original.body.replayed).toBe(false);
    expect(duplicate.status).toBe(200);
    expect(duplicate.body).toMatchObject({ replayed: true, response: original.body.response });
    expect(harness.guesser.calls).toHaveLength(1);
    const [seqAfter] = await queryRows<{ last_value: string }>(
      harness.db.url,
      'SELECT last_value FROM secretary.requests_id_seq',
    );
    // The claim and at most one insert attempt of the duplicate (a polling insert burnt ~10 per second).
    expect(Number(seqAfter!.last_value) - Number(seqBefore!.last_value)).toBeLessThanOrEqual(2);
    expect((await rowsFor(messageId)).map((r) => r.status)).toEqual(['completed']);
  });

  it("when nobody retries a dead owner's exchange, then the sweep finishes it as failed, visible in /history with its reason", async () => {
    const username = uniqueUsername('sweep');
    const messageId = uniqueMessageId();
    const liveMessageId = uniqueMessageId();
    const liveId = await insertPending({
      username,
      text: 'в работе',
      messageId: liveMessageId,
      owner: 'some-live-replica',
      silentSeconds: 0,
    });

    const pending = await harness.secretary.call(`/history?username=${username}&status=pending`);
    expect(pending.status).toBe(200);
    expect(pending.body.items).toEqual([
      expect.objectContaining({ id: liveId, status: 'pending', message_id: liveMessageId }),
    ]);

    const deadId = await insertPending({
      username,
      text: 'оборвалось',
      messageId,
      owner: 'dead-replica',
      silentSeconds: 60,
    });
    await waitFor(async () => (await rowsFor(messageId))[0]?.status === 'failed', 5_000);
    const failed = await harness.secretary.call(`/history?username=${username}&status=failed`);
    expect(failed.body.items).toEqual([
      expect.objectContaining({
        id: deadId,
        status: 'failed',
        error: expect.stringContaining('dead-replica') as unknown,
      }),
    ]);
    expect(await metricValue(/^exchange_takeovers_total\{by="sweep"/)).toBeGreaterThanOrEqual(1);
    expect(await metricValue(/^exchanges_pending[ {]/)).toBeGreaterThanOrEqual(0);
    const bad = await harness.secretary.call('/history?status=lost');
    expect(bad.status).toBe(400);
    expect(String(bad.body.message)).toContain("'status'");
  });
});

describe('secretary follow-up ownership', () => {
  it('when the instance working on a follow-up dies mid-call, then another instance takes it over within seconds and it is sent once more under the same key', async () => {
    const communicator: FakeUpstream = await startFakeUpstream((call) => ({
      body: { status: 'sent', channel: 'tg', idempotency_key: call.body.idempotency_key, external_id: '1:1' },
    }));
    // The first instance's /send never answers: it "dies" holding the row.
    communicator.enqueue({ hang: true });
    const env = {
      SERVICE_TOKEN: 'follow-up-ownership-token-0123456789',
      COMMUNICATOR_URL: communicator.url,
      ESCALATION_TELEGRAM_CHAT_ID: '-100555',
      HEARTBEAT_INTERVAL_MS: '200',
      OWNER_TIMEOUT_MS: '1500',
      UPSTREAM_TIMEOUT_MS: '60000',
    };
    const harness = await startSecretaryHarness({
      databasePrefix: 'secretary_fu_ownership',
      env,
      followUps: { sweepIntervalMs: 200, retryBaseMs: 100 },
    });
    let second: Awaited<ReturnType<typeof startSecretary>> | undefined;
    try {
      const [request] = await queryRows<{ id: string }>(
        harness.db.url,
        `INSERT INTO secretary.requests (channel, username, text, status) VALUES ('tg', 'u', 't', 'completed') RETURNING id`,
      );
      await queryRows(
        harness.db.url,
        `INSERT INTO secretary.follow_ups (request_id, kind, payload) VALUES ($1, 'escalation', $2)`,
        [
          request!.id,
          JSON.stringify({
            channel: 'tg',
            to: '-100555',
            text: 'Нужен сотрудник',
            idempotencyKey: 'escalation:fixed-key',
          }),
        ],
      );
      harness.secretary.followUpWorker!.kick();
      await waitFor(() => communicator.calls.some((c) => c.path === '/send'), 5_000);
      const [leased] = await queryRows<{ owner: string }>(
        harness.db.url,
        'SELECT owner FROM secretary.follow_ups',
      );
      expect(leased!.owner).toBe(harness.secretary.owner);
      // Dies: its worker stops (no more heartbeats) with the call still hanging.
      await harness.secretary.followUpWorker!.stop(0);

      second = await startSecretary({
        databaseUrl: harness.db.url,
        guesserUrl: harness.guesser.url,
        analystUrl: harness.analyst.url,
        env,
        followUps: { sweepIntervalMs: 200, retryBaseMs: 100 },
      });
      await waitFor(async () => {
        const [row] = await queryRows<{ status: string }>(
          harness.db.url,
          'SELECT status FROM secretary.follow_ups',
        );
        return row?.status === 'done';
      }, 10_000);
      const sends = communicator.calls.filter((c) => c.path === '/send');
      expect(sends).toHaveLength(2);
      expect(new Set(sends.map((s) => s.body.idempotency_key))).toEqual(new Set(['escalation:fixed-key']));
      const metrics = await fetch(`${second.url}/metrics`).then((r) => r.text());
      expect(metrics).toMatch(/^follow_up_takeovers_total\{kind="escalation"[^}]*\} 1$/m);
    } finally {
      await second?.close();
      await harness.close();
      await communicator.close();
    }
  });
});
