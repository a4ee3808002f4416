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
      COMMUNICATOR_HEARTBEAT_MS: '500',
      COMMUNICATOR_CONCURRENCY: '8',
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
        ).catch(async (error: unknown) => {
          const rows = await queryRows(
            db.url,
            `select status, count(*)::int as n, min(last_error) as e, max(owner) as o, max(lease_until)::text as l, now()::text as now from communicator.inbound group by status`,
          );
          console.log(JSON.stringify(rows), communicator?.logs.slice(-30).join('\n'));
          throw error;
        });
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
    ).catch(async (error: unknown) => {
      const rows = await queryRows(
        db.url,
        `select status, count(*)::int as n, min(last_error) as e, max(owner) as o from communicator.inbound group by status`,
      );
      console.log(JSON.stringify(rows), communicator?.logs.slice(-30).join('\n'));
      throw error;
    });
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
    // The sink does not file mail into Dovecot's Sent, so the communicator appends each reply there
    // itself after the SMTP 250 (IMAP_SENT_APPEND): a kill between the two leaves no proof, and the
    // reply is resent with the same Message-ID (mail clients collapse it). Every such resend is
    // counted in the ledger, and no other resend happens.
    const [ambiguous] = await queryRows<{ n: number }>(
      db.url,
      `select coalesce(sum(ambiguous_sends), 0)::int as n from communicator.inbound where channel = 'email'`,
    );
    console.log(
      `crash test: ${kills} kills, ${sink.messages.length} SMTP deliveries for ${MAILS} mails (${resent} same-id resends, ${ambiguous?.n} counted ambiguous sends)`,
    );
    expect(resent).toBeLessThanOrEqual(ambiguous?.n ?? 0);
  }, 200_000);

  it('when a mail kills the process every time it is handled, then it ends up running alone, is quarantined after 3 crashes charged to it, and the rest flows', async () => {
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
      COMMUNICATOR_HEARTBEAT_MS: '200',
      COMMUNICATOR_MAX_ATTEMPTS: '3',
      LOG_LEVEL: 'warn',
    };
    await dovecot.deliver(
      'support@example.test',
      mail({ from: 'killer@example.test', subject: 'boom', body: 'KILLER', messageId: '<killer@x>' }),
    );
    const killerCalls = () => secretary.calls.filter((c) => c.message_id === '<killer@x>').length;
    // Crashes 1 and 2 are not charged (a row in flight at one crash is taken over with the normal
    // flow; at two it becomes a suspect and runs alone); each of the next three, while it ran
    // alone, is its own.
    for (let attempt = 1; attempt <= 5; attempt++) {
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
      last_error: 'gave up after 3 attempts (last: the process died while handling it alone)',
    });
    expect(killerCalls()).toBe(5);
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
