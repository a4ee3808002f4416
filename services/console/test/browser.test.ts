/// <reference lib="dom" />
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestDatabase,
  defaultFakeResponder,
  type Dovecot,
  type FakeLlm,
  type FakeTelegram,
  fakeLlmEnv,
  queryRows,
  type SmtpSink,
  startDovecot,
  startFakeLlm,
  startFakeTelegram,
  startSmtpSink,
  type TestDatabase,
  waitFor,
  type ServiceProcess,
} from '@workemon/testkit';
import axe from 'axe-core';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleClient, listenEvents, type RunningConsole, startConsole } from './support/console.js';
import { ensureMeshBuilt, mail, migrate, REPO_ROOT, SERVICE_TOKEN, startService } from './support/mesh.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const axeSource = axe.source;
/**
 * README's screenshots are rewritten only on request (UPDATE_SCREENSHOTS=1): a plain test run
 * writes them to a temp dir, so it never leaves a checkout modified.
 */
const UPDATE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core injected into the page: serious and critical violations, described for the failure message. */
async function seriousViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run()).violations;
  });
  return (violations as AxeViolation[])
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/**
 * The operators' console in a real headless Chromium against the whole mesh as processes
 * (secretary, guesser and analyst with a fake LLM, communicator with Dovecot, an SMTP sink and a
 * fake Telegram): the way an operator uses it, start to end.
 */
describe.skipIf(!haveChromium)('console in a browser (headless Chromium, the whole mesh)', () => {
  let dovecot: Dovecot;
  let sink: SmtpSink;
  let llm: FakeLlm;
  let tg: FakeTelegram;
  let db: TestDatabase;
  const services: ServiceProcess[] = [];
  let communicator: ServiceProcess;
  let consoleApp: RunningConsole;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let shots: string;

  const inbound = async (status: string) =>
    (
      (await (
        await fetch(`${communicator.url}/inbound?status=${status}`, {
          headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
        })
      ).json()) as { items: { id: string; external_id: string; status: string; last_error: string | null }[] }
    ).items;

  /** Each test may run alone (-t): sign in through the page's own API when no session is there. */
  const ensureSignedIn = async () => {
    await page.goto(consoleApp.url);
    await page.evaluate(async () => {
      if ((await fetch('/api/session')).ok) return;
      await fetch('/api/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'anna', password: 'anna-password-1' }),
      });
    });
    // A fresh document: the page starts signed in (a hash change alone would not reload it).
    await page.reload();
    await page.locator('#who').filter({ hasText: 'anna' }).waitFor();
  };

  beforeAll(async () => {
    ensureMeshBuilt();
    [dovecot, sink, llm, tg, db] = await Promise.all([
      startDovecot(),
      startSmtpSink(),
      startFakeLlm(),
      startFakeTelegram(),
      createTestDatabase('wm_console_browser'),
    ]);
    migrate('secretary', db.url);
    migrate('communicator', db.url);
    const llmEnv = fakeLlmEnv(llm);
    const [guesser, analyst] = await Promise.all([
      startService('guesser', llmEnv),
      startService('system-analyst', llmEnv),
    ]);
    services.push(guesser, analyst);
    const secretary = await startService('secretary', {
      DATABASE_URL: db.url,
      GUESSER_URL: guesser.url,
      SYSTEM_ANALYST_URL: analyst.url,
    });
    services.push(secretary);
    communicator = await startService('communicator', {
      DATABASE_URL: db.url,
      SECRETARY_URL: secretary.url,
      IMAP_HOST: dovecot.host,
      IMAP_PORT: String(dovecot.port),
      IMAP_SECURE: 'false',
      IMAP_TLS_REJECT_UNAUTHORIZED: 'false',
      IMAP_USER: 'support@example.test',
      IMAP_PASSWORD: 'secret',
      IMAP_POLL_INTERVAL_MS: '500',
      SMTP_HOST: sink.host,
      SMTP_PORT: String(sink.port),
      SMTP_SECURE: 'false',
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      TELEGRAM_POLL_TIMEOUT_S: '1',
    });
    services.push(communicator);
    consoleApp = await startConsole({
      databaseUrl: db.url,
      secretaryUrl: secretary.url,
      communicatorUrl: communicator.url,
      serviceToken: SERVICE_TOKEN,
    });
    profile = mkdtempSync(join(tmpdir(), 'wm-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      // Only so the test can inject axe-core; the page itself runs under its strict CSP.
      bypassCSP: true,
      viewport: { width: 1280, height: 860 },
      locale: 'ru-RU',
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
    shots = UPDATE_SCREENSHOTS ? join(REPO_ROOT, 'docs') : mkdtempSync(join(tmpdir(), 'wm-console-shots-'));
    mkdirSync(shots, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (shots && !UPDATE_SCREENSHOTS) rmSync(shots, { recursive: true, force: true });
    await consoleApp?.close();
    for (const s of services.reverse()) await s.stop();
    await Promise.all([dovecot?.stop(), sink?.close(), llm?.close(), tg?.close()]);
    await db?.drop();
  }, 60_000);

  it('when the password is wrong, then the page says so and no session is made; the right one opens the inbox', async () => {
    await page.goto(consoleApp.url);
    await page.getByLabel('Имя оператора').fill('anna');
    await page.getByLabel('Пароль').fill('wrong-password');
    await page.getByRole('button', { name: 'Войти' }).click();
    await expect.poll(() => page.locator('#sign-in-error').textContent()).toBe('Неверное имя или пароль');
    expect(await seriousViolations(page)).toEqual([]);
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'wm_console_session')).toBeUndefined();

    // A name guessed too often is locked; the page says so in Russian, with how long to wait.
    await page.getByLabel('Имя оператора').fill('mallory');
    for (let i = 0; i < 6; i++) {
      await page.getByLabel('Пароль').fill(`guess-${i}`);
      const answered = page.waitForResponse((r) => r.url().endsWith('/api/session'));
      await page.getByRole('button', { name: 'Войти' }).click();
      await answered;
    }
    await expect
      .poll(() => page.locator('#sign-in-error').textContent())
      .toMatch(/^Слишком много неудачных попыток входа: подождите \d+ мин$/);
    await page.getByLabel('Имя оператора').fill('anna');

    await page.getByLabel('Пароль').fill('anna-password-1');
    await page.getByLabel('Пароль').press('Enter');
    await page.getByRole('heading', { name: 'Входящие' }).waitFor();
    const session = (await context.cookies()).find((c) => c.name === 'wm_console_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // The page's script cannot read the session cookie.
    expect(await page.evaluate(() => document.cookie)).not.toContain('wm_console_session');
  });

  it('when a write comes from the page without the CSRF header, then the console refuses it', async () => {
    await ensureSignedIn();
    const status = await page.evaluate(async () => {
      const res = await fetch('/api/conversations/email/x%40example.test/take-over', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      return res.status;
    });
    expect(status).toBe(403);
  });

  it('when a mail arrives, then it appears in the open inbox live; the operator takes over, answers by hand (threaded) and resolves', async () => {
    const person = 'ivan.petrov@example.test';
    await ensureSignedIn();
    await page.goto(`${consoleApp.url}/#/inbox`);
    await page.getByRole('heading', { name: 'Входящие' }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);

    await dovecot.deliver(
      'support@example.test',
      mail({
        from: `Иван Петров <${person}>`,
        subject: 'Доступ к отчётам по кошелькам',
        body: 'Добрый день! Хочу получать аналитику по операциям кошельков.',
        messageId: '<console-first@example.test>',
      }),
    );
    // The AI answers by itself first.
    const [aiReply] = await sink.waitForCount(1, 30_000);
    expect(aiReply?.inReplyTo).toBe('<console-first@example.test>');
    // No reload: the row arrives through server-sent events.
    const row = page.locator(`[data-conversation="email:${person}"]`);
    await row.waitFor({ timeout: 20_000 });
    await expect.poll(() => row.textContent()).toContain('отвечено');

    await row.click();
    await page.getByRole('heading', { name: `Разговор: ${person}` }).waitFor();
    await page.getByText('Добрый день! Хочу получать аналитику').waitFor();
    await page
      .getByText(/Рекомендация/)
      .first()
      .waitFor();
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByRole('button', { name: 'Взять в работу' }).click();
    await page.getByText('Вы ведёте разговор').waitFor();
    await page.getByRole('button', { name: 'Вернуть ИИ' }).waitFor();

    // The person writes again: held for the operator, not sent to the LLM, nothing sent back.
    const llmCalls = llm.calls.length;
    await dovecot.deliver(
      'support@example.test',
      mail({
        from: `Иван Петров <${person}>`,
        subject: 'Re: Доступ к отчётам по кошелькам',
        body: 'Мне нужен именно ежедневный отчёт, можно с человеком?',
        messageId: '<console-second@example.test>',
        inReplyTo: aiReply?.messageId ?? '<console-first@example.test>',
      }),
    );
    await page.getByText('Сообщение (ждёт оператора)').waitFor({ timeout: 30_000 });
    await page.getByText('Мне нужен именно ежедневный отчёт').waitFor();
    expect(llm.calls.length).toBe(llmCalls);
    expect(sink.messages).toHaveLength(1);

    await page
      .getByLabel('Текст ответа (уйдёт человеку по его каналу)')
      .fill('Иван, добрый день! Ежедневный отчёт включён, первый придёт завтра утром.');
    await page.getByRole('button', { name: 'Отправить' }).click();
    const [, byHand] = await sink.waitForCount(2, 20_000);
    expect(byHand?.to).toContain(person);
    expect(byHand?.inReplyTo).toBe('<console-second@example.test>');
    expect(byHand?.references).toContain('<console-second@example.test>');
    expect(byHand?.subject).toBe('Re: Доступ к отчётам по кошелькам');
    expect(byHand?.text).toContain('Ежедневный отчёт включён');
    await page.getByText('Оператор anna', { exact: false }).waitFor();
    await page.getByText('доставлено').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.screenshot({ path: join(shots, 'console-conversation.png'), fullPage: true });

    // A second click with the same composed text would reuse its key; a reload-and-resend of the
    // recorded reply is a duplicate, never a second mail.
    const replies = await queryRows<{ idempotency_key: string }>(
      db.url,
      `select idempotency_key from secretary.operator_messages where kind = 'reply'`,
    );
    const again = await page.evaluate(
      async ({ key, person: who }) => {
        const session = (await (await fetch('/api/session')).json()) as { csrf_token: string };
        const res = await fetch(`/api/conversations/email/${encodeURIComponent(who)}/replies`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf_token },
          body: JSON.stringify({
            text: 'Иван, добрый день! Ежедневный отчёт включён.',
            idempotency_key: key,
          }),
        });
        return (await res.json()) as { status: string };
      },
      { key: replies[0]?.idempotency_key ?? '', person },
    );
    expect(again.status).toBe('duplicate');
    expect(sink.messages).toHaveLength(2);

    await page.getByRole('button', { name: 'Решено' }).click();
    await page.getByText('Разговор решён').waitFor();
    await expect.poll(() => page.locator('.state').first().textContent()).toBe('решено');
  });

  it('when a Telegram user writes, then the operator answers by hand and the message reaches the chat', async () => {
    await ensureSignedIn();
    tg.pushUpdate(tg.privateText('Не могу войти в личный кабинет', 4242));
    await waitFor(() => tg.sent.some((m) => m.chat_id === '4242'), 30_000);
    await page.goto(`${consoleApp.url}/#/inbox`);
    const row = page.locator('[data-conversation="tg:tg:4242"]');
    await row.click();
    await page.getByText('Не могу войти в личный кабинет').waitFor();
    await page
      .getByLabel('Текст ответа (уйдёт человеку по его каналу)')
      .fill('Сбросил вам пароль, попробуйте ещё раз.');
    await page.getByLabel('Текст ответа (уйдёт человеку по его каналу)').press('Control+Enter');
    await waitFor(
      () => tg.sent.find((m) => m.chat_id === '4242' && m.text.includes('Сбросил вам пароль')),
      20_000,
    );
    await page.getByText('доставлено').waitFor();
  });

  it('when another operator writes or holds the conversation, then the page shows who; after release the next message goes to the AI again', async () => {
    const chat = 4343;
    const conversation = `/api/conversations/tg/${encodeURIComponent(`tg:${chat}`)}`;
    await ensureSignedIn();
    tg.pushUpdate(tg.privateText('Где мой отчёт по кошелькам?', chat));
    await waitFor(() => tg.sent.some((m) => m.chat_id === String(chat)), 30_000);
    const boris = new ConsoleClient(consoleApp.url);
    expect((await boris.signIn('boris', 'boris-password-2')).status).toBe(201);
    const borisPage = await listenEvents(boris);
    try {
      await page.goto(`${consoleApp.url}/#/c/tg/${encodeURIComponent(`tg:${chat}`)}`);
      await page.getByText('Где мой отчёт по кошелькам?').waitFor();
      const composer = page.getByLabel('Текст ответа (уйдёт человеку по его каналу)');

      // Anna types: boris's open page hears who is writing where.
      await composer.pressSequentially('Смотрю ваш');
      await waitFor(
        () =>
          borisPage.events.find(
            (e) => e.type === 'typing' && e.operator === 'anna' && e.username === `tg:${chat}`,
          ),
        10_000,
      );
      // Boris types: anna's page says so (and not about herself).
      expect((await boris.request('POST', `${conversation}/typing`, { body: {} })).status).toBe(202);
      await page.getByText('boris пишет ответ в этом разговоре…').waitFor();
      expect(await page.getByText(/anna пишет/).count()).toBe(0);
      expect(await seriousViolations(page)).toEqual([]);

      // Boris takes it over: anna sees who holds it, and has no composer to answer with.
      expect((await boris.request('POST', `${conversation}/take-over`, { body: {} })).status).toBe(200);
      await page.getByText('Разговор ведёт boris').waitFor();
      await expect.poll(() => composer.isVisible()).toBe(false);
      expect(await page.getByRole('button', { name: 'Взять в работу' }).count()).toBe(0);
      expect((await boris.request('POST', `${conversation}/release`, { body: {} })).status).toBe(200);
    } finally {
      await borisPage.close();
    }

    // Anna takes it over and gives it back to the AI: the person's next message is answered by the AI.
    await page.getByRole('button', { name: 'Взять в работу' }).click();
    await page.getByRole('button', { name: 'Вернуть ИИ' }).click();
    await page.getByText('Возвращено ИИ').waitFor();
    await page.getByRole('button', { name: 'Взять в работу' }).waitFor();
    const llmCalls = llm.calls.length;
    const sent = tg.sent.filter((m) => m.chat_id === String(chat)).length;
    tg.pushUpdate(tg.privateText('Спасибо, а за прошлый месяц?', chat));
    const answer = await waitFor(() => tg.sent.filter((m) => m.chat_id === String(chat))[sent], 30_000);
    expect(answer.text).toContain('Рекомендация');
    expect(llm.calls.length).toBeGreaterThan(llmCalls);
    // Live, without a reload: the new exchange with the AI's answer.
    await page.getByText('Спасибо, а за прошлый месяц?').waitFor();
    expect(await page.getByText('Сообщение (ждёт оператора)').count()).toBe(0);
  }, 60_000);

  it('when the AI escalates, then an operator assigns it to themself, marks the answer wrong with a note and exports feedback; an admin fixes the directory', async () => {
    const chat = 4545;
    const username = `tg:${chat}`;
    const note = 'Надо было дать ссылку на инструкцию';
    llm.respondWith((call) => {
      const system = call.messages.find((m) => m.role === 'system')?.content ?? '';
      const user = call.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
      if (/инженер данных|engineer/i.test(system) && /позовите человека/i.test(user))
        return {
          json: {
            is_enough: true,
            response: 'Передаю сотруднику поддержки.',
            action: 'написать в telegram сотруднику',
          },
        };
      return defaultFakeResponder(call);
    });
    try {
      tg.pushUpdate(tg.privateText('Позовите человека, бот не помогает', chat));
      await waitFor(() => tg.sent.some((m) => m.chat_id === String(chat)), 30_000);
    } finally {
      llm.respondWith(defaultFakeResponder);
    }
    await ensureSignedIn();

    await page.goto(`${consoleApp.url}/#/escalations`);
    await page.getByRole('heading', { name: 'Эскалации' }).waitFor();
    const row = page.locator('li', { has: page.getByRole('link', { name: username, exact: true }) });
    await row.getByText('эскалация').waitFor();
    await row.getByRole('button', { name: 'Назначить мне' }).click();
    await row.getByText('назначено: anna').waitFor();
    expect(await row.getByRole('button', { name: 'Назначить мне' }).count()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);

    await row.getByRole('link', { name: username, exact: true }).click();
    await page.getByText('Передаю сотруднику поддержки.').waitFor();
    await page.getByText('Назначено').waitFor();
    await page.getByLabel('Заметка к оценке').last().fill(note);
    await page.getByRole('button', { name: 'Неверно' }).last().click();
    await page.getByText('Отмечено как неверное').waitFor();

    await page.goto(`${consoleApp.url}/#/feedback`);
    await page.getByText(`Заметка: ${note}`).waitFor();
    await page
      .getByText(/Неверно · anna/)
      .first()
      .waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Скачать всё (JSON Lines)' }).click();
    const file = await (await download).path();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    // What was judged comes from the secretary's record of the exchange, not from the page.
    expect(lines).toContainEqual(
      expect.objectContaining({
        operator: 'anna',
        channel: 'tg',
        username,
        verdict: 'wrong',
        note,
        request: 'Позовите человека, бот не помогает',
        response: expect.stringContaining('Передаю сотруднику поддержки.'),
        action: 'написать в telegram сотруднику',
      }),
    );

    // The directory (admin): a wrong e-mail is refused in Russian, with the field marked; then saved.
    await page.goto(`${consoleApp.url}/#/directory`);
    await page.getByRole('heading', { name: 'Справочник' }).waitFor();
    await page.getByLabel(/Имя пользователя/).fill(username);
    await page.getByLabel('Имя', { exact: true }).fill('Пётр Эскалатов');
    await page.getByLabel('Департамент').fill('Финансы');
    await page.getByLabel('Почта').fill('petr-at-example');
    await page.getByRole('button', { name: 'Сохранить' }).click();
    await expect.poll(() => page.locator('#dir-error').textContent()).toContain('Почта: нужен адрес');
    expect(await page.getByLabel('Почта').getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('dir-email');
    expect(await seriousViolations(page)).toEqual([]);
    // The API refuses it as well, whatever a page checks.
    const refused = await page.evaluate(async (who) => {
      const session = (await (await fetch('/api/session')).json()) as { csrf_token: string };
      const res = await fetch('/api/directory', {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf_token },
        body: JSON.stringify({ username: who, email: 'petr-at-example' }),
      });
      return { status: res.status, body: (await res.json()) as { message: string } };
    }, username);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain("'email'");

    await page.getByLabel('Почта').fill('petr@example.test');
    await page.getByRole('button', { name: 'Сохранить' }).click();
    await page.getByText(`Сохранено: ${username}`).waitFor();
    await page.getByRole('cell', { name: 'Пётр Эскалатов' }).waitFor();
    expect(await page.locator('#dir-error').textContent()).toBe('');
    await page.goto(`${consoleApp.url}/#/inbox`);
    await page.getByText(`Пётр Эскалатов (${username})`).waitFor();
    await page.getByText('Telegram · Финансы · назначено: anna').waitFor();
    // README's inbox: by now it holds conversations in several states, one with a directory name.
    await page.screenshot({ path: join(shots, 'console-inbox.png') });
  }, 60_000);

  it('when a broken mail is quarantined, then the ingest page shows why and sends it through again; escalations, feedback and directory pages pass axe', async () => {
    await dovecot.deliver(
      'support@example.test',
      [
        'From: broken@example.test',
        'Subject: broken',
        // A stranger's header reaches the operator's page: it must show as text, never as markup.
        'X-Hostile: <img src=x onerror="window.__pwned=1"><b id="injected">bold</b>',
        'Message-ID: <console-broken@example.test>',
        'To: support@example.test',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed',
        '',
        '--???',
        'garbage without boundary',
        '',
      ].join('\r\n'),
    );
    await waitFor(
      // A mail too broken to read its Message-ID is known by the hash of its bytes.
      async () => (await inbound('quarantined')).some((i) => i.last_error?.includes('broken MIME')),
      20_000,
    ).catch(async (error: Error) => {
      const ledger = await queryRows(
        db.url,
        `select external_id, status, last_error from communicator.inbound`,
      );
      throw new Error(`${error.message}; ledger: ${JSON.stringify(ledger)}`);
    });
    await ensureSignedIn();
    await page.goto(`${consoleApp.url}/#/inbox`);
    const counts = await page.evaluate(async () => (await fetch('/api/ingest/counts')).text());
    expect(counts).toContain('"quarantined":1');
    await expect.poll(() => page.locator('#ingest-badge').textContent(), { timeout: 15_000 }).toBe('1');
    await page.getByRole('link', { name: /Проблемы приёма/ }).click();
    await page.getByRole('heading', { name: 'Проблемы приёма' }).waitFor();
    await page.getByText(/broken MIME/).waitFor();
    await page.getByText('Заголовки письма').click();
    const headers = page.locator('pre.headers').first();
    await expect.poll(() => headers.textContent()).toContain('X-Hostile: <img src=x onerror=');
    expect(await headers.textContent()).toMatch(/^From: broken@example\.test$/m);
    expect(await page.locator('#injected, main img').count()).toBe(0);
    expect(await page.evaluate(() => '__pwned' in window)).toBe(false);
    expect(await seriousViolations(page)).toEqual([]);
    const retried = page.waitForResponse((r) => /\/api\/ingest\/\d+\/retry$/.test(r.url()));
    await page.getByRole('button', { name: 'Отправить заново' }).click();
    // The communicator's ledger took it back: received again, with what it was before.
    const answer = (await (await retried).json()) as {
      status: string;
      previous_status: string;
      previous_error: string;
    };
    expect(answer).toMatchObject({ status: 'received', previous_status: 'quarantined' });
    expect(answer.previous_error).toContain('broken MIME');
    await page.getByText('Отправлено на повторную обработку').waitFor();

    for (const [hash, heading] of [
      ['#/escalations', 'Эскалации'],
      ['#/feedback', 'Отзывы об ответах ИИ'],
      ['#/directory', 'Справочник'],
    ] as const) {
      await page.goto(`${consoleApp.url}/${hash}`);
      await page.getByRole('heading', { name: heading }).waitFor();
      expect(await seriousViolations(page), hash).toEqual([]);
    }
  }, 60_000);

  it('when the page is narrow (a phone), then every page is still readable and accessible', async () => {
    await ensureSignedIn();
    await page.setViewportSize({ width: 390, height: 800 });
    try {
      for (const [hash, heading] of [
        ['#/inbox', 'Входящие'],
        [`#/c/email/${encodeURIComponent('ivan.petrov@example.test')}`, 'Разговор: ivan.petrov@example.test'],
        ['#/escalations', 'Эскалации'],
        ['#/ingest', 'Проблемы приёма'],
        ['#/feedback', 'Отзывы об ответах ИИ'],
        ['#/directory', 'Справочник'],
      ] as const) {
        await page.goto(`${consoleApp.url}/${hash}`);
        await page.getByRole('heading', { name: heading }).waitFor();
        // Long header blocks and addresses wrap or scroll inside their box, never the page.
        const headers = page.getByText('Заголовки письма');
        if (hash === '#/ingest' && (await headers.count()) > 0) await headers.first().click();
        expect(await seriousViolations(page), hash).toEqual([]);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, hash).toBeLessThanOrEqual(1);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  it('when the operator uses only the keyboard, then "/" finds, Enter searches, Tab reaches a conversation and Enter opens it', async () => {
    tg.pushUpdate(tg.privateText('Вопрос с клавиатуры: какие лимиты у кошелька?', 4646));
    await waitFor(() => tg.sent.some((m) => m.chat_id === '4646'), 30_000);
    await ensureSignedIn();
    await page.goto(`${consoleApp.url}/#/inbox`);
    await page.getByRole('heading', { name: 'Входящие' }).waitFor();
    // Each view moves focus to its heading, so a screen reader announces where the operator is.
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('q');
    await page.keyboard.type('вопрос с клавиатуры');
    await page.keyboard.press('Enter');
    const rows = page.locator('#inbox-list [data-conversation]');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-conversation')).toBe('tg:tg:4646');
    // Tab from the search reaches the conversation link (filters and the button come first).
    for (let i = 0; i < 5; i++) {
      if ((await page.evaluate(() => document.activeElement?.getAttribute('data-conversation'))) !== null)
        break;
      await page.keyboard.press('Tab');
    }
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-conversation'))).toBe(
      'tg:tg:4646',
    );
    const outline = await page.evaluate(
      () => getComputedStyle(document.activeElement as Element).outlineStyle,
    );
    expect(outline).not.toBe('none');
    // A message from someone else re-renders the list live; the operator keeps their place.
    await page.evaluate(() => document.activeElement?.setAttribute('data-before-refresh', ''));
    tg.pushUpdate(tg.privateText('Другой вопрос, пока оператор выбирает разговор', 4647));
    await expect
      .poll(() => page.evaluate(() => document.querySelector('[data-before-refresh]') === null), {
        timeout: 30_000,
      })
      .toBe(true);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-conversation'))).toBe(
      'tg:tg:4646',
    );
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Разговор: tg:4646' }).waitFor();
    await page.goto(`${consoleApp.url}/#/inbox`);
    await page.getByRole('heading', { name: 'Входящие' }).waitFor();
    await page.getByLabel('Поиск').fill('');
    await page.getByLabel('Поиск').press('Enter');
  });
});
