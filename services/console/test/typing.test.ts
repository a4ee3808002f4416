import { createTestDatabase, type TestDatabase, waitFor } from '@workemon/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleClient, listenEvents, type RunningConsole, startConsole } from './support/console.js';

describe('console: who is typing', () => {
  let db: TestDatabase;
  let consoleApp: RunningConsole;
  let anna: ConsoleClient;
  let boris: ConsoleClient;
  const typing = '/api/conversations/email/olga%40example.test/typing';

  beforeAll(async () => {
    db = await createTestDatabase('wm_console_typing');
    // Presence never asks the secretary or the communicator: their URLs point at closed ports.
    consoleApp = await startConsole({
      databaseUrl: db.url,
      secretaryUrl: 'http://127.0.0.1:9',
      communicatorUrl: 'http://127.0.0.1:9',
    });
    anna = new ConsoleClient(consoleApp.url);
    boris = new ConsoleClient(consoleApp.url);
    expect((await anna.signIn('anna', 'anna-password-1')).status).toBe(201);
    expect((await boris.signIn('boris', 'boris-password-2')).status).toBe(201);
  });
  afterAll(async () => {
    await consoleApp?.close();
    await db?.drop();
  });

  it('when an operator types, then every open page hears it once per throttle window, with whom and where', async () => {
    const page = await listenEvents(boris);
    try {
      // A burst of keystrokes (sent together, far inside the 2 s window even on a busy machine):
      // passed on once, not once per keystroke (a page would otherwise flood every other page).
      const burst = await Promise.all(
        Array.from({ length: 6 }, () => anna.request('POST', typing, { body: {} })),
      );
      expect(burst.map((r) => r.status)).toEqual(Array(6).fill(202));
      expect(burst.filter((r) => r.body.passed === true)).toHaveLength(1);
      expect(burst.filter((r) => r.body.passed === false)).toHaveLength(5);
      const event = await waitFor(() => page.events.find((e) => e.type === 'typing'), 5_000);
      expect(event).toMatchObject({ channel: 'email', username: 'olga@example.test', operator: 'anna' });
      expect(Date.parse(String(event.until))).toBeGreaterThan(Date.now());

      // Another operator, or another conversation, is its own window.
      expect((await boris.request('POST', typing, { body: {} })).body).toEqual({ passed: true });
      expect((await anna.request('POST', '/api/conversations/tg/tg%3A42/typing', { body: {} })).body).toEqual(
        { passed: true },
      );
      await waitFor(() => page.events.filter((e) => e.type === 'typing').length >= 3, 5_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(page.events.filter((e) => e.type === 'typing')).toHaveLength(3);
    } finally {
      await page.close();
    }
  });

  it('when the ping lacks a session, the CSRF header or a valid conversation, then it is refused and nobody hears it', async () => {
    const page = await listenEvents(boris);
    try {
      expect((await new ConsoleClient(consoleApp.url).request('POST', typing, { body: {} })).status).toBe(
        401,
      );
      expect((await anna.request('POST', typing, { body: {}, csrf: null })).status).toBe(403);
      const extra = await anna.request('POST', typing, { body: { text: 'draft' } });
      expect(extra.status).toBe(400);
      expect(extra.body.message).toContain("'text'");
      const badChannel = await anna.request('POST', '/api/conversations/fax/x/typing', { body: {} });
      expect(badChannel.status).toBe(400);
      expect(badChannel.body.message).toContain("'channel'");
      await new Promise((r) => setTimeout(r, 200));
      expect(page.events.filter((e) => e.type === 'typing')).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
