import { createTestDatabase, type TestDatabase } from '@workemon/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleClient, type RunningConsole, startConsole } from './support/console.js';

describe('console sign-in: sessions, CSRF, lock-out', () => {
  let db: TestDatabase;
  let consoleApp: RunningConsole;

  beforeAll(async () => {
    db = await createTestDatabase('wm_console_signin');
    // No peers needed to sign in: the upstream URLs point at closed ports.
    consoleApp = await startConsole({
      databaseUrl: db.url,
      secretaryUrl: 'http://127.0.0.1:9',
      communicatorUrl: 'http://127.0.0.1:9',
      env: { LOGIN_MAX_FAILURES: '3', LOGIN_LOCKOUT: '10m', TRUST_PROXY: '1' },
    });
  });
  afterAll(async () => {
    await consoleApp?.close();
    await db?.drop();
  });

  it('when the right name and password are sent, then an HttpOnly SameSite=Strict session cookie is set and the session answers', async () => {
    const client = new ConsoleClient(consoleApp.url);
    const res = await client.signIn('anna', 'anna-password-1');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'anna', role: 'admin' });
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    // Plain http: a Secure cookie would never come back.
    expect(cookie).not.toMatch(/Secure/i);
    expect((await client.request('GET', '/api/session')).body).toMatchObject({ name: 'anna', role: 'admin' });
  });

  it('when the console sits behind a TLS proxy (X-Forwarded-Proto: https), then the cookie is Secure', async () => {
    const client = new ConsoleClient(consoleApp.url);
    const res = await client.signIn('boris', 'boris-password-2', { 'x-forwarded-proto': 'https' });
    expect(res.status).toBe(201);
    expect(res.headers.get('set-cookie')).toMatch(/Secure/i);
  });

  it('when the password is wrong or the name unknown, then 401 with the same message and no cookie', async () => {
    const client = new ConsoleClient(consoleApp.url);
    const wrong = await client.signIn('boris', 'not-his-password');
    const unknown = await client.signIn('mallory', 'whatever-password');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.message).toBe(unknown.body.message);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect((await client.request('GET', '/api/session')).status).toBe(401);
  });

  it('when the name is one no operator can have (a NUL, a newline, a space), then 400 naming it, and nothing reaches the lock-out ledger', async () => {
    const client = new ConsoleClient(consoleApp.url);
    for (const name of ['я\nя\u0000\n', 'an\u0000na', 'anna boris']) {
      const res = await client.signIn(name, 'whatever-password');
      expect(res.status, JSON.stringify(name)).toBe(400);
      expect(res.body.message).toContain("'name'");
    }
    // The right name still signs in: nothing was counted against it.
    expect((await client.signIn('anna', 'anna-password-1')).status).toBe(201);
  });

  it('when a name fails too often, then it is locked out (429 + Retry-After) even with the right password', async () => {
    await consoleApp.database.pool.query(`DELETE FROM console.sign_in_failures`);
    const client = new ConsoleClient(consoleApp.url);
    // A success in between resets the count: only failures in a row lock.
    expect((await client.signIn('anna', 'wrong-1')).status).toBe(401);
    expect((await client.signIn('anna', 'anna-password-1')).status).toBe(201);
    expect((await client.signIn('anna', 'wrong-2')).status).toBe(401);
    expect((await client.signIn('anna', 'wrong-3')).status).toBe(401);
    const third = await client.signIn('anna', 'wrong-4');
    expect(third.status).toBe(429);
    const locked = await new ConsoleClient(consoleApp.url).signIn('anna', 'anna-password-1');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(500);
    // Another name is not affected.
    expect((await new ConsoleClient(consoleApp.url).signIn('boris', 'boris-password-2')).status).toBe(201);
    const metrics = await fetch(`${consoleApp.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/console_sign_ins_total\{[^}]*outcome="locked"[^}]*\} [1-9]/);
    await consoleApp.database.pool.query(`DELETE FROM console.sign_in_failures`);
  });

  it('when a write comes without the CSRF header, with a wrong one, or as a form, then it is refused', async () => {
    const client = new ConsoleClient(consoleApp.url);
    await client.signIn('boris', 'boris-password-2');
    const path = '/api/conversations/email/x%40corp.example/take-over';
    const none = await client.request('POST', path, { body: {}, csrf: null });
    expect(none.status).toBe(403);
    expect(none.body.message).toMatch(/CSRF/);
    const wrong = await client.request('POST', path, { body: {}, csrf: 'forged-token' });
    expect(wrong.status).toBe(403);
    const form = await client.request('POST', '/api/session', {
      raw: 'name=boris&password=boris-password-2',
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
    const signOutWithoutCsrf = await client.request('DELETE', '/api/session', { csrf: null });
    expect(signOutWithoutCsrf.status).toBe(403);
    expect((await client.request('GET', '/api/session')).status).toBe(200);
  });

  it('when an operator signs out, then the cookie is cleared and the old session no longer works', async () => {
    const client = new ConsoleClient(consoleApp.url);
    await client.signIn('boris', 'boris-password-2');
    const out = await client.request('DELETE', '/api/session');
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/wm_console_session=;/);
    expect((await client.request('GET', '/api/session')).status).toBe(401);
  });

  it('when an operator (not admin) asks for admin pages, then 403', async () => {
    const client = new ConsoleClient(consoleApp.url);
    await client.signIn('boris', 'boris-password-2');
    expect((await client.request('GET', '/api/directory')).status).toBe(403);
    expect((await client.request('GET', '/api/feedback/export')).status).toBe(403);
  });

  it('when the page is asked for, then it is served with a strict Content-Security-Policy, and /health reports the peers', async () => {
    const page = await fetch(`${consoleApp.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html lang="ru">');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    const health = (await (await fetch(`${consoleApp.url}/health`)).json()) as {
      status: string;
      checks: Record<string, { status: string }>;
    };
    expect(health.checks.database?.status).toBe('ok');
    expect(health.checks.secretary?.status).toBe('degraded');
    expect(health.status).toBe('degraded');
  });

  it('when the configuration is bad, then the error names the variable', async () => {
    const { configSchema } = await import('../src/config.js');
    const { parseConfig } = await import('@workemon/config');
    expect(() =>
      parseConfig(configSchema, {
        DATABASE_URL: db.url,
        OPERATORS: '[{"name":"x","role":"boss","password_hash":"plain"}]',
      }),
    ).toThrow(/OPERATORS/);
    expect(() => parseConfig(configSchema, { DATABASE_URL: db.url, OPERATORS: '{not json' })).toThrow(
      /OPERATORS: must be a JSON array/,
    );
    expect(parseConfig(configSchema, { DATABASE_URL: db.url }).OPERATORS).toEqual([]);
  });
});
