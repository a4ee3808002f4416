import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  type Dovecot,
  type FakeLlm,
  type FakeTelegram,
  fakeLlmEnv,
  migrateService,
  queryRows,
  type ServiceProcess,
  type SmtpSink,
  startDovecot,
  startFakeLlm,
  startFakeTelegram,
  startServiceProcess,
  startSmtpSink,
  type TestDatabase,
  waitFor,
} from '@workemon/testkit';
import {
  type CommunicatorProcess,
  emailEnv,
  ensureBuilt,
  mail,
  migrate,
  REPO_ROOT,
  SERVICE_TOKEN,
  startCommunicator,
} from './support.js';

const serviceDir = (service: string) => join(REPO_ROOT, 'services', service);
const meshBuilt =
  ['secretary', 'guesser', 'system-analyst'].every((s) =>
    existsSync(join(serviceDir(s), 'dist', 'main.js')),
  ) && existsSync(join(serviceDir('secretary'), 'dist', 'migrate.js'));

/** The whole mesh as processes from their dist: a test never imports another service's source. */
describe.skipIf(!meshBuilt)(
  'end-to-end: real secretary, guesser, analyst (fake LLM) with Dovecot, SMTP sink, fake Telegram',
  () => {
    let dovecot: Dovecot;
    let sink: SmtpSink;
    let llm: FakeLlm;
    let tg: FakeTelegram;
    let db: TestDatabase;
    let communicator: CommunicatorProcess;

    const children: ServiceProcess[] = [];
    const startService = async (service: string, env: Record<string, string>) => {
      const child = await startServiceProcess({
        dir: serviceDir(service),
        env: { SERVICE_TOKEN, API_KEYS: SERVICE_TOKEN, LOG_LEVEL: 'warn', ...env },
        readyTimeoutMs: 20_000,
      });
      children.push(child);
      return child.url;
    };

    beforeAll(async () => {
      ensureBuilt();
      [dovecot, sink, llm, tg, db] = await Promise.all([
        startDovecot(),
        startSmtpSink(),
        startFakeLlm(),
        startFakeTelegram(),
        createTestDatabase('wm_comm_e2e'),
      ]);
      migrateService(serviceDir('secretary'), db.url);
      migrate(db.url);
      const llmEnv = fakeLlmEnv(llm);
      const [guesser, analyst] = await Promise.all([
        startService('guesser', llmEnv),
        startService('system-analyst', llmEnv),
      ]);
      const secretary = await startService('secretary', {
        DATABASE_URL: db.url,
        GUESSER_URL: guesser,
        SYSTEM_ANALYST_URL: analyst,
      });
      communicator = await startCommunicator({
        DATABASE_URL: db.url,
        SECRETARY_URL: secretary,
        ...emailEnv(dovecot, sink),
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        TELEGRAM_POLL_TIMEOUT_S: '2',
      });
    }, 120_000);

    afterAll(async () => {
      await communicator?.kill();
      await Promise.all(children.map((child) => child.stop()));
      await Promise.all([dovecot?.stop(), sink?.close(), llm?.close(), tg?.close()]);
      await new Promise((r) => setTimeout(r, 300));
      await db?.drop();
    });

    it('a mail delivered to Dovecot comes back as a threaded reply, with the exchange in secretary.requests', async () => {
      await dovecot.deliver(
        'support@example.test',
        mail({
          from: 'Smirnov <smirnovanton@example.test>',
          subject: 'Аналитика',
          body: 'Я хочу получать аналитику о операциях наших кошельков',
          messageId: '<e2e-1@example.test>',
        }),
      );
      const [reply] = await sink.waitForCount(1, 30_000);
      expect(reply?.inReplyTo).toBe('<e2e-1@example.test>');
      expect(reply?.subject).toBe('Re: Аналитика');
      expect(reply?.text.trim().length).toBeGreaterThan(0);
      const rows = await queryRows(db.url, `select channel, username, message_id from secretary.requests`);
      expect(rows).toContainEqual(
        expect.objectContaining({
          channel: 'email',
          username: 'smirnovanton@example.test',
          message_id: '<e2e-1@example.test>',
        }),
      );
    }, 40_000);

    it('a Telegram update comes back as a sendMessage', async () => {
      tg.pushUpdate('Какие отчёты есть по кошелькам?');
      await waitFor(() => tg.sent.length >= 1, 30_000);
      expect(tg.sent[0]?.text.length).toBeGreaterThan(0);
      const rows = await queryRows(db.url, `select username from secretary.requests where channel = 'tg'`);
      expect(rows).toEqual([{ username: 'tg:1001' }]);
    }, 40_000);
  },
);
