import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  type OwnPostgres,
  ownPostgresUnavailable,
  queryRows,
  startOwnPostgres,
  waitFor,
} from '@workemon/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrations } from '../src/data/migrate.js';
import { createMigratedDatabase, DATABASE_KINDS, type MigratedDatabase } from './support/database-kinds.js';
import { enoughContext, type FakeUpstream, startFakeUpstream } from './support/fake-upstream.js';
import {
  type RunningSecretary,
  startSecretary,
  uniqueMessageId,
  uniqueUsername,
} from './support/secretary.js';

const SERVICE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const API_KEY = `crash-${randomBytes(8).toString('hex')}`;

/** The secretary as a real process (its dist, built incrementally when stale), killable with SIGKILL. */
async function spawnSecretary(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(SERVICE_DIR, 'dist', 'main.js')], {
    cwd: SERVICE_DIR,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      API_KEYS: API_KEY,
      SERVICE_TOKEN: `svc-${API_KEY}`,
      ...env,
    },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`secretary exited with ${child.exitCode}`);
    return fetch(`${url}/health/live`).then(
      (r) => r.ok,
      () => false,
    );
  }, 20_000);
  return { url, child };
}

const analyze = (url: string, body: Record<string, string>) =>
  fetch(`${url}/analyze-request`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

describe.each(DATABASE_KINDS)('a killed secretary on %s', (kind) => {
  let db: MigratedDatabase;
  let guesser: FakeUpstream;
  let analyst: FakeUpstream;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    // tsc -b: incremental, a no-op when dist is current.
    execFileSync('pnpm', ['--filter', '@workemon/secretary', 'build'], { cwd: SERVICE_DIR, stdio: 'ignore' });
    db = await createMigratedDatabase(kind, 'secretary_kill');
    // A slow LLM: the kill lands mid-analysis.
    guesser = await startFakeUpstream(() => ({ ...enoughContext(), delayMs: 1_500 }));
    analyst = await startFakeUpstream(() => ({
      body: { is_enough: true, response: 'Ответ после перезапуска', model: 'fake-model' },
      delayMs: 500,
    }));
  }, 180_000);
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await guesser?.close();
    await analyst?.close();
    await db?.close();
  });

  it('when it is SIGKILLed mid-analysis, then its message_id retried at once against a new secretary is answered within 15 s', async () => {
    // Defaults for the heartbeat (3 s) and the owner timeout (10 s): what production runs.
    const env = { DATABASE_URL: db.url, GUESSER_URL: guesser.url, SYSTEM_ANALYST_URL: analyst.url };
    const first = await spawnSecretary(env);
    children.push(first.child);
    guesser.enqueue({ hang: true });
    const message = {
      channel: 'email',
      username: uniqueUsername('killed'),
      request: 'Нужна выгрузка операций по кошелькам',
      message_id: uniqueMessageId(),
    };
    void analyze(first.url, message).catch(() => undefined);
    await waitFor(() => guesser.calls.length === 1, 10_000);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const [stranded] = await queryRows<{ status: string; owner: string | null }>(
      db.url,
      'SELECT status, owner FROM secretary.requests WHERE message_id = $1',
      [message.message_id],
    );
    expect(stranded).toMatchObject({ status: 'pending', owner: expect.any(String) as unknown });

    const second = await spawnSecretary(env);
    children.push(second.child);
    const started = Date.now();
    const retry = await analyze(second.url, message);
    const elapsed = Date.now() - started;

    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ response: 'Ответ после перезапуска', replayed: false });
    expect(elapsed).toBeLessThan(15_000);
    const rows = await queryRows<{ status: string; error: string | null }>(
      db.url,
      'SELECT status, error FROM secretary.requests WHERE message_id = $1 ORDER BY id',
      [message.message_id],
    );
    expect(rows.map((r) => r.status)).toEqual(['failed', 'completed']);
    expect(rows[0]!.error).toContain(stranded!.owner!);
    console.info(`killed secretary's message_id answered ${elapsed} ms after the retry was sent`);
    second.child.kill('SIGTERM');
  }, 60_000);
});

const unavailable = ownPostgresUnavailable();

describe.skipIf(unavailable !== undefined)(
  `PostgreSQL stopped under load${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let postgres: OwnPostgres;
    let guesser: FakeUpstream;
    let analyst: FakeUpstream;
    let secretary: RunningSecretary;

    beforeAll(async () => {
      postgres = await startOwnPostgres();
      await runMigrations(postgres.url);
      guesser = await startFakeUpstream(() => ({ ...enoughContext(), delayMs: 150 }));
      analyst = await startFakeUpstream(() => ({
        body: { is_enough: true, response: 'Ответ', model: 'fake-model' },
        delayMs: 150,
      }));
      secretary = await startSecretary({
        databaseUrl: postgres.url,
        guesserUrl: guesser.url,
        analystUrl: analyst.url,
        env: {
          HEARTBEAT_INTERVAL_MS: '1000',
          OWNER_TIMEOUT_MS: '4000',
          DATABASE_POOL_MAX: '10',
          // One person at ~20 req/s: the per-person limit (429) is not what this test is about.
          RATE_LIMIT_PER_USER_PER_MINUTE: '0',
        },
      });
    }, 60_000);
    afterAll(async () => {
      await secretary?.close();
      await guesser?.close();
      await analyst?.close();
      await postgres?.destroy();
    });

    it('when it is stopped for 15 s under ~20 req/s, then every error is a clean 503 naming no SQL or user data, and no pending row is left after recovery', async () => {
      const marker = `секрет-${randomBytes(4).toString('hex')}`;
      const username = uniqueUsername('outage');
      const results: { status: number; body: Record<string, unknown> }[] = [];
      const inFlight: Promise<void>[] = [];
      let load = true;
      let sent = 0;
      const loop = (async () => {
        while (load) {
          sent++;
          inFlight.push(
            secretary
              .analyze(
                {
                  channel: 'tg',
                  username,
                  request: `${marker} запрос ${sent}`,
                  message_id: `outage-${sent}`,
                },
                { post: true },
              )
              .then((r) => {
                results.push({ status: r.status, body: r.body });
              }),
          );
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();

      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await postgres.stop();
      await new Promise((resolve) => setTimeout(resolve, 15_000));
      await postgres.start();
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      load = false;
      await loop;
      await Promise.all(inFlight);

      const byStatus = new Map<number, number>();
      for (const r of results) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
      console.info(`outage run: ${sent} requests, by status ${JSON.stringify(Object.fromEntries(byStatus))}`);
      expect(byStatus.get(200) ?? 0).toBeGreaterThan(0);
      expect(byStatus.get(503) ?? 0).toBeGreaterThan(0);
      for (const r of results) {
        if (r.status === 200) continue;
        expect(r.status).toBe(503);
        const body = JSON.stringify(r.body);
        for (const leak of [marker, username, 'insert', 'select', 'update', 'secretary.', 'params'])
          expect(body).not.toContain(leak);
        expect(r.body.requestId).toEqual(expect.any(String));
      }
      // Deferred failure records are written, and rows nobody can finish are swept, once it is back.
      await waitFor(async () => {
        const [row] = await queryRows<{ n: number }>(
          postgres.url,
          `SELECT count(*)::int AS n FROM secretary.requests WHERE status = 'pending'`,
        );
        return row?.n === 0;
      }, 20_000);
      const [counts] = await queryRows<{ completed: number; failed: number }>(
        postgres.url,
        `SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed,
              count(*) FILTER (WHERE status = 'failed')::int AS failed
       FROM secretary.requests`,
      );
      console.info(`after recovery: ${counts!.completed} completed, ${counts!.failed} failed, 0 pending`);
      const logs = secretary.logs.lines.join('\n');
      expect(logs).not.toContain('params:');
    }, 90_000);
  },
);
