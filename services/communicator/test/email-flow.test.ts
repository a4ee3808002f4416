import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dovecot, queryRows, type SmtpSink, type TestDatabase, waitFor } from '@workemon/testkit';
import {
  type CommunicatorProcess,
  emailEnv,
  type FakeSecretary,
  mail,
  SERVICE_TOKEN,
  startCommunicator,
  startMailPeers,
  stopMailPeers,
} from './support.js';

describe('email: Dovecot → communicator → secretary → SMTP sink', () => {
  let dovecot: Dovecot;
  let sink: SmtpSink;
  let secretary: FakeSecretary;
  let db: TestDatabase;
  let communicator: CommunicatorProcess;

  beforeAll(async () => {
    ({ dovecot, sink, secretary, db } = await startMailPeers('wm_comm_mail'));
    communicator = await startCommunicator({
      DATABASE_URL: db.url,
      SECRETARY_URL: secretary.url,
      ...emailEnv(dovecot, sink),
    });
  }, 90_000);

  afterAll(() => stopMailPeers({ dovecot, sink, secretary, db }, communicator));

  it('answers a mail with a threaded reply, then flags it \\Seen', async () => {
    await dovecot.deliver(
      'support@example.test',
      mail({
        from: 'Иван Петров <Ivan.Petrov@Example.test>',
        subject: 'Нужна аналитика по кошелькам',
        body: 'Здравствуйте!\nХочу получать аналитику по операциям кошельков.\n\nС уважением,\nИван',
        messageId: '<q1@example.test>',
        headers: { References: '<q0@example.test>' },
      }),
    );
    const [reply] = await sink.waitForCount(1, 20_000);
    expect(reply?.to).toEqual(['ivan.petrov@example.test']);
    expect(reply?.subject).toBe('Re: Нужна аналитика по кошелькам');
    expect(reply?.inReplyTo).toBe('<q1@example.test>');
    expect(reply?.references).toEqual(['<q0@example.test>', '<q1@example.test>']);
    expect(reply?.headers.get('auto-submitted')).toBe('auto-replied');
    expect(reply?.messageId).toMatch(/^<wm-reply-\d+-[0-9a-f]{16}@example\.test>$/);
    expect(reply?.html).toContain('<p>');
    expect(reply?.text).toContain('Ответ для ivan.petrov@example.test');

    const call = secretary.calls.find((c) => c.message_id === '<q1@example.test>');
    expect(call).toMatchObject({ channel: 'email', username: 'ivan.petrov@example.test' });
    expect(call?.authorization).toBe(`Bearer ${SERVICE_TOKEN}`);
    expect(call?.request).toContain('Хочу получать аналитику');
    expect(call?.request).not.toContain('С уважением');

    await waitFor(async () => {
      const rows = await queryRows(
        db.url,
        `select status, seen_at from communicator.inbound where external_id = $1`,
        ['<q1@example.test>'],
      );
      return rows[0]?.status === 'replied' && rows[0]?.seen_at !== null;
    }, 10_000);
    const imap = new ImapFlow({
      host: dovecot.host,
      port: dovecot.port,
      secure: false,
      auth: { user: 'support@example.test', pass: 'secret' },
      tls: { rejectUnauthorized: false },
      logger: false,
    });
    imap.on('error', () => undefined);
    await imap.connect();
    await imap.mailboxOpen('INBOX');
    const seen = await imap.search({ seen: true }, { uid: true });
    await imap.logout();
    expect(seen).toHaveLength(1);
  });

  it('never answers the same Message-ID twice, and skips auto-replies, lists and bounces', async () => {
    sink.clear();
    const again = mail({
      from: 'ivan.petrov@example.test',
      subject: 'dup',
      body: 'повтор',
      messageId: '<q1@example.test>',
    });
    await dovecot.deliver('support@example.test', again);
    await dovecot.deliver(
      'support@example.test',
      mail({
        from: 'boss@example.test',
        subject: 'Out of office',
        body: 'I am away',
        messageId: '<ooo@x>',
        headers: { 'Auto-Submitted': 'auto-replied' },
      }),
    );
    await dovecot.deliver(
      'support@example.test',
      mail({
        from: 'news@example.test',
        subject: 'Digest',
        body: 'news',
        messageId: '<list@x>',
        headers: { 'List-Id': '<news.example.test>' },
      }),
    );
    await dovecot.deliver(
      'support@example.test',
      mail({
        from: 'MAILER-DAEMON@example.test',
        subject: 'Undelivered',
        body: 'bounce',
        messageId: '<bounce@x>',
      }),
    );
    await dovecot.deliver(
      'support@example.test',
      mail({ from: 'real@example.test', subject: 'Вопрос', body: 'Где отчёт?', messageId: '<real@x>' }),
    );
    await sink.waitForCount(1, 20_000);
    await waitFor(async () => {
      const rows = await queryRows(
        db.url,
        `select count(*)::int as n from communicator.inbound where status = 'skipped'`,
      );
      return rows[0]?.n === 3;
    }, 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(sink.messages.map((m) => m.inReplyTo)).toEqual(['<real@x>']);
    const skipped = await queryRows(
      db.url,
      `select external_id, last_error from communicator.inbound where status = 'skipped' order by id`,
    );
    expect(skipped.map((r) => r.last_error)).toEqual([
      'auto-submitted: auto-replied',
      'mailing list (List-Id)',
      'bounce (mailer-daemon)',
    ]);
  });

  it('quarantines a poison message after 3 attempts without blocking others', async () => {
    sink.clear();
    secretary.respond((call) =>
      call.request.includes('POISON')
        ? 500
        : {
            is_enough: false,
            request: call.request,
            action: 'уточнить',
            question: 'Уточните период?',
            response: '',
          },
    );
    await dovecot.deliver(
      'support@example.test',
      mail({ from: 'p@example.test', subject: 'x', body: 'POISON', messageId: '<poison@x>' }),
    );
    await dovecot.deliver(
      'support@example.test',
      mail({ from: 'ok@example.test', subject: 'y', body: 'нормальный', messageId: '<ok@x>' }),
    );
    const [reply] = await sink.waitForCount(1, 20_000);
    expect(reply?.inReplyTo).toBe('<ok@x>');
    expect(reply?.text.trim()).toBe('Уточните период?');
    await waitFor(async () => {
      const rows = await queryRows(
        db.url,
        `select status, attempts, last_error from communicator.inbound where external_id = '<poison@x>'`,
      );
      return rows[0]?.status === 'quarantined' ? rows[0] : undefined;
    }, 30_000);
  }, 40_000);

  it('reconnects after the IMAP server restarts: /health degraded, then ok, nothing lost', async () => {
    sink.clear();
    secretary.respond((call) => ({
      is_enough: true,
      request: call.request,
      action: 'ответить на письмо',
      question: '',
      response: 'ok',
    }));
    expect((await communicator.health()).checks.imap?.status).toBe('ok');
    await dovecot.stopServer();
    await waitFor(async () => (await communicator.health()).checks.imap?.status === 'degraded', 10_000, 100);
    expect((await communicator.health()).status).toBe('degraded');
    // Mail that arrives while the server is down is stored in the Maildir and must be answered later.
    dovecot.deliverMany('support@example.test', [
      mail({
        from: 'late@example.test',
        subject: 'during outage',
        body: 'пока сервер лежал',
        messageId: '<late@x>',
      }),
    ]);
    await dovecot.start();
    await waitFor(async () => (await communicator.health()).checks.imap?.status === 'ok', 20_000, 100);
    const [reply] = await sink.waitForCount(1, 20_000);
    expect(reply?.inReplyTo).toBe('<late@x>');
  }, 60_000);

  it('when the mailbox UIDVALIDITY changes, then it resyncs from the start and answers only mail it has not answered', async () => {
    sink.clear();
    const [before] = await queryRows<{ uidvalidity: string }>(
      db.url,
      `select uidvalidity from communicator.checkpoints where key like 'imap:%'`,
    );
    const oldValidity = Number(before?.uidvalidity);
    const answeredBefore = secretary.calls.length;
    // The server loses its index (restore from backup, migration): same messages, new UIDVALIDITY,
    // and connections drop (doveadm needs the running server for its user lookup, then a restart).
    dovecot.doveadm(
      'mailbox',
      'update',
      '-u',
      'support@example.test',
      '--uid-validity',
      String(oldValidity + 1000),
      'INBOX',
    );
    await dovecot.restart();
    // An already-answered message arrives again, beside one new message.
    dovecot.deliverMany('support@example.test', [
      mail({ from: 'real@example.test', subject: 'Вопрос', body: 'Где отчёт?', messageId: '<real@x>' }),
      mail({ from: 'new@example.test', subject: 'Новый', body: 'после смены', messageId: '<after-uv@x>' }),
    ]);
    const [reply] = await sink.waitForCount(1, 20_000);
    expect(reply?.inReplyTo).toBe('<after-uv@x>');
    await waitFor(async () => {
      const rows = await queryRows<{ uidvalidity: string }>(
        db.url,
        `select uidvalidity from communicator.checkpoints where key like 'imap:%'`,
      );
      return Number(rows[0]?.uidvalidity) === oldValidity + 1000;
    }, 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(sink.messages.map((m) => m.inReplyTo)).toEqual(['<after-uv@x>']);
    expect(secretary.calls.slice(answeredBefore).map((c) => c.message_id)).toEqual(['<after-uv@x>']);
    expect(communicator.logs.some((l) => l.includes('UIDVALIDITY changed'))).toBe(true);
  }, 40_000);

  it('when the secretary answers 4xx, then the mail is quarantined at once with the reason (no retries)', async () => {
    sink.clear();
    secretary.respond((call) =>
      call.request.includes('UNPROCESSABLE')
        ? 422
        : {
            is_enough: true,
            request: call.request,
            action: 'ответить на письмо',
            question: '',
            response: 'ok',
          },
    );
    await dovecot.deliver(
      'support@example.test',
      mail({ from: 'r@example.test', subject: 'x', body: 'UNPROCESSABLE', messageId: '<rejected@x>' }),
    );
    const [row] = await waitFor(async () => {
      const rows = await queryRows(
        db.url,
        `select status, attempts, last_error from communicator.inbound where external_id = '<rejected@x>'`,
      );
      return rows[0]?.status === 'quarantined' ? rows : undefined;
    }, 15_000);
    expect(row).toEqual({
      status: 'quarantined',
      attempts: 1,
      last_error: 'secretary rejected the request (422): fake secretary 422',
    });
    // Well past the first retry backoff (COMMUNICATOR_RETRY_BASE_MS, 1-2 s): still one call, no reply.
    await new Promise((r) => setTimeout(r, 2500));
    expect(secretary.calls.filter((c) => c.message_id === '<rejected@x>')).toHaveLength(1);
    expect(sink.messages).toHaveLength(0);
  }, 30_000);
});
