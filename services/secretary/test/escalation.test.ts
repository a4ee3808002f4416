import { waitFor } from '@workemon/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  analystAnswer,
  type FakeUpstream,
  notEnoughContext,
  startFakeUpstream,
} from './support/fake-upstream.js';
import {
  type RunningSecretary,
  type SecretaryHarness,
  startSecretaryHarness,
  uniqueMessageId,
  uniqueUsername,
} from './support/secretary.js';

const TOKEN = 'escalation-service-token-0123456789';

describe('secretary escalations reach the support chat through the communicator', () => {
  let harness: SecretaryHarness;
  let guesser: FakeUpstream;
  let analyst: FakeUpstream;
  let communicator: FakeUpstream;
  let secretary: RunningSecretary;

  beforeAll(async () => {
    communicator = await startFakeUpstream((call) => ({
      body: { status: 'sent', channel: 'tg', idempotency_key: call.body.idempotency_key, external_id: '1:1' },
    }));
    harness = await startSecretaryHarness({
      databasePrefix: 'secretary_escalation',
      env: {
        SERVICE_TOKEN: TOKEN,
        COMMUNICATOR_URL: communicator.url,
        ESCALATION_TELEGRAM_CHAT_ID: '-100777',
        MAX_CLARIFICATIONS: '1',
        DEPARTMENT_MAILING_LISTS: JSON.stringify({ Финансы: 'finance-list@corp.example' }),
      },
      followUps: {
        maxAttempts: 3,
        retryBaseMs: 100,
        maxRetryDelayMs: 500,
        sweepIntervalMs: 200,
        leaseMs: 2_000,
      },
    });
    ({ guesser, analyst, secretary } = harness);
  });
  afterEach(() => {
    harness.reset();
    communicator.reset();
  });
  afterAll(async () => {
    await harness?.close();
    await communicator?.close();
  });

  const sends = () => communicator.calls.filter((c) => c.path === '/send');

  it('when the analyst proposes "написать в telegram сотруднику", then the support chat gets one message, also when the message is replayed', async () => {
    analyst.setDefault(() => analystAnswer('Нужен специалист по кубам', 'написать в telegram сотруднику'));
    const username = uniqueUsername('esc');
    const params = {
      channel: 'email',
      username,
      request: 'Срочно нужен доступ к кубу',
      message_id: uniqueMessageId(),
    };
    const first = await secretary.analyze(params);
    expect(first.status).toBe(200);
    expect(first.body.action).toBe('написать в telegram сотруднику');
    await waitFor(() => sends().length === 1, 5_000);
    const [send] = sends();
    expect(send!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    // The notice is sent later by the worker, still under the exchange's request id.
    expect(send!.headers['x-request-id']).toBe(first.body.request_id);
    expect(send!.body).toMatchObject({
      channel: 'tg',
      to: '-100777',
      idempotency_key: expect.stringMatching(/^escalation:[0-9a-f-]{36}$/),
    });
    expect(String(send!.body.text)).toContain(username);
    expect(String(send!.body.text)).toContain('Срочно нужен доступ к кубу');

    const replay = await secretary.analyze(params);
    expect(replay.body.replayed).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(sends()).toHaveLength(1);
  });

  it('when clarifications run out, then the escalation is announced', async () => {
    guesser.setDefault(() => notEnoughContext('Каких операций?'));
    const username = uniqueUsername('esc');
    expect((await secretary.analyze({ channel: 'tg', username, request: 'Хочу отчёт' })).body.action).toBe(
      'уточнить',
    );
    const second = await secretary.analyze({ channel: 'tg', username, request: 'Ну отчёт' });
    expect(second.body.action).toBe('написать в telegram сотруднику');
    await waitFor(() => sends().length === 1, 5_000);
    expect(String(sends()[0]!.body.text)).toContain('Хочу отчёт');
  });

  it('when the communicator fails, then the person still gets the answer and the failure is logged after retries', async () => {
    analyst.setDefault(() => analystAnswer('Нужен специалист', 'написать в telegram сотруднику'));
    communicator.setDefault(() => ({
      status: 503,
      body: { error: 'Service Unavailable', message: 'down', statusCode: 503 },
    }));
    const res = await secretary.analyze({
      channel: 'direct',
      username: uniqueUsername('esc'),
      request: 'Помогите',
    });
    expect(res.status).toBe(200);
    await waitFor(
      () =>
        secretary.logs
          .records()
          .some((r) => String(r.message).startsWith('escalation could not be delivered')),
      10_000,
    );
    expect(sends()).toHaveLength(3);
    const health = await secretary.call('/health');
    expect(health.body.checks).toMatchObject({ escalation: { status: 'degraded' } });
  });

  it('when the analyst proposes "написать в рассылку департамента" for a known department, then its list gets one mail, also when replayed', async () => {
    analyst.setDefault(() =>
      analystAnswer('Касается всего департамента', 'написать в рассылку департамента'),
    );
    const username = uniqueUsername('dept');
    await secretary.call('/users', {
      method: 'PUT',
      token: secretary.adminKey,
      body: { username, display_name: 'Анна Петрова', department: 'Финансы', position: 'аналитик' },
    });
    const params = {
      channel: 'email',
      username,
      request: 'Отчёт по расходам задваивает проводки\nс 1 числа',
      message_id: uniqueMessageId(),
    };
    const first = await secretary.analyze(params);
    expect(first.body.action).toBe('написать в рассылку департамента');
    await waitFor(() => sends().length === 1, 5_000);
    expect(sends()[0]!.body).toMatchObject({
      channel: 'email',
      to: 'finance-list@corp.example',
      subject: 'Обращение Анна Петрова: Отчёт по расходам задваивает проводки',
      idempotency_key: expect.stringMatching(/^department-mail:[0-9a-f-]{36}$/),
    });
    expect(String(sends()[0]!.body.text)).toContain('Касается всего департамента');
    expect((await secretary.analyze(params)).body.replayed).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(sends()).toHaveLength(1);
  });

  it('when the department has no mailing list, then the person is answered, nothing is sent and the gap is logged', async () => {
    analyst.setDefault(() => analystAnswer('Касается департамента', 'написать в рассылку департамента'));
    const username = uniqueUsername('nodept');
    const res = await secretary.analyze({ channel: 'tg', username, request: 'Вопрос для всех' });
    expect(res.status).toBe(200);
    expect(res.body.action).toBe('написать в рассылку департамента');
    await new Promise((r) => setTimeout(r, 300));
    expect(sends()).toHaveLength(0);
    expect(
      secretary.logs
        .records()
        .some((r) => String(r.message).includes("no mailing list for department 'unknown'")),
    ).toBe(true);
  });
});
