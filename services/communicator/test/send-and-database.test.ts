import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  type Dovecot,
  type FakeTelegram,
  type SmtpSink,
  startDovecot,
  startFakeTelegram,
  startSmtpSink,
  type TestDatabase,
  waitFor,
} from '@workemon/testkit';
import {
  type CommunicatorProcess,
  emailEnv,
  ensureBuilt,
  type FakeSecretary,
  migrate,
  SERVICE_TOKEN,
  startCommunicator,
  startFakeSecretary,
} from './support.js';

/** A TCP relay in front of PostgreSQL that the test can cut (all sockets dropped) and restore. */
async function startDbRelay(target: URL) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    cut: async () => {
      await new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      });
    },
    restore: () => new Promise<void>((r) => server.listen(port, '127.0.0.1', r)),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('POST /send, and a database outage at runtime', () => {
  let dovecot: Dovecot;
  let sink: SmtpSink;
  let tg: FakeTelegram;
  let secretary: FakeSecretary;
  let db: TestDatabase;
  let relay: Awaited<ReturnType<typeof startDbRelay>>;
  let communicator: CommunicatorProcess;

  const send = (body: Record<string, unknown>, auth = true) =>
    fetch(`${communicator.url}/send`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(auth ? { authorization: `Bearer ${SERVICE_TOKEN}` } : {}),
      },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    ensureBuilt();
    [dovecot, sink, tg, secretary, db] = await Promise.all([
      startDovecot(),
      startSmtpSink(),
      startFakeTelegram(),
      startFakeSecretary(),
      createTestDatabase('wm_comm_send'),
    ]);
    migrate(db.url);
    const target = new URL(db.url);
    relay = await startDbRelay(target);
    const viaRelay = new URL(db.url);
    viaRelay.hostname = '127.0.0.1';
    viaRelay.port = String(relay.port);
    communicator = await startCommunicator({
      DATABASE_URL: viaRelay.toString(),
      SECRETARY_URL: secretary.url,
      ...emailEnv(dovecot, sink),
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      TELEGRAM_POLL_TIMEOUT_S: '1',
      TELEGRAM_LEADER_RETRY_MS: '300',
    });
  }, 60_000);

  afterAll(async () => {
    await communicator?.kill();
    await relay?.close().catch(() => undefined);
    await Promise.all([dovecot?.stop(), sink?.close(), tg?.close(), secretary?.close()]);
    await db?.drop();
  });

  it('when an email is sent twice with one idempotency key, then the sink gets it once and the repeat says duplicate', async () => {
    const body = {
      channel: 'email',
      to: 'bob@example.test',
      subject: 'Доступ выдан',
      text: 'Доступ к отчёту выдан.',
      idempotency_key: 'grant-42',
    };
    const first = await send(body);
    expect(first.status).toBe(200);
    const sent = (await first.json()) as Record<string, unknown>;
    expect(sent).toMatchObject({ status: 'sent', channel: 'email', idempotency_key: 'grant-42' });
    const [message] = await sink.waitForCount(1, 10_000);
    expect(message?.to).toEqual(['bob@example.test']);
    expect(message?.subject).toBe('Доступ выдан');
    expect(message?.text).toContain('Доступ к отчёту выдан.');
    expect(message?.messageId).toBe(sent.external_id);

    const again = await send(body);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ ...sent, status: 'duplicate' });
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.messages).toHaveLength(1);
  });

  it('when a Telegram message is sent twice with one idempotency key, then it goes out once', async () => {
    const body = { channel: 'tg', to: '1001', text: 'Заявка закрыта', idempotency_key: 'tg-7' };
    const first = await send(body);
    expect(first.status).toBe(200);
    const sent = (await first.json()) as Record<string, unknown>;
    expect(sent).toMatchObject({ status: 'sent', channel: 'tg' });
    expect(tg.sent.filter((m) => m.text === 'Заявка закрыта')).toEqual([
      expect.objectContaining({ chat_id: '1001', message_id: Number(sent.external_id) }),
    ]);
    expect(await (await send(body)).json()).toMatchObject({ status: 'duplicate' });
    expect(tg.sent.filter((m) => m.text === 'Заявка закрыта')).toHaveLength(1);
  });

  it('when a parameter is bad, then 400 names it; without the bearer token, then 401', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ channel: 'fax', to: 'x', text: 't', idempotency_key: 'k' }, 'channel'],
      [{ channel: 'email', to: 'a@example.test', idempotency_key: 'k' }, 'text'],
      [{ channel: 'email', to: 'a@example.test', text: 't' }, 'idempotency_key'],
      [{ channel: 'email', to: 'not-an-address', text: 't', idempotency_key: 'k-bad-to' }, "'to'"],
    ];
    for (const [body, param] of cases) {
      const res = await send(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = (await res.json()) as { error: string; message: string; statusCode: number };
      expect(error).toMatchObject({ error: 'Bad Request', statusCode: 400 });
      expect(error.message).toContain(param);
    }
    const anonymous = await send({ channel: 'tg', to: '1001', text: 't', idempotency_key: 'anon' }, false);
    expect(anonymous.status).toBe(401);
    expect(tg.sent.filter((m) => m.text === 't')).toHaveLength(0);
  });

  it('when PostgreSQL becomes unreachable, then the process stays up, /health says database down, and recovers after', async () => {
    await relay.cut();
    await waitFor(
      async () => {
        const res = await fetch(`${communicator.url}/health`);
        const health = (await res.json()) as { status: string; checks: Record<string, { status: string }> };
        return res.status === 503 && health.status === 'down' && health.checks.database?.status === 'down';
      },
      15_000,
      200,
    );
    // Idle pool clients and the Telegram lock connection lost their sockets: nobody crashed.
    await new Promise((r) => setTimeout(r, 1000));
    expect(communicator.child.exitCode).toBeNull();
    expect(
      (await send({ channel: 'tg', to: '1001', text: 'во время аварии', idempotency_key: 'db-1' })).status,
    ).toBeGreaterThanOrEqual(500);

    await relay.restore();
    await waitFor(async () => (await communicator.health()).checks.database?.status === 'ok', 15_000, 200);
    const res = await send({ channel: 'tg', to: '1001', text: 'после аварии', idempotency_key: 'db-2' });
    expect(res.status).toBe(200);
    expect(communicator.child.exitCode).toBeNull();
  }, 40_000);
});
