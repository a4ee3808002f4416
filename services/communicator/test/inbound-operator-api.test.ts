import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dovecot, type SmtpSink, type TestDatabase, waitFor } from '@workemon/testkit';
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

interface InboundItem {
  id: string;
  external_id: string;
  status: string;
  last_error: string | null;
  raw_headers: string | null;
}

describe('operators: GET /inbound and POST /inbound/{id}/retry', () => {
  let dovecot: Dovecot;
  let sink: SmtpSink;
  let secretary: FakeSecretary;
  let db: TestDatabase;
  let communicator: CommunicatorProcess;

  const call = async (path: string, init: { method?: string; token?: string | null } = {}) => {
    const token = init.token === undefined ? SERVICE_TOKEN : init.token;
    const res = await fetch(`${communicator.url}${path}`, {
      method: init.method ?? 'GET',
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const items = async (query: string) => (await call(`/inbound?${query}`)).body.items as InboundItem[];
  const send = async (body: Record<string, unknown>) => {
    const res = await fetch(`${communicator.url}/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVICE_TOKEN}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    ({ dovecot, sink, secretary, db } = await startMailPeers('wm_comm_operator'));
    communicator = await startCommunicator({
      DATABASE_URL: db.url,
      SECRETARY_URL: secretary.url,
      ...emailEnv(dovecot, sink),
    });
  }, 90_000);

  afterAll(() => stopMailPeers({ dovecot, sink, secretary, db }, communicator));

  it('when mail was skipped as bulk, then operators see why, and a retry sends it through once', async () => {
    await dovecot.deliver(
      'support@example.test',
      mail({
        from: 'newsletter-editor@example.test',
        subject: 'Вопрос из рассылки',
        body: 'На самом деле это вопрос человека: где отчёт по продажам?',
        messageId: '<bulk-false-positive@example.test>',
        headers: { Precedence: 'bulk' },
      }),
    );
    const skipped = await waitFor(async () => {
      const found = (await items('status=skipped&channel=email')).find(
        (i) => i.external_id === '<bulk-false-positive@example.test>',
      );
      return found;
    }, 15_000);
    expect(skipped.last_error).toMatch(/precedence: bulk/);
    expect(sink.messages).toHaveLength(0);

    const retried = await call(`/inbound/${skipped.id}/retry`, { method: 'POST' });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ id: skipped.id, status: 'received', previous_status: 'skipped' });
    const [reply] = await sink.waitForCount(1, 15_000);
    expect(reply?.inReplyTo).toBe('<bulk-false-positive@example.test>');
    await waitFor(async () => (await items('status=replied')).some((i) => i.id === skipped.id), 10_000);

    // Replied now: a second retry could only send it twice, so it is refused.
    const again = await call(`/inbound/${skipped.id}/retry`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(String(again.body.message)).toContain("'replied'");
    expect(sink.messages).toHaveLength(1);
  }, 60_000);

  it('when the parameters are wrong or the token is missing, then 400/404/401 name the problem', async () => {
    expect((await call('/inbound?status=lost')).body.message).toMatch(/Parameter 'status' must be one of/);
    expect((await call('/inbound?limit=0')).status).toBe(400);
    expect((await call('/inbound?cursor=bm9wZQ')).body.message).toMatch(/cursor/);
    const badId = await call('/inbound/abc/retry', { method: 'POST' });
    expect(badId.status).toBe(400);
    expect(badId.body.message).toMatch(/Parameter 'id'/);
    expect((await call('/inbound/999999999/retry', { method: 'POST' })).status).toBe(404);
    const huge = await call('/inbound/99999999999999999999/retry', { method: 'POST' });
    expect(huge.status).toBe(400);
    expect(huge.body.message).toMatch(/Parameter 'id'/);
    expect((await call('/inbound', { token: null })).status).toBe(401);
  });

  it('when there are more rows than the limit, then pages follow next_cursor without overlap', async () => {
    for (let i = 0; i < 3; i++)
      await dovecot.deliver(
        'support@example.test',
        mail({
          from: `pager${i}@example.test`,
          subject: `q${i}`,
          body: `Вопрос ${i}`,
          messageId: `<page-${i}@x>`,
        }),
      );
    await waitFor(async () => (await items('limit=200')).length >= 4, 15_000);
    const first = await call('/inbound?limit=2');
    const second = await call(`/inbound?limit=2&cursor=${String(first.body.next_cursor)}`);
    const ids = [...(first.body.items as InboundItem[]), ...(second.body.items as InboundItem[])].map(
      (i) => i.id,
    );
    expect(new Set(ids).size).toBe(4);
    expect(ids).toEqual([...ids].sort((a, b) => Number(b) - Number(a)));
  }, 40_000);
  it('when mail is skipped or quarantined, then operators get its raw header block as text, bounded, without control characters', async () => {
    const hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>';
    await dovecot.deliver(
      'support@example.test',
      mail({
        from: 'robot@example.test',
        subject: 'Автоответ: в отпуске',
        body: 'Я в отпуске до понедельника.',
        messageId: '<raw-headers-skip@example.test>',
        headers: {
          'Auto-Submitted': 'auto-replied',
          'X-Hostile': hostile,
          'X-Control': 'bell\x07escape\x1bend',
          'X-Folded': 'first part\r\n\tsecond part',
        },
      }),
    );
    const skipped = await waitFor(
      async () =>
        (await items('status=skipped')).find((i) => i.external_id === '<raw-headers-skip@example.test>'),
      15_000,
    );
    const headers = skipped.raw_headers ?? '';
    expect(headers).toMatch(/^From: robot@example\.test$/m);
    expect(headers).toMatch(/^Subject: Автоответ: в отпуске$/m);
    expect(headers).toMatch(/^Auto-Submitted: auto-replied$/m);
    // As received: the value is not decoded, escaped or stripped here (the console escapes it)…
    expect(headers).toContain(`X-Hostile: ${hostile}`);
    // …folded lines stay folded, the body is not included, control characters are gone.
    expect(headers).toContain('X-Folded: first part\n\tsecond part');
    expect(headers).toContain('X-Control: bellescapeend');
    expect(headers).not.toContain('Я в отпуске');

    // A header block far beyond the bound is cut, with a note; the mail is still quarantined for its own reason.
    const huge = Array.from({ length: 600 }, (_, i) => `X-Trace-${i}: ${'x'.repeat(60)}`).join('\r\n');
    await dovecot.deliver(
      'support@example.test',
      [
        'From: huge@example.test',
        'To: support@example.test',
        'Subject: huge headers',
        'Message-ID: <raw-headers-huge@example.test>',
        huge,
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed',
        '',
        'no boundary at all',
        '',
      ].join('\r\n'),
    );
    const quarantined = await waitFor(
      async () =>
        (await items('status=quarantined')).find((i) => i.last_error?.includes('without boundary') ?? false),
      15_000,
    );
    expect(quarantined.raw_headers).toMatch(/^From: huge@example\.test$/m);
    expect(quarantined.raw_headers?.length).toBeLessThanOrEqual(16 * 1024 + 100);
    expect(quarantined.raw_headers).toMatch(/… \(cut: the header block is longer\)$/);
  }, 60_000);

  it('when an operator sends with in_reply_to, then the mail is threaded to the original (Re: subject, In-Reply-To, References)', async () => {
    await dovecot.deliver(
      'support@example.test',
      [
        'From: Olga <olga@example.test>',
        'To: support@example.test',
        'Subject: Нет доступа к выгрузке',
        'Message-ID: <thread-child@example.test>',
        'In-Reply-To: <thread-parent@example.test>',
        'References: <thread-root@example.test> <thread-parent@example.test>',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Выгрузка по-прежнему не открывается.',
        '',
      ].join('\r\n'),
    );
    // The AI's own reply goes first; the operator's comes after it, threaded the same way.
    const before = sink.messages.length;
    await sink.waitForCount(before + 1, 15_000).catch(() => undefined);
    await waitFor(
      async () => (await items('limit=200')).some((i) => i.external_id === '<thread-child@example.test>'),
      15_000,
    );
    const count = sink.messages.length;
    const sent = await send({
      channel: 'email',
      to: 'olga@example.test',
      text: 'Ольга, доступ к выгрузке выдан.',
      idempotency_key: 'operator-thread-1',
      in_reply_to: '<thread-child@example.test>',
    });
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ status: 'sent', channel: 'email' });
    const reply = (await sink.waitForCount(count + 1, 15_000)).find((m) =>
      m.text.includes('доступ к выгрузке выдан'),
    );
    expect(reply?.subject).toBe('Re: Нет доступа к выгрузке');
    expect(reply?.inReplyTo).toBe('<thread-child@example.test>');
    expect(reply?.references).toEqual([
      '<thread-root@example.test>',
      '<thread-parent@example.test>',
      '<thread-child@example.test>',
    ]);
    expect(reply?.messageId).toBe(sent.body.external_id);

    // A Message-ID the ledger never saw still threads (In-Reply-To), with the default subject.
    const unknown = await send({
      channel: 'email',
      to: 'olga@example.test',
      text: 'Ещё одно уточнение.',
      idempotency_key: 'operator-thread-2',
      in_reply_to: '<never-received@example.test>',
    });
    expect(unknown.status).toBe(200);
    const second = (await sink.waitForCount(count + 2, 15_000)).find((m) =>
      m.text.includes('Ещё одно уточнение'),
    );
    expect(second?.inReplyTo).toBe('<never-received@example.test>');
    expect(second?.references).toEqual(['<never-received@example.test>']);
  }, 60_000);
});
