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
});
