import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Dovecot,
  type SmtpSink,
  startDovecot,
  startSmtpSink,
  startFakeTelegram,
} from '@workemon/testkit';

describe('test peers', () => {
  let dovecot: Dovecot;
  let sink: SmtpSink;
  beforeAll(async () => {
    dovecot = await startDovecot();
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await dovecot?.stop();
    await sink?.close();
  });

  it('dovecot stores delivered mail and serves it over IMAP (plain port + STARTTLS)', async () => {
    await dovecot.deliver(
      'support@example.test',
      'From: a@example.test\r\nSubject: hi\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n',
    );
    dovecot.deliverMany('support@example.test', ['From: b@example.test\r\nSubject: two\r\n\r\nbody2\r\n']);
    const client = new ImapFlow({
      host: dovecot.host,
      port: dovecot.port,
      secure: false,
      auth: { user: 'support@example.test', pass: 'secret' },
      tls: { rejectUnauthorized: false },
      logger: false,
    });
    client.on('error', () => undefined);
    await client.connect();
    const box = await client.mailboxOpen('INBOX');
    expect(box.exists).toBe(2);
    expect(Number(box.uidValidity)).toBeGreaterThan(0);
    await client.logout();
  });

  it('smtp sink captures what nodemailer sends', async () => {
    const transport = nodemailer.createTransport({
      host: sink.host,
      port: sink.port,
      secure: false,
      ignoreTLS: true,
    });
    await transport.sendMail({
      from: 'bot@example.test',
      to: 'x@example.test',
      subject: 'Re: q',
      text: 'hello',
      inReplyTo: '<1@x>',
      references: ['<1@x>'],
    });
    const [mail] = await sink.waitForCount(1);
    expect(mail?.inReplyTo).toBe('<1@x>');
    expect(mail?.text.trim()).toBe('hello');
  });

  it('fake telegram long-polls with offsets', async () => {
    const tg = await startFakeTelegram();
    const call = async (method: string, body: unknown) => {
      const res = await fetch(`${tg.apiRoot}/bot${tg.token}/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await res.json()) as { ok: boolean; result: { update_id: number }[] };
    };
    const started = Date.now();
    const pending = call('getUpdates', { offset: 0, timeout: 5 });
    setTimeout(() => tg.pushUpdate('hello'), 200);
    const first = await pending;
    expect(first.result).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2000);
    const id = first.result[0]!.update_id;
    const again = await call('getUpdates', { offset: id + 1, timeout: 0 });
    expect(again.result).toHaveLength(0);
    const bad = await fetch(`${tg.apiRoot}/botWRONG/getMe`);
    expect(bad.status).toBe(401);
    await tg.close();
  });
});
