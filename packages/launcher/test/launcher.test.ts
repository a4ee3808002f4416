import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FakeLlm, freePortBlock, startFakeLlm, waitFor } from '@workemon/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/embedded-postgres.js';
import { isPortFree } from '../src/preflight.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const launcher = join(root, 'packages/launcher/dist/main.js');

/** The launcher as `pnpm start` runs it, until it says every service answers; its stderr so far. */
async function startLauncher(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [launcher], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  try {
    await waitFor(() => stderr.includes('Press Ctrl-C to stop.') || child.exitCode !== null, 90_000, 100);
    expect(child.exitCode, stderr).toBeNull();
  } catch (error) {
    child.kill('SIGINT');
    throw error;
  }
  return { child, output: () => stderr, exited };
}

describe('launcher (pnpm start)', () => {
  let llm: FakeLlm;
  let dataDir: string;

  beforeAll(async () => {
    llm = await startFakeLlm();
    dataDir = mkdtempSync(join(tmpdir(), 'wm-launcher-'));
  });
  afterAll(async () => {
    await llm.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** What the launcher gets: nothing inherited but PATH and HOME, the fake LLM, one data directory. */
  const launcherEnv = (base: number): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LAUNCHER_BASE_PORT: String(base),
    LAUNCHER_DATA_DIR: dataDir,
    LLM_PROVIDER: 'custom',
    LLM_BASE_URL: llm.url,
    LLM_API_KEY: 'sk-launcher',
    LLM_MODEL: 'fake-model',
    LOG_LEVEL: 'warn',
  });

  it('when started from nothing with the embedded database, then one request flows through all three services and Ctrl-C stops everything cleanly', async () => {
    expect(existsSync(launcher), 'run `pnpm build` first').toBe(true);
    const base = await freePortBlock(5);
    const env = launcherEnv(base);
    const { child, output, exited } = await startLauncher(env);
    const stderr = output();
    try {
      expect(stderr).toContain('embedded PostgreSQL (PGlite)');
      for (const port of [base, base + 1, base + 2]) expect(stderr).toContain(`http://127.0.0.1:${port}`);

      const key = readFileSync(join(dataDir, 'api-key'), 'utf8').trim();
      const params = new URLSearchParams({
        channel: 'direct',
        username: 'smirnovanton',
        request: 'Хочу аналитику по авторизациям кошельков',
      });
      const res = await fetch(`http://127.0.0.1:${base}/analyze-request?${params}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body).toMatchObject({ is_enough: true, action: 'ответить сообщением' });
      expect(String(body.response)).toContain('Рекомендация');
      // guesser and analyst each asked the LLM once
      expect(llm.calls).toHaveLength(2);

      const unauthorized = await fetch(`http://127.0.0.1:${base}/analyze-request?${params}`);
      expect(unauthorized.status).toBe(401);

      // The console: a first admin was created, and the printed password signs in.
      expect(stderr).toContain(`Operator console: open http://127.0.0.1:${base + 4}`);
      const password = readFileSync(join(dataDir, 'console-admin-password'), 'utf8').trim();
      const signIn = await fetch(`http://127.0.0.1:${base + 4}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'admin', password }),
      });
      expect(signIn.status, await signIn.clone().text()).toBe(201);
      expect(signIn.headers.get('set-cookie')).toMatch(/HttpOnly/i);
    } finally {
      child.kill('SIGINT');
    }
    const code = await Promise.race([
      exited,
      new Promise<string>((r) => setTimeout(() => r('timeout'), 20_000)),
    ]);
    expect(code).toBe(0);
    expect(output()).toContain('stopped cleanly');
    for (const port of [base, base + 1, base + 2, base + 3, base + 4])
      expect(await isPortFree(port)).toBe(true);
    expect(stderr).toContain('migrating secretary, communicator, console');
  }, 150_000);

  it('when started again on the same data with nothing to migrate, then no migrator runs, and a schema found missing is migrated', async () => {
    const base = await freePortBlock(5);
    const env = launcherEnv(base);
    const startOnce = async (): Promise<string> => {
      const { child, output, exited } = await startLauncher(env);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      return output();
    };
    const again = await startOnce();
    expect(again).toContain('schema up to date: secretary, communicator, console');
    expect(again).not.toContain('migrating');

    // The console's schema is gone (as on a database it never saw): its migrator runs, the others do not.
    const pglite = await startEmbeddedPostgres(join(dataDir, 'pglite'), 0);
    try {
      const client = new pg.Client({ connectionString: pglite.url });
      await client.connect();
      await client.query('drop schema console cascade; drop table drizzle.__console_migrations');
      await client.end();
    } finally {
      await pglite.stop();
    }
    const pending = await startOnce();
    expect(pending).toContain('schema up to date: secretary, communicator');
    expect(pending).toContain('migrating console…');
  }, 150_000);
});
