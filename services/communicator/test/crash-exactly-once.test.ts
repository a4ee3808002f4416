import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  type Dovecot,
  queryRows,
  type SmtpSink,
  startDovecot,
  startSmtpSink,
  type TestDatabase,
  waitFor,
} from '@workemon/testkit';
import {
  type CommunicatorProcess,
  emailEnv,
  ensureBuilt,
  type FakeSecretary,
  mail,
  migrate,
  startCommunicator,
  startFakeSecretary,
} from './support.js';

const MAILS = 200;

describe('crash safety: SIGKILL at random points while 200 mails flow', () => {
  let dovecot: Dovecot;
  let sink: SmtpSink;
  let secretary: FakeSecretary;
  let db: TestDatabase;
  let communicator: CommunicatorProcess | undefined;

  beforeAll(async () => {
    ensureBuilt();
    [dovecot, sink, secretary, db] = await Promise.all([
      startDovecot(),
      startSmtpSink(),
      startFakeSecretary({ delayMs: 20 }),
      createTestDatabase('wm_comm_crash'),
    ]);
    migrate(db.url);
  }, 60_000);

  afterAll(async () => {
    await communicator?.kill('SIGKILL');
    await Promise.all([dovecot?.stop(), sink?.close(), secretary?.close()]);
    await db?.drop();
  });

  it('answers every mail exactly once (one distinct reply Message-ID per mail)', async () => {
    const env = {
      DATABASE_URL: db.url,
      SECRETARY_URL: secretary.url,
      ...emailEnv(dovecot, sink),
      IMAP_POLL_INTERVAL_MS: '500',
      COMMUNICATOR_LEASE_MS: '1500',
      COMMUNICATOR_CONCURRENCY: '8',
      // Every claim counts an attempt and a SIGKILL mid-flight uses one up (in production a message
      // that kills the process must end in quarantine). Here the kills are the test's, not the
      // mail's: 8 random kills could hit one mail three times, so the attempt limit is lifted.
      COMMUNICATOR_MAX_ATTEMPTS: '1000',
      MAIL_REPLY_RATE_PER_HOUR: '100000',
      LOG_LEVEL: 'warn',
    };
    dovecot.deliverMany(
      'support@example.test',
      Array.from({ length: MAILS / 2 }, (_, i) =>
        mail({
          from: `user${i % 17}@example.test`,
          subject: `вопрос ${i}`,
          body: `Текст вопроса номер ${i}`,
          messageId: `<crash-${i}@example.test>`,
        }),
      ),
    );
    let kills = 0;
    const deadline = Date.now() + 120_000;
    let delivered = MAILS / 2;
    while (Date.now() < deadline) {
      communicator = await startCommunicator(env);
      if (delivered < MAILS) {
        // The second half arrives while the service runs (and gets killed).
        const batch = Array.from({ length: 25 }, (_, k) => delivered + k).filter((i) => i < MAILS);
        for (const i of batch) {
          await dovecot.deliver(
            'support@example.test',
            mail({
              from: `user${i % 17}@example.test`,
              subject: `вопрос ${i}`,
              body: `Текст вопроса номер ${i}`,
              messageId: `<crash-${i}@example.test>`,
            }),
          );
        }
        delivered += batch.length;
      }
      const replied = await queryRows<{ n: number }>(
        db.url,
        `select count(*)::int as n from communicator.inbound where status = 'replied'`,
      );
      if (delivered >= MAILS && (replied[0]?.n ?? 0) >= MAILS) break;
      if (kills < 8) {
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 700));
        await communicator.kill('SIGKILL');
        kills += 1;
      } else {
        await waitFor(
          async () =>
            (
              await queryRows<{ n: number }>(
                db.url,
                `select count(*)::int as n from communicator.inbound where status = 'replied'`,
              )
            )[0]?.n === MAILS,
          60_000,
          200,
        );
        break;
      }
    }
    await waitFor(
      async () =>
        (
          await queryRows<{ n: number }>(
            db.url,
            `select count(*)::int as n from communicator.inbound where status = 'replied'`,
          )
        )[0]?.n === MAILS,
      60_000,
      200,
    );
    expect(kills).toBeGreaterThanOrEqual(4);
    const perMail = new Map<string, Set<string>>();
    for (const m of sink.messages) {
      const set = perMail.get(m.inReplyTo ?? '') ?? new Set<string>();
      set.add(m.messageId ?? '');
      perMail.set(m.inReplyTo ?? '', set);
    }
    const missing = Array.from({ length: MAILS }, (_, i) => `<crash-${i}@example.test>`).filter(
      (id) => !perMail.has(id),
    );
    expect(missing).toEqual([]);
    const answeredTwice = [...perMail].filter(([, ids]) => ids.size !== 1);
    expect(answeredTwice).toEqual([]);
    const resent = sink.messages.length - MAILS;
    // SMTP itself is at-least-once: a kill after the server stored a message but before our ledger
    // UPDATE (or before the 250 reached us) resends it with the same deterministic Message-ID, which
    // mail clients collapse. At most the in-flight rows of each killed process can be resent.
    console.log(
      `crash test: ${kills} kills, ${sink.messages.length} SMTP deliveries for ${MAILS} mails (${resent} same-id resends)`,
    );
    expect(resent).toBeLessThanOrEqual(kills * 8);
  }, 200_000);

  it('when a mail kills the process every time it is handled, then after 3 attempts it is quarantined and the rest flows', async () => {
    // The previous test's last instance (attempt limit lifted) must not pick this mail up.
    await communicator?.kill('SIGTERM');
    sink.clear();
    // The secretary holds the poison request; the test SIGKILLs the communicator the moment it
    // arrives, so the process never records a failure — only the claim counts the attempt.
    secretary.setDelay(5_000);
    const env = {
      DATABASE_URL: db.url,
      SECRETARY_URL: secretary.url,
      ...emailEnv(dovecot, sink),
      IMAP_POLL_INTERVAL_MS: '500',
      COMMUNICATOR_LEASE_MS: '800',
      COMMUNICATOR_MAX_ATTEMPTS: '3',
      LOG_LEVEL: 'warn',
    };
    await dovecot.deliver(
      'support@example.test',
      mail({ from: 'killer@example.test', subject: 'boom', body: 'KILLER', messageId: '<killer@x>' }),
    );
    const killerCalls = () => secretary.calls.filter((c) => c.message_id === '<killer@x>').length;
    for (let attempt = 1; attempt <= 3; attempt++) {
      communicator = await startCommunicator(env);
      await waitFor(() => killerCalls() >= attempt, 15_000, 20);
      await communicator.kill('SIGKILL');
    }
    secretary.setDelay(0);
    communicator = await startCommunicator(env);
    const [row] = await waitFor(async () => {
      const rows = await queryRows(
        db.url,
        `select status, attempts, last_error from communicator.inbound where external_id = '<killer@x>'`,
      );
      return rows[0]?.status === 'quarantined' ? rows : undefined;
    }, 15_000);
    expect(row).toEqual({
      status: 'quarantined',
      attempts: 3,
      last_error: 'gave up after 3 attempts (last error: process died while handling)',
    });
    expect(killerCalls()).toBe(3);
    await dovecot.deliver(
      'support@example.test',
      mail({
        from: 'next@example.test',
        subject: 'после',
        body: 'обычный вопрос',
        messageId: '<after-killer@x>',
      }),
    );
    const replies = await sink.waitForCount(1, 15_000);
    expect(replies.map((m) => m.inReplyTo)).toEqual(['<after-killer@x>']);
  }, 60_000);
});
