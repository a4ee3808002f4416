import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  type FakeTelegram,
  queryRows,
  startFakeTelegram,
  type TestDatabase,
  waitFor,
} from '@workemon/testkit';
import {
  type CommunicatorProcess,
  ensureBuilt,
  type FakeSecretary,
  migrate,
  startCommunicator,
  startFakeSecretary,
} from './support.js';

const SECRET = 'hook-secret_0123456789';

describe('telegram webhook mode (TELEGRAM_MODE=webhook)', () => {
  let tg: FakeTelegram;
  let secretary: FakeSecretary;
  let db: TestDatabase;
  let communicator: CommunicatorProcess;

  const post = (update: unknown, secret: string | null = SECRET) =>
    fetch(`${communicator.url}/telegram/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(secret === null ? {} : { 'x-telegram-bot-api-secret-token': secret }),
      },
      body: JSON.stringify(update),
    });

  beforeAll(async () => {
    ensureBuilt();
    [tg, secretary, db] = await Promise.all([
      startFakeTelegram(),
      startFakeSecretary(),
      createTestDatabase('wm_comm_hook'),
    ]);
    migrate(db.url);
    communicator = await startCommunicator({
      DATABASE_URL: db.url,
      SECRETARY_URL: secretary.url,
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      TELEGRAM_MODE: 'webhook',
      TELEGRAM_WEBHOOK_URL: 'https://bot.example.test/telegram/webhook',
      TELEGRAM_WEBHOOK_SECRET: SECRET,
    });
  }, 60_000);

  afterAll(async () => {
    await communicator?.kill();
    await Promise.all([tg?.close(), secretary?.close()]);
    await db?.drop();
  });

  it('when it starts, then it registers the webhook with its secret and never polls', async () => {
    await waitFor(() => tg.webhook !== undefined, 10_000);
    expect(tg.webhook).toEqual({ url: 'https://bot.example.test/telegram/webhook', secretToken: SECRET });
    await waitFor(async () => (await communicator.health()).checks.telegram?.status === 'ok', 10_000);
    expect(tg.calls.some((c) => c.method === 'getUpdates')).toBe(false);
  });

  it('when Telegram posts an update with the secret, then it is answered; the same update again is answered once', async () => {
    const update = { update_id: 70_001, ...tg.privateText('вопрос через вебхук') };
    const first = await post(update);
    expect(first.status).toBe(200);
    await waitFor(() => tg.sent.some((m) => m.text.includes('вопрос через вебхук')), 10_000);
    // Telegram redelivers when it misses our 200: the ledger absorbs the repeat.
    expect((await post(update)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    expect(tg.sent.filter((m) => m.text.includes('вопрос через вебхук'))).toEqual([
      expect.objectContaining({ chat_id: '1001', reply_to_message_id: update.message?.message_id }),
    ]);
    expect(secretary.calls.filter((c) => c.message_id === `1001:${update.message?.message_id}`)).toHaveLength(
      1,
    );
    const rows = await queryRows(db.url, `select status from communicator.inbound where external_id = $1`, [
      `1001:${update.message?.message_id}`,
    ]);
    expect(rows).toEqual([{ status: 'replied' }]);
  });

  it('when the secret token is wrong or missing, then 401 and nothing is recorded', async () => {
    const update = { update_id: 70_002, ...tg.privateText('подделка') };
    for (const secret of ['wrong-secret', null]) {
      const res = await post(update, secret);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'Unauthorized', statusCode: 401 });
    }
    const rows = await queryRows(db.url, `select 1 from communicator.inbound where external_id = $1`, [
      `1001:${update.message?.message_id}`,
    ]);
    expect(rows).toEqual([]);
    expect(secretary.calls.some((c) => c.request === 'подделка')).toBe(false);
  });
});
