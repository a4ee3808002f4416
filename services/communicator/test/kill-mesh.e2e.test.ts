import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  type Dovecot,
  type FakeLlm,
  type FakeTelegram,
  fakeLlmEnv,
  freePort,
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
  ensureServicesBuilt,
  mail,
  migrate,
  REPO_ROOT,
  SERVICE_TOKEN,
  startCommunicator,
} from './support.js';

/**
 * Crash safety of the whole mesh, proven by kills: every service is a real process (built dist),
 * on real Dovecot, an SMTP sink, a fake Bot API, a fast fake LLM and real PostgreSQL. The test
 * holds each child's PID and SIGKILLs it at random moments.
 *
 * The sink files every message it accepts into Dovecot's "Sent" before its 250, as Yandex files
 * what its SMTP server accepts: that is where the communicator looks for an interrupted reply
 * before sending it again (IMAP_SENT_APPEND=false, the production setting for Yandex).
 *
 * Messages arrive at a steady pace (ROUNDS × PER_ROUND mails and Telegram updates, one round every
 * ROUND_MS); the drain is the time from the first arrival until the last message is replied. The
 * same load runs once without kills (the baseline) and once with the kills.
 */
const USER = 'support@example.test';
const ROUNDS = 40;
const PER_ROUND = 5;
const ROUND_MS = 1_500;
const COMMUNICATOR_KILLS = 20;
const SECRETARY_KILLS = 10;
const TOTAL = ROUNDS * PER_ROUND;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const between = (min: number, max: number) => min + Math.random() * (max - min);

describe('crash safety under kills: 200 mails + 200 Telegram updates, 20 communicator and 10 secretary SIGKILLs', () => {
  let dovecot: Dovecot;
  let sink: SmtpSink;
  let llm: FakeLlm;
  let tg: FakeTelegram;
  let db: TestDatabase;
  const others: ServiceProcess[] = [];
  let guesserUrl = '';
  let analystUrl = '';
  let secretaryPort = 0;
  let secretary: ServiceProcess | undefined;
  let communicator: CommunicatorProcess | undefined;

  const spawnService = (service: string, port: number, env: Record<string, string>, waitReady = true) =>
    startServiceProcess({
      dir: join(REPO_ROOT, 'services', service),
      port,
      env: { SERVICE_TOKEN, API_KEYS: SERVICE_TOKEN, LOG_LEVEL: 'warn', ...env },
      waitReady,
      keepLogs: 200,
    });

  const startSecretary = (waitReady = true) =>
    spawnService(
      'secretary',
      secretaryPort,
      { DATABASE_URL: db.url, GUESSER_URL: guesserUrl, SYSTEM_ANALYST_URL: analystUrl },
      waitReady,
    );

  const communicatorEnv = () => ({
    DATABASE_URL: db.url,
    SECRETARY_URL: `http://127.0.0.1:${secretaryPort}`,
    ...emailEnv(dovecot, sink),
    IMAP_SENT_APPEND: 'false',
    TELEGRAM_BOT_TOKEN: tg.token,
    TELEGRAM_API_ROOT: tg.apiRoot,
    TELEGRAM_POLL_TIMEOUT_S: '1',
    TELEGRAM_LEADER_RETRY_MS: '300',
    MAIL_REPLY_RATE_PER_HOUR: '100000',
    LOG_LEVEL: 'warn',
    // Lease, heartbeat, attempts and retry backoff stay at their production defaults.
  });

  beforeAll(async () => {
    ensureBuilt();
    ensureServicesBuilt(['secretary', 'guesser', 'system-analyst']);
    [dovecot, llm, tg, db] = await Promise.all([
      startDovecot(),
      startFakeLlm({ delayMs: 20 }),
      startFakeTelegram({ maxPollSeconds: 1 }),
      createTestDatabase('wm_comm_kill'),
    ]);
    dovecot.doveadm('mailbox', 'create', '-u', USER, 'Sent');
    sink = await startSmtpSink({ fileInto: (raw) => dovecot.deliver(USER, raw, 'Sent') });
    migrateService(join(REPO_ROOT, 'services', 'secretary'), db.url);
    migrate(db.url);
    const llmEnv = fakeLlmEnv(llm);
    const [guesserPort, analystPort] = await Promise.all([freePort(), freePort()]);
    const [guesser, analyst] = await Promise.all([
      spawnService('guesser', guesserPort, llmEnv),
      spawnService('system-analyst', analystPort, llmEnv),
    ]);
    others.push(guesser, analyst);
    guesserUrl = `http://127.0.0.1:${guesserPort}`;
    analystUrl = `http://127.0.0.1:${analystPort}`;
    secretaryPort = await freePort();
    secretary = await startSecretary();
    communicator = await startCommunicator(communicatorEnv());
  }, 180_000);

  afterAll(async () => {
    await communicator?.kill('SIGKILL');
    await secretary?.kill('SIGKILL');
    await Promise.all(others.map((service) => service.stop()));
    await Promise.all([dovecot?.stop(), sink?.close(), llm?.close(), tg?.close()]);
    await db?.drop();
  });

  const repliedCount = async (tag: string) =>
    (
      await queryRows<{ n: number }>(
        db.url,
        `select count(*)::int as n from communicator.inbound
         where status = 'replied' and request_text like '%[${tag}]%'`,
      )
    )[0]?.n ?? 0;

  /**
   * Delivers the load at a steady pace; resolves with the Telegram message ids pushed. Each message
   * carries `[tag]` so one run's rows are told from the other's.
   */
  const deliverLoad = async (tag: string, userBase: number): Promise<number[]> => {
    const started = Date.now();
    const tgIds: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await sleep(Math.max(0, started + round * ROUND_MS - Date.now()));
      const raws = Array.from({ length: PER_ROUND }, (_, k) => {
        const i = round * PER_ROUND + k;
        return mail({
          from: `${tag}-${i}@example.test`,
          subject: `вопрос ${i}`,
          body: `Как получить отчёт по операциям кошелька? [${tag}] №${i}`,
          messageId: `<${tag}-${i}@example.test>`,
        });
      });
      await Promise.all(raws.map((raw) => dovecot.deliver(USER, raw)));
      for (let k = 0; k < PER_ROUND; k++) {
        const i = round * PER_ROUND + k;
        const update = tg.pushUpdate(
          tg.privateText(`Какие отчёты есть по кошелькам? [${tag}] №${i}`, userBase + i),
        );
        tgIds.push(update.message?.message_id ?? 0);
      }
    }
    return tgIds;
  };

  /** Replied counts every 5 s while draining ("+30s 214"): where the time went, for the report. */
  const timeline: string[] = [];

  /** Waits until all 2 × TOTAL messages of `tag` are replied; returns the seconds since `started`. */
  const drained = async (tag: string, started: number, timeoutMs: number): Promise<number> => {
    timeline.length = 0;
    let nextSample = 0;
    await waitFor(
      async () => {
        const n = await repliedCount(tag);
        const t = (Date.now() - started) / 1000;
        if (t >= nextSample) {
          timeline.push(`+${Math.round(t)}s ${n}`);
          nextSample = t + 5;
        }
        return n >= 2 * TOTAL;
      },
      timeoutMs,
      250,
    ).catch(async (error: unknown) => {
      const rows = await queryRows(
        db.url,
        `select channel, status, count(*)::int as n, max(last_error) as last_error from communicator.inbound
         where request_text like '%[${tag}]%' group by channel, status`,
      );
      throw new Error(`${(error as Error).message}: ${JSON.stringify(rows)}; ${timeline.join(', ')}`);
    });
    return (Date.now() - started) / 1000;
  };

  let baselineSeconds = 0;

  it('without kills: the load drains (the baseline)', async () => {
    const started = Date.now();
    await deliverLoad('base', 70_000);
    baselineSeconds = await drained('base', started, 120_000);
    console.log(
      `KILL TEST baseline: ${2 * TOTAL} messages drained in ${baselineSeconds.toFixed(1)} s without kills`,
    );
  }, 200_000);

  it('with 20 communicator SIGKILLs, then 10 secretary SIGKILLs: every message answered, no mail twice, Telegram resends only counted ones, nothing quarantined, drain within 1.5× the baseline', async () => {
    expect(baselineSeconds).toBeGreaterThan(0);
    sink.clear();
    const sentBefore = tg.sent.length;
    const started = Date.now();
    const load = deliverLoad('kill', 80_000);
    // Random moments within the arrival window: the communicator's 20 in its first two thirds,
    // then the secretary's 10. Each victim is replaced at once and killed at its moment wherever it
    // is (serving, or still booting).
    const window = ROUNDS * ROUND_MS;
    const moments = (n: number, from: number, to: number) =>
      Array.from({ length: n }, () => between(from, to)).sort((a, b) => a - b);
    let communicatorKills = 0;
    let secretaryKills = 0;
    for (const at of moments(COMMUNICATOR_KILLS, 1_000, window * 0.65)) {
      await sleep(Math.max(0, started + at - Date.now()));
      const victim = communicator;
      expect(victim?.child.exitCode).toBeNull();
      await victim?.kill('SIGKILL');
      communicatorKills += 1;
      communicator = await startCommunicator(communicatorEnv(), { waitReady: false });
    }
    for (const at of moments(SECRETARY_KILLS, window * 0.68, window * 0.95)) {
      await sleep(Math.max(0, started + at - Date.now()));
      const victim = secretary;
      expect(victim?.child.exitCode).toBeNull();
      await victim?.kill('SIGKILL');
      secretaryKills += 1;
      secretary = await startSecretary(false);
    }
    const killsOverAt = (Date.now() - started) / 1000;
    const tgIds = await load;
    const drainSeconds = await drained('kill', started, 150_000);

    // Mail: one reply per mail, counted in the sink (a resend would carry the same In-Reply-To).
    const perMail = new Map<string, number>();
    for (const m of sink.messages) perMail.set(m.inReplyTo ?? '', (perMail.get(m.inReplyTo ?? '') ?? 0) + 1);
    const mailIds = Array.from({ length: TOTAL }, (_, i) => `<kill-${i}@example.test>`);
    const mailsAnswered = mailIds.filter((id) => (perMail.get(id) ?? 0) > 0).length;
    const mailDuplicates = mailIds.reduce((n, id) => n + Math.max(0, (perMail.get(id) ?? 0) - 1), 0);

    // Telegram: replies to each update's message id; every extra one must be a counted ambiguous send.
    const perUpdate = new Map<number, number>();
    for (const s of tg.sent.slice(sentBefore))
      if (s.reply_to_message_id)
        perUpdate.set(s.reply_to_message_id, (perUpdate.get(s.reply_to_message_id) ?? 0) + 1);
    const tgAnswered = tgIds.filter((id) => (perUpdate.get(id) ?? 0) > 0).length;
    const tgDuplicates = tgIds.reduce((n, id) => n + Math.max(0, (perUpdate.get(id) ?? 0) - 1), 0);
    const [ledger] = await queryRows<{
      ambiguous_tg: number;
      ambiguous_email: number;
      quarantined: number;
      takeovers: number;
    }>(
      db.url,
      `select coalesce(sum(ambiguous_sends) filter (where channel = 'tg'), 0)::int as ambiguous_tg,
              coalesce(sum(ambiguous_sends) filter (where channel = 'email'), 0)::int as ambiguous_email,
              count(*) filter (where status = 'quarantined')::int as quarantined,
              coalesce(sum(crashes), 0)::int as takeovers
       from communicator.inbound where request_text like '%[kill]%'`,
    );
    const ratio = drainSeconds / baselineSeconds;
    console.log(
      `KILL TEST: ${communicatorKills} communicator + ${secretaryKills} secretary SIGKILLs; ` +
        `mail ${mailsAnswered}/${TOTAL} answered, ${mailDuplicates} duplicates; ` +
        `telegram ${tgAnswered}/${TOTAL} answered, ${tgDuplicates} duplicates, ${ledger?.ambiguous_tg} counted ambiguous sends; ` +
        `${ledger?.quarantined} quarantined; ${ledger?.takeovers} rows taken over from dead owners; ` +
        `drain ${drainSeconds.toFixed(1)} s vs ${baselineSeconds.toFixed(1)} s without kills (×${ratio.toFixed(2)}); ` +
        `last kill at +${killsOverAt.toFixed(0)} s; replied: ${timeline.join(', ')}`,
    );
    expect(communicatorKills).toBe(COMMUNICATOR_KILLS);
    expect(secretaryKills).toBe(SECRETARY_KILLS);
    expect(mailsAnswered).toBe(TOTAL);
    expect(mailDuplicates).toBe(0);
    expect(ledger?.ambiguous_email).toBe(0);
    expect(tgAnswered).toBe(TOTAL);
    expect(tgDuplicates).toBeLessThanOrEqual(ledger?.ambiguous_tg ?? 0);
    expect(ledger?.quarantined).toBe(0);
    expect(ratio).toBeLessThanOrEqual(1.5);
  }, 300_000);

  it('when a mail crashes the process whenever it is parsed, then it is quarantined after 3 crashes while parsed alone (4 in all) and no other message is', async () => {
    await communicator?.kill('SIGTERM');
    sink.clear();
    const marker = 'POISON-PARSE-7f3a';
    const env = {
      ...communicatorEnv(),
      COMMUNICATOR_TEST_CRASH_MARKER: marker,
      IMAP_POLL_INTERVAL_MS: '300',
    };
    const normal = (i: number) =>
      mail({
        from: `calm-${i}@example.test`,
        subject: `обычный ${i}`,
        body: `Обычный вопрос [calm] №${i}`,
        messageId: `<calm-${i}@example.test>`,
      });
    for (let i = 0; i < 3; i++) await dovecot.deliver(USER, normal(i));
    await dovecot.deliver(
      USER,
      mail({
        from: 'poison@example.test',
        subject: 'яд',
        body: `${marker} [poison]`,
        messageId: '<poison@example.test>',
      }),
    );
    for (let i = 3; i < 6; i++) await dovecot.deliver(USER, normal(i));

    const quarantinedBefore = await queryRows<{ id: number }>(
      db.url,
      `select id from communicator.inbound where status = 'quarantined'`,
    );
    let crashes = 0;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      let instance: CommunicatorProcess | undefined;
      try {
        instance = await startCommunicator(env);
      } catch {
        crashes += 1; // died before it answered /health/live
        continue;
      }
      communicator = instance;
      const outcome = await Promise.race([
        new Promise<'crashed'>((r) => instance.child.once('exit', () => r('crashed'))),
        waitFor(
          async () =>
            (
              await queryRows<{ n: number }>(
                db.url,
                `select count(*)::int as n from communicator.inbound where (external_id like 'sha256:%' and status = 'quarantined') or (request_text like '%[calm]%' and status = 'replied')`,
              )
            )[0]?.n === 7,
          60_000,
          200,
        ).then(() => 'done' as const),
      ]);
      if (outcome === 'done') break;
      crashes += 1;
    }
    const [poison] = await queryRows(
      db.url,
      `select status, last_error from communicator.inbound where external_id like 'sha256:%'`,
    );
    const quarantined = await queryRows<{ external_id: string }>(
      db.url,
      `select external_id from communicator.inbound where status = 'quarantined' and not (id = any($1))`,
      [quarantinedBefore.map((r) => r.id)],
    );
    const replies = await sink.waitForCount(6, 20_000);
    console.log(
      `POISON TEST: ${crashes} crashes; quarantined: ${quarantined.length}; calm mails replied: ${replies.length}`,
    );
    // The first crash hit it among the other six (not charged); then it was parsed alone 3 times.
    expect(crashes).toBe(4);
    expect(poison).toEqual({
      status: 'quarantined',
      last_error: 'the process died 3 times while parsing this mail: not parsed again',
    });
    expect(quarantined).toHaveLength(1);
    expect(replies.map((m) => m.inReplyTo).sort()).toEqual(
      Array.from({ length: 6 }, (_, i) => `<calm-${i}@example.test>`).sort(),
    );
  }, 150_000);
});
