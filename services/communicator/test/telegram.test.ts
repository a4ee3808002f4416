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

describe('telegram: fake Bot API → communicator → secretary → sendMessage', () => {
  let tg: FakeTelegram;
  let secretary: FakeSecretary;
  let db: TestDatabase;
  let communicator: CommunicatorProcess;
  const env = () => ({
    DATABASE_URL: db.url,
    SECRETARY_URL: secretary.url,
    TELEGRAM_BOT_TOKEN: tg.token,
    TELEGRAM_API_ROOT: tg.apiRoot,
    TELEGRAM_POLL_TIMEOUT_S: '2',
    TELEGRAM_LEADER_RETRY_MS: '300',
    COMMUNICATOR_LEASE_MS: '3000',
  });

  beforeAll(async () => {
    ensureBuilt();
    [tg, secretary, db] = await Promise.all([
      startFakeTelegram(),
      startFakeSecretary(),
      createTestDatabase('wm_comm_tg'),
    ]);
    migrate(db.url);
    // A Bot API peer that refuses deleteWebhook must not keep polling from starting.
    tg.failNext('deleteWebhook', 1, 404);
    communicator = await startCommunicator(env());
  }, 60_000);

  afterAll(async () => {
    await communicator?.kill();
    await Promise.all([tg?.close(), secretary?.close()]);
    await db?.drop();
  });

  it('answers a private message (typing… first) and keys the user as tg:<id>, although deleteWebhook failed', async () => {
    const update = tg.pushUpdate('Нужен отчёт по продажам');
    await waitFor(() => tg.sent.length >= 1, 10_000);
    expect(tg.sent[0]).toMatchObject({ chat_id: '1001', reply_to_message_id: update.message?.message_id });
    expect(tg.sent[0]?.text).toContain('Нужен отчёт по продажам');
    expect(tg.chatActions.some((a) => a.action === 'typing')).toBe(true);
    expect(secretary.calls.at(-1)).toMatchObject({
      channel: 'tg',
      username: 'tg:1001',
      message_id: `1001:${update.message?.message_id}`,
    });
    expect((await communicator.health()).checks.telegram).toMatchObject({ status: 'ok' });
    expect(tg.calls.filter((c) => c.method === 'deleteWebhook')).toHaveLength(1);
  });

  it('/start and /help answer without the secretary', async () => {
    const before = secretary.calls.length;
    tg.sent.length = 0;
    tg.pushUpdate('/start');
    await waitFor(() => tg.sent.length >= 1, 10_000);
    expect(tg.sent[0]?.text).toContain('Workemon');
    expect(secretary.calls.length).toBe(before);
  });

  it('ignores group chatter unless the bot is mentioned', async () => {
    tg.sent.length = 0;
    const group = { id: -500, type: 'group' as const, title: 'team' };
    const from = { id: 2002, is_bot: false, first_name: 'Ann' };
    tg.pushUpdate({ message: { message_id: 9001, date: 0, chat: group, from, text: 'просто болтаем' } });
    tg.pushUpdate({
      message: { message_id: 9002, date: 0, chat: group, from, text: `@${tg.bot.username} где отчёт?` },
    });
    await waitFor(() => tg.sent.length >= 1, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(tg.sent).toHaveLength(1);
    expect(tg.sent[0]?.chat_id).toBe('-500');
    expect(secretary.calls.at(-1)?.request).toBe('где отчёт?');
  });

  it('splits a 10 000-char answer at 4096 in order, and honours 429 retry_after', async () => {
    tg.sent.length = 0;
    const long = Array.from({ length: 1000 }, (_, i) => `w${String(i).padStart(4, '0')}-xxx`).join(' ');
    expect(long.length).toBeGreaterThan(9_000);
    secretary.respond((call) => ({
      is_enough: true,
      request: call.request,
      action: 'ответить сообщением',
      question: '',
      response: long,
    }));
    tg.failNext('sendMessage', 1, 429, 1);
    const started = Date.now();
    tg.pushUpdate('дай длинный ответ');
    await waitFor(() => tg.sent.length >= 3, 15_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(tg.sent.every((m) => m.text.length <= 4096)).toBe(true);
    expect(tg.sent.map((m) => m.text).join(' ')).toBe(long);
  });

  it('processes an update exactly once across a restart', async () => {
    tg.sent.length = 0;
    secretary.respond((call) => ({
      is_enough: true,
      request: call.request,
      action: 'ответить сообщением',
      question: '',
      response: `ok ${call.request}`,
    }));
    await communicator.kill('SIGTERM');
    const update = tg.pushUpdate('пока бот перезапускался');
    communicator = await startCommunicator(env());
    await waitFor(() => tg.sent.length >= 1, 10_000);
    await new Promise((r) => setTimeout(r, 2500));
    expect(tg.sent.filter((m) => m.text === 'ok пока бот перезапускался')).toHaveLength(1);
    const rows = await queryRows(db.url, `select status from communicator.inbound where external_id = $1`, [
      `1001:${update.message?.message_id}`,
    ]);
    expect(rows).toEqual([{ status: 'replied' }]);
    const checkpoint = await queryRows(
      db.url,
      `select last_uid from communicator.checkpoints where key like 'tg:%'`,
    );
    expect(Number(checkpoint[0]?.last_uid)).toBe(update.update_id);
  }, 30_000);

  it('two replicas: one poller (advisory lock, no 409); the standby takes over when the leader dies', async () => {
    tg.sent.length = 0;
    const second = await startCommunicator(env());
    try {
      await new Promise((r) => setTimeout(r, 3000));
      expect(tg.conflicts).toBe(0);
      const roles = [
        (await communicator.health()).checks.telegram?.detail ?? '',
        (await second.health()).checks.telegram?.detail ?? '',
      ];
      expect(roles.filter((d) => d.startsWith('leader'))).toHaveLength(1);
      expect(roles.filter((d) => d.startsWith('standby'))).toHaveLength(1);
      const leader = roles[0]?.startsWith('leader') ? communicator : second;
      const standby = leader === communicator ? second : communicator;
      await leader.kill('SIGKILL');
      tg.pushUpdate('после смены лидера');
      await waitFor(() => tg.sent.some((m) => m.text === 'ok после смены лидера'), 15_000);
      expect((await standby.health()).checks.telegram?.detail).toMatch(/^leader/);
      communicator = standby;
    } finally {
      if (second !== communicator) await second.kill();
    }
  }, 40_000);
});
